/**
 * Auto Scaling commands answered from a World, with the API's semantics (../shared/reference/aws.md §2):
 * tag filters ANDed with values ORed, pagination, ValidationError outside [min, max], one launch source per
 * group, size rules of UpdateAutoScalingGroup, detach with or without decrement, scaling activities newest first.
 */
import type {
  AutoScalingGroup,
  AutoScalingInstanceDetails,
  CompleteLifecycleActionCommandInput,
  DescribeLifecycleHooksCommandInput,
  PutLifecycleHookCommandInput,
  CreateAutoScalingGroupCommandInput,
  CreateLaunchConfigurationCommandInput,
  DescribeAutoScalingGroupsCommandInput,
  DescribeAutoScalingInstancesCommandInput,
  DescribeLaunchConfigurationsCommandInput,
  DescribeScalingActivitiesCommandInput,
  DetachInstancesCommandInput,
  Instance as AsgInstance,
  SetDesiredCapacityCommandInput,
  SetInstanceProtectionCommandInput,
  TerminateInstanceInAutoScalingGroupCommandInput,
  UpdateAutoScalingGroupCommandInput,
} from '@aws-sdk/client-auto-scaling';
import { awsError } from './errors';
import { paginate } from './paging';
import { ACCOUNT_ID, type Activity, type Group, type Instance, type World } from './world';

function describeMember(i: Instance): AsgInstance {
  return {
    InstanceId: i.id,
    InstanceType: i.type,
    AvailabilityZone: i.az,
    LifecycleState: i.terminatingWait ? 'Terminating:Wait' : i.replaced && i.lifecycle === 'InService' ? 'Terminating' : i.lifecycle,
    HealthStatus: i.ec2State === 'terminated' ? 'Unhealthy' : 'Healthy',
    ProtectedFromScaleIn: i.protected,
    ...(i.launchTemplate ? { LaunchTemplate: { ...i.launchTemplate } } : {}),
    ...(i.launchConfigurationName !== undefined ? { LaunchConfigurationName: i.launchConfigurationName } : {}),
  };
}

export function describeGroup(world: World, g: Group): AutoScalingGroup {
  return {
    AutoScalingGroupName: g.name,
    AutoScalingGroupARN: g.arn,
    MinSize: g.minSize,
    MaxSize: g.maxSize,
    DesiredCapacity: g.desired,
    DefaultCooldown: g.defaultCooldown,
    AvailabilityZones: [...g.availabilityZones],
    HealthCheckType: 'EC2',
    HealthCheckGracePeriod: g.healthCheckGracePeriod,
    CreatedTime: new Date(g.createdTime * 1000),
    ...(g.launchConfigurationName !== undefined ? { LaunchConfigurationName: g.launchConfigurationName } : {}),
    ...(g.launchTemplate ? { LaunchTemplate: structuredClone(g.launchTemplate) } : {}),
    ...(g.mixedInstancesPolicy ? { MixedInstancesPolicy: structuredClone(g.mixedInstancesPolicy) } : {}),
    Instances: [...g.members].map(describeMember),
    SuspendedProcesses: [],
    Tags: g.tags.map((t) => ({ ResourceId: g.name, ResourceType: 'auto-scaling-group', PropagateAtLaunch: true, ...t })),
    TerminationPolicies: [...g.terminationPolicies],
    NewInstancesProtectedFromScaleIn: g.newInstancesProtectedFromScaleIn,
    CapacityRebalance: g.capacityRebalance,
    ServiceLinkedRoleARN: `arn:aws:iam::${ACCOUNT_ID}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling`,
  };
}

function matchesFilters(g: Group, filters: DescribeAutoScalingGroupsCommandInput['Filters']): boolean {
  for (const f of filters ?? []) {
    const values = f.Values ?? [];
    const name = f.Name ?? '';
    if (name === 'tag-key') {
      if (!g.tags.some((t) => values.includes(t.Key ?? ''))) return false;
    } else if (name === 'tag-value') {
      if (!g.tags.some((t) => values.includes(t.Value ?? ''))) return false;
    } else if (name.startsWith('tag:')) {
      const key = name.slice(4);
      if (!g.tags.some((t) => t.Key === key && values.includes(t.Value ?? ''))) return false;
    } else {
      throw awsError('autoscaling', 'ValidationError', `Filter name '${name}' is not supported; use tag-key, tag-value or tag:<key>.`);
    }
  }
  return true;
}

