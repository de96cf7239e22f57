/**
 * The interruption function's decisions, pure: an observation (the event's instance and its group as AWS shows
 * them now, the pool's recent records) and `now` (the wall clock at invocation, never the event's time) in,
 * actions out. Nothing here reads a clock or calls AWS.
 *
 * Rules (docs/interruptions.md):
 * - Interruption warning for an instance of a managed group: record it against its pool (type x AZ); then start
 *   the replacement at once by detaching the instance without lowering desired capacity, so the group launches
 *   a replacement while the instance lives out its two minutes. Not when Capacity Rebalancing is on (Auto
 *   Scaling replaces it itself: detaching too would launch two), not when the instance is already leaving the
 *   group, and not once its deadline has passed on the wall clock (a late or retried event: Auto Scaling
 *   replaces it when EC2 takes it).
 * - The pool's interruptions over `breakerWindow`, per instance-hour observed in that pool, at or over
 *   `breakerInterruptions` with enough evidence (`breakerState`, src/breaker.ts, the rule the market controller
 *   applies per pool) trip the pool's breaker: the trip is recorded once and a "Market Check Requested" event asks
 *   the market controller to check the group now. The market controller decides on its own reading (it falls back
 *   only when no good pool is left); the capacity controller covers any shortfall. No request while the group is
 *   on on-demand.
 * - Rebalance recommendation, by the group's `rebalance` setting: `ignore`; `record` (default: a risk record
 *   for the pool); `replace` (record, and replace early by the same detach, at most one early replacement per
 *   group at a time, never with Capacity Rebalancing on).
 * - Launch unsuccessful for a spot capacity reason: a capacity-failure record for the market controller; when
 *   the failures in `capacityWindow` reach `capacityFailures`, a market check is requested (as for the breaker).
 * - Anything else (an instance in no managed group, gone, already handled, a duplicate or late event): a skip
 *   with its reason, logged at info.
 * - Sweep (schedule): an instance spotfarm detached that still runs past its deadline is terminated (no
 *   orphans); one detached early for a rebalance goes as soon as its group is back to full strength.
 */
import { skip } from '../actions';
import type { DetachReason, InterruptionDecision as Action, RequestMarketCheckAction } from './actions';
import type { LaunchUnsuccessful } from '../events/launch-unsuccessful';
import type { RebalanceRecommendation } from '../events/rebalance-recommendation';
import type { SpotInterruption } from '../events/spot-interruption';
import { isRunning, type GroupInstance, type Market, type Pool } from '../model';
import type { GroupRole, GroupSettings } from '../settings';
import { breakerState } from '../breaker';
import { isCapacityFailure } from '../records';

/**
 * How long an instance detached early for a rebalance recommendation may overlap its replacement: long enough
 * for a worker instance to boot and join; past it, paying for two instances is worse than the remaining risk.
 */
export const REBALANCE_OVERLAP_SECONDS = 15 * 60;

/** What the decisions need of a managed group. */
export interface ManagedGroup {
  name: string;
  farm: string;
  role: GroupRole;
  settings: GroupSettings;
  min: number;
  max: number;
  desired: number;
  capacityRebalance: boolean;
  instances: GroupInstance[];
  /**
   * A mixed-instances group on mixedFallback=on-demand-group (src/route.ts): its fall-back is the farm's on-demand
   * group taking its share, so the market controller never falls it back for capacity (docs/market.md) and a
   * capacity burst asks for no check. Undefined: not known, taken as false.
   */
  fallsBackThroughOnDemandGroup?: boolean;
}

/** An instance spotfarm detached, as the tags it put on it say. */
export interface DetachedInstance {
  id: string;
  instanceType: string;
  availabilityZone: string;
  /** EC2 state: pending | running | stopping | stopped | shutting-down | terminated. */
  state: string;
  /** The instance's spotfarm:farm tag (propagated from its group). */
  farm: string | undefined;
  /** The group it was detached from. */
  fromGroup: string;
  /** ISO time after which it must be gone; an unreadable tag counts as passed. */
  deadline: string;
  reason: DetachReason;
  /** The group it is still a member of: the tag went on but the detach did not happen. */
  stillInGroup: string | undefined;
}

