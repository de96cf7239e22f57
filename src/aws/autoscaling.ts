/**
 * Auto Scaling: the only module that talks to the Auto Scaling API. Each function takes the client as an
 * optional last argument so tests and the backtest can pass their own.
 */
import {
  AutoScalingClient,
  CreateLaunchConfigurationCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DescribeLaunchConfigurationsCommand,
  DescribeLifecycleHooksCommand,
  DescribeScalingActivitiesCommand,
  DetachInstancesCommand,
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  UpdateAutoScalingGroupCommand,
  type InstancesDistribution,
  type LaunchTemplateOverrides,
  type MixedInstancesPolicy,
  type AutoScalingGroup,
  type CreateLaunchConfigurationCommandInput,
  type Filter,
  type LaunchTemplateSpecification,
} from '@aws-sdk/client-auto-scaling';
import { aws, AwsCallError } from '../errors';
import type { GroupInstance, GroupSnapshot, LaunchDetails, LaunchSource, MixedOverride, TemplateRef } from '../model';
import { FARM_TAG } from '../settings';
import { requestHandler } from './http';

// Auto Scaling has one throttle bucket per account and Region, shared with the console: back off adaptively.
export const autoScalingClient = new AutoScalingClient({ maxAttempts: 6, retryMode: 'adaptive', requestHandler });

/**
 * Every group that opted in (`spotfarm:farm`), or only those of one farm, following every page.
 * Server-side tag filters keep this one call per 100 groups whatever the account holds.
 */
export async function describeManagedGroups(
  farm: string,
  client: AutoScalingClient = autoScalingClient,
): Promise<GroupSnapshot[]> {
  const filters: Filter[] =
    farm === '*' ? [{ Name: 'tag-key', Values: [FARM_TAG] }] : [{ Name: `tag:${FARM_TAG}`, Values: [farm] }];
  const groups: GroupSnapshot[] = [];
  let nextToken: string | undefined;
  do {
    const page = await aws(`describing auto scaling groups tagged ${FARM_TAG}=${farm}`, () =>
      client.send(new DescribeAutoScalingGroupsCommand({ Filters: filters, MaxRecords: 100, NextToken: nextToken })),
    );
    for (const group of page.AutoScalingGroups ?? []) groups.push(toSnapshot(group));
    nextToken = page.NextToken || undefined;
  } while (nextToken);
  return groups;
}

/** One group by name, or undefined when it does not exist (any more). */
export async function describeGroup(
  name: string,
  client: AutoScalingClient = autoScalingClient,
): Promise<GroupSnapshot | undefined> {
  const page = await aws(`describing auto scaling group ${name}`, () =>
    client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] })),
  );
  const group = page.AutoScalingGroups?.[0];
  return group ? toSnapshot(group) : undefined;
}

/** The group each instance belongs to (instances not in a group are absent from the map). */
export async function describeInstanceGroups(
  instanceIds: string[],
  client: AutoScalingClient = autoScalingClient,
): Promise<Map<string, { groupName: string; lifecycleState: string; availabilityZone: string; instanceType: string }>> {
  const out = new Map<string, { groupName: string; lifecycleState: string; availabilityZone: string; instanceType: string }>();
  for (let i = 0; i < instanceIds.length; i += 50) {
    const ids = instanceIds.slice(i, i + 50);
    const page = await aws(`describing auto scaling instances ${ids.join(', ')}`, () =>
      client.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: ids })),
    );
    for (const instance of page.AutoScalingInstances ?? []) {
      if (!instance.InstanceId || !instance.AutoScalingGroupName) continue;
      out.set(instance.InstanceId, {
        groupName: instance.AutoScalingGroupName,
        lifecycleState: instance.LifecycleState ?? 'unknown',
        availabilityZone: instance.AvailabilityZone ?? 'unknown',
        instanceType: instance.InstanceType ?? 'unknown',
      });
    }
  }
  return out;
}

