/**
 * The queue scaler's side of a farm: its capacity state in the state table (pk `farm#<farm>`, sk `capacity`,
 * versioned), and one reconcile of one farm: read the state and the spot group's market, decide (pure, in
 * src/capacity/decide.ts), claim the decision with a conditional write, then act.
 *
 * Why claim before acting: two runs (a duplicate alarm event and a schedule tick, say) can decide on the same
 * state at once. Only one conditional write wins; the loser changes nothing and the next tick re-reads and
 * re-decides. Desired capacities are absolute values within [min, max], so even a replayed action cannot
 * push a group out of its bounds.
 */
import { getFarmState, groupKey, latestRecords, putFarmState, StaleStateError } from '../aws/state-store';
import type { Config } from '../config';
import {
  capacityStateChanged,
  decideCapacity,
  emptyCapacityState,
  type CapacityDecision,
  type CapacityGroup,
  type CapacityInput,
  type CapacityState,
} from './decide';
import { AwsCallError, ConfigError } from '../errors';
import type { QueueDepthAlarm } from '../events/alarm-state-change';
import { executeActions, type ExecutedAction, type ExecutionContext } from '../execute';
import { logger } from '../log';
import { marketOf } from '../market/state';
import type { GroupSnapshot, Market } from '../model';
import { isRunning } from '../model';
import type { FarmObservation, GroupObservation } from '../observe';
import type { GroupSettings } from '../settings';

export const CAPACITY_SECTION = 'capacity';

export interface StoredCapacityState {
  state: CapacityState;
  /** 0 when nothing is stored yet. */
  version: number;
}

export async function readCapacityState(table: string, farm: string): Promise<StoredCapacityState> {
  const { data, version } = await getFarmState<CapacityState>(table, farm, CAPACITY_SECTION);
  return { state: { ...emptyCapacityState(), ...data }, version };
}

/** Throws StaleStateError when another run wrote since `version` was read. */
export async function writeCapacityState(table: string, farm: string, state: CapacityState, version: number): Promise<number> {
  return putFarmState(table, farm, CAPACITY_SECTION, state, version);
}

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

/** The alarm part of a decision's input, when the alarm is one of this farm's two backlog alarms. */
export function alarmInput(alarm: QueueDepthAlarm | undefined): CapacityInput['alarm'] {
  return alarm?.direction ? { direction: alarm.direction, value: alarm.state, since: alarm.stateSince } : undefined;
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
): CapacityInput {
  const groups = farmGroups(farm);
  if (!groups.ok || !farm.queue) throw new ConfigError(farmProblem(farm) ?? `farm ${farm.farm} cannot be scaled`);
  return {
    farm: farm.farm,
    queue: farm.queue,
    spot: groups.spot && capacityGroup(groups.spot.group),
    onDemand: groups.onDemand && capacityGroup(groups.onDemand.group),
    spotMarket,
    settings: groups.settings,
    state,
    alarm: alarmInput(alarm),
  };
}

export interface FarmScaleResult {
  farm: string;
  outcome: 'acted' | 'unchanged' | 'dry-run' | 'lost-race' | 'scaling-in-progress';
  figures: CapacityDecision['figures'];
  executed: ExecutedAction[];
}

/**
 * One reconcile of one farm. Reads: the capacity state and the spot group's market (one GetItem each).
 * Writes: the capacity state only when it changed, SetDesiredCapacity only for a group whose desired changes.
 */
