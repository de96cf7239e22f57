/**
 * The interruption function's gather phase: read-only calls, as few as the common path allows. A warning reads
 * only its instance's group: DescribeAutoScalingInstances for the instance, then that one group
 * (DescribeAutoScalingGroups by name), then one DynamoDB query (the pool's recent interruptions); a storm of
 * warnings never describes every managed group once per warning (Auto Scaling's throttle is one per account).
 * The rest is read only on the paths that need it.
 */
import { describeGroup, describeInstanceGroups, describeTerminationHooks } from '../aws/autoscaling';
import { describeInstance, describeTaggedInstances } from '../aws/ec2';
import { poolRecordKey, queryRecords } from '../aws/state-store';
import type { Config } from '../config';
import {
  poolBreaker,
  type LaunchFailureObservation,
  type ManagedGroup,
  type SweepObservation,
  type WarningObservation,
} from './decide';
import type { LaunchUnsuccessful } from '../events/launch-unsuccessful';
import type { RebalanceRecommendation } from '../events/rebalance-recommendation';
import type { SpotInterruption } from '../events/spot-interruption';
import { GroupConfigError } from '../errors';
import { logger } from '../log';
import type { GroupSnapshot, Market } from '../model';
import { observeFarms, type GroupObservation } from '../observe';
import { INTERRUPTION_RECORD, marketOf, readCapacityFailures } from '../records';
import { readGroupTags } from '../settings';
import { fallsBackThroughOnDemandGroup } from '../route';
import { ALIVE_STATES, DEADLINE_TAG, DETACHED_FROM_TAG, readDetachTags } from './tags';

export function toManagedGroup(g: GroupObservation): ManagedGroup {
  return {
    name: g.group.name,
    farm: g.farm,
    role: g.role,
    settings: g.settings,
    min: g.group.min,
    max: g.group.max,
    desired: g.group.desired,
    capacityRebalance: g.group.capacityRebalance,
    instances: g.group.instances,
    fallsBackThroughOnDemandGroup: fallsBackThroughOnDemandGroup({ style: g.group.launch.style, mixedFallback: g.settings.mixedFallback }),
  };
}

/** Every managed group of the stack's farm(s), without launch sources, prices or queues. */
export async function observeManagedGroups(config: Readonly<Config>, now: Date, farm?: string): Promise<ManagedGroup[]> {
  const observation = await observeFarms(config, now, farm ? { farm } : {});
  return observation.farms.flatMap((f) => f.groups.map(toManagedGroup));
}

/** The group as the decisions need it, when it is a managed group of this stack's farm(s); else undefined. */
export function managedGroupOf(config: Readonly<Config>, group: GroupSnapshot | undefined): ManagedGroup | undefined {
  if (!group) return undefined;
  try {
    const tags = readGroupTags(group.name, group.tags, config.defaults);
    if (config.farm !== '*' && tags.farm !== config.farm) return undefined;
    return {
      name: group.name,
      farm: tags.farm,
      role: tags.role,
      settings: tags.settings,
      min: group.min,
      max: group.max,
      desired: group.desired,
      capacityRebalance: group.capacityRebalance,
      instances: group.instances,
    };
  } catch (error) {
    if (!(error instanceof GroupConfigError)) throw error;
    // An untagged group is simply not spotfarm's; a tagged one with bad settings is worth a line in the log.
    if (Object.keys(group.tags).some((k) => k.startsWith('spotfarm:'))) {
      logger.error('skipping group: its spotfarm tags are invalid', { asgName: group.name, error: error.message });
    }
    return undefined;
  }
}

/** One group by name, when it is managed by this stack. */
async function observeGroup(config: Readonly<Config>, name: string): Promise<ManagedGroup | undefined> {
  return managedGroupOf(config, await describeGroup(name));
}

/**
 * Records around `at`: the window either side, so that when events arrive out of order the last one handled
 * still sees all of its neighbours (the count is then right whatever the order).
 */
function around(at: Date, seconds: number): [Date, Date] {
  return [new Date(at.getTime() - seconds * 1000), new Date(at.getTime() + seconds * 1000)];
}

async function marketOrUndefined(config: Readonly<Config>, groupName: string): Promise<Market | undefined> {
  return (await marketOf(config.stateTable, groupName)).market;
}

