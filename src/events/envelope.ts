/**
 * The EventBridge envelope every AWS event shares (aws.md §1). `time` is ISO-8601 UTC with second precision;
 * it is the `now` every decision is made at, never the wall clock.
 */
import * as z from 'zod/mini';

export const EnvelopeSchema = z.object({
  version: z.optional(z.string()),
  id: z.string().check(z.minLength(1)),
  'detail-type': z.string(),
  source: z.string(),
  account: z.optional(z.string()),
  time: z.iso.datetime({ offset: true }),
  region: z.optional(z.string()),
  resources: z._default(z.array(z.string()), []),
  detail: z.unknown(),
});

export type Envelope = z.infer<typeof EnvelopeSchema>;