export interface WarningObservation {
  message: SpotInterruption | RebalanceRecommendation;
  /** The managed group holding the instance now, or the one spotfarm detached it from. */
  group: ManagedGroup | undefined;
  /** The instance as its group lists it; undefined when it is in no managed group (any more). */
  instance: GroupInstance | undefined;
  /** Set when spotfarm detached this instance earlier (its tags say so). */
  detached: DetachedInstance | undefined;
  /** Interruption records of the instance's pool within the group's breakerWindow (before this event). */
  poolInterruptions: { instanceId: string; at: string }[];
  /** Instances of the group spotfarm detached early for a rebalance that still run (rebalance=replace only). */
  earlyReplacements: string[];
  /** The market the market controller has the group in; read only when the breaker would trip. */
  market: Market | undefined;
  /**
   * The group's termination lifecycle hooks, read for an interruption warning of an instance in service (a
   * detach would bypass them; see `replacement`). Undefined when not read.
   */
  terminationHooks?: string[];
}

export interface LaunchFailureObservation {
  message: LaunchUnsuccessful;
  group: ManagedGroup | undefined;
  /** Ids of the capacity failures recorded for the group within its capacityWindow (before this event). */
  capacityFailures: string[];
  market: Market | undefined;
}

export interface SweepObservation {
  /** Every instance carrying spotfarm's detach tags that EC2 has not terminated. */
  detached: DetachedInstance[];
  /** Managed groups by name (for the rebalance early end, and the farm filter). */
  groups: Map<string, ManagedGroup>;
  /** The farm this stack manages, or `*`. */
  farm: string;
}

const iso = (date: Date): string => date.toISOString();

/** The group's running instances in one pool. */
export function poolInstances(group: ManagedGroup, pool: Pool): GroupInstance[] {
  return group.instances.filter(
    (i) => isRunning(i) && i.type === pool.instanceType && i.availabilityZone === pool.availabilityZone,
  );
}

/**
 * The breaker as the market controller defines it (`breakerState`), for a warning in one pool: distinct
 * interrupted instances of that pool in the window (this one included) per instance-hour observed in the pool.
 */
export function poolBreaker(
  group: ManagedGroup,
  pool: Pool,
  recorded: { instanceId: string }[],
  current: string | undefined,
): { interruptions: number; instances: number; rate: number; tripped: boolean } {
  const ids = new Set(recorded.map((r) => r.instanceId));
  if (current !== undefined) ids.add(current);
  const interruptions = ids.size;
  // Per instance-hour observed in this pool, evidence weighed (src/market/pools.ts): the market controller
  // decides the same way, and moves the whole group only when no good pool is left. Interrupted instances leave
  // the group as they are replaced: they were exposure all the same.
  const instances = Math.max(poolInstances(group, pool).length, interruptions);
  const { rate, tripped } = breakerState(interruptions, instances, group.settings);
  return { interruptions, instances, rate, tripped };
}

/** Decides what to do about an interruption warning or a rebalance recommendation. */
export function decideWarning(obs: WarningObservation, now: Date): Action[] {
  const { message, group } = obs;
  const id = message.instanceId;
  const signal = message.kind === 'spot_interruption' ? 'interruption' : 'rebalance';
  const label = signal === 'interruption' ? 'interruption warning' : 'rebalance recommendation';

  if (!group) {
    return [skip('-', `${label} for ${id}: not an instance of a managed group (or already gone); nothing to do`, { instanceId: id })];
  }
  if (signal === 'rebalance' && group.settings.rebalance === 'ignore') {
    return [skip(group.name, `${label} for ${id}: rebalance=ignore`, { instanceId: id })];
  }

  const located = obs.instance
    ? { instanceType: obs.instance.type, availabilityZone: obs.instance.availabilityZone }
    : obs.detached
      ? { instanceType: obs.detached.instanceType, availabilityZone: obs.detached.availabilityZone }
      : undefined;
  if (!located) {
    return [skip(group.name, `${label} for ${id}: the instance is no longer in the group; nothing to do`, { instanceId: id })];
  }
  const pool: Pool = located;
  const actions: Action[] = [];
  const figures = { instanceId: id, instanceType: pool.instanceType, availabilityZone: pool.availabilityZone };

  // Record first: the count is what the breaker and the market controller go by, whatever happens next.
  const alreadyRecorded = signal === 'interruption' && obs.poolInterruptions.some((r) => r.instanceId === id);
  if (!alreadyRecorded) {
    actions.push({
      kind: 'recordInterruption',
      asgName: group.name,
      reason: `${label} for ${id} in pool ${pool.instanceType} ${pool.availabilityZone}`,
      figures,
      instanceId: id,
      pool,
      signal,
      at: iso(message.time),
      ...(message.kind === 'spot_interruption' ? { instanceAction: message.instanceAction } : {}),
    });
  }

  actions.push(replacement(obs, group, now, figures));

  if (signal === 'interruption') actions.push(...breaker(obs, group, pool, figures));
  return actions;
}

