/**
 * CloudWatch metrics as Embedded Metric Format lines on stdout (Powertools Metrics): no PutMetricData call and
 * no extra IAM. The middleware publishes what a run stored when the invocation ends.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

export const metrics = new Metrics({ namespace: 'spotfarm', serviceName: 'spotfarm' });
export { MetricUnit };

let single: Metrics | undefined;

/**
 * A metric with its own dimensions, published as its own EMF line by its `addMetric` (Powertools' single-metric
 * mode). One instance per container: `metrics.singleMetric()` builds a new Metrics, and a new Console, on every
 * call, which every invocation paid once per metric. Publishing clears the dimensions; they are cleared here too,
 * so a caller that adds dimensions and then no metric does not leak them into the next one.
 */
export function singleMetric(): Metrics {
  single ??= metrics.singleMetric();
  single.clearDimensions();
  return single;
}

/**
 * How long a gauge that does not change stays unpublished. CloudWatch bills a custom metric for each hour in
 * which it receives a data point ("metrics are prorated by the hour", https://aws.amazon.com/cloudwatch/pricing/),
 * so a gauge published every check costs the full $0.30 a month however rarely it moves; published on change and
 * every 6 hours, a steady gauge costs about a sixth of that. The dashboard holds each line at its last value
 * (FILL(..., REPEAT), stack/operations.yml).
 */
export const GAUGE_REFRESH_MS = 6 * 3600_000;

const gauges = new Map<string, { value: number; at: number }>();

/**
 * A gauge (a price, a market, a desired capacity) with its own dimensions, published when its value differs from
 * what this container last published for the same series, or GAUGE_REFRESH_MS after that (by `now`, the event's
 * time). A new container publishes every series once. Returns whether it published.
 */
export function publishGauge(
  name: string,
  unit: (typeof MetricUnit)[keyof typeof MetricUnit],
  value: number,
  dimensions: Record<string, string>,
  now: Date,
): boolean {
  const key = `${name}|${Object.entries(dimensions).map(([k, v]) => `${k}=${v}`).join('|')}`;
  const last = gauges.get(key);
  const at = now.getTime();
  if (last && last.value === value && at >= last.at && at - last.at < GAUGE_REFRESH_MS) return false;
  gauges.set(key, { value, at });
  const single = singleMetric();
  for (const [k, v] of Object.entries(dimensions)) single.addDimension(k, v);
  single.addMetric(name, unit, value);
  return true;
}

/** Forgets what was published (a new container: tests and each backtest run). */
export function resetGauges(): void {
  gauges.clear();
}
