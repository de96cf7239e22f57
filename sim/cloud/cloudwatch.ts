/**
 * CloudWatch in the simulated world: the farm queue's AWS/SQS metrics, and GetMetricData over them.
 *
 * SQS publishes its queue metrics to CloudWatch at one-minute intervals, free (Amazon SQS Developer Guide,
 * "Available CloudWatch metrics for Amazon SQS": namespace AWS/SQS, the only dimension QueueName;
 * NumberOfMessagesDeleted counts the messages deleted, ApproximateNumberOfMessagesNotVisible the messages in
 * flight, received and not yet deleted or back to visible). So the recorder takes one data point per metric per
 * minute: the deletions within the minute, and the messages in flight at its end. A minute's data point exists
 * once the minute is over, timestamped with the minute's start.
 *
 * GetMetricData (CloudWatch API Reference, GetMetricData): each query's data points are aggregated per Period
 * (at least 60 s and a multiple of 60 for standard-resolution metrics) with its Stat (Sum, Average, Minimum,
 * Maximum, SampleCount); a period with no data point is left out; a metric with no data comes back empty with
 * StatusCode Complete, never an error; at most 500 queries per call, Ids unique and starting with a lower-case
 * letter. test/sim/cloudwatch.test.ts checks these.
 */
import type { GetMetricDataCommandInput, MetricDataResult } from '@aws-sdk/client-cloudwatch';
import { awsError } from './errors';
import type { World } from './world';

interface QueueSeries {
  /** Minute starts (epoch seconds). */
  t: number[];
  deleted: number[];
  notVisible: number[];
}

const recorders = new WeakMap<World, QueueSeries>();

/** Starts publishing the farm queue's metrics every minute from now (the spotfarm policy's world). */
export function startQueueMetrics(world: World): void {
  if (recorders.has(world)) return;
  const series: QueueSeries = { t: [], deleted: [], notVisible: [] };
  recorders.set(world, series);
  let minute = Math.floor(world.now / 60) * 60;
  let completed = world.completed;
  const publish = (): void => {
    series.t.push(minute);
    series.deleted.push(world.completed - completed);
    series.notVisible.push(world.inflight);
    completed = world.completed;
    minute += 60;
    world.at(minute + 60, publish);
  };
  world.at(minute + 60, publish);
}

const STATS = ['Sum', 'Average', 'Minimum', 'Maximum', 'SampleCount'] as const;
type Stat = (typeof STATS)[number];
const SQS_METRICS = new Set(['NumberOfMessagesDeleted', 'ApproximateNumberOfMessagesNotVisible']);

function aggregate(values: number[], stat: Stat): number {
  switch (stat) {
    case 'Sum':
      return values.reduce((a, b) => a + b, 0);
    case 'Average':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'Minimum':
      return Math.min(...values);
    case 'Maximum':
      return Math.max(...values);
    case 'SampleCount':
      return values.length;
  }
}

const epochSeconds = (d: Date | string | number | undefined, field: string): number => {
  const t = d instanceof Date ? d.getTime() : typeof d === 'string' ? Date.parse(d) : typeof d === 'number' ? d * 1000 : NaN;
  if (!Number.isFinite(t)) throw awsError('cloudwatch', 'ValidationError', `The parameter ${field} is required.`);
  return t / 1000;
};

export function getMetricData(world: World, input: GetMetricDataCommandInput) {
  const queries = input.MetricDataQueries ?? [];
  if (queries.length === 0 || queries.length > 500) {
    throw awsError('cloudwatch', 'ValidationError', 'The collection MetricDataQueries must not be empty and must not contain more than 500 items.');
  }
  const from = epochSeconds(input.StartTime, 'StartTime');
  const to = epochSeconds(input.EndTime, 'EndTime');
  if (to <= from) throw awsError('cloudwatch', 'ValidationError', 'The parameter StartTime must be less than the parameter EndTime.');
  const ids = new Set<string>();
  const series = recorders.get(world);
  const results: MetricDataResult[] = [];
  for (const q of queries) {
    if (!q.Id || !/^[a-z][a-zA-Z0-9_]*$/.test(q.Id) || ids.has(q.Id)) {
      throw awsError('cloudwatch', 'ValidationError', `The value ${q.Id ?? ''} for parameter MetricDataQueries.member.Id is invalid or not unique.`);
    }
    ids.add(q.Id);
    const stat = q.MetricStat;
    if (!stat?.Metric || q.Expression !== undefined) throw awsError('cloudwatch', 'ValidationError', 'the simulated cloud answers MetricStat queries only');
    const period = stat.Period ?? 0;
    if (period < 60 || period % 60 !== 0) throw awsError('cloudwatch', 'ValidationError', 'The parameter Period must be a multiple of 60.');
    if (!(STATS as readonly string[]).includes(stat.Stat ?? '')) throw awsError('cloudwatch', 'ValidationError', `The simulated cloud answers the statistics ${STATS.join(', ')}.`);
    const m = stat.Metric;
    const queue = (m.Dimensions ?? []).find((d) => d.Name === 'QueueName')?.Value;
    const known = m.Namespace === 'AWS/SQS' && SQS_METRICS.has(m.MetricName ?? '') && (m.Dimensions ?? []).length === 1 && queue === world.farmQueueName && series;
    const timestamps: Date[] = [];
    const values: number[] = [];
    if (known) {
      const column = m.MetricName === 'NumberOfMessagesDeleted' ? series.deleted : series.notVisible;
      const start = Math.floor(from / 60) * 60;
      for (let bucket = start; bucket < to; bucket += period) {
        // One data point a minute from the first: the minute at t is at index (t - first) / 60.
        const first = series.t[0] ?? 0;
        const lo = Math.max(0, Math.ceil((bucket - first) / 60));
        const hi = Math.min(series.t.length, Math.ceil((Math.min(bucket + period, to) - first) / 60));
        const inBucket = lo < hi ? column.slice(lo, hi) : [];
        if (inBucket.length === 0) continue;
        timestamps.push(new Date(bucket * 1000));
        values.push(aggregate(inBucket, stat.Stat as Stat));
      }
    }
    if (input.ScanBy !== 'TimestampAscending') {
      timestamps.reverse();
      values.reverse();
    }
    if (q.ReturnData !== false) results.push({ Id: q.Id, Label: m.MetricName, Timestamps: timestamps, Values: values, StatusCode: 'Complete' });
  }
  return { MetricDataResults: results, Messages: [] };
}
