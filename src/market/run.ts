/**
 * A whole price check: observe, then each group through the controller (src/market/controller.ts). The handler
 * (functions/price-check.ts), the benchmark and the backtest all go through here. A check asked for by a signal
 * ("Market Check Requested": a breaker trip or a capacity burst recorded by the interruption controller) is the
 * same check, narrowed to the group it names.
 */
import { describeInstanceMarkets } from '../aws/ec2';
import type { Config } from '../config';
import { errorMessage } from '../errors';
import type { ExecutionContext } from '../execute';
import { logger } from '../log';
import { countEvent } from '../figures';
import { observeFarms } from '../observe';
import { checkGroupMarket, logGroupFigures, type MarketCheckResult } from './controller';
import { gatherMarket, MARKET_READS, narrowTo, observeGroupMarket } from './observe';

export interface PriceCheckSummary {
  checkedAt: string;
  dryRun: boolean;
  eventId: string;
  groups: { asgName: string; outcome: string; action: string; reason: string }[];
  skippedGroups: { groupName: string; error: string }[];
  /** Groups whose check failed, with the error; the invocation fails once every other group was checked. */
  failedGroups: { asgName: string; error: string }[];
  swaps: number;
}

export interface PriceCheckOptions {
  /** Only this group (a signal names one); default every managed group of the farm. */
  group?: string;
  /** The time of the event that asked for the check (data, bounded by the clock): dedupes a retried event. */
  eventTime?: Date;
  /** Asked for by a signal: falls back only by the breaker or capacity rule. */
  signal?: boolean;
}

/**
 * Checks every managed group of `farm` (or the one group asked for). One group's failure does not stop the
 * others: it is logged, counted (`marketCheckFailure`, src/figures.ts) and reported, and the first failure is rethrown
 * at the end, so Lambda retries the event and the failure destination gets it if the retries fail too.
 */
export async function runPriceCheck(ctx: ExecutionContext, farm: string, options: PriceCheckOptions = {}): Promise<PriceCheckSummary> {
  const config: Readonly<Config> = ctx.config;
  const observed = await observeFarms(config, ctx.now, { farm, ...MARKET_READS, instanceMarkets: { describeInstanceMarkets } });
  const observation = options.group ? narrowTo(observed, options.group) : observed;
  const views = (await gatherMarket(observation, config, ctx.now)).filter((v) => !options.group || v.input.asgName === options.group);
  const results: MarketCheckResult[] = [];
  const failures: { asgName: string; error: unknown }[] = [];
  for (const view of views) {
    logGroupFigures(view);
    try {
      results.push(
        await checkGroupMarket(view, ctx, {
          ...(options.eventTime ? { eventTime: options.eventTime } : {}),
          ...(options.signal ? { signal: true } : {}),
          reobserve: () => observeGroupMarket(config, ctx.now, view.group.farm, view.input.asgName),
        }),
      );
    } catch (error) {
      logger.error('market check failed', { asgName: view.input.asgName, error: errorMessage(error) });
      countEvent('marketCheckFailure', { farm: view.group.farm, asgName: view.input.asgName });
      failures.push({ asgName: view.input.asgName, error });
    }
  }
  const summary: PriceCheckSummary = {
    checkedAt: ctx.now.toISOString(),
    dryRun: ctx.dryRun,
    eventId: ctx.eventId,
    groups: results.map((r) => ({ asgName: r.asgName, outcome: r.outcome, action: r.action.kind, reason: r.action.reason })),
    skippedGroups: observation.skipped,
    failedGroups: failures.map((f) => ({ asgName: f.asgName, error: errorMessage(f.error) })),
    swaps: results.filter((r) => r.outcome === 'swapped').length,
  };
  const firstFailure = failures[0];
  if (firstFailure) {
    logger.error('price check: some groups failed; every other group was checked', { ...summary });
    throw firstFailure.error;
  }
  return summary;
}
