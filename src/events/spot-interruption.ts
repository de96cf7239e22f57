/**
 * EC2 Spot Instance Interruption Warning (source aws.ec2): EC2 takes the instance back two minutes after
 * `time`. The detail carries no deadline of its own, so the deadline is `time` + 120 s (aws.md §1.1).
 *
 * Example (the AWS documentation's sample, with its placeholders filled in):
 * ```json
 * {"version": "0", "id": "12345678-1234-1234-1234-123456789012",
 *  "detail-type": "EC2 Spot Instance Interruption Warning", "source": "aws.ec2", "account": "123456789012",
 *  "time": "2025-03-14T09:26:40Z", "region": "us-east-2",
 *  "resources": ["arn:aws:ec2:us-east-2:123456789012:instance/i-1234567890abcdef0"],
 *  "detail": {"instance-id": "i-1234567890abcdef0", "instance-action": "terminate"}}
 * ```
 */
import * as z from 'zod/mini';
import type { EventKind } from './registry';

/** EC2 instance ids: `i-` and 8 or 17 hex digits on AWS; emulators use the same form. */
export const InstanceIdSchema = z.string().check(z.regex(/^i-[0-9a-f]{8,32}$/));

/** Seconds between the warning and EC2 taking the instance. */
export const INTERRUPTION_NOTICE_SECONDS = 120;

export interface SpotInterruption {
  kind: 'spot_interruption';
  id: string;
  time: Date;
  instanceId: string;
  /** What EC2 will do at the deadline: terminate (the Auto Scaling default), stop or hibernate. */
  instanceAction: 'terminate' | 'stop' | 'hibernate';
  /** When EC2 takes the instance: `time` + 120 s. */
  deadline: Date;
}

export const SpotInterruptionDetailSchema = z.object({
  'instance-id': InstanceIdSchema,
  'instance-action': z.enum(['terminate', 'stop', 'hibernate']),
});

export const spotInterruption: EventKind<SpotInterruption> = {
  source: 'aws.ec2',
  detailType: 'EC2 Spot Instance Interruption Warning',
  detail: SpotInterruptionDetailSchema,
  toMessage: (envelope, detail: z.infer<typeof SpotInterruptionDetailSchema>) => {
    const time = new Date(envelope.time);
    return {
      kind: 'spot_interruption',
      id: envelope.id,
      time,
      instanceId: detail['instance-id'],
      instanceAction: detail['instance-action'],
      deadline: new Date(time.getTime() + INTERRUPTION_NOTICE_SECONDS * 1000),
    };
  },
};
