/**
 * Auto Scaling: the only module that talks to the Auto Scaling API. Each function takes the client as an
 * optional last argument so tests and the backtest can pass their own.
 */
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DescribeLaunchConfigurationsCommand,
  DescribeScalingActivitiesCommand,
  SetDesiredCapacityCommand,
  type AutoScalingGroup,
  type Filter,
  type LaunchTemplateSpecification,
} from '@aws-sdk/client-auto-scaling';
import { aws } from '../errors';
import type { GroupInstance, GroupSnapshot, LaunchDetails, LaunchSource, TemplateRef } from '../model';
import { FARM_TAG } from '../settings';

// Auto Scaling has one throttle bucket per account and Region, shared with the console: back off adaptively.
export const autoScalingClient = new AutoScalingClient({ maxAttempts: 6, retryMode: 'adaptive' });

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

/** Failed launches of a group that started at or after `since` (history is newest first). */
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
      if (start && start < since) return out;
      if (activity.StatusCode === 'Failed' || activity.StatusCode === 'Cancelled') {
        out.push({
          activityId: activity.ActivityId ?? '',
          time: (start ?? since).toISOString(),
          statusCode: activity.StatusCode,
          message: [activity.StatusMessage, activity.Description].filter(Boolean).join(' '),
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

function templateRef(spec: LaunchTemplateSpecification | undefined): TemplateRef | undefined {
  if (!spec || (!spec.LaunchTemplateId && !spec.LaunchTemplateName)) return undefined;
  return { id: spec.LaunchTemplateId, name: spec.LaunchTemplateName, version: spec.Version ?? '$Default' };
}

function launchSource(group: AutoScalingGroup): LaunchSource {
  if (group.LaunchConfigurationName) return { style: 'launch-configuration', name: group.LaunchConfigurationName };
  const mixed = group.MixedInstancesPolicy;
  if (mixed) {
    const template = templateRef(mixed.LaunchTemplate?.LaunchTemplateSpecification);
    if (!template) return { style: 'none' };
    const distribution = mixed.InstancesDistribution ?? {};
    return {
      style: 'mixed-instances',
      template,
      overrideTypes: (mixed.LaunchTemplate?.Overrides ?? []).flatMap((o) => (o.InstanceType ? [o.InstanceType] : [])),
      onDemandBaseCapacity: distribution.OnDemandBaseCapacity ?? 0,
      onDemandPercentageAboveBaseCapacity: distribution.OnDemandPercentageAboveBaseCapacity ?? 100,
      spotAllocationStrategy: distribution.SpotAllocationStrategy,
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
    instances,
    tags,
    launch: launchSource(group),
    capacityRebalance: group.CapacityRebalance ?? false,
    terminationPolicies: group.TerminationPolicies ?? [],
    createdTime: group.CreatedTime?.toISOString(),
  };
}