export async function scaleFarm(farm: FarmObservation, ctx: ExecutionContext, alarm?: QueueDepthAlarm): Promise<FarmScaleResult> {
  const problem = farmProblem(farm);
  if (problem) throw new ConfigError(problem);
  const table = ctx.config.stateTable;
  if (table === '' && !ctx.dryRun) {
    throw new ConfigError('the queue scaler needs the state table (SPOTFARM_STATE_TABLE) for its cooldowns and delays');
  }
  const groups = farmGroups(farm);
  const spotName = groups.ok ? groups.spot?.group.name : undefined;
  const spotMarket: Market = spotName && table ? (await marketOf(table, spotName)).market : 'spot';
  const stored = table ? await readCapacityState(table, farm.farm) : { state: emptyCapacityState(), version: 0 };
  const decision = decideCapacity(capacityInputOf(farm, stored.state, spotMarket, alarm), ctx.now);

  if (!ctx.dryRun && capacityStateChanged(stored.state, decision.state)) {
    try {
      await writeCapacityState(table, farm.farm, decision.state, stored.version);
    } catch (error) {
      if (!(error instanceof StaleStateError)) throw error;
      logger.info('another queue-scaler run decided for this farm first; the next tick re-reads and re-decides', {
        farm: farm.farm,
        error: error.message,
      });
      return { farm: farm.farm, outcome: 'lost-race', figures: decision.figures, executed: [] };
    }
  }
  try {
    const executed = await executeActions(decision.actions, ctx);
    const acted = executed.some((e) => e.outcome === 'done');
    const outcome = ctx.dryRun ? 'dry-run' : acted ? 'acted' : 'unchanged';
    return { farm: farm.farm, outcome, figures: decision.figures, executed };
  } catch (error) {
    // Auto Scaling refuses a new desired while an activity runs and the SDK does not retry it (aws.md §2.3).
    if (error instanceof AwsCallError && /^ScalingActivityInProgress/.test(error.awsName ?? '')) {
      logger.warn('a scaling activity is in progress; the next tick re-reads and re-decides', { farm: farm.farm, error: error.message });
      return { farm: farm.farm, outcome: 'scaling-in-progress', figures: decision.figures, executed: [] };
    }
    throw error;
  }
}

/** What `plan` shows of the queue scaler for one farm. */
export interface CapacityPlan {
  policy?: string;
  /** The decision the queue scaler would make now. */
  now?: CapacityDecision['figures'];
  wouldDo?: { asgName: string; action: string; from?: number; to?: number; reason: string }[];
  state?: CapacityState;
  spotMarket?: Market;
  recentDecisions: { at: string; asgName: string; from?: number; to?: number; reason: string }[];
  error?: string;
}

export interface CapacityPlanInputs {
  state: CapacityState;
  spotMarket: Market;
  records: { at: string; data: { source?: string; asgName?: string; from?: number; to?: number; reason?: string } }[];
}

/** Reads (never writes) what planCapacity needs: the farm's capacity state, its spot market, recent decisions. */
export async function readCapacityPlanInputs(config: Readonly<Config>, farm: FarmObservation): Promise<CapacityPlanInputs> {
  if (config.stateTable === '') return { state: emptyCapacityState(), spotMarket: 'spot', records: [] };
  const groups = farmGroups(farm);
  const spotName = groups.ok ? groups.spot?.group.name : undefined;
  const [stored, market, ...records] = await Promise.all([
    readCapacityState(config.stateTable, farm.farm),
    spotName ? marketOf(config.stateTable, spotName) : Promise.resolve({ market: 'spot' as Market }),
    ...farm.groups.map((g) => latestRecords<CapacityPlanInputs['records'][number]['data']>(config.stateTable, groupKey(g.group.name), 'decision', 20)),
  ]);
  return { state: stored.state, spotMarket: market.market, records: records.flat() };
}

/** The queue scaler's section of the plan (pure): what it would do now, its state and its recent decisions. */
export function planCapacity(farm: FarmObservation, inputs: CapacityPlanInputs, now: Date): CapacityPlan {
  const recentDecisions = inputs.records
    .filter((r) => r.data.source === 'queue-scaler')
    .sort((a, b) => b.at.localeCompare(a.at))
    .slice(0, 10)
    .map((r) => ({ at: r.at, asgName: r.data.asgName ?? '', from: r.data.from, to: r.data.to, reason: r.data.reason ?? '' }));
  const problem = farmProblem(farm);
  if (problem) return { error: problem, recentDecisions };
  const decision = decideCapacity(capacityInputOf(farm, inputs.state, inputs.spotMarket), now);
  return {
    policy: decision.figures.policy,
    now: decision.figures,
    wouldDo: decision.actions.map((a) =>
      a.kind === 'setDesiredCapacity'
        ? { asgName: a.asgName, action: a.kind, from: a.from, to: a.to, reason: a.reason }
        : { asgName: a.asgName, action: a.kind, reason: a.reason },
    ),
    state: inputs.state,
    spotMarket: inputs.spotMarket,
    recentDecisions,
  };
}
