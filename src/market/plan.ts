/**
 * The market controller's section of `plan`, per spot group: the decision the next price check would take now
 * (same gather, same pure decision, as a dry run), the stored market state, and the last swaps recorded in the
 * audit trail. Reads only.
 */
import { groupKey, latestRecords } from '../aws/state-store';
import type { Config } from '../config';
import { decideMarket, dwellSeconds, groupBreaker } from './decide';
import type { MarketState } from './state';
import type { Observation } from '../observe';
import { estimatedSavingsPerHour } from './controller';
import { gatherMarket, type GroupMarketView } from './observe';

export interface MarketPlan {
  /** What the next price check would do now, and why. */
  next: { action: string; reason: string; figures: Record<string, unknown> };
  state: MarketState | null;
  /** Seconds a return to spot must wait on on-demand now (minDwell with back-off). */
  dwellSeconds: number;
  capacityFailures: string[];
  /** Failed on-demand launches since the fall-back (the fall-back did not restore capacity), newest first. */
  onDemandFailures: string[];
  breakerPool: string | null;
  /** Per pool (type|AZ): good or out, since when and why, and the breaker's evidence ("2 interruptions in 7 instance-hours: too few to trip"). */
  pools: { pool: string; status: 'good' | 'out'; outSince: string | null; reasons: string[]; ratio: number | null; breaker: string }[];
  estimatedSavingsPerHour: number | null;
  lastSwaps: { at: string; action: string; reason: string; source: string }[];
}

export interface MarketPlanInputs {
  views: Map<string, GroupMarketView>;
  swaps: Map<string, MarketPlan['lastSwaps']>;
}

const SWAP_KINDS = new Set(['swapToOnDemand', 'swapToSpot']);

export async function readMarketPlanInputs(config: Readonly<Config>, observation: Observation, now: Date): Promise<MarketPlanInputs> {
  const views = await gatherMarket(observation, config, now);
  const swaps = new Map<string, MarketPlan['lastSwaps']>();
  if (config.stateTable !== '') {
    for (const view of views.filter((v) => v.group.role === 'spot')) {
      // Decision records of every function share the prefix; the newest 20 hold the last few swaps.
      const records = await latestRecords<{ kind?: string; reason?: string; source?: string }>(config.stateTable, groupKey(view.input.asgName), 'decision', 20);
      swaps.set(
        view.input.asgName,
        records
          .filter((r) => SWAP_KINDS.has(r.data.kind ?? ''))
          .slice(0, 5)
          .map((r) => ({ at: r.at, action: r.data.kind ?? '', reason: r.data.reason ?? '', source: r.data.source ?? '' })),
      );
    }
  }
  return { views: new Map(views.map((v) => [v.input.asgName, v])), swaps };
}

/** Pure: the section for one group, or undefined for groups the market controller does not manage. */
export function planMarket(groupName: string, inputs: MarketPlanInputs, now: Date): MarketPlan | undefined {
  const view = inputs.views.get(groupName);
  if (!view || view.group.role !== 'spot') return undefined;
  const decision = decideMarket(view.input, view.group.settings, now, { checkId: 'plan', dryRun: true });
  return {
    next: { action: decision.action.kind, reason: decision.action.reason, figures: decision.action.figures ?? {} },
    state: view.stored.state ?? null,
    dwellSeconds: dwellSeconds(view.group.settings, view.stored.state?.backoff ?? 0),
    capacityFailures: view.capacityFailureMessages,
    onDemandFailures: view.onDemandFailureMessages ?? [],
    breakerPool: view.breakerPool ?? null,
    pools: (groupBreaker(view.input.signals, view.group.settings).pools ?? []).map((p) => ({
      pool: p.pool,
      status: p.status,
      outSince: p.status === 'out' ? (decision.state?.poolsOut?.[p.pool]?.since ?? view.stored.state?.poolsOut?.[p.pool]?.since ?? now.toISOString()) : null,
      reasons: p.reasons,
      ratio: p.ratio === undefined ? null : Math.round(p.ratio * 10000) / 10000,
      breaker: p.breaker.why,
    })),
    estimatedSavingsPerHour: estimatedSavingsPerHour(view) ?? null,
    lastSwaps: inputs.swaps.get(groupName) ?? [],
  };
}
