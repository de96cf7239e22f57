/** The market controller's executor: the swaps (src/market/swap.ts), one per market style, and the pool cap. */
import { executeActions, type ExecutedAction, type ExecutionContext, type Performed } from '../execute';
import { changeOverrides } from '../aws/autoscaling';
import type { MarketAction, SetOverridesAction, SetSpotMaxPriceAction, SwapToOnDemandAction, SwapToSpotAction } from './actions';
import { executeSpotMaxPrice, executeSwap } from './swap';

async function perform(action: SwapToOnDemandAction | SwapToSpotAction | SetSpotMaxPriceAction | SetOverridesAction, ctx: ExecutionContext): Promise<Performed> {
  if (action.kind === 'setSpotMaxPrice') await executeSpotMaxPrice(action, ctx.eventId);
  else if (action.kind === 'setOverrides') await changeOverrides(action.asgName, action.change);
  else await executeSwap(action, ctx.eventId);
  return { outcome: 'done', audit: true };
}

export function executeMarketActions(actions: readonly MarketAction[], ctx: ExecutionContext): Promise<ExecutedAction<MarketAction>[]> {
  return executeActions(actions, ctx, perform);
}
