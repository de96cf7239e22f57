/**
 * `price-check`: every `priceCheckRate`, on a "Market Check Requested" signal (a breaker trip or a capacity burst
 * the interruption function recorded) and on manual invoke, swap each managed spot group between spot and
 * on-demand by price, capacity failures and interruptions (src/market/decide.ts), safely under races and
 * retries (src/market/controller.ts). Manual: `serverless invoke -f price-check [--data '{"dryRun": true}']`.
 */
import type { Context } from 'aws-lambda';
import { boundedEventTime, manualTime, wallClock } from '../src/clock';
import { getConfig } from '../src/config';
import { isEventBridgeEnvelope, parseManualInvoke } from '../src/events/manual-invoke';
import { marketCheckRequested, type MarketCheckRequested } from '../src/events/market-check-requested';
import { EventRegistry } from '../src/events/registry';
import { scheduledTick, type ScheduledTick } from '../src/events/scheduled';
import { logger } from '../src/log';
import { runPriceCheck, type PriceCheckOptions, type PriceCheckSummary } from '../src/market/run';
import { withMiddleware } from '../src/middleware';

const registry = new EventRegistry<ScheduledTick | MarketCheckRequested>().register(scheduledTick).register(marketCheckRequested);

export const handler = withMiddleware(
  'price-check',
  async (event: unknown, context: Context): Promise<PriceCheckSummary | { ignored: string }> => {
    const config = getConfig();
    const clock = wallClock();
    let now = clock;
    let eventId: string;
    let dryRun = config.dryRun;
    let farm = config.farm;
    const options: PriceCheckOptions = {};
    if (isEventBridgeEnvelope(event)) {
      const message = registry.parse(event);
      if (message.kind === 'noop') {
        logger.info('not a price-check event: nothing to do', { source: message.source, detailType: message.detailType });
        return { ignored: `${message.source ?? '?'} / ${message.detailType ?? '?'}` };
      }
      const eventTime = boundedEventTime(message.time, clock, `${message.kind} event ${message.id}`);
      // A tick at or before the last counted check is a retry or late: it changes nothing. A signal asks for a check
      // now (two trips in one second are two signals), so it is judged at the wall clock.
      if (message.kind === 'scheduled_tick') options.eventTime = eventTime;
      eventId = message.id;
      if (message.kind === 'market_check_requested') {
        if ((config.stack !== '' && message.stack !== config.stack) || (config.farm !== '*' && message.farm !== config.farm)) {
          logger.info('a market check request for another stack or farm: nothing to do', { stack: message.stack, farm: message.farm });
          return { ignored: `market check request for ${message.stack}/${message.farm}` };
        }
        farm = message.farm;
        options.group = message.group;
        options.signal = true;
        logger.info('market check requested', { asgName: message.group, trigger: message.trigger, reason: message.reason });
      }
    } else {
      const input = parseManualInvoke(event);
      dryRun ||= input.dryRun ?? false;
      now = manualTime(input.time, dryRun, clock);
      eventId = `manual-${context.awsRequestId}`;
      farm = input.farm ?? farm;
    }
    const summary = await runPriceCheck({ config, now, dryRun, source: 'price-check', eventId }, farm, options);
    logger.info('price check', { groups: summary.groups.length, swaps: summary.swaps, skippedGroups: summary.skippedGroups.length, dryRun });
    return summary;
  },
);