export async function observeWarning(
  config: Readonly<Config>,
  message: SpotInterruption | RebalanceRecommendation,
): Promise<WarningObservation> {
  const membership = (await describeInstanceGroups([message.instanceId])).get(message.instanceId);
  let group = membership ? await observeGroup(config, membership.groupName) : undefined;
  const instance = group?.instances.find((i) => i.id === message.instanceId);
  const observation: WarningObservation = {
    message,
    group: instance ? group : undefined,
    instance,
    detached: undefined,
    poolInterruptions: [],
    earlyReplacements: [],
    market: undefined,
  };
  if (!instance) {
    // Not in a managed group: maybe one spotfarm detached earlier (a rebalance replaced early). Its tags say.
    const details = await describeInstance(message.instanceId);
    const detached = details ? readDetachTags(details, undefined) : undefined;
    group = detached ? await observeGroup(config, detached.fromGroup) : undefined;
    if (!detached || !group) return observation;
    observation.detached = detached;
    observation.group = group;
  }
  if (!group) return observation;
  const pool = instance
    ? { instanceType: instance.type, availabilityZone: instance.availabilityZone }
    : { instanceType: observation.detached!.instanceType, availabilityZone: observation.detached!.availabilityZone };

  if (message.kind === 'spot_interruption') {
    const [from, to] = around(message.time, group.settings.breakerWindow);
    const records = await queryRecords<{ instanceId?: string }>(
      config.stateTable,
      poolRecordKey(pool.instanceType, pool.availabilityZone),
      INTERRUPTION_RECORD,
      from,
      to,
    );
    observation.poolInterruptions = records.map((r) => ({ instanceId: r.data.instanceId ?? r.sk, at: r.at }));
    if (group.role === 'spot' && poolBreaker(group, pool, observation.poolInterruptions, message.instanceId).tripped) {
      observation.market = await marketOrUndefined(config, group.name);
    }
    // Only where the decision would take the instance out of its group: a detach bypasses termination hooks.
    if (instance && instance.lifecycleState === 'InService' && !group.capacityRebalance) {
      observation.terminationHooks = await describeTerminationHooks(group.name);
    }
  } else if (group.settings.rebalance === 'replace' && instance && !group.capacityRebalance) {
    const spotGroup = group;
    const tagged = await describeTaggedInstances(DETACHED_FROM_TAG, ALIVE_STATES);
    observation.earlyReplacements = tagged
      .map((t) => readDetachTags(t, undefined))
      .filter((d) => d !== undefined && d.fromGroup === spotGroup.name && d.reason === 'rebalance' && d.id !== message.instanceId)
      .map((d) => d!.id);
  }
  return observation;
}

export async function observeLaunchFailure(config: Readonly<Config>, message: LaunchUnsuccessful): Promise<LaunchFailureObservation> {
  const group = await observeGroup(config, message.groupName);
  const observation: LaunchFailureObservation = { message, group, capacityFailures: [], market: undefined };
  if (!group) return observation;
  const [from, to] = around(new Date(message.startedAt), group.settings.capacityWindow);
  const records = await readCapacityFailures(config.stateTable, group.name, from, to);
  observation.capacityFailures = records.map((r) => r.data.id);
  const failureId = message.activityId ?? message.id;
  if (new Set([...observation.capacityFailures, failureId]).size >= group.settings.capacityFailures) {
    observation.market = await marketOrUndefined(config, group.name);
  }
  return observation;
}

/** Every instance spotfarm marked for detaching that EC2 has not terminated; the groups only when there are any. */
export async function observeSweep(config: Readonly<Config>, now: Date, farm: string): Promise<SweepObservation> {
  const tagged = await describeTaggedInstances(DEADLINE_TAG, ALIVE_STATES);
  if (tagged.length === 0) return { detached: [], groups: new Map(), farm };
  const groups = await observeManagedGroups(config, now, farm);
  const memberOf = new Map<string, string>();
  for (const g of groups) for (const i of g.instances) memberOf.set(i.id, g.name);
  const detached = tagged.flatMap((t) => readDetachTags(t, memberOf.get(t.id)) ?? []);
  return { detached, groups: new Map(groups.map((g) => [g.name, g])), farm };
}
