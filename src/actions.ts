/**
 * What the decision functions return and the executor carries out. A decision is a value with a reason; the
 * `skip` action makes "do nothing, because ..." a decision too, so every run logs why.
 *
 * Each area (market controller, capacity, interruptions) adds its own action kinds to the union below and its
 * case to the executor's switch (src/execute.ts).
 */

interface ActionBase {
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

export interface SetDesiredCapacityAction extends ActionBase {
  kind: 'setDesiredCapacity';
  from: number;
  to: number;
}

export type Action = SkipAction | SetDesiredCapacityAction;

export type ActionKind = Action['kind'];

export const skip = (asgName: string, reason: string, figures?: Record<string, unknown>): SkipAction => ({
  kind: 'skip',
  asgName,
  reason,
  ...(figures ? { figures } : {}),
});
