/**
 * `queue-scaler`: sizes each farm from its queue's backlog and splits the capacity between the spot group and the
 * on-demand fallback group (docs/scaling.md). Triggers: the farm's backlog alarms (CloudWatch Alarm State
 * Change), a schedule as the safety net, and manual invokes (`{"dryRun": true, "farm": "ml"}`).
 *
 * Per-farm isolation: one farm's failure (a misconfigured farm, AccessDenied on SetDesiredCapacity) is logged,
 * counted (`farmFailure`, src/figures.ts) and reported in the result's log line; every other farm is still scaled, and the
 * invocation fails at the end so the failure destination gets it.
 */
import type { Context } from 'aws-lambda';
import { getQueueDepth } from '../src/aws/sqs';
import { farmsOfAlarm, observeFarm } from '../src/capacity/observe';
import { scaleFarm, type FarmScaleResult } from '../src/capacity/run';
import { boundedEventTime, manualTime, wallClock } from '../src/clock';
import { getConfig } from '../src/config';
import { errorMessage, SpotfarmError } from '../src/errors';
import { alarmStateChange, type QueueDepthAlarm } from '../src/events/alarm-state-change';
import { isEventBridgeEnvelope, parseManualInvoke } from '../src/events/manual-invoke';
import { EventRegistry } from '../src/events/registry';
import { scheduledTick, type ScheduledTick } from '../src/events/scheduled';
import { logger } from '../src/log';
import { countEvent } from '../src/figures';
import { withMiddleware } from '../src/middleware';
import { observeFarms } from '../src/observe';

const events = new EventRegistry<QueueDepthAlarm | ScheduledTick>().register(alarmStateChange).register(scheduledTick);

export interface QueueScalerResult {
  noop?: string;
  dryRun?: boolean;
  farms?: FarmScaleResult[];
}

/** Some farms could not be scaled; every other farm was. The message names each farm and its error. */
export class FarmsFailedError extends SpotfarmError {}

export const handler = withMiddleware('queue-scaler', async (event: unknown, context: Context): Promise<QueueScalerResult> => {
  const config = getConfig();
  const manual = isEventBridgeEnvelope(event) ? undefined : parseManualInvoke(event);
  const message = manual ? undefined : events.parse(event);
  if (message?.kind === 'noop') return noop(`not an event the queue scaler handles (${message.source} / ${message.detailType})`);
  const alarm = message?.kind === 'queue_depth_alarm' ? message : undefined;

  const dryRun = config.dryRun || manual?.dryRun === true;
  const clock = wallClock();
  // Cooldowns, delays and idle time run on the wall clock; an event's time is data, refused beyond the skew.
  if (message) boundedEventTime(message.time, clock, `${message.kind} event ${message.id}`);
  const now = manual ? manualTime(manual.time, dryRun, clock) : clock;
  const observation = await observeFarms(config, now, { farm: manual?.farm ?? config.farm, queues: { getQueueDepth } });
  const farms = alarm ? farmsOfAlarm(observation.farms, alarm) : observation.farms;
  if (alarm && farms.length === 0) {
    const watched = alarm.queueNames.length > 0 ? `queue ${alarm.queueNames.join(', ')}` : 'no SQS queue';
    return noop(`alarm ${alarm.alarmName} (${watched}) is not about a farm this stack manages (${config.farm})`);
  }

  const ctx = { config, now, dryRun, source: 'queue-scaler', eventId: message?.id ?? `manual:${context.awsRequestId}` };
  const results: FarmScaleResult[] = [];
  const failures: { farm: string; error: string }[] = [];
  for (const farm of farms) {
    try {
      results.push(await scaleFarm(farm, ctx, { ...(alarm ? { alarm } : {}), reobserve: () => observeFarm(config, now, farm.farm) }));
    } catch (error) {
      logger.error('farm not scaled', { farm: farm.farm, error: errorMessage(error) });
      countEvent('farmFailure', { farm: farm.farm });
      failures.push({ farm: farm.farm, error: errorMessage(error) });
    }
  }
  logger.info('queue-scaler', { farms: results.map((r) => ({ farm: r.farm, outcome: r.outcome, backlog: r.figures.backlog, total: r.figures.total })), failures });
  if (failures.length > 0) {
    throw new FarmsFailedError(
      `queue-scaler: ${failures.length} of ${farms.length} farms not scaled (the others were): ${failures.map((f) => `${f.farm}: ${f.error}`).join('; ')}`,
    );
  }
  return { dryRun, farms: results };
});

function noop(reason: string): QueueScalerResult {
  logger.info('no action', { reason });
  return { noop: reason };
}