function replacement(obs: WarningObservation, group: ManagedGroup, now: Date, figures: Record<string, unknown>): Action {
  const { message, instance, detached } = obs;
  const id = message.instanceId;
  const warning = message.kind === 'spot_interruption';
  const label = warning ? 'interruption warning' : 'rebalance recommendation';
  if (!instance) {
    return skip(
      group.name,
      detached
        ? `${label} for ${id}: already replaced (spotfarm detached it for a ${detached.reason}; it goes by ${detached.deadline})`
        : `${label} for ${id}: the instance is no longer in the group; nothing to replace`,
      figures,
    );
  }
  if (!warning && group.settings.rebalance !== 'replace') {
    return skip(group.name, `${label} for ${id}: recorded as a risk for its pool (rebalance=record)`, figures);
  }
  if (group.capacityRebalance) {
    return skip(group.name, `${label} for ${id}: Capacity Rebalancing is on, so Auto Scaling replaces it (no second replacement)`, figures);
  }
  if (!isRunning(instance)) {
    return skip(group.name, `${label} for ${id}: the instance is ${instance.lifecycleState}, already leaving the group`, figures);
  }
  if (warning) {
    if (now.getTime() >= message.deadline.getTime()) {
      return skip(
        group.name,
        `late interruption warning for ${id}: its deadline ${iso(message.deadline)} has passed; Auto Scaling replaces it when EC2 takes it`,
        figures,
      );
    }
    if (obs.terminationHooks?.length) {
      // A detach bypasses the group's termination lifecycle hooks (the instance goes Detaching, Detached, never
      // Terminating:Wait). Terminating it through the group without lowering desired capacity runs them and
      // makes the group launch a replacement, as Auto Scaling does itself on a final notice with Capacity
      // Rebalancing ("calls the termination lifecycle hook and attempts to launch a replacement immediately",
      // EC2 Auto Scaling user guide, Capacity Rebalancing). The instance waits in Terminating:Wait until the hook
      // completes or EC2 takes it at the deadline; its worker hands back its work on the warning either way.
      return {
        kind: 'terminateInstance',
        asgName: group.name,
        reason: `interruption warning for ${id}: the group has termination lifecycle hook(s) ${obs.terminationHooks.join(', ')}, which a detach would bypass: terminate it through the group without lowering desired capacity (${group.desired}), so the hook runs and the group launches a replacement now`,
        figures: { ...figures, desired: group.desired, deadline: iso(message.deadline), hooks: obs.terminationHooks },
        instanceId: id,
        inGroup: true,
        why: 'interruption',
      };
    }
    return {
      kind: 'detachInstance',
      asgName: group.name,
      reason: `interruption warning for ${id}: detach without lowering desired capacity (${group.desired}), so the group launches a replacement now`,
      figures: { ...figures, desired: group.desired, deadline: iso(message.deadline) },
      instanceId: id,
      farm: group.farm,
      why: 'interruption',
      deadline: iso(message.deadline),
      eventTime: iso(message.time),
    };
  }
  if (obs.earlyReplacements.length > 0) {
    return skip(
      group.name,
      `rebalance recommendation for ${id}: an early replacement is already running (${obs.earlyReplacements.join(', ')}); at most one at a time`,
      figures,
    );
  }
  // On the wall clock: a recommendation retried or delivered late still gets its full overlap from now.
  const deadline = new Date(now.getTime() + REBALANCE_OVERLAP_SECONDS * 1000);
  return {
    kind: 'detachInstance',
    asgName: group.name,
    reason: `rebalance recommendation for ${id}: replace early (rebalance=replace): detach without lowering desired capacity (${group.desired}); the instance works on until its replacement is in service, at most ${REBALANCE_OVERLAP_SECONDS / 60} min`,
    figures: { ...figures, desired: group.desired, deadline: iso(deadline) },
    instanceId: id,
    farm: group.farm,
    why: 'rebalance',
    deadline: iso(deadline),
    eventTime: iso(message.time),
  };
}