/** Market and type of each named launch configuration; names that do not exist are absent. */
export async function describeLaunchConfigurations(
  names: string[],
  client: AutoScalingClient = autoScalingClient,
): Promise<Map<string, LaunchDetails>> {
  const out = new Map<string, LaunchDetails>();
  for (let i = 0; i < names.length; i += 50) {
    const batch = names.slice(i, i + 50);
    let nextToken: string | undefined;
    do {
      const page = await aws(`describing launch configurations ${batch.join(', ')}`, () =>
        client.send(
          new DescribeLaunchConfigurationsCommand({ LaunchConfigurationNames: batch, NextToken: nextToken, MaxRecords: 50 }),
        ),
      );
      for (const lc of page.LaunchConfigurations ?? []) {
        if (!lc.LaunchConfigurationName) continue;
        const spotPrice = lc.SpotPrice ? Number(lc.SpotPrice) : undefined;
        out.set(lc.LaunchConfigurationName, {
          market: spotPrice !== undefined ? 'spot' : 'on-demand',
          instanceType: lc.InstanceType,
          spotMaxPrice: spotPrice,
          resolvedVersion: undefined,
        });
      }
      nextToken = page.NextToken || undefined;
    } while (nextToken);
  }
  return out;
}

/** A failed or cancelled launch of a group, as Auto Scaling records it. */
export interface FailedLaunch {
  activityId: string;
  time: string;
  statusCode: string;
  /** AWS's free text, e.g. "We currently do not have sufficient c5.large capacity ...". */
  message: string;
}

/**
 * AWS's reason for a failed activity, once: Description repeats StatusMessage ("Launching a new EC2 instance.
 * Status Reason: <StatusMessage>"), so StatusMessage alone, or Description when there is none.
 */
const failureReason = (activity: { StatusMessage?: string; Description?: string }): string =>
  activity.StatusMessage || activity.Description || '';

/** Still running: listed first whatever its start time (API reference, DescribeScalingActivities output). */
const IN_PROGRESS = new Set([
  'PendingSpotBidPlacement',
  'WaitingForSpotInstanceRequestId',
  'WaitingForSpotInstanceId',
  'WaitingForInstanceId',
  'PreInService',
  'InProgress',
  'WaitingForELBConnectionDraining',
  'MidLifecycleAction',
  'WaitingForInstanceWarmup',
  'WaitingForConnectionDraining',
]);

/**
 * Failed launches of a group that started at or after `since`. "Activities are sorted by start time. Activities
 * still in progress are described first" (DescribeScalingActivities API reference,
 * https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DescribeScalingActivities.html): an old activity
 * still in progress does not end the scan, the first finished one older than `since` does.
 */
export async function describeFailedLaunches(
  groupName: string,
  since: Date,
  client: AutoScalingClient = autoScalingClient,
): Promise<FailedLaunch[]> {
  const out: FailedLaunch[] = [];
  let nextToken: string | undefined;
  do {
    const page = await aws(`describing scaling activities of auto scaling group ${groupName}`, () =>
      client.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: groupName, MaxRecords: 100, NextToken: nextToken })),
    );
    for (const activity of page.Activities ?? []) {
      const start = activity.StartTime;
      if (start && start < since) {
        if (IN_PROGRESS.has(activity.StatusCode ?? '')) continue;
        return out;
      }
      if (activity.StatusCode === 'Failed' || activity.StatusCode === 'Cancelled') {
        out.push({
          activityId: activity.ActivityId ?? '',
          time: (start ?? since).toISOString(),
          statusCode: activity.StatusCode,
          message: failureReason(activity),
        });
      }
    }
    nextToken = page.NextToken || undefined;
  } while (nextToken);
  return out;
}

export async function setDesiredCapacity(
  groupName: string,
  desired: number,
  client: AutoScalingClient = autoScalingClient,
): Promise<void> {
  await aws(`setting desired capacity of auto scaling group ${groupName} to ${desired}`, () =>
    client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: groupName, DesiredCapacity: desired, HonorCooldown: false })),
  );
}

/** What a detach came to: done, the instance was no longer in the group, or AWS cannot detach it in its state. */
export type DetachOutcome = 'detached' | 'not-in-group' | 'not-detachable';