export function describeAutoScalingGroups(world: World, input: DescribeAutoScalingGroupsCommandInput) {
  const max = input.MaxRecords ?? 50;
  if (max < 1 || max > 100) throw awsError('autoscaling', 'ValidationError', `MaxRecords must be between 1 and 100.`);
  const names = input.AutoScalingGroupNames;
  const groups = [...world.groups.values()]
    .filter((g) => !names?.length || names.includes(g.name))
    .filter((g) => matchesFilters(g, input.Filters))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  const page = paginate('autoscaling', groups, max, input.NextToken);
  return { AutoScalingGroups: page.items.map((g) => describeGroup(world, g)), ...(page.next ? { NextToken: page.next } : {}) };
}

export function describeAutoScalingInstances(world: World, input: DescribeAutoScalingInstancesCommandInput) {
  const max = input.MaxRecords ?? 50;
  if (max < 1 || max > 50) throw awsError('autoscaling', 'ValidationError', `MaxRecords must be between 1 and 50.`);
  const ids = input.InstanceIds;
  if (ids && ids.length > 50) throw awsError('autoscaling', 'ValidationError', 'The number of instance ids that may be passed in is limited to 50.');
  const members: Instance[] = [];
  for (const g of world.groups.values()) for (const m of g.members) if (!ids?.length || ids.includes(m.id)) members.push(m);
  members.sort((a, b) => (a.id < b.id ? -1 : 1));
  const page = paginate('autoscaling', members, max, input.NextToken);
  const details: AutoScalingInstanceDetails[] = page.items.map((m) => {
    const d = describeMember(m);
    return {
      InstanceId: d.InstanceId!,
      InstanceType: d.InstanceType,
      AutoScalingGroupName: m.group!.name,
      AvailabilityZone: d.AvailabilityZone!,
      LifecycleState: d.LifecycleState!,
      HealthStatus: d.HealthStatus!,
      ProtectedFromScaleIn: d.ProtectedFromScaleIn!,
      ...(d.LaunchTemplate ? { LaunchTemplate: d.LaunchTemplate } : {}),
      ...(d.LaunchConfigurationName ? { LaunchConfigurationName: d.LaunchConfigurationName } : {}),
    };
  });
  return { AutoScalingInstances: details, ...(page.next ? { NextToken: page.next } : {}) };
}

function checkRange(g: Group, desired: number, min = g.minSize, max = g.maxSize): void {
  if (desired > max) {
    throw awsError('autoscaling', 'ValidationError', `New SetDesiredCapacity value ${desired} is above max value ${max} for the AutoScalingGroup.`);
  }
  if (desired < min) {
    throw awsError('autoscaling', 'ValidationError', `New SetDesiredCapacity value ${desired} is below min value ${min} for the AutoScalingGroup.`);
  }
}

export function setDesiredCapacity(world: World, input: SetDesiredCapacityCommandInput) {
  const g = world.groupOrThrow(input.AutoScalingGroupName);
  const desired = input.DesiredCapacity;
  if (desired === undefined || !Number.isInteger(desired)) throw awsError('autoscaling', 'ValidationError', 'DesiredCapacity is required.');
  checkRange(g, desired);
  if (input.HonorCooldown && world.now < g.lastScalingAt + g.defaultCooldown) {
    throw awsError('autoscaling', 'ScalingActivityInProgressFault', `Scaling activity in progress or cooldown in effect for AutoScalingGroup ${g.name}; HonorCooldown is set.`);
  }
  g.desired = desired;
  world.requestReconcile(g);
  return {};
}

