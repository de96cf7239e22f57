/**
 * `interruption`: spot interruption warnings, rebalance recommendations and failed launches (EventBridge, default
 * bus), and a schedule that sweeps up detached instances. A manual invoke runs the sweep:
 * `serverless invoke -f interruption --data '{"dryRun": true}'`. Rules: src/interruption/decide.ts.
 */
import { boundedEventTime, manualTime, wallClock } from '../src/clock';
import { getConfig } from '../src/config';
import { ConfigError } from '../src/errors';
import { decideLaunchFailure, decideSweep, decideWarning } from '../src/interruption/decide';
import { executeInterruptionActions } from '../src/interruption/execute';
import { observeLaunchFailure, observeSweep, observeWarning } from '../src/interruption/observe';
import { parseInterruptionEvent } from '../src/interruption/registry';
import { summarise, type InterruptionResult } from '../src/interruption/summary';
import { logger } from '../src/log';
import { withMiddleware } from '../src/middleware';

export const handler = withMiddleware('interruption', async (event: unknown, context): Promise<InterruptionResult> => {
  const parsed = parseInterruptionEvent(event);
  const config = getConfig();
  if (parsed.kind === 'noop') {
    logger.info('not an event the interruption function handles', { source: parsed.source, detailType: parsed.detailType });
    return { event: 'noop', actions: [] };
  }
  if (config.stateTable === '') throw new ConfigError('the interruption function needs the state table (SPOTFARM_STATE_TABLE)');
  const manual = parsed.kind === 'manual_invoke';
  const dryRun = config.dryRun || (manual && parsed.dryRun === true);
  const clock = wallClock();
  // Deadlines and the sweep run on the wall clock; an event's time is data, refused beyond the skew allowance,
  // and one within it counts as now: no record is dated ahead of the clock that later checks read up to.
  const now = manual ? manualTime(parsed.time, dryRun, clock) : clock;
  const message = parsed.kind === 'manual_invoke' ? parsed : { ...parsed, time: boundedEventTime(parsed.time, clock, `${parsed.kind} event ${parsed.id}`) };
  const actions =
    message.kind === 'spot_interruption' || message.kind === 'rebalance_recommendation'
      ? decideWarning(await observeWarning(config, message), now)
      : message.kind === 'launch_unsuccessful'
        ? decideLaunchFailure(await observeLaunchFailure(config, message))
        : decideSweep(await observeSweep(config, now, (message.kind === 'manual_invoke' ? message.farm : undefined) ?? config.farm), now);
  const executed = await executeInterruptionActions(actions, {
    config,
    now,
    dryRun,
    source: 'interruption',
    eventId: message.kind === 'manual_invoke' ? `manual:${context.awsRequestId}` : message.id,
  });
  return summarise(message.kind, executed);
});
