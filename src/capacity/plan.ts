/** The capacity controller's section of `plan`: reads (never writes), then a pure function. */
import { groupKey, latestRecords } from '../aws/state-store';
import type { Config } from '../config';
import type { Market } from '../model';
import type { FarmObservation } from '../observe';
import { marketOf } from '../records';
import { decideCapacity, emptyCapacityState, scalingPolicyOf, type CapacityDecision, type CapacityState } from './decide';
import { capacityInputOf, farmGroups, farmProblem } from './observe';
import { readCapacityState } from './state';
import { receiveDelayOutlastsTarget, tightTargetAdvice } from './service';

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
  spotFallback?: 'on-demand-group';
  records: { at: string; data: { source?: string; asgName?: string; from?: number; to?: number; reason?: string } }[];
}

/** Reads (never writes) what planCapacity needs: the farm's capacity state, its spot market, recent decisions. */
export async function readCapacityPlanInputs(config: Readonly<Config>, farm: FarmObservation): Promise<CapacityPlanInputs> {
  if (config.stateTable === '') return { state: emptyCapacityState(), spotMarket: 'spot', records: [] };
  const groups = farmGroups(farm);
  const spotName = groups.ok ? groups.spot?.group.name : undefined;
  const [stored, market, ...records] = await Promise.all([
    readCapacityState(config.stateTable, farm.farm),
    spotName ? marketOf(config.stateTable, spotName) : Promise.resolve({ market: 'spot' as Market, via: undefined }),
    ...farm.groups.map((g) => latestRecords<CapacityPlanInputs['records'][number]['data']>(config.stateTable, groupKey(g.group.name), 'decision', 20)),
  ]);
  return { state: stored.state, spotMarket: market.market, ...(market.via ? { spotFallback: market.via } : {}), records: records.flat() };
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
  const decision = decideCapacity(capacityInputOf(farm, inputs.state, inputs.spotMarket, undefined, now, inputs.spotFallback), now);
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

/**
 * What the owner should know about the queue scaler's settings, for the farm's `warnings` in `plan` (pure): a
 * wait target the workers' idle receive delay outlasts (service.ts, receiveDelayOutlastsTarget). Only under the
 * `service` policy: the others size by a backlog per instance and promise no wait.
 */
export function capacityWarnings(farm: FarmObservation): string[] {
  const groups = farmGroups(farm);
  if (!groups.ok) return [];
  const s = groups.settings;
  if (scalingPolicyOf(s) !== 'service' || !receiveDelayOutlastsTarget(s)) return [];
  return [tightTargetAdvice(s)];
}
