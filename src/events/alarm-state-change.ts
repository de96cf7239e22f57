/**
 * A CloudWatch alarm changed state (source aws.cloudwatch, detail-type "CloudWatch Alarm State Change"). CloudWatch
 * publishes every transition of every alarm to the default bus, with guaranteed delivery (aws.md §1.4, §6.2).
 * The queue scaler reads it as a hint to reconcile one farm now, and remembers the alarm's state for the `step`
 * policy, which acts while its alarm is in ALARM (as Auto Scaling re-runs a policy every period of an alarm).
 *
 * Which farm: the queue in the alarm's SQS metrics (`QueueName` dimension), matched against the farms'
 * `spotfarm:queue` tags; an alarm without one is matched by its name's prefix against the farm names. Which way:
 * a name ending in `backlog-high` or `backlog-low` (the stack names its alarms `<service>-<stage>-backlog-high|low`,
 * the backtest `<farm>-backlog-high|low`); any other alarm on a farm's queue is a plain hint to reconcile now.
 *
 * Example (the single-metric sample of the CloudWatch User Guide, "Alarm events and EventBridge", with the
 * metric and name of the stack's backlog-high alarm for a farm whose queue is `demo-jobs`):
 * ```json
 * {"version": "0", "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92", "detail-type": "CloudWatch Alarm State Change",
 *  "source": "aws.cloudwatch", "account": "123456789012", "time": "2019-10-02T17:04:40Z", "region": "us-east-1",
 *  "resources": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:spotfarm-prod-backlog-high"],
 *  "detail": {
 *    "alarmName": "spotfarm-prod-backlog-high",
 *    "configuration": {"description": "spotfarm demo: backlog high",
 *      "metrics": [{"id": "m1", "metricStat": {"metric": {"namespace": "AWS/SQS",
 *        "name": "ApproximateNumberOfMessagesVisible", "dimensions": {"QueueName": "demo-jobs"}},
 *        "period": 60, "stat": "Sum"}, "returnData": true}]},
 *    "previousState": {"value": "OK", "reason": "Threshold Crossed: ...", "timestamp": "2019-10-01T13:56:40.987+0000",
 *      "reasonData": "{\"version\":\"1.0\",\"queryDate\":\"2019-10-01T13:56:40.985+0000\",\"statistic\":\"Sum\",\"period\":60,\"recentDatapoints\":[3.0],\"threshold\":100.0}"},
 *    "state": {"value": "ALARM", "reason": "Threshold Crossed: ...", "timestamp": "2019-10-02T17:04:40.989+0000",
 *      "reasonData": "{\"version\":\"1.0\",\"queryDate\":\"2019-10-02T17:04:40.985+0000\",\"statistic\":\"Sum\",\"period\":60,\"recentDatapoints\":[250.0,412.0],\"threshold\":100.0}"}}}
 * ```
 * A metric-math alarm lists several metrics (the expression with `returnData: true`, the inputs without) and
 * its `reasonData` has no `statistic`; an initial transition's previous state has no `reasonData`.
 */
import * as z from 'zod/mini';
import type { EventKind } from './registry';

export type AlarmStateValue = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';
/** Which of a farm's two queue alarms: `high` asks for more capacity, `low` for less. */
export type AlarmDirection = 'high' | 'low';

const AlarmState = z.object({
  value: z.enum(['OK', 'ALARM', 'INSUFFICIENT_DATA']),
  reason: z.optional(z.string()),
  reasonData: z.optional(z.string()),
  timestamp: z.string().check(z.minLength(1)),
});

const MetricStat = z.object({
  metric: z.object({
    namespace: z.optional(z.string()),
    name: z.optional(z.string()),
    dimensions: z.optional(z.record(z.string(), z.string())),
  }),
});

const AlarmDetail = z.object({
  alarmName: z.string().check(z.minLength(1)),
  configuration: z.optional(
    z.object({
      description: z.optional(z.string()),
      metrics: z.optional(z.array(z.object({ id: z.optional(z.string()), metricStat: z.optional(MetricStat) }))),
    }),
  ),
  previousState: z.optional(AlarmState),
  state: AlarmState,
});

type AlarmDetail = z.infer<typeof AlarmDetail>;

export interface QueueDepthAlarm {
  kind: 'queue_depth_alarm';
  id: string;
  /** The event's time: the `now` of the decision. */
  time: Date;
  alarmName: string;
  /** The name before `backlog-high|low` (`spotfarm-prod-`, `ml-`), without its trailing dash. */
  namePrefix: string | undefined;
  /** From the name's `backlog-high|low` ending; undefined for an alarm named otherwise. */
  direction: AlarmDirection | undefined;
  state: AlarmStateValue;
  previousState: AlarmStateValue | undefined;
  /** When the alarm entered `state` (CloudWatch's own timestamp, `+0000` offset), as ISO. */
  stateSince: string;
  /** `QueueName` dimensions of the alarm's SQS metrics. */
  queueNames: string[];
}

const NAMED = /^(?:(.*?)-)?backlog-(high|low)$/;

/** `spotfarm-prod-backlog-high` -> {prefix: 'spotfarm-prod', direction: 'high'}. */
export function parseAlarmName(alarmName: string): { prefix: string | undefined; direction: AlarmDirection } | undefined {
  const match = NAMED.exec(alarmName);
  return match ? { prefix: match[1] || undefined, direction: match[2] as AlarmDirection } : undefined;
}

/** CloudWatch writes `2019-10-02T17:04:40.989+0000`, which Date.parse refuses on some engines: add the colon. */
function alarmTime(timestamp: string, fallback: Date): string {
  const fixed = timestamp.replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  const ms = Date.parse(fixed);
  return Number.isNaN(ms) ? fallback.toISOString() : new Date(ms).toISOString();
}

export const alarmStateChange: EventKind<QueueDepthAlarm> = {
  source: 'aws.cloudwatch',
  detailType: 'CloudWatch Alarm State Change',
  detail: AlarmDetail,
  toMessage: (envelope, detail: AlarmDetail) => {
    const time = new Date(envelope.time);
    const named = parseAlarmName(detail.alarmName);
    const queueNames = (detail.configuration?.metrics ?? []).flatMap((m) => {
      const metric = m.metricStat?.metric;
      const queue = metric?.namespace === 'AWS/SQS' ? metric.dimensions?.QueueName : undefined;
      return queue ? [queue] : [];
    });
    return {
      kind: 'queue_depth_alarm',
      id: envelope.id,
      time,
      alarmName: detail.alarmName,
      namePrefix: named?.prefix,
      direction: named?.direction,
      state: detail.state.value,
      previousState: detail.previousState?.value,
      stateSince: alarmTime(detail.state.timestamp, time),
      queueNames: [...new Set(queueNames)],
    };
  },
};
