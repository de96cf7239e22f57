/**
 * What a decision returns and an executor carries out: the shared base of every controller's actions. A decision
 * is a value with a reason; the `skip` action makes "do nothing, because ..." a decision too, so every run logs
 * why. Each controller declares its own action kinds in its folder (src/market/actions.ts,
 * src/capacity/actions.ts, src/interruption/actions.ts) and carries them out in its own executor.
 */

export interface ActionBase {
  /** The Auto Scaling group the action is about. */
  asgName: string;
  /** Why, in words a user reads in the log and the plan. */
  reason: string;
  /** The figures the decision was made on (prices, counts, thresholds), logged beside it. */
  figures?: Record<string, unknown>;
}

export interface SkipAction extends ActionBase {
  kind: 'skip';
}

/** Any controller's action: a kind and the base fields. */
export interface KindedAction extends ActionBase {
  kind: string;
}

export const skip = (asgName: string, reason: string, figures?: Record<string, unknown>): SkipAction => ({
  kind: 'skip',
  asgName,
  reason,
  ...(figures ? { figures } : {}),
});