function breaker(obs: WarningObservation, group: ManagedGroup, pool: Pool, figures: Record<string, unknown>): Action[] {
  const state = poolBreaker(group, pool, obs.poolInterruptions, obs.message.instanceId);
  if (!state.tripped) return [];
  const breakerFigures = {
    ...figures,
    interruptions: state.interruptions,
    poolInstances: state.instances,
    interruptionRate: Math.round(state.rate * 1000) / 1000,
    breakerInterruptions: group.settings.breakerInterruptions,
    breakerWindowMinutes: group.settings.breakerWindow / 60,
  };
  if (group.role !== 'spot') {
    return [skip(group.name, 'interruption breaker tripped on an on-demand role group: the market controller leaves it alone', breakerFigures)];
  }
  if (obs.market === 'on-demand') {
    return [skip(group.name, 'interruption breaker: the group is already on on-demand (tripped earlier in this storm)', breakerFigures)];
  }
  const reason = `interruption breaker: ${state.interruptions} interruptions in pool ${pool.instanceType} ${pool.availabilityZone} in the last ${group.settings.breakerWindow / 60} min, ${breakerFigures.interruptionRate} per instance-hour (limit ${group.settings.breakerInterruptions}): asking the market controller to check the group now`;
  const request: RequestMarketCheckAction = {
    kind: 'requestMarketCheck',
    asgName: group.name,
    reason,
    figures: breakerFigures,
    farm: group.farm,
    trigger: 'breaker',
    requestId: obs.message.instanceId,
    at: iso(obs.message.time),
  };
  return [request];
}

/**
 * The spot capacity code a failed launch's message names, or undefined when it failed for another reason (a bad
 * AMI, a quota on on-demand, a missing subnet: falling back to on-demand would not help). Which messages count
 * is the market controller's definition (`isCapacityFailure`); this only names the code for the log.
 */
export function spotCapacityReason(message: string): string | undefined {
  if (!isCapacityFailure(message)) return undefined;
  // The code when AWS names it ("Could not launch Spot Instances. InsufficientInstanceCapacity - There is no
  // Spot capacity available ..."): its wording alone would say UnfulfillableCapacity.
  const named = /\b(InsufficientInstanceCapacity|InsufficientCapacity|UnfulfillableCapacity|SpotMaxPriceTooLow|MaxSpotInstanceCountExceeded)\b/.exec(message);
  if (named) return named[1];
  const codes: [RegExp, string][] = [
    [/Spot request price of/i, 'SpotMaxPriceTooLow'],
    [/spot instance count exceeded/i, 'MaxSpotInstanceCountExceeded'],
    [/no Spot capacity|capacity-not-available/i, 'UnfulfillableCapacity'],
  ];
  return codes.find(([pattern]) => pattern.test(message))?.[1] ?? 'InsufficientInstanceCapacity';
}

