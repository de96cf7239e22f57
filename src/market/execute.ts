/** The market controller's executor: the swaps (src/market/swap.ts), one per market style. */
import { executeActions, type ExecutedAction, type ExecutionContext, type Performed } from '../execute';
import type { MarketAction, SwapToOnDemandAction, SwapToSpotAction } from './actions';
import { executeSwap } from './swap';

async function perform(action: SwapToOnDemandAction | SwapToSpotAction, ctx: ExecutionContext): Promise<Performed> {
  await executeSwap(action, ctx.eventId);
  return { outcome: 'done', audit: true };
}

export function executeMarketActions(actions: readonly MarketAction[], ctx: ExecutionContext): Promise<ExecutedAction<MarketAction>[]> {
  return executeActions(actions, ctx, perform);
}
