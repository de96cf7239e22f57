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
