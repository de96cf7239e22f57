/**
 * "Market Check Requested" (source `spotfarm`): the interruption controller's signal to the market controller
 * that a group's breaker tripped or its spot capacity is failing. Put on the default bus (src/aws/eventbridge.ts)
 * and matched by the price-check function's rule, which names this stack in `detail.stack`, so two stacks in one
 * account never act on each other's signals. The market controller then runs its own check of the group: the
 * signal asks, the market controller decides (docs/market.md "One writer per decision").
 *
 * Example:
 * ```json
 * {"version": "0", "id": "0b8d...", "detail-type": "Market Check Requested", "source": "spotfarm",
 *  "account": "123456789012", "time": "2026-12-01T10:00:00Z", "region": "us-east-1", "resources": [],
 *  "detail": {"stack": "spotfarm-dev", "farm": "ml", "group": "ml-spot", "trigger": "breaker",
 *             "reason": "interruption breaker: 3 interruptions in pool m5.large us-east-1a ..."}}
 * ```
 */
import * as z from 'zod/mini';
import type { EventKind } from './registry';

export const MARKET_CHECK_SOURCE = 'spotfarm';
export const MARKET_CHECK_DETAIL_TYPE = 'Market Check Requested';

export interface MarketCheckRequested {
  kind: 'market_check_requested';
  id: string;
  time: Date;
  stack: string;
  farm: string;
  group: string;
  trigger: 'breaker' | 'capacity';
  reason: string;
}

export const MarketCheckDetailSchema = z.object({
  stack: z.string(),
  farm: z.string().check(z.minLength(1), z.maxLength(256)),
  group: z.string().check(z.minLength(1), z.maxLength(255)),
  trigger: z.enum(['breaker', 'capacity']),
  reason: z.string().check(z.maxLength(2000)),
});

export type MarketCheckDetail = z.infer<typeof MarketCheckDetailSchema>;

export const marketCheckRequested: EventKind<MarketCheckRequested> = {
  source: MARKET_CHECK_SOURCE,
  detailType: MARKET_CHECK_DETAIL_TYPE,
  detail: MarketCheckDetailSchema,
  toMessage: (envelope, detail: MarketCheckDetail) => ({
    kind: 'market_check_requested',
    id: envelope.id,
    time: new Date(envelope.time),
    ...detail,
  }),
};