/**
 * Detaches instances without lowering desired capacity, so the group launches their replacements at once while
 * the instances live on outside it. 'not-in-group': a concurrent run or Auto Scaling itself got there first;
 * 'not-detachable': the instance is Pending, or already Detaching or Terminating (AWS detaches only InService
 * and Standby instances and answers ValidationError "The instance i-... is not in InService or Standby", as
 * reported in reproio/ecs_deploy issues 47 and 84). Neither is a failure to retry.
 */
export async function detachInstances(
  groupName: string,
  instanceIds: string[],
  client: AutoScalingClient = autoScalingClient,
): Promise<DetachOutcome> {
  try {
    await aws(`detaching ${instanceIds.join(', ')} from auto scaling group ${groupName}`, () =>
      client.send(
        new DetachInstancesCommand({ AutoScalingGroupName: groupName, InstanceIds: instanceIds, ShouldDecrementDesiredCapacity: false }),
      ),
    );
    return 'detached';
  } catch (error) {
    if (isNotInGroup(error)) return 'not-in-group';
    if (isNotDetachable(error)) return 'not-detachable';
    throw error;
  }
}

const isNotDetachable = (error: unknown): boolean =>
  error instanceof AwsCallError && error.awsName === 'ValidationError' && /is not in InService or Standby/i.test(error.message);

/**
 * Terminates a group's instance without lowering desired capacity (the group replaces it). Returns false when
 * the instance is not (any more) in a group.
 */
export async function terminateInstanceInGroup(
  instanceId: string,
  client: AutoScalingClient = autoScalingClient,
): Promise<boolean> {
  try {
    await aws(`terminating ${instanceId} in its auto scaling group`, () =>
      client.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: instanceId, ShouldDecrementDesiredCapacity: false })),
    );
    return true;
  } catch (error) {
    if (isNotInGroup(error)) return false;
    throw error;
  }
}

/**
 * The names of a group's termination lifecycle hooks (LifecycleTransition autoscaling:EC2_INSTANCE_TERMINATING):
 * Auto Scaling runs them when it terminates one of its instances, never for an instance detached from it
 * (EC2 Auto Scaling user guide, "Amazon EC2 Auto Scaling lifecycle hooks"). One DescribeLifecycleHooks call,
 * which has no resource-level permissions (Resource "*").
 */
export async function describeTerminationHooks(groupName: string, client: AutoScalingClient = autoScalingClient): Promise<string[]> {
  const out = await aws(`describing the lifecycle hooks of auto scaling group ${groupName}`, () =>
    client.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: groupName })),
  );
  return (out?.LifecycleHooks ?? [])
    .filter((h) => h.LifecycleTransition === 'autoscaling:EC2_INSTANCE_TERMINATING')
    .map((h) => h.LifecycleHookName ?? '')
    .filter((name) => name !== '');
}

// AWS says "The instance i-... is not part of Auto Scaling group ..." (DetachInstances) and "Instance Id not
// found - No managed instance found for instance ID: i-..." (TerminateInstanceInAutoScalingGroup).
const isNotInGroup = (error: unknown): boolean =>
  error instanceof AwsCallError &&
  error.awsName === 'ValidationError' &&
  /not part of Auto Scaling group|No managed instance found|Instance Id not found/i.test(error.message);

/**
 * How long each successful launch of a group since `since` took, in seconds: the activity's StartTime to its
 * EndTime, which Auto Scaling sets when the instance is in service (after its lifecycle hooks). Scaling activities
 * are kept six weeks (DescribeScalingActivities, Auto Scaling API reference). Newest first, so the walk stops at
 * the first older page.
 */