function validateLaunchSource(world: World, input: { LaunchConfigurationName?: string | undefined; LaunchTemplate?: unknown; MixedInstancesPolicy?: unknown }): void {
  const given = [input.LaunchConfigurationName, input.LaunchTemplate, input.MixedInstancesPolicy].filter((x) => x !== undefined).length;
  if (given > 1) {
    throw awsError('autoscaling', 'ValidationError', 'Valid requests must contain either LaunchTemplate, LaunchConfigurationName, InstanceId or MixedInstancesPolicy parameter.');
  }
  if (input.LaunchConfigurationName !== undefined && !world.launchConfigurations.has(input.LaunchConfigurationName)) {
    throw awsError('autoscaling', 'ValidationError', `Launch configuration name not found - Launch configuration ${input.LaunchConfigurationName} not found`);
  }
  const lt = (input.LaunchTemplate ?? (input.MixedInstancesPolicy as { LaunchTemplate?: { LaunchTemplateSpecification?: unknown } } | undefined)?.LaunchTemplate?.LaunchTemplateSpecification) as
    | { LaunchTemplateId?: string; LaunchTemplateName?: string; Version?: string }
    | undefined;
  if (lt) {
    try {
      const template = world.findLaunchTemplate(lt);
      world.resolveVersion(template, lt.Version);
    } catch (err) {
      throw awsError('autoscaling', 'ValidationError', `You must use a valid fully-formed launch template. ${(err as Error).message}`);
    }
  }
}

export function createAutoScalingGroup(world: World, input: CreateAutoScalingGroupCommandInput) {
  const name = input.AutoScalingGroupName;
  if (!name) throw awsError('autoscaling', 'ValidationError', 'AutoScalingGroupName is required.');
  validateLaunchSource(world, input);
  const min = input.MinSize ?? 0;
  const max = input.MaxSize ?? 0;
  if (min > max) throw awsError('autoscaling', 'ValidationError', `Max bound, ${max}, must be greater than or equal to min bound, ${min}`);
  const desired = input.DesiredCapacity ?? min;
  checkRange({ minSize: min, maxSize: max } as Group, desired);
  const azs = input.AvailabilityZones?.length ? input.AvailabilityZones : world.scenario.availabilityZones;
  world.createGroup({
    name,
    minSize: min,
    maxSize: max,
    desired,
    launchConfigurationName: input.LaunchConfigurationName,
    launchTemplate: input.LaunchTemplate ? { ...input.LaunchTemplate } : undefined,
    mixedInstancesPolicy: input.MixedInstancesPolicy ? structuredClone(input.MixedInstancesPolicy) : undefined,
    availabilityZones: [...azs],
    tags: (input.Tags ?? []).map((t) => ({ Key: t.Key, Value: t.Value ?? '', PropagateAtLaunch: t.PropagateAtLaunch ?? false })),
    capacityRebalance: input.CapacityRebalance ?? false,
    terminationPolicies: input.TerminationPolicies ?? ['Default'],
    defaultCooldown: input.DefaultCooldown ?? 300,
    healthCheckGracePeriod: input.HealthCheckGracePeriod ?? 0,
    newInstancesProtectedFromScaleIn: input.NewInstancesProtectedFromScaleIn ?? false,
  });
  return {};
}