/** Decides what to do about a failed launch. */
export function decideLaunchFailure(obs: LaunchFailureObservation): Action[] {
  const { message, group } = obs;
  if (!group) {
    return [skip(message.groupName, `launch failure in ${message.groupName}: not a managed group; nothing to do`)];
  }
  const cause = spotCapacityReason(message.statusMessage);
  const failureId = message.activityId ?? message.id;
  const figures = { activityId: failureId, availabilityZone: message.availabilityZone, message: message.statusMessage.slice(0, 300) };
  if (!cause) {
    return [skip(group.name, 'launch failure for a reason falling back to on-demand would not fix; left to the user', figures)];
  }
  if (group.role !== 'spot') {
    return [skip(group.name, `${cause} on an on-demand group: nothing spotfarm can fall back to`, figures)];
  }
  if (obs.market === 'on-demand') {
    // Fallen back: the group launches on-demand, so this is an on-demand capacity failure, not a spot one.
    return [skip(group.name, `${cause} while the group launches on-demand: an on-demand capacity failure says nothing about spot`, figures)];
  }
  const actions: Action[] = [];
  const known = obs.capacityFailures.includes(failureId);
  if (!known) {
    actions.push({
      kind: 'recordCapacityFailure',
      asgName: group.name,
      reason: `spot capacity failure (${cause}) for the market controller`,
      figures: { ...figures, cause },
      failureId,
      at: message.startedAt,
      message: message.statusMessage,
      availabilityZone: message.availabilityZone,
    });
  }
  const count = new Set([...obs.capacityFailures, failureId]).size;
  const { capacityFailures: limit, capacityWindow } = group.settings;
  if (count < limit) return actions.length > 0 ? actions : [skip(group.name, `capacity failure ${failureId} already recorded`, figures)];
  if (group.fallsBackThroughOnDemandGroup) {
    // The market controller would only log that it holds (src/market/decide.ts): the farm's on-demand group, through
    // which this group falls back, is the capacity controller's to grow for the shortfall. Recorded, not signalled.
    return [
      ...actions,
      skip(
        group.name,
        `${count} spot capacity failures in the last ${capacityWindow / 60} min (limit ${limit}), the latest ${cause}: no market check asked, a mixed-instances group on mixedFallback=on-demand-group never falls back for capacity (the farm's on-demand group covers the shortfall)`,
        { ...figures, cause, capacityFailures: count, capacityFailuresLimit: limit },
      ),
    ];
  }
  actions.push({
    kind: 'requestMarketCheck',
    asgName: group.name,
    reason: `${count} spot capacity failures in the last ${capacityWindow / 60} min (limit ${limit}), the latest ${cause}: asking the market controller to check the group now`,
    figures: { ...figures, cause, capacityFailures: count, capacityFailuresLimit: limit },
    farm: group.farm,
    trigger: 'capacity',
    requestId: failureId,
    at: message.startedAt,
  });
  return actions;
}

/** The sweep: no instance spotfarm detached runs past its deadline. */
export function decideSweep(obs: SweepObservation, now: Date): Action[] {
  const actions: Action[] = [];
  for (const d of obs.detached) {
    if (obs.farm !== '*' && d.farm !== obs.farm) continue;
    const figures = { instanceId: d.id, state: d.state, deadline: d.deadline, detachedFor: d.reason };
    const deadline = Date.parse(d.deadline);
    const passed = Number.isNaN(deadline) || now.getTime() >= deadline;
    const inGroup = d.stillInGroup !== undefined;
    if (passed) {
      actions.push({
        kind: 'terminateInstance',
        asgName: d.stillInGroup ?? d.fromGroup,
        reason: inGroup
          ? `${d.id} was marked for replacement but never detached, and its deadline has passed: terminate it in its group (which replaces it)`
          : `${d.id} was detached for a ${d.reason} and is still ${d.state} past its deadline: terminate it (no orphans)`,
        figures,
        instanceId: d.id,
        inGroup,
      });
      continue;
    }
    const group = obs.groups.get(d.fromGroup);
    if (d.reason === 'rebalance' && !inGroup && group) {
      const inService = group.instances.filter((i) => i.lifecycleState === 'InService').length;
      if (inService >= group.desired) {
        actions.push({
          kind: 'terminateInstance',
          asgName: d.fromGroup,
          reason: `${d.id} was replaced early for a rebalance recommendation and its group is back to ${inService}/${group.desired} in service: terminate it`,
          figures: { ...figures, inService, desired: group.desired },
          instanceId: d.id,
          inGroup: false,
        });
        continue;
      }
    }
    actions.push(skip(d.fromGroup, `${d.id} detached for a ${d.reason}: waiting for its deadline`, figures));
  }
  if (actions.length === 0) actions.push(skip('-', 'sweep: no detached instance left running'));
  return actions;
}
