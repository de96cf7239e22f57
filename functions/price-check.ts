/**
 * `price-check`: every `priceCheckRate` (and on manual invoke), swap each managed spot group between spot and
 * on-demand by price, capacity failures and interruptions (src/market/decide.ts), safely under races and
 * retries (src/market/controller.ts). Manual: `serverless invoke -f price-check [--data '{"dryRun": true}']`.
 */
import type { Context } from 'aws-lambda';
import { getConfig } from '../src/config';
import { isEventBridgeEnvelope, parseManualInvoke } from '../src/events/manual-invoke';
import { EventRegistry } from '../src/events/registry';
import { scheduledTick, type ScheduledTick } from '../src/events/scheduled';
import { logger } from '../src/log';
import { runPriceCheck, type PriceCheckSummary } from '../src/market/run';
import { withMiddleware } from '../src/middleware';

const registry = new EventRegistry<ScheduledTick>().register(scheduledTick);

export const handler = withMiddleware(
  'price-check',
  async (event: unknown, context: Context): Promise<PriceCheckSummary | { ignored: string }> => {
    const config = getConfig();
    let now: Date;
    let eventId: string;
    let dryRun = config.dryRun;
    let farm = config.farm;
    if (isEventBridgeEnvelope(event)) {
      const message = registry.parse(event);
      if (message.kind === 'noop') {
        logger.info('not a price-check event: nothing to do', { source: message.source, detailType: message.detailType });
        return { ignored: `${message.source ?? '?'} / ${message.detailType ?? '?'}` };
      }
      now = message.time;
      eventId = message.id;
    } else {
      const input = parseManualInvoke(event);
      now = input.time ? new Date(input.time) : new Date();
      eventId = `manual-${context.awsRequestId}`;
      dryRun ||= input.dryRun ?? false;
      farm = input.farm ?? farm;
    }
    const summary = await runPriceCheck({ config, now, dryRun, source: 'price-check', eventId }, farm);
    logger.info('price check', { groups: summary.groups.length, swaps: summary.swaps, skippedGroups: summary.skippedGroups.length, dryRun });
    return summary;
  },
);
