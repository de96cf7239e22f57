/**
 * A breaker trip or a burst of capacity failures: the market controller's own check (`checkGroupMarket`), run
 * now for one group with `force`. So a trip obeys every rule and the state protocol the market controller has:
 * a swap claimed by a racing check stands, a group already on on-demand stays, a launch configuration this
 * account cannot create is reported once; the SNS message and the BreakerTrips metric are the controller's.
 */
import type { FallBackToOnDemandAction } from '../actions';
import type { ExecutionContext, Outcome } from '../execute';
import { logDecision } from '../log';
import { checkGroupMarket } from '../market/controller';
import { gatherMarket } from '../market/gather';
import { observeFarms } from '../observe';

export async function fallBackToOnDemand(action: FallBackToOnDemandAction, ctx: ExecutionContext): Promise<Outcome> {
  const { config, now } = ctx;
  const observation = await observeFarms(config, now, { queues: false });
  // Only this group: the market controller's gather reads state and history per group it is given.
  const narrowed = {
    ...observation,
    farms: observation.farms
      .map((f) => ({ ...f, groups: f.groups.filter((g) => g.group.name === action.asgName) }))
      .filter((f) => f.groups.length > 0),
  };
  const [view] = await gatherMarket(narrowed, config, now);
  if (!view) {
    logDecision({ asgName: action.asgName, action: 'skip', reason: 'fall-back: the group is no longer managed' });
    return 'skipped';
  }
  const result = await checkGroupMarket(view, ctx, { force: { trigger: action.trigger, reason: action.reason } });
  return result.outcome === 'swapped' ? 'done' : 'skipped';
}