export async function describeLaunchDurations(
  groupName: string,
  since: Date,
  client: AutoScalingClient = autoScalingClient,
): Promise<number[]> {
  const out: number[] = [];
  let nextToken: string | undefined;
  do {
    const page = await aws(`describing scaling activities of auto scaling group ${groupName}`, () =>
      client.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: groupName, MaxRecords: 100, NextToken: nextToken })),
    );
    for (const activity of page.Activities ?? []) {
      const start = activity.StartTime;
      if (start && start < since) {
        // In-progress activities are listed first whatever their age (see describeFailedLaunches).
        if (IN_PROGRESS.has(activity.StatusCode ?? '')) continue;
        return out;
      }
      // "Launching a new EC2 instance: i-0123..." (AWS's wording for a launch).
      if (activity.StatusCode !== 'Successful' || !/^Launching a new EC2 instance/.test(activity.Description ?? '')) continue;
      if (start && activity.EndTime) out.push((activity.EndTime.getTime() - start.getTime()) / 1000);
    }
    nextToken = page.NextToken || undefined;
  } while (nextToken);
  return out;
}

/** Everything CreateLaunchConfiguration needs to make a copy of a launch configuration (name aside). */
export type LaunchConfigurationData = Omit<CreateLaunchConfigurationCommandInput, 'LaunchConfigurationName'>;

/** The settings of one launch configuration, as CreateLaunchConfiguration takes them; undefined if it is gone. */
export async function getLaunchConfiguration(
  name: string,
  client: AutoScalingClient = autoScalingClient,
): Promise<LaunchConfigurationData | undefined> {
  const page = await aws(`describing launch configuration ${name}`, () =>
    client.send(new DescribeLaunchConfigurationsCommand({ LaunchConfigurationNames: [name] })),
  );
  const lc = page.LaunchConfigurations?.find((c) => c.LaunchConfigurationName === name);
  if (!lc) return undefined;
  const { LaunchConfigurationName: _name, LaunchConfigurationARN: _arn, CreatedTime: _created, ...rest } = lc;
  const data: Record<string, unknown> = {};
  // Describe answers "" and [] for unset fields, which Create would reject as invalid values.
  for (const [key, value] of Object.entries(rest)) {
    if (value === undefined || value === '' || (Array.isArray(value) && value.length === 0)) continue;
    data[key] = value;
  }
  return data as LaunchConfigurationData;
}

/** Creates a launch configuration. AlreadyExistsFault and refusals surface as AwsCallError (see `.awsName`). */
export async function createLaunchConfiguration(
  name: string,
  data: LaunchConfigurationData,
  client: AutoScalingClient = autoScalingClient,
): Promise<void> {
  await aws(`creating launch configuration ${name}`, () =>
    client.send(new CreateLaunchConfigurationCommand({ ...data, LaunchConfigurationName: name })),
  );
}

/** Points a group at a launch configuration or a launch template version (new instances only). */
export async function updateGroupLaunchSource(
  groupName: string,
  source: { launchConfigurationName: string } | { launchTemplate: TemplateRef },
  client: AutoScalingClient = autoScalingClient,
): Promise<void> {
  const input =
    'launchConfigurationName' in source
      ? { LaunchConfigurationName: source.launchConfigurationName }
      : {
          LaunchTemplate: source.launchTemplate.id
            ? { LaunchTemplateId: source.launchTemplate.id, Version: source.launchTemplate.version }
            : { LaunchTemplateName: source.launchTemplate.name, Version: source.launchTemplate.version },
        };
  const target = 'launchConfigurationName' in source ? `launch configuration ${source.launchConfigurationName}` : `launch template ${source.launchTemplate.id ?? source.launchTemplate.name} version ${source.launchTemplate.version}`;
  await aws(`pointing auto scaling group ${groupName} at ${target}`, () =>
    client.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: groupName, ...input })),
  );
}

/**
 * Sets the spot max price of a mixed-instances group's policy (InstancesDistribution.SpotMaxPrice; `''` removes
 * it, so the max price is on-demand again), leaving everything else as it is. Auto Scaling applies it to new
 * launches only: "If your maximum price is lower than the Spot price for the instance types that you selected,
 * your Spot Instances are not launched" (API_InstancesDistribution), and updating it does not replace running
 * instances (aws.md §2.4). The whole policy is sent back, as for the on-demand percentage.
 */
export async function setSpotMaxPrice(groupName: string, maxPrice: string, client: AutoScalingClient = autoScalingClient): Promise<void> {
  await updateInstancesDistribution(groupName, 'spot max price', maxPrice === '' ? 'none (on-demand)' : maxPrice, { SpotMaxPrice: maxPrice }, client);
}

