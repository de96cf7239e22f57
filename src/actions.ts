/**
 * What the decision functions return and the executor carries out. A decision is a value with a reason; the
 * `skip` action makes "do nothing, because ..." a decision too, so every run logs why.
 *
 * Each area (market controller, capacity, interruptions) adds its own action kinds to the union below and its
 * case to the executor's switch (src/execute.ts).
 */

import type { MarketOriginals, MarketTrigger } from './market-state';

interface ActionBase {
  /** The Auto Scaling group the action is about. */
  asgName: string;
  /** Why, in words a user reads in the log and the plan. */
  reason: string;
  /** The figures the decision was made on (prices, counts, thresholds), logged beside it. */
  figures?: Record<string, unknown>;
}

export interface SkipAction extends ActionBase {
  kind: 'skip';
}

export interface SetDesiredCapacityAction extends ActionBase {
  kind: 'setDesiredCapacity';
  from: number;
  to: number;
}

/** Market controller (src/decide/market.ts): new instances launch on-demand; running instances are left alone. */
export interface SwapToOnDemandAction extends ActionBase {
  kind: 'swapToOnDemand';
  trigger: MarketTrigger;
  /** The group's spot launch source, remembered to return to. */
  from: MarketOriginals;
}

/** Market controller: new instances launch from the remembered spot launch source again. */
export interface SwapToSpotAction extends ActionBase {
  kind: 'swapToSpot';
  to: MarketOriginals;
}

export type Action = SkipAction | SetDesiredCapacityAction | SwapToOnDemandAction | SwapToSpotAction;

export type ActionKind = Action['kind'];

export const skip = (asgName: string, reason: string, figures?: Record<string, unknown>): SkipAction => ({
  kind: 'skip',
  asgName,
  reason,
  ...(figures ? { figures } : {}),
});
