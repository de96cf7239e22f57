/**
 * What the decision functions return and the executor carries out. A decision is a value with a reason; the
 * `skip` action makes "do nothing, because ..." a decision too, so every run logs why.
 *
 * Each area (market controller, capacity, interruptions) adds its own action kinds to the union below and its
 * case to the executor's switch (src/execute.ts).
 */

import type { MarketOriginals, MarketTrigger } from './market/state';
import type { Pool } from './model';

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

/** Market controller (src/market/decide.ts): new instances launch on-demand; running instances are left alone. */
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

/**
 * Market controller, per pool (src/market/pools.ts): a mixed-instances group's spot max price, lowered below the
 * price of pools at or above the group's threshold so Auto Scaling launches only in the others, or restored
 * (`''`: no max price, i.e. on-demand). New launches only; running instances are left alone.
 */
export interface SetSpotMaxPriceAction extends ActionBase {
  kind: 'setSpotMaxPrice';
  /** USD/h as AWS takes it ("0.1575"), or '' to remove the max price. */
  maxPrice: string;
  /** The group's launch source: a mixed policy's SpotMaxPrice, or a new version of its launch template. */
  source: MarketOriginals;
}

export type DetachReason = 'interruption' | 'rebalance';

export interface RecordInterruptionAction extends ActionBase {
  kind: 'recordInterruption';
  instanceId: string;
  pool: Pool;
  /** `interruption` for a two-minute warning, `rebalance` for a recommendation (a risk, not a loss). */
  signal: 'interruption' | 'rebalance';
  /** The event's time (ISO): the record's time. */
  at: string;
  instanceAction?: string;
}

export interface DetachInstanceAction extends ActionBase {
  kind: 'detachInstance';
  instanceId: string;
  farm: string;
  why: DetachReason;
  /** ISO time after which the sweep terminates the instance if EC2 has not. */
  deadline: string;
  /** The event's time (ISO), for the replacement-latency metric. */
  eventTime: string;
}

export interface TerminateInstanceAction extends ActionBase {
  kind: 'terminateInstance';
  instanceId: string;
  /** Still in a group (its detach never happened): terminate through the group, which replaces it. */
  inGroup: boolean;
}

export interface RecordCapacityFailureAction extends ActionBase {
  kind: 'recordCapacityFailure';
  /** The scaling activity's id (or the event's, without one): one record per failure whatever its source. */
  failureId: string;
  at: string;
  message: string;
  availabilityZone: string | undefined;
}

export interface FallBackToOnDemandAction extends ActionBase {
  kind: 'fallBackToOnDemand';
  trigger: 'breaker' | 'capacity';
  pool?: Pool;
  /**
   * A breaker trip's cover for the capacity the storm took, on the farm's on-demand group. It rides with the
   * fall-back because it is carried out only when the market controller confirms the trip.
   */
  cover?: SetDesiredCapacityAction;
}

/** The interruption function's actions (src/interruption/decide.ts). */
export type InterruptionAction =
  | RecordInterruptionAction
  | DetachInstanceAction
  | TerminateInstanceAction
  | RecordCapacityFailureAction
  | FallBackToOnDemandAction;

export type Action = SkipAction | SetDesiredCapacityAction | SwapToOnDemandAction | SwapToSpotAction | SetSpotMaxPriceAction | InterruptionAction;

export type ActionKind = Action['kind'];

export const skip = (asgName: string, reason: string, figures?: Record<string, unknown>): SkipAction => ({
  kind: 'skip',
  asgName,
  reason,
  ...(figures ? { figures } : {}),
});
