/** The market controller's actions: it alone changes a group's launch source (spot <-> on-demand). */
import type { ActionBase, SkipAction } from '../actions';
import type { MixedOverride } from '../model';
import type { MarketOriginals, MarketTrigger } from './state';

/** New instances launch on-demand; running instances are left alone. */
export interface SwapToOnDemandAction extends ActionBase {
  kind: 'swapToOnDemand';
  trigger: MarketTrigger;
  /** The group's spot launch source, remembered to return to. */
  from: MarketOriginals;
}

/** New instances launch from the remembered spot launch source again. */
export interface SwapToSpotAction extends ActionBase {
  kind: 'swapToSpot';
  to: MarketOriginals;
}

/**
 * Per pool (src/market/pools.ts): a group's spot max price, lowered below the price of pools at or above the
 * group's threshold so Auto Scaling launches only in the others, or restored. New launches only; running instances
 * are left alone. Mixed instances: the policy's SpotMaxPrice. Launch template / configuration: a capped copy
 * (spotfarm's own template, or a copy of the configuration) the group is pointed at; `restore` points it back at
 * the owner's source exactly as it was.
 */
export interface SetSpotMaxPriceAction extends ActionBase {
  kind: 'setSpotMaxPrice';
  /** USD/h as AWS takes it ("0.1575"), or '' to remove the max price. */
  maxPrice: string;
  /** Mixed instances: the group's policy. Launch template / configuration: the owner's source, copied or restored. */
  source: MarketOriginals;
  /** Launch template / configuration: lift the cap by pointing the group back at `source` as it was. */
  restore?: true;
  /** Launch template: the owner's version number the capped copy is made from (resolved when decided). */
  copyVersion?: number;
}

/**
 * Per pool, multi-type mixed-instances groups (src/market/pools.ts decideTypeDrop): one instance type's override
 * dropped (the type is at or above the threshold in every AZ) or put back exactly as it was. New launches only.
 */
export interface SetOverridesAction extends ActionBase {
  kind: 'setOverrides';
  change: { drop: string } | { restore: MixedOverride; index: number };
}

export type MarketAction = SkipAction | SwapToOnDemandAction | SwapToSpotAction | SetSpotMaxPriceAction | SetOverridesAction;
