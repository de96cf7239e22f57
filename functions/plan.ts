/**
 * `plan`: a dry run that reads the real state of every managed farm and reports it, with what the other
 * functions would do. Manual invoke only: `serverless invoke -f plan [--data '{"farm": "ml"}']`.
 */
import { planCapacity, readCapacityPlanInputs } from '../src/capacity-state';
import { getConfig } from '../src/config';
import { parseManualInvoke } from '../src/events/manual-invoke';
import { logger } from '../src/log';
import { withMiddleware } from '../src/middleware';
import { observeFarms } from '../src/observe';
import { buildPlan, type Plan } from '../src/plan';

export const handler = withMiddleware('plan', async (event: unknown): Promise<Plan> => {
  const input = parseManualInvoke(event);
  const config = getConfig();
  const now = input.time ? new Date(input.time) : new Date();
  const farm = input.farm ?? config.farm;
  const observation = await observeFarms(config, now, { farm, instanceMarkets: true });
  const plan = buildPlan(observation, farm);
  // The queue scaler's section: what it would do now, its state and its recent decisions (reads only).
  for (const farmPlan of plan.farms) {
    const observed = observation.farms.find((f) => f.farm === farmPlan.farm)!;
    farmPlan.capacity = planCapacity(observed, await readCapacityPlanInputs(config, observed), now);
  }
  logger.info('plan', { farms: plan.farms.length, skippedGroups: plan.skippedGroups.length });
  return plan;
});
