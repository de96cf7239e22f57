/**
 * A manual invoke payload (`serverless invoke -f <fn> --data '{"dryRun": true}'`).
 *
 * Example: `{"dryRun": true, "farm": "ml"}`. An empty payload (`{}` or none) is fine.
 */
import * as z from 'zod/mini';
import { BadInputError } from '../errors';
import { formatIssues } from '../validation';

export const ManualInvokeSchema = z.strictObject({
  dryRun: z.optional(z.boolean()),
  farm: z.optional(z.string().check(z.minLength(1))),
  /** The time to decide at (ISO 8601); default now. Lets a user replay a decision. */
  time: z.optional(z.iso.datetime()),
});

export type ManualInvoke = z.infer<typeof ManualInvokeSchema>;

export function parseManualInvoke(payload: unknown): ManualInvoke {
  if (payload === undefined || payload === null || payload === '') return {};
  const parsed = ManualInvokeSchema.safeParse(payload);
  if (!parsed.success) {
    throw new BadInputError(
      `invalid invoke payload: ${formatIssues(parsed.error.issues, '', payload)}; expected {"dryRun"?: boolean, "farm"?: string, "time"?: ISO 8601}`,
    );
  }
  return parsed.data;
}

/** A manual invoke has no EventBridge envelope; this tells one from a rule's event. */
export function isEventBridgeEnvelope(payload: unknown): boolean {
  return typeof payload === 'object' && payload !== null && 'detail-type' in payload && 'source' in payload;
}