export function updateAutoScalingGroup(world: World, input: UpdateAutoScalingGroupCommandInput) {
  const g = world.groupOrThrow(input.AutoScalingGroupName);
  validateLaunchSource(world, input);
  const min = input.MinSize ?? g.minSize;
  const max = input.MaxSize ?? g.maxSize;
  if (min > max) throw awsError('autoscaling', 'ValidationError', `Max bound, ${max}, must be greater than or equal to min bound, ${min}`);
  let desired = g.desired;
  if (input.DesiredCapacity !== undefined) {
    checkRange(g, input.DesiredCapacity, min, max);
    desired = input.DesiredCapacity;
  } else {
    // A new MinSize above the current size raises desired; a new MaxSize below it lowers desired.
    desired = Math.min(Math.max(desired, min), max);
  }
  g.minSize = min;
  g.maxSize = max;
  g.desired = desired;
  if (input.LaunchConfigurationName !== undefined) {
    g.launchConfigurationName = input.LaunchConfigurationName;
    g.launchTemplate = undefined;
    g.mixedInstancesPolicy = undefined;
  } else if (input.LaunchTemplate) {
    g.launchTemplate = { ...input.LaunchTemplate };
    g.launchConfigurationName = undefined;
    g.mixedInstancesPolicy = undefined;
  } else if (input.MixedInstancesPolicy) {
    g.mixedInstancesPolicy = mergeMixed(g, input.MixedInstancesPolicy);
    g.launchConfigurationName = undefined;
    g.launchTemplate = undefined;
  }
  if (input.CapacityRebalance !== undefined) g.capacityRebalance = input.CapacityRebalance;
  if (input.TerminationPolicies) g.terminationPolicies = [...input.TerminationPolicies];
  if (input.NewInstancesProtectedFromScaleIn !== undefined) g.newInstancesProtectedFromScaleIn = input.NewInstancesProtectedFromScaleIn;
  if (input.DefaultCooldown !== undefined) g.defaultCooldown = input.DefaultCooldown;
  if (input.HealthCheckGracePeriod !== undefined) g.healthCheckGracePeriod = input.HealthCheckGracePeriod;
  if (input.AvailabilityZones?.length) g.availabilityZones = [...input.AvailabilityZones];
  world.noteLaunchSourceChange();
  world.requestReconcile(g);
  return {};
}

/**
 * A partial MixedInstancesPolicy update: the parts sent replace the current ones; in InstancesDistribution,
 * unspecified fields take their defaults except SpotMaxPrice, which is kept (aws.md §2.4).
 */
function mergeMixed(g: Group, update: NonNullable<UpdateAutoScalingGroupCommandInput['MixedInstancesPolicy']>) {
  const current = g.mixedInstancesPolicy ?? {};
  const merged = structuredClone(current);
  if (update.LaunchTemplate) merged.LaunchTemplate = structuredClone(update.LaunchTemplate);
  if (update.InstancesDistribution) {
    const keepMax = current.InstancesDistribution?.SpotMaxPrice;
    merged.InstancesDistribution = {
      OnDemandAllocationStrategy: 'prioritized',
      OnDemandBaseCapacity: 0,
      OnDemandPercentageAboveBaseCapacity: 100,
      SpotAllocationStrategy: 'lowest-price',
      SpotInstancePools: 2,
      ...update.InstancesDistribution,
    };
    if (update.InstancesDistribution.SpotMaxPrice === undefined && keepMax !== undefined) merged.InstancesDistribution.SpotMaxPrice = keepMax;
    if (merged.InstancesDistribution.SpotMaxPrice === '') delete merged.InstancesDistribution.SpotMaxPrice;
  }
  return merged;
}

function memberOf(world: World, g: Group, id: string): Instance {
  const instance = world.instances.get(id);
  if (!instance || instance.group !== g) {
    throw awsError('autoscaling', 'ValidationError', `The instance ${id} is not part of Auto Scaling group ${g.name}.`);
  }
  return instance;
}

export function detachInstances(world: World, input: DetachInstancesCommandInput) {
  const g = world.groupOrThrow(input.AutoScalingGroupName);
  if (input.ShouldDecrementDesiredCapacity === undefined) {
    throw awsError('autoscaling', 'ValidationError', 'ShouldDecrementDesiredCapacity is required.');
  }
  const ids = input.InstanceIds ?? [];
  if (ids.length > 20) throw awsError('autoscaling', 'ValidationError', 'The number of instance ids that may be passed in is limited to 20.');
  const instances = ids.map((id) => memberOf(world, g, id));
  // AWS detaches InService and Standby instances only (the simulator has no Standby): a Pending instance, or one
  // already Detaching or Terminating, is refused with this ValidationError (wording as AWS answers it, reported
  // in reproio/ecs_deploy issues 47 and 84).
  const busy = instances.find((i) => i.lifecycle !== 'InService');
  if (busy) throw awsError('autoscaling', 'ValidationError', `The instance ${busy.id} is not in InService or Standby.`);
  if (input.ShouldDecrementDesiredCapacity && g.desired - instances.length < g.minSize) {
    throw awsError('autoscaling', 'ValidationError', `Detaching ${instances.length} instance(s) with decrement would bring desired capacity below the minimum size ${g.minSize}.`);
  }
  const activities = instances.map((i) => {
    g.members.delete(i);
    i.group = null;
    i.lifecycle = 'Detached';
    return {
      ActivityId: world.newId('', 8),
      AutoScalingGroupName: g.name,
      Description: `Detaching EC2 instance: ${i.id}`,
      Cause: `At ${new Date(world.now * 1000).toISOString()} instance ${i.id} was detached in response to a user request${input.ShouldDecrementDesiredCapacity ? ', shrinking the capacity' : ''}.`,
      StartTime: new Date(world.now * 1000),
      StatusCode: 'InProgress' as const,
      Progress: 50,
    };
  });
  if (input.ShouldDecrementDesiredCapacity) g.desired -= instances.length;
  world.requestReconcile(g);
  return { Activities: activities };
}

