/** The market controller's actions: it alone changes a group's launch source (spot <-> on-demand). */
import type { ActionBase, SkipAction } from '../actions';
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
 * Per pool (src/market/pools.ts): a group's spot max price, lowered below the price of pools at
 * or above the group's threshold so Auto Scaling launches only in the others, or restored (`''`: no max price,
 * i.e. on-demand). New launches only; running instances are left alone.
 */
export interface SetSpotMaxPriceAction extends ActionBase {
  kind: 'setSpotMaxPrice';
  /** USD/h as AWS takes it ("0.1575"), or '' to remove the max price. */
  maxPrice: string;
  /** The group's launch source: a mixed policy's SpotMaxPrice, or a new version of its launch template. */
  source: MarketOriginals;
}

export type MarketAction = SkipAction | SwapToOnDemandAction | SwapToSpotAction | SetSpotMaxPriceAction;