/**
 * Drops one instance type's override from a mixed-instances group's policy, or puts a dropped one back at its
 * place, leaving everything else as it is (the whole policy is sent back, read afresh). Auto Scaling then launches
 * no instance of a dropped type; running instances of it are not replaced: "When you update the launch template or
 * overrides in the UpdateAutoScalingGroup API call, existing Amazon EC2 instances continue to run. When scaling out
 * occurs, Amazon EC2 Auto Scaling launches instances to match the new settings" (Auto Scaling API reference,
 * LaunchTemplate: https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_LaunchTemplate.html).
 */
export async function changeOverrides(
  groupName: string,
  change: { drop: string } | { restore: MixedOverride; index: number },
  client: AutoScalingClient = autoScalingClient,
): Promise<void> {
  const doing = 'drop' in change ? `dropping instance type ${change.drop} from` : `restoring instance type ${change.restore.InstanceType} to`;
  const what = `${doing} auto scaling group ${groupName}`;
  await rewriteMixedInstancesPolicy(groupName, what, what, client, (policy) => {
    const current = policy.LaunchTemplate?.Overrides ?? [];
    if ('drop' in change) {
      const overrides = current.filter((o) => o.InstanceType !== change.drop);
      if (overrides.length === current.length) return undefined; // already dropped (a retry)
      if (overrides.length === 0) throw new AwsCallError(what, new Error('it is the last override'));
      return { overrides };
    }
    if (current.some((o) => o.InstanceType === change.restore.InstanceType)) return undefined; // already back (a retry, or by hand)
    const overrides = [...current];
    overrides.splice(Math.min(change.index, overrides.length), 0, change.restore as (typeof current)[number]);
    return { overrides };
  });
}

/** Sets OnDemandPercentageAboveBaseCapacity of a mixed-instances group, leaving everything else as it is. Returns the percentage it had. */
export async function setOnDemandPercentage(
  groupName: string,
  percentage: number,
  client: AutoScalingClient = autoScalingClient,
): Promise<number> {
  const previous = await updateInstancesDistribution(
    groupName,
    'on-demand percentage',
    String(percentage),
    { OnDemandPercentageAboveBaseCapacity: percentage },
    client,
  );
  return previous?.OnDemandPercentageAboveBaseCapacity ?? 100;
}

/**
 * Changes fields of a mixed-instances group's InstancesDistribution, leaving everything else as it is. The whole
 * policy is sent back: fields left out of an update take their defaults (AWS) or vanish (moto). Returns the
 * distribution the group had.
 */
async function updateInstancesDistribution(
  groupName: string,
  setting: string,
  shown: string,
  change: InstancesDistribution,
  client: AutoScalingClient,
): Promise<InstancesDistribution | undefined> {
  const policy = await rewriteMixedInstancesPolicy(
    groupName,
    `setting the ${setting} of auto scaling group ${groupName}`,
    `setting the ${setting} of auto scaling group ${groupName} to ${shown}`,
    client,
    (current) => ({ distribution: { ...current.InstancesDistribution, ...change } }),
  );
  return policy.InstancesDistribution;
}

/**
 * Reads a mixed-instances group's policy afresh and sends it back whole with `edit`'s overrides or distribution
 * (fields left out of an update take their defaults on AWS, or vanish in moto). `edit` returning undefined sends
 * nothing (the change is already there). Returns the policy as read.
 */
