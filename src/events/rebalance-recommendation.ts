/**
 * EC2 Instance Rebalance Recommendation (source aws.ec2): the instance is at elevated risk of interruption. It
 * may come before the two-minute warning, with it, or not at all, and it sets no deadline (aws.md §1.2).
 *
 * Example (the AWS documentation's sample, with its placeholders filled in):
 * ```json
 * {"version": "0", "id": "12345678-1234-1234-1234-123456789012",
 *  "detail-type": "EC2 Instance Rebalance Recommendation", "source": "aws.ec2", "account": "123456789012",
 *  "time": "2025-03-14T09:10:02Z", "region": "us-east-2",
 *  "resources": ["arn:aws:ec2:us-east-2:123456789012:instance/i-1234567890abcdef0"],
 *  "detail": {"instance-id": "i-1234567890abcdef0"}}
 * ```
 */
import * as z from 'zod/mini';
import type { EventKind } from './registry';
import { InstanceIdSchema } from './spot-interruption';

export interface RebalanceRecommendation {
  kind: 'rebalance_recommendation';
  id: string;
  time: Date;
  instanceId: string;
}

export const RebalanceDetailSchema = z.object({ 'instance-id': InstanceIdSchema });

export const rebalanceRecommendation: EventKind<RebalanceRecommendation> = {
  source: 'aws.ec2',
  detailType: 'EC2 Instance Rebalance Recommendation',
  detail: RebalanceDetailSchema,
  toMessage: (envelope, detail: z.infer<typeof RebalanceDetailSchema>) => ({
    kind: 'rebalance_recommendation',
    id: envelope.id,
    time: new Date(envelope.time),
    instanceId: detail['instance-id'],
  }),
};
