/**
 * A schedule tick (source aws.events, detail-type "Scheduled Event"). Serverless `schedule: rate(...)` without
 * `input` hands the function the whole envelope, so `time` is the tick's time.
 *
 * Example:
 * ```json
 * {"version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
 *  "source": "aws.events", "account": "123456789012", "time": "2015-10-08T16:53:06Z", "region": "us-east-1",
 *  "resources": ["arn:aws:events:us-east-1:123456789012:rule/my-scheduled-rule"], "detail": {}}
 * ```
 */
import * as z from 'zod/mini';
import type { EventKind } from './registry';

export interface ScheduledTick {
  kind: 'scheduled_tick';
  id: string;
  time: Date;
  rule: string | undefined;
}

export const scheduledTick: EventKind<ScheduledTick> = {
  source: 'aws.events',
  detailType: 'Scheduled Event',
  detail: z.unknown(),
  toMessage: (envelope) => ({
    kind: 'scheduled_tick',
    id: envelope.id,
    time: new Date(envelope.time),
    rule: envelope.resources[0],
  }),
};
