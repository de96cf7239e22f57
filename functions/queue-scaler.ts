/**
 * `queue-scaler`: sizes each farm from its queue's backlog and splits the capacity between the spot group and the
 * on-demand fallback group (docs/scaling.md). Triggers: the farm's backlog alarms (CloudWatch Alarm State
 * Change), a schedule as the safety net, and manual invokes (`{"dryRun": true, "farm": "ml"}`).
 */
import type { Context } from 'aws-lambda';
import { getQueueDepth } from '../src/aws/sqs';
import { farmsOfAlarm, scaleFarm, type FarmScaleResult } from '../src/capacity/state';
import { getConfig } from '../src/config';
import { ConfigError } from '../src/errors';
import { alarmStateChange, type QueueDepthAlarm } from '../src/events/alarm-state-change';
import { isEventBridgeEnvelope, parseManualInvoke } from '../src/events/manual-invoke';
import { EventRegistry } from '../src/events/registry';
import { scheduledTick, type ScheduledTick } from '../src/events/scheduled';
import { logger } from '../src/log';
import { withMiddleware } from '../src/middleware';
import { observeFarms } from '../src/observe';

const events = new EventRegistry<QueueDepthAlarm | ScheduledTick>().register(alarmStateChange).register(scheduledTick);

export interface QueueScalerResult {
  noop?: string;
  dryRun?: boolean;
  farms?: FarmScaleResult[];
}

export const handler = withMiddleware('queue-scaler', async (event: unknown, context: Context): Promise<QueueScalerResult> => {
  const config = getConfig();
  const manual = isEventBridgeEnvelope(event) ? undefined : parseManualInvoke(event);
  const message = manual ? undefined : events.parse(event);
  if (message?.kind === 'noop') return noop(`not an event the queue scaler handles (${message.source} / ${message.detailType})`);
  const alarm = message?.kind === 'queue_depth_alarm' ? message : undefined;

  const now = message ? message.time : manual?.time ? new Date(manual.time) : new Date();
  const dryRun = config.dryRun || manual?.dryRun === true;
  const observation = await observeFarms(config, now, { farm: manual?.farm ?? config.farm, queues: { getQueueDepth } });
  const farms = alarm ? farmsOfAlarm(observation.farms, alarm) : observation.farms;
  if (alarm && farms.length === 0) {
    const watched = alarm.queueNames.length > 0 ? `queue ${alarm.queueNames.join(', ')}` : 'no SQS queue';
    return noop(`alarm ${alarm.alarmName} (${watched}) is not about a farm this stack manages (${config.farm})`);
  }

  const ctx = { config, now, dryRun, source: 'queue-scaler', eventId: message?.id ?? `manual:${context.awsRequestId}` };
  const results: FarmScaleResult[] = [];
  const failures: string[] = [];
  for (const farm of farms) {
    try {
      results.push(await scaleFarm(farm, ctx, alarm));
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      logger.error('farm not scaled', { farm: farm.farm, error: error.message });
      failures.push(error.message);
    }
  }
  logger.info('queue-scaler', { farms: results.map((r) => ({ farm: r.farm, outcome: r.outcome, backlog: r.figures.backlog, total: r.figures.total })), failures });
  if (failures.length > 0) throw new ConfigError(`queue-scaler: ${failures.join('; ')}`);
  return { dryRun, farms: results };
});

function noop(reason: string): QueueScalerResult {
  logger.info('no action', { reason });
  return { noop: reason };
}
