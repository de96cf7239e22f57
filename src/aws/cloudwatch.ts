/**
 * CloudWatch metrics: the only module that talks to the CloudWatch API. Read-only (GetMetricData); the worker
 * agent publishes its own job metrics with its own client (worker/job-metrics.ts).
 */
import { CloudWatchClient, GetMetricDataCommand, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { aws, AwsCallError } from '../errors';
import { requestHandler } from './http';

export const cloudWatchClient = new CloudWatchClient({ maxAttempts: 6, retryMode: 'adaptive', requestHandler });

/** A statistic, or a percentile such as `p95` (CloudWatch has percentiles of metrics published as raw values). */
export type MetricStatistic = 'Sum' | 'Average' | 'SampleCount' | 'Minimum' | 'Maximum' | `p${number}`;

/** One statistic of one metric at one period. */
export interface MetricQuery {
  /** Starts with a lower-case letter (GetMetricData's rule for Id); unique within a call. */
  id: string;
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
  stat: MetricStatistic;
  /** Seconds: 60, or a multiple of 60; see `retentionPeriod`. */
  period: number;
}

/** A series as GetMetricData returns it: the start of each period (epoch seconds) and its value, ascending. */
export type MetricPoints = { t: number; v: number }[];

/**
 * The shortest period CloudWatch still holds for data that old. From the GetMetricData API reference
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html): 1-minute data points
 * are kept 15 days, 5-minute ones 63 days, 1-hour ones 455 days, and "if the StartTime parameter specifies a time
 * stamp that is greater than 15 days ago, you must specify the period as follows or no data points in that time
 * range is returned": a multiple of 300 s between 15 and 63 days ago, of 3600 s beyond.
 */
export function retentionPeriod(from: Date, now: Date, wanted: number): number {
  const ageDays = (now.getTime() - from.getTime()) / 86_400_000;
  if (ageDays > 63) return Math.max(3600, Math.ceil(wanted / 3600) * 3600);
  if (ageDays > 15) return Math.max(300, Math.ceil(wanted / 300) * 300);
  return wanted;
}

/**
 * Splits [from, to) into the stretches CloudWatch keeps at different resolutions (see `retentionPeriod`), each
 * with the finest period it allows (at least `wanted`), so recent data keeps its 1-minute detail while older data
 * is still returned. Boundaries fall on whole periods of the coarser stretch.
 */
export function retentionSegments(from: Date, to: Date, now: Date, wanted: number): { from: Date; to: Date; period: number }[] {
  const segments: { from: Date; to: Date; period: number }[] = [];
  const day = 86_400_000;
  const cuts = [now.getTime() - 63 * day, now.getTime() - 15 * day];
  let start = from.getTime();
  for (const cut of cuts) {
    if (start >= to.getTime()) break;
    if (start >= cut) continue;
    const period = retentionPeriod(new Date(start), now, wanted);
    // End the coarse stretch on a whole number of its periods, at or after the cut.
    const end = Math.min(to.getTime(), start + Math.ceil((cut - start) / (period * 1000)) * period * 1000);
    segments.push({ from: new Date(start), to: new Date(end), period });
    start = end;
  }
  if (start < to.getTime()) segments.push({ from: new Date(start), to, period: retentionPeriod(new Date(start), now, wanted) });
  return segments;
}

/** GetMetricData takes at most 500 queries per call (API reference, MetricDataQueries). */
const MAX_QUERIES = 500;

/**
 * Every data point of the queries over [from, to), following NextToken until the last page (a long window at
 * 1-minute periods passes the 100,800 data points one response holds). A query with no data in the window comes
 * back empty. A result CloudWatch marks `Forbidden` or `InternalError` throws AwsCallError naming the metric.
 */
export async function getMetricData(
  queries: MetricQuery[],
  from: Date,
  to: Date,
  client: CloudWatchClient = cloudWatchClient,
): Promise<Map<string, MetricPoints>> {
  const out = new Map<string, MetricPoints>(queries.map((q) => [q.id, []]));
  const byId = new Map(queries.map((q) => [q.id, q]));
  for (let i = 0; i < queries.length; i += MAX_QUERIES) {
    const batch = queries.slice(i, i + MAX_QUERIES);
    const wire: MetricDataQuery[] = batch.map((q) => ({
      Id: q.id,
      ReturnData: true,
      MetricStat: {
        Metric: {
          Namespace: q.namespace,
          MetricName: q.metricName,
          Dimensions: Object.entries(q.dimensions).map(([Name, Value]) => ({ Name, Value })),
        },
        Period: q.period,
        Stat: q.stat,
      },
    }));
    const names = [...new Set(batch.map((q) => `${q.namespace} ${q.metricName}`))].join(', ');
    const doing = `getting metric data (${names}) from ${from.toISOString()} to ${to.toISOString()}`;
    let nextToken: string | undefined;
    do {
      const page = await aws(doing, () =>
        client.send(
          new GetMetricDataCommand({
            MetricDataQueries: wire,
            StartTime: from,
            EndTime: to,
            ScanBy: 'TimestampAscending',
            NextToken: nextToken,
          }),
        ),
      );
      for (const result of page.MetricDataResults ?? []) {
        const query = result.Id ? byId.get(result.Id) : undefined;
        if (!query) continue;
        if (result.StatusCode === 'Forbidden' || result.StatusCode === 'InternalError') {
          const detail = (result.Messages ?? []).map((m) => `${m.Code}: ${m.Value}`).join('; ');
          throw new AwsCallError(
            doing,
            Object.assign(new Error(`${query.namespace} ${query.metricName}: ${result.StatusCode}${detail ? ` (${detail})` : ''}`), {
              name: result.StatusCode === 'Forbidden' ? 'AccessDenied' : 'InternalError',
            }),
          );
        }
        const timestamps = result.Timestamps ?? [];
        const values = result.Values ?? [];
        const series = out.get(query.id)!;
        for (let k = 0; k < Math.min(timestamps.length, values.length); k++) {
          const value = values[k];
          if (value === undefined || value === null || !Number.isFinite(value)) continue;
          series.push({ t: Math.round(timestamps[k]!.getTime() / 1000), v: value });
        }
      }
      nextToken = page.NextToken || undefined;
    } while (nextToken);
  }
  // Ascending was asked for, but pages of several queries interleave: sort once, drop duplicates.
  for (const [id, series] of out) {
    series.sort((a, b) => a.t - b.t);
    out.set(id, series.filter((p, k) => k === 0 || p.t !== series[k - 1]!.t));
  }
  return out;
}

/** A queue's work over a window, from its free AWS/SQS metrics: what Little's law needs. */
export interface QueueWork {
  /** Minutes of the window for which CloudWatch had both metrics. */
  minutes: number;
  /** Messages deleted over those minutes (NumberOfMessagesDeleted, Sum): the jobs the farm finished. */
  deleted: number;
  /** Message-seconds in flight over those minutes (ApproximateNumberOfMessagesNotVisible, Average x 60 s). */
  inFlightSeconds: number;
}

/**
 * The queue's work over [from, to) at 1-minute periods: one GetMetricData call, two metrics (CloudWatch charges
 * GetMetricData per metric requested, $0.01 per 1,000). SQS publishes its AWS/SQS metrics to CloudWatch at
 * one-minute intervals, free (Amazon SQS Developer Guide, "Available CloudWatch metrics for Amazon SQS" and
 * "Monitoring Amazon SQS queues using CloudWatch"); a minute not yet published, or one of an inactive queue, is
 * left out of both sums, so the two always cover the same minutes. `queue` is the queue's name or URL.
 */
export async function getQueueWork(queue: string, from: Date, to: Date, client: CloudWatchClient = cloudWatchClient): Promise<QueueWork> {
  const queueName = queue.slice(queue.lastIndexOf('/') + 1);
  const sqs = (id: string, metricName: string, stat: MetricStatistic): MetricQuery => ({
    id,
    namespace: 'AWS/SQS',
    metricName,
    dimensions: { QueueName: queueName },
    stat,
    period: 60,
  });
  const data = await getMetricData(
    [sqs('deleted', 'NumberOfMessagesDeleted', 'Sum'), sqs('inFlight', 'ApproximateNumberOfMessagesNotVisible', 'Average')],
    from,
    to,
    client,
  );
  const deletedAt = new Map(data.get('deleted')!.map((p) => [p.t, p.v]));
  const work: QueueWork = { minutes: 0, deleted: 0, inFlightSeconds: 0 };
  for (const p of data.get('inFlight')!) {
    const deleted = deletedAt.get(p.t);
    if (deleted === undefined) continue;
    work.minutes++;
    work.deleted += deleted;
    work.inFlightSeconds += p.v * 60;
  }
  return work;
}
