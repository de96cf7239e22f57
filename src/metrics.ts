/**
 * CloudWatch metrics as Embedded Metric Format lines on stdout (Powertools Metrics): no PutMetricData call and
 * no extra IAM. The middleware publishes what a run stored when the invocation ends.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

export const metrics = new Metrics({ namespace: 'spotfarm', serviceName: 'spotfarm' });
export { MetricUnit };