async function rewriteMixedInstancesPolicy(
  groupName: string,
  what: string,
  sending: string,
  client: AutoScalingClient,
  edit: (policy: MixedInstancesPolicy) => { overrides?: LaunchTemplateOverrides[]; distribution?: InstancesDistribution } | undefined,
): Promise<MixedInstancesPolicy> {
  const page = await aws(`describing auto scaling group ${groupName}`, () =>
    client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] })),
  );
  const policy = page.AutoScalingGroups?.[0]?.MixedInstancesPolicy;
  const spec = policy?.LaunchTemplate?.LaunchTemplateSpecification;
  if (!policy || !spec) throw new AwsCallError(what, new Error('the group has no mixed instances policy'));
  const changes = edit(policy);
  if (!changes) return policy;
  const { LaunchTemplateId, LaunchTemplateName, Version } = spec;
  await aws(sending, () =>
    client.send(
      new UpdateAutoScalingGroupCommand({
        AutoScalingGroupName: groupName,
        MixedInstancesPolicy: {
          ...policy,
          LaunchTemplate: {
            ...policy.LaunchTemplate,
            LaunchTemplateSpecification: LaunchTemplateId ? { LaunchTemplateId, Version } : { LaunchTemplateName, Version },
            ...(changes.overrides ? { Overrides: changes.overrides } : {}),
          },
          ...(changes.distribution ? { InstancesDistribution: changes.distribution } : {}),
        },
      }),
    ),
  );
  return policy;
}

function templateRef(spec: LaunchTemplateSpecification | undefined): TemplateRef | undefined {
  if (!spec || (!spec.LaunchTemplateId && !spec.LaunchTemplateName)) return undefined;
  return { id: spec.LaunchTemplateId, name: spec.LaunchTemplateName, version: spec.Version ?? '$Default' };
}

function launchSource(group: AutoScalingGroup): LaunchSource {
  if (group.LaunchConfigurationName) return { style: 'launch-configuration', name: group.LaunchConfigurationName };
  const mixed = group.MixedInstancesPolicy;
  // moto reports an empty policy ({}) on groups CloudFormation made without one; AWS leaves the field out.
  if (mixed && (mixed.LaunchTemplate || mixed.InstancesDistribution)) {
    const template = templateRef(mixed.LaunchTemplate?.LaunchTemplateSpecification);
    if (!template) return { style: 'none' };
    const distribution = mixed.InstancesDistribution ?? {};
    return {
      style: 'mixed-instances',
      template,
      overrideTypes: (mixed.LaunchTemplate?.Overrides ?? []).flatMap((o) => (o.InstanceType ? [o.InstanceType] : [])),
      overrides: structuredClone(mixed.LaunchTemplate?.Overrides ?? []) as MixedOverride[],
      onDemandBaseCapacity: distribution.OnDemandBaseCapacity ?? 0,
      onDemandPercentageAboveBaseCapacity: distribution.OnDemandPercentageAboveBaseCapacity ?? 100,
      spotAllocationStrategy: distribution.SpotAllocationStrategy,
      spotMaxPrice: distribution.SpotMaxPrice ? Number(distribution.SpotMaxPrice) : undefined,
    };
  }
  const template = templateRef(group.LaunchTemplate);
  return template ? { style: 'launch-template', template } : { style: 'none' };
}

function toSnapshot(group: AutoScalingGroup): GroupSnapshot {
  const tags: Record<string, string> = {};
  for (const tag of group.Tags ?? []) if (tag.Key) tags[tag.Key] = tag.Value ?? '';
  const instances: GroupInstance[] = (group.Instances ?? []).map((i) => ({
    id: i.InstanceId ?? '',
    type: i.InstanceType ?? 'unknown',
    availabilityZone: i.AvailabilityZone ?? 'unknown',
    lifecycleState: i.LifecycleState ?? 'unknown',
    healthStatus: i.HealthStatus ?? 'unknown',
    protectedFromScaleIn: i.ProtectedFromScaleIn ?? false,
  }));
  return {
    name: group.AutoScalingGroupName ?? '',
    arn: group.AutoScalingGroupARN,
    min: group.MinSize ?? 0,
    max: group.MaxSize ?? 0,
    desired: group.DesiredCapacity ?? 0,
    availabilityZones: group.AvailabilityZones ?? [],
    subnetIds: (group.VPCZoneIdentifier ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    instances,
    tags,
    launch: launchSource(group),
    capacityRebalance: group.CapacityRebalance ?? false,
    terminationPolicies: group.TerminationPolicies ?? [],
    createdTime: group.CreatedTime?.toISOString(),
  };
}
