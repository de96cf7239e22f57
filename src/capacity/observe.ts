/**
 * The capacity controller's reads of a farm, on top of the shared observation (src/observe.ts: groups and queue
 * depth): which group is the spot group and which the on-demand fallback, which farms an alarm is about, and the
 * decision's input. Pure functions of the observation.
 */
import { getQueueDepth } from '../aws/sqs';
import type { Config } from '../config';
import { ConfigError } from '../errors';
import type { QueueDepthAlarm } from '../events/alarm-state-change';
import type { GroupSnapshot, Market } from '../model';
import { isRunning } from '../model';
import { observeFarms, type FarmObservation, type GroupObservation } from '../observe';
import type { GroupSettings } from '../settings';
import type { CapacityGroup, CapacityInput, CapacityState } from './decide';

/** A farm's groups by role, or why the queue scaler cannot manage it. */
export type FarmGroups =
  | { ok: true; spot: GroupObservation | undefined; onDemand: GroupObservation | undefined; settings: GroupSettings }
  | { ok: false; error: string };

export function farmGroups(farm: FarmObservation): FarmGroups {
  const spots = farm.groups.filter((g) => g.role === 'spot');
  const onDemands = farm.groups.filter((g) => g.role === 'on-demand');
  if (spots.length > 1 || onDemands.length > 1) {
    const names = (gs: GroupObservation[]) => gs.map((g) => g.group.name).join(', ');
    return {
      ok: false,
      error:
        `farm ${farm.farm} has ${spots.length} spot groups (${names(spots)}) and ${onDemands.length} on-demand groups ` +
        `(${names(onDemands)}); the queue scaler sizes one spot group and one on-demand fallback group per farm`,
    };
  }
  const spot = spots[0];
  const onDemand = onDemands[0];
  const settings = (spot ?? onDemand)?.settings;
  if (!settings) return { ok: false, error: `farm ${farm.farm} has no group` };
  return { ok: true, spot, onDemand, settings };
}

export function capacityGroup(group: GroupSnapshot): CapacityGroup {
  const running = group.instances.filter(isRunning);
  const inService = running.filter((i) => i.lifecycleState === 'InService');
  const pending = running.filter((i) => i.lifecycleState !== 'InService');
  return {
    name: group.name,
    min: group.min,
    max: group.max,
    desired: group.desired,
    inService: inService.length,
    pending: pending.length,
    // The worker agent protects its instance while a job runs: an unprotected instance in service runs nothing.
    idle: inService.filter((i) => !i.protectedFromScaleIn).length,
    pendingIds: pending.map((i) => i.id),
  };
}

/**
 * The alarm part of a decision's input, when the alarm is one of this farm's two backlog alarms. The alarm's
 * timestamp orders its transitions (data); one dated after `now` counts as now, so a future-dated transition
 * cannot make every later one look older.
 */
export function alarmInput(alarm: QueueDepthAlarm | undefined, now?: Date): CapacityInput['alarm'] {
  if (!alarm?.direction) return undefined;
  const since = now && Date.parse(alarm.stateSince) > now.getTime() ? now.toISOString() : alarm.stateSince;
  return { direction: alarm.direction, value: alarm.state, since };
}

/**
 * The farms an alarm is about: those whose queue (`spotfarm:queue`, a name or a URL) the alarm's SQS metrics
 * watch; for an alarm without an SQS metric, the farm its name starts with (`ml-backlog-high`).
 */
export function farmsOfAlarm(farms: FarmObservation[], alarm: QueueDepthAlarm): FarmObservation[] {
  if (alarm.queueNames.length === 0) return farms.filter((f) => alarm.namePrefix === f.farm);
  const watches = (queue: string | undefined) =>
    queue !== undefined && alarm.queueNames.some((q) => queue === q || queue.endsWith(`/${q}`));
  return farms.filter((f) => watches(f.queueName));
}

/** Why a farm cannot be scaled now (no queue, a missing queue, ambiguous groups), or undefined. */
export function farmProblem(farm: FarmObservation): string | undefined {
  if (!farm.queueName) return `farm ${farm.farm}: no group is tagged spotfarm:queue, so there is no backlog to scale on`;
  if (farm.queueError) return `farm ${farm.farm}: ${farm.queueError}`;
  if (!farm.queue) return `farm ${farm.farm}: the depth of queue ${farm.queueName} was not read`;
  const groups = farmGroups(farm);
  return groups.ok ? undefined : groups.error;
}

export function capacityInputOf(
  farm: FarmObservation,
  state: CapacityState,
  spotMarket: Market,
  alarm?: QueueDepthAlarm,
  now?: Date,
  spotFallback?: 'on-demand-group',
): CapacityInput {
  const groups = farmGroups(farm);
  if (!groups.ok || !farm.queue) throw new ConfigError(farmProblem(farm) ?? `farm ${farm.farm} cannot be scaled`);
  return {
    farm: farm.farm,
    queue: farm.queue,
    spot: groups.spot && capacityGroup(groups.spot.group),
    onDemand: groups.onDemand && capacityGroup(groups.onDemand.group),
    spotMarket,
    ...(spotFallback ? { spotFallback } : {}),
    settings: groups.settings,
    state,
    alarm: alarmInput(alarm, now),
  };
}


/** One farm, read afresh (groups and queue depth), for a run that lost its write race; undefined when gone. */
export async function observeFarm(config: Readonly<Config>, now: Date, farm: string): Promise<FarmObservation | undefined> {
  const observation = await observeFarms(config, now, { farm, queues: { getQueueDepth } });
  return observation.farms.find((f) => f.farm === farm);
}