export function terminateInstanceInAutoScalingGroup(world: World, input: TerminateInstanceInAutoScalingGroupCommandInput) {
  if (input.ShouldDecrementDesiredCapacity === undefined) {
    throw awsError('autoscaling', 'ValidationError', 'ShouldDecrementDesiredCapacity is required.');
  }
  const instance = input.InstanceId ? world.instances.get(input.InstanceId) : undefined;
  const g = instance?.group;
  if (!instance || !g) {
    throw awsError('autoscaling', 'ValidationError', `Instance Id not found - No managed instance found for instance ID: ${input.InstanceId}`);
  }
  if (input.ShouldDecrementDesiredCapacity) {
    if (g.desired - 1 < g.minSize) {
      throw awsError('autoscaling', 'ValidationError', `Currently, desiredSize equals minSize (${g.minSize}). Terminating instance without replacement will violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size.`);
    }
    g.desired -= 1;
  }
  const cause = `instance ${instance.id} was taken out of service in response to a user request${input.ShouldDecrementDesiredCapacity ? ', shrinking the capacity' : ''}.`;
  const hook = (g.lifecycleHooks ?? []).find((h) => h.transition === 'autoscaling:EC2_INSTANCE_TERMINATING');
  if (hook && instance.lifecycle === 'InService') {
    // A termination lifecycle hook: the instance waits in Terminating:Wait (no longer counted toward desired,
    // so the group launches its replacement now) until the hook's action completes or its heartbeat timeout
    // passes, then terminates (EC2 Auto Scaling user guide, "Amazon EC2 Auto Scaling lifecycle hooks": "the
    // instance ... remains in a wait state until either you complete the lifecycle action, or the timeout period
    // ends"). EC2 may take a warned spot instance before that (memberTerminated).
    instance.lifecycle = 'Terminating';
    instance.terminatingWait = true;
    world.at(world.now + hook.heartbeatTimeout, () => {
      if (instance.terminatingWait && instance.group === g) world.terminateByGroup(instance, 'terminate-in-group', cause);
    });
  } else {
    world.terminateByGroup(instance, 'terminate-in-group', cause);
  }
  world.requestReconcile(g);
  return {
    Activity: {
      ActivityId: world.newId('', 8),
      AutoScalingGroupName: g.name,
      Description: `Terminating EC2 instance: ${instance.id}`,
      Cause: 'user request',
      StartTime: new Date(world.now * 1000),
      StatusCode: 'InProgress' as const,
      Progress: 0,
    },
  };
}

