/**
 * `queue-scaler`: sizes each farm from its queue's backlog and splits the capacity between the spot group and the
 * on-demand fallback group (docs/scaling.md). Triggers: the farm's backlog alarms (CloudWatch Alarm State
 * Change), a schedule as the safety net, and manual invokes (`{"dryRun": true, "farm": "ml"}`).
 */
import type { Context } from 'aws-lambda';
import { scaleFarm, type FarmScaleResult } from '../src/capacity-state';
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
  if (alarm?.farm && config.farm !== '*' && alarm.farm !== config.farm) return noop(`alarm ${alarm.alarmName} is of farm ${alarm.farm}, not ${config.farm}`);

  const now = message ? message.time : manual?.time ? new Date(manual.time) : new Date();
  const dryRun = config.dryRun || manual?.dryRun === true;
  const observation = await observeFarms(config, now, { farm: alarm?.farm ?? manual?.farm ?? config.farm, prices: false, launchSources: false });
  // An alarm named otherwise is matched to a farm by the queue it watches.
  const farms = observation.farms.filter((f) => !alarm || alarm.farm !== undefined || (f.queueName !== undefined && alarm.queueNames.some((q) => f.queueName === q || f.queueName!.endsWith(`/${q}`))));
  if (alarm && farms.length === 0) {
    return noop(alarm.farm ? `alarm ${alarm.alarmName}: farm ${alarm.farm} has no managed group` : `alarm ${alarm.alarmName} watches no managed farm's queue (${alarm.queueNames.join(', ') || 'no SQS metric'})`);
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
