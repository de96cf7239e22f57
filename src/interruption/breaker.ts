/**
 * A breaker trip or a burst of capacity failures seen by the interruption function. The market controller
 * re-reads the group (`gatherMarket`) and must agree: capacity failures count only while the group is short by
 * more than the on-demand fallback group can add, and the breaker counts the group's interruptions without the
 * old market's price interruptions. If it agrees, the on-demand cover is applied and the controller's own check
 * (`checkGroupMarket`) runs with `force`, so a trip obeys every rule and the state protocol the controller has:
 * a swap claimed by a racing check stands, a group already on on-demand stays, a launch configuration this
 * account cannot create is reported once; the SNS message and the BreakerTrips metric are the controller's.
 */
import type { FallBackToOnDemandAction } from '../actions';
import { fallBackDisagreement } from '../market/decide';
import { executeAction, type ExecutionContext, type Outcome } from '../execute';
import { logDecision } from '../log';
import { checkGroupMarket } from '../market/controller';
import { gatherMarket, MARKET_READS } from '../market/observe';
import { observeFarms } from '../observe';

export async function fallBackToOnDemand(action: FallBackToOnDemandAction, ctx: ExecutionContext): Promise<Outcome> {
  const { config, now } = ctx;
  const observation = await observeFarms(config, now, MARKET_READS);
  // Only this group: the market controller's gather reads state and history per group it is given.
  const narrowed = {
    ...observation,
    farms: observation.farms
      .filter((f) => f.groups.some((g) => g.group.name === action.asgName))
      // The farm's on-demand groups come along: how much they can still add decides a capacity fall-back.
      .map((f) => ({ ...f, groups: f.groups.filter((g) => g.group.name === action.asgName || g.role === 'on-demand') })),
  };
  const view = (await gatherMarket(narrowed, config, now)).find((v) => v.group.group.name === action.asgName);
  if (!view) {
    logDecision({ asgName: action.asgName, action: 'skip', reason: 'fall-back: the group is no longer managed' });
    return 'skipped';
  }
  const disagreement = fallBackDisagreement(action.trigger, action.reason, view.input.signals, view.group.settings);
  if (disagreement) {
    logDecision({ asgName: action.asgName, action: 'skip', reason: disagreement });
    return 'skipped';
  }
  if (action.cover) await executeAction(action.cover, ctx);
  const result = await checkGroupMarket(view, ctx, { force: { trigger: action.trigger, reason: action.reason } });
  return result.outcome === 'swapped' ? 'done' : 'skipped';
}

