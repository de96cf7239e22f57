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

export type MarketAction = SkipAction | SwapToOnDemandAction | SwapToSpotAction;
