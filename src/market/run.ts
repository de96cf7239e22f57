/**
 * A whole price check (gather, then each group through the controller), and the forced fall-back of one group
 * that the interruption function runs on a breaker trip. The handler (functions/price-check.ts), the benchmark
 * and the backtest all go through here.
 */
import { describeInstanceMarkets } from '../aws/ec2';
import type { Config } from '../config';
import { errorMessage } from '../errors';
import type { ExecutionContext } from '../execute';
import { logger } from '../log';
import { observeFarms } from '../observe';
import { checkGroupMarket, publishMarketMetrics, type CheckOptions, type MarketCheckResult } from './controller';
import { gatherMarket, MARKET_READS } from './observe';

export interface PriceCheckSummary {
  checkedAt: string;
  dryRun: boolean;
  eventId: string;
  groups: { asgName: string; outcome: string; action: string; reason: string }[];
  skippedGroups: { groupName: string; error: string }[];
  swaps: number;
}

/**
 * Checks every managed group of `farm`. One group's failure does not stop the others; the first failure is
 * rethrown at the end, so Lambda retries the event and the retry finishes what failed.
 */
export async function runPriceCheck(ctx: ExecutionContext, farm: string): Promise<PriceCheckSummary> {
  const observation = await observeFarms(ctx.config, ctx.now, { farm, ...MARKET_READS, instanceMarkets: { describeInstanceMarkets } });
  const views = await gatherMarket(observation, ctx.config, ctx.now);
  const results: MarketCheckResult[] = [];
  const failures: { asgName: string; error: unknown }[] = [];
  for (const view of views) {
    publishMarketMetrics(view, ctx.now);
    try {
      results.push(await checkGroupMarket(view, ctx));
    } catch (error) {
      logger.error('market check failed', { asgName: view.input.asgName, error: errorMessage(error) });
      failures.push({ asgName: view.input.asgName, error });
    }
  }
  const firstFailure = failures[0];
  if (firstFailure) throw firstFailure.error;
  return {
    checkedAt: ctx.now.toISOString(),
    dryRun: ctx.dryRun,
    eventId: ctx.eventId,
    groups: results.map((r) => ({ asgName: r.asgName, outcome: r.outcome, action: r.action.kind, reason: r.action.reason })),
    skippedGroups: observation.skipped,
    swaps: results.filter((r) => r.outcome === 'swapped').length,
  };
}

/**
 * The market controller's fall-back for one group, now (a breaker trip or a burst of capacity failures seen by
 * the interruption function). Same decision (`decideMarket` with `force`), same claim / swap / commit protocol,
 * same SNS message as a price check's fall-back. Returns undefined when the group is not managed (any more).
 */
export async function fallBackNow(
  ctx: ExecutionContext,
  groupName: string,
  force: NonNullable<CheckOptions['force']>,
): Promise<MarketCheckResult | undefined> {
  const config: Readonly<Config> = ctx.config;
  const observation = await observeFarms(config, ctx.now, { farm: config.farm, ...MARKET_READS });
  const g = observation.farms.flatMap((f) => f.groups).find((x) => x.group.name === groupName);
  if (!g) return undefined;
  const [view] = await gatherMarket({ ...observation, farms: [{ ...observation.farms.find((f) => f.groups.includes(g))!, groups: [g] }] }, config, ctx.now);
  return view ? checkGroupMarket(view, ctx, { force }) : undefined;
}