/** PutLifecycleHook: creates or replaces a hook (HeartbeatTimeout 30-7200 s, default 3600; DefaultResult ABANDON). */
export function putLifecycleHook(world: World, input: PutLifecycleHookCommandInput) {
  const g = world.groupOrThrow(input.AutoScalingGroupName);
  const name = input.LifecycleHookName;
  if (!name) throw awsError('autoscaling', 'ValidationError', 'LifecycleHookName is required.');
  const transition = input.LifecycleTransition;
  if (transition !== 'autoscaling:EC2_INSTANCE_LAUNCHING' && transition !== 'autoscaling:EC2_INSTANCE_TERMINATING') {
    throw awsError('autoscaling', 'ValidationError', `Invalid lifecycle transition: ${String(transition)}`);
  }
  const heartbeatTimeout = input.HeartbeatTimeout ?? 3600;
  if (heartbeatTimeout < 30 || heartbeatTimeout > 7200) throw awsError('autoscaling', 'ValidationError', 'HeartbeatTimeout must be between 30 and 7200 seconds.');
  const hooks = (g.lifecycleHooks ?? []).filter((h) => h.name !== name);
  hooks.push({ name, transition, heartbeatTimeout, defaultResult: input.DefaultResult === 'CONTINUE' ? 'CONTINUE' : 'ABANDON' });
  g.lifecycleHooks = hooks;
  return {};
}

export function describeLifecycleHooks(world: World, input: DescribeLifecycleHooksCommandInput) {
  const g = world.groupOrThrow(input.AutoScalingGroupName);
  const names = input.LifecycleHookNames;
  return {
    LifecycleHooks: (g.lifecycleHooks ?? [])
      .filter((h) => !names?.length || names.includes(h.name))
      .map((h) => ({
        LifecycleHookName: h.name,
        AutoScalingGroupName: g.name,
        LifecycleTransition: h.transition,
        HeartbeatTimeout: h.heartbeatTimeout,
        GlobalTimeout: Math.min(172_800, h.heartbeatTimeout * 100),
        DefaultResult: h.defaultResult,
      })),
  };
}

/** CompleteLifecycleAction for an instance waiting on a termination hook: it terminates now. */
export function completeLifecycleAction(world: World, input: CompleteLifecycleActionCommandInput) {
  const g = world.groupOrThrow(input.AutoScalingGroupName);
  const instance = input.InstanceId ? world.instances.get(input.InstanceId) : undefined;
  if (!instance || instance.group !== g || !instance.terminatingWait) {
    throw awsError('autoscaling', 'ValidationError', `No active Lifecycle Action found with instance ID ${input.InstanceId}`);
  }
  world.terminateByGroup(instance, 'terminate-in-group', `instance ${instance.id} completed its termination lifecycle action.`);
  world.requestReconcile(g);
  return {};
}

export function setInstanceProtection(world: World, input: SetInstanceProtectionCommandInput) {
  const g = world.groupOrThrow(input.AutoScalingGroupName);
  for (const id of input.InstanceIds ?? []) memberOf(world, g, id).protected = input.ProtectedFromScaleIn ?? false;
  world.requestReconcile(g);
  return {};
}

function sdkActivity(a: Activity) {
  return {
    ...a,
    StartTime: new Date(a.StartTime * 1000),
    EndTime: new Date(a.EndTime * 1000),
    ...(a.StatusMessage !== undefined ? { StatusMessage: a.StatusMessage } : {}),
  };
}

/** One list ascending by StartTime, newest first; ties (equal StartTime) in list order. */
function* newestFirst(list: Activity[]): Generator<Activity> {
  let end = list.length;
  while (end > 0) {
    let begin = end - 1;
    while (begin > 0 && list[begin - 1]!.StartTime === list[end - 1]!.StartTime) begin--;
    for (let i = begin; i < end; i++) yield list[i]!;
    end = begin;
  }
}

/**
 * Lists ascending by StartTime (each group's activities are appended as simulated time advances) seen as one
 * list newest first, ties in (list, position) order: the order of a stable sort by StartTime descending of their
 * concatenation, which the call answered before. Only the slice a page asks for is built, by merging from the
 * newest end, instead of copying and sorting every group's whole history on every call.
 */
class NewestFirst {
  constructor(private readonly lists: Activity[][]) {}
  get length(): number {
    return this.lists.reduce((n, l) => n + l.length, 0);
  }
  slice(from: number, to: number): Activity[] {
    const cursors = this.lists.map((l) => newestFirst(l));
    const heads = cursors.map((c) => c.next());
    const out: Activity[] = [];
    for (let index = 0; index < to; index++) {
      let pick = -1;
      for (let k = 0; k < heads.length; k++) {
        const head = heads[k]!;
        if (head.done) continue;
        if (pick < 0 || head.value.StartTime > (heads[pick]!.value as Activity).StartTime) pick = k;
      }
      if (pick < 0) break;
      if (index >= from) out.push(heads[pick]!.value as Activity);
      heads[pick] = cursors[pick]!.next();
    }
    return out;
  }
}

