/**
 * Per-job figures the worker publishes to CloudWatch (opt-in: `spotfarm-worker --job-metrics`), so that
 * `spotfarm scenario from-account` replays the farm's real job durations instead of estimating them.
 *
 * One metric, `spotfarm` / `JobDuration` (Seconds), one value per job, dimensions `QueueName` (the queue's name)
 * and `Outcome` (`succeeded`, `failed`, `handed-back`: how long a job ran before an interruption took it back).
 * No instance dimension: every distinct dimension set is a billed custom metric, and spot instances come and go.
 *
 * PutMetricData rather than EMF on stdout: EMF needs the CloudWatch agent set up to forward it, this needs one IAM
 * action (`cloudwatch:PutMetricData`, which can be narrowed with the `cloudwatch:namespace` condition). Values are
 * buffered by (minute, outcome) and sent as Values/Counts arrays every `flushSeconds` and at exit, so an instance
 * makes at most one call per flush whatever its job rate, and none when idle. Raw values (not statistic sets) keep
 * percentiles available. Cost and limits: docs/worker.md, "Job metrics".
 */
import { CloudWatchClient, PutMetricDataCommand, type MetricDatum } from '@aws-sdk/client-cloudwatch';
import { awsErrorName, errorMessage } from './errors';
import type { Log } from './log';

export const JOB_METRICS_NAMESPACE = 'spotfarm';
export const JOB_DURATION_METRIC = 'JobDuration';
export type JobOutcome = 'succeeded' | 'failed' | 'handed-back';

/** What the worker tells the metrics when a job ends (the hook in worker/index.ts). */
export interface JobEnd {
  outcome: JobOutcome;
  /** Wall-clock seconds the job ran. */
  seconds: number;
}

export interface JobMetrics {
  /** Buffers one job's figures; never throws, never waits. */
  record(job: JobEnd, endedAtMs?: number): void;
  /** Sends what is buffered now. Failures are logged, never thrown. */
  flush(): Promise<void>;
  /** Stops the timer and sends the rest. */
  stop(): Promise<void>;
}

export interface JobMetricsOptions {
  queueUrl: string;
  client?: CloudWatchClient;
  /** For the default client: the queue's Region (worker/index.ts regionFor). */
  region?: string | undefined;
  /** Seconds between sends (default 300: at most 8,760 calls an instance-month; see docs/worker.md). */
  flushSeconds?: number;
  log?: Log;
}

/** PutMetricData limits (API reference): 150 distinct values per datum, 1000 data per request. */
const MAX_VALUES = 150;
const MAX_DATA = 1000;
const DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation']);

export function queueNameFromUrl(queueUrl: string): string {
  return queueUrl.replace(/\/+$/, '').split('/').pop() ?? queueUrl;
}

/** Job metrics published with PutMetricData; see the module comment. */
export function cloudWatchJobMetrics(options: JobMetricsOptions): JobMetrics {
  // Two attempts: a metric call must never hold up a drain for long.
  const client = options.client ?? new CloudWatchClient({ maxAttempts: 2, ...(options.region ? { region: options.region } : {}) });
  const log = options.log ?? (() => undefined);
  const queueName = queueNameFromUrl(options.queueUrl);
  /** minute start (ms) | outcome -> value -> count */
  let buffer = new Map<string, Map<number, number>>();
  let disabled = false;
  let sending: Promise<void> = Promise.resolve();
  const timer = setInterval(() => void flush(), (options.flushSeconds ?? 300) * 1000);
  timer.unref();

  function record(job: JobEnd, endedAtMs = Date.now()): void {
    if (disabled || !Number.isFinite(job.seconds) || job.seconds < 0) return;
    const minute = Math.floor(endedAtMs / 60_000) * 60_000;
    const key = `${minute}|${job.outcome}`;
    let values = buffer.get(key);
    if (!values) buffer.set(key, (values = new Map()));
    // Tenths of a second: durations repeat, so Values/Counts stay short.
    const value = Math.round(job.seconds * 10) / 10;
    values.set(value, (values.get(value) ?? 0) + 1);
  }

  function data(batch: Map<string, Map<number, number>>): MetricDatum[] {
    const out: MetricDatum[] = [];
    for (const [key, values] of batch) {
      const [minute, outcome] = key.split('|') as [string, JobOutcome];
      const entries = [...values];
      for (let i = 0; i < entries.length; i += MAX_VALUES) {
        const slice = entries.slice(i, i + MAX_VALUES);
        out.push({
          MetricName: JOB_DURATION_METRIC,
          Dimensions: [
            { Name: 'QueueName', Value: queueName },
            { Name: 'Outcome', Value: outcome },
          ],
          Timestamp: new Date(Number(minute)),
          Unit: 'Seconds',
          Values: slice.map(([v]) => v),
          Counts: slice.map(([, c]) => c),
        });
      }
    }
    return out;
  }

  async function send(batch: Map<string, Map<number, number>>): Promise<void> {
    const all = data(batch);
    for (let i = 0; i < all.length; i += MAX_DATA) {
      try {
        await client.send(new PutMetricDataCommand({ Namespace: JOB_METRICS_NAMESPACE, MetricData: all.slice(i, i + MAX_DATA) }));
      } catch (error) {
        const name = awsErrorName(error);
        if (DENIED.has(name)) {
          // Without the permission every later call would fail too: say so once and stop trying.
          disabled = true;
          clearInterval(timer);
          log('warn', 'job_metrics_disabled', {
            reason: `cloudwatch:PutMetricData refused (${name}: ${errorMessage(error)}); grant it to the instance role or drop --job-metrics`,
          });
          return;
        }
        log('warn', 'job_metrics_failed', { reason: `PutMetricData: ${name || 'error'}: ${errorMessage(error)}; these figures are dropped` });
      }
    }
  }

  function flush(): Promise<void> {
    if (buffer.size === 0 || disabled) return sending;
    const batch = buffer;
    buffer = new Map();
    // One send at a time, in order.
    sending = sending.then(() => send(batch));
    return sending;
  }

  return {
    record,
    flush,
    async stop() {
      clearInterval(timer);
      await flush();
    },
  };
}
