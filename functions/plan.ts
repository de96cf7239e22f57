/**
 * `plan`: a dry run that reads the real state of every managed farm and reports it, with what the other
 * functions would do. Manual invoke only: `serverless invoke -f plan [--data '{"farm": "ml"}']`.
 */
import { describeInstanceMarkets } from '../src/aws/ec2';
import { getQueueDepth } from '../src/aws/sqs';
import { capacityWarnings, planCapacity, readCapacityPlanInputs } from '../src/capacity/plan';
import { wallClock } from '../src/clock';
import { getConfig } from '../src/config';
import { planInterruptions, readInterruptionPlanInputs } from '../src/interruption/plan';
import { parseManualInvoke } from '../src/events/manual-invoke';
import { logger } from '../src/log';
import { planMarket, readMarketPlanInputs } from '../src/market/plan';
import { MARKET_READS } from '../src/market/observe';
import { withMiddleware } from '../src/middleware';
import { observeFarms } from '../src/observe';
import { buildPlan, type Plan } from '../src/plan';

export const handler = withMiddleware('plan', async (event: unknown): Promise<Plan> => {
  const input = parseManualInvoke(event);
  const config = getConfig();
  // A plan is always a dry run, so `time` may replay another moment; default the wall clock.
  const now = input.time ? new Date(input.time) : wallClock();
  const farm = input.farm ?? config.farm;
  const observation = await observeFarms(config, now, { farm, ...MARKET_READS, queues: { getQueueDepth }, instanceMarkets: { describeInstanceMarkets } });
  const plan = buildPlan(observation, farm);
  // The queue scaler's section: what it would do now, its state and its recent decisions (reads only).
  for (const farmPlan of plan.farms) {
    const observed = observation.farms.find((f) => f.farm === farmPlan.farm)!;
    farmPlan.capacity = planCapacity(observed, await readCapacityPlanInputs(config, observed), now);
    // A wait target its settings cannot keep, with what to do: said with the farm's other warnings.
    farmPlan.warnings.push(...capacityWarnings(observed));
  }
  // The interruption function's section per group: recent interruptions per pool, the breaker (reads only).
  const groups = observation.farms.flatMap((f) => f.groups);
  const interruptionInputs = await readInterruptionPlanInputs(config, groups, now);
  for (const groupPlan of plan.farms.flatMap((f) => f.groups)) {
    const observed = groups.find((g) => g.group.name === groupPlan.name);
    if (observed) groupPlan.interruptions = planInterruptions(observed, interruptionInputs);
  }
  // The market controller's section per spot group: what the next price check would do, state, last swaps (reads only).
  const marketInputs = await readMarketPlanInputs(config, observation, now);
  for (const groupPlan of plan.farms.flatMap((f) => f.groups)) {
    const section = planMarket(groupPlan.name, marketInputs, now);
    if (section) groupPlan.marketController = section;
  }
  logger.info('plan', { farms: plan.farms.length, skippedGroups: plan.skippedGroups.length });
  return plan;
});