export function describeScalingActivities(world: World, input: DescribeScalingActivitiesCommandInput) {
  const max = input.MaxRecords ?? 100;
  if (max < 1 || max > 100) throw awsError('autoscaling', 'ValidationError', 'MaxRecords must be between 1 and 100.');
  if (!input.ActivityIds?.length) {
    const lists = input.AutoScalingGroupName
      ? [world.groupOrThrow(input.AutoScalingGroupName).activities]
      : [...world.groups.values()].map((g) => g.activities);
    const page = paginate('autoscaling', new NewestFirst(lists), max, input.NextToken);
    return { Activities: page.items.map(sdkActivity), ...(page.next ? { NextToken: page.next } : {}) };
  }
  let activities: Activity[] = [];
  if (input.AutoScalingGroupName) {
    activities = [...world.groupOrThrow(input.AutoScalingGroupName).activities];
  } else {
    for (const g of world.groups.values()) activities.push(...g.activities);
  }
  if (input.ActivityIds?.length) activities = activities.filter((a) => input.ActivityIds!.includes(a.ActivityId));
  activities.sort((a, b) => b.StartTime - a.StartTime);
  const page = paginate('autoscaling', activities, max, input.NextToken);
  return { Activities: page.items.map(sdkActivity), ...(page.next ? { NextToken: page.next } : {}) };
}

export function describeLaunchConfigurations(world: World, input: DescribeLaunchConfigurationsCommandInput) {
  const max = input.MaxRecords ?? 50;
  const names = input.LaunchConfigurationNames;
  const lcs = [...world.launchConfigurations.values()]
    .filter((lc) => !names?.length || names.includes(lc.LaunchConfigurationName))
    .sort((a, b) => (a.LaunchConfigurationName < b.LaunchConfigurationName ? -1 : 1));
  const page = paginate('autoscaling', lcs, max, input.NextToken);
  return {
    LaunchConfigurations: page.items.map((lc) => ({ ...structuredClone(lc), CreatedTime: new Date(lc.CreatedTime * 1000) })),
    ...(page.next ? { NextToken: page.next } : {}),
  };
}

export function createLaunchConfiguration(world: World, input: CreateLaunchConfigurationCommandInput) {
  const name = input.LaunchConfigurationName;
  if (!name) throw awsError('autoscaling', 'ValidationError', 'LaunchConfigurationName is required.');
  if (world.launchConfigurations.has(name)) {
    throw awsError('autoscaling', 'AlreadyExistsFault', `Launch Configuration by this name already exists - A launch configuration already exists with the name ${name}`);
  }
  if (!input.InstanceType && !input.InstanceId) throw awsError('autoscaling', 'ValidationError', 'InstanceType is required.');
  if (input.SpotPrice !== undefined && !(Number(input.SpotPrice) >= 0.001)) {
    throw awsError('autoscaling', 'ValidationError', `Invalid SpotPrice ${input.SpotPrice}: it must be at least 0.001.`);
  }
  world.launchConfigurations.set(name, {
    LaunchConfigurationName: name,
    LaunchConfigurationARN: `arn:aws:autoscaling:${world.scenario.region}:${ACCOUNT_ID}:launchConfiguration:${world.newId('', 8)}-sim:launchConfigurationName/${name}`,
    ImageId: input.ImageId,
    InstanceType: input.InstanceType,
    SpotPrice: input.SpotPrice,
    KeyName: input.KeyName,
    SecurityGroups: input.SecurityGroups,
    UserData: input.UserData,
    IamInstanceProfile: input.IamInstanceProfile,
    InstanceMonitoring: input.InstanceMonitoring,
    EbsOptimized: input.EbsOptimized,
    AssociatePublicIpAddress: input.AssociatePublicIpAddress,
    CreatedTime: world.now,
  });
  return {};
}
