/**
 * The generic half of every controller's executor: dry run (decide and log, mutate nothing), one log line per
 * decision with its reason and figures, and the audit record of every mutation in the state table. The AWS calls
 * are the controller's own (`perform`, in src/<controller>/execute.ts). AWS errors are never swallowed: the
 * first failure stops the run and is rethrown, so a retry re-reads state and re-decides (level-triggered).
 */
import { groupKey, putRecordOnce, recordSortKey } from './aws/state-store';
import type { KindedAction, SkipAction } from './actions';
import type { Config } from './config';
import { logDecision } from './log';

export interface ExecutionContext {
  config: Readonly<Config>;
  /** The wall clock at invocation (src/clock.ts): decision records are keyed by it. */
  now: Date;
  dryRun: boolean;
  /** Which function decided (for the audit trail). */
  source: string;
  /** The triggering event's id, for dedupe and tracing. */
  eventId: string;
}

export type Outcome = 'done' | 'dry-run' | 'skipped';

export interface ExecutedAction<A extends KindedAction = KindedAction> {
  action: A;
  outcome: Outcome;
}

/** What a controller's executor did with one action: new (`done`) or already done by someone else (`skipped`). */
export interface Performed {
  outcome: Outcome;
  /** Write the audit record (false for actions that are a record themselves, or changed nothing). */
  audit: boolean;
}

export type Perform<A extends KindedAction> = (action: Exclude<A, SkipAction>, ctx: ExecutionContext) => Promise<Performed>;

export async function executeActions<A extends KindedAction>(
  actions: readonly A[],
  ctx: ExecutionContext,
  perform: Perform<A>,
): Promise<ExecutedAction<A>[]> {
  const results: ExecutedAction<A>[] = [];
  for (const action of actions) results.push({ action, outcome: await executeAction(action, ctx, perform) });
  return results;
}

export async function executeAction<A extends KindedAction>(action: A, ctx: ExecutionContext, perform: Perform<A>): Promise<Outcome> {
  const { kind, asgName, reason, figures, ...details } = action;
  if (kind === 'skip') {
    logDecision({ asgName, action: kind, reason, ...figures });
    return 'skipped';
  }
  logDecision({ asgName, action: kind, reason, dryRun: ctx.dryRun, ...details, ...figures });
  if (ctx.dryRun) return 'dry-run';
  const performed = await perform(action as Exclude<A, SkipAction>, ctx);
  if (performed.audit) await recordDecision(action, ctx);
  return performed.outcome;
}

/** The audit trail: one record per mutation, keyed by the decision's time, expiring after the configured TTL. */
async function recordDecision(action: KindedAction, ctx: ExecutionContext): Promise<void> {
  if (ctx.config.stateTable === '') return;
  await putRecordOnce(
    ctx.config.stateTable,
    {
      pk: groupKey(action.asgName),
      sk: recordSortKey('decision', ctx.now.toISOString(), `${ctx.source}:${action.kind}:${ctx.eventId}`),
      at: ctx.now.toISOString(),
      data: { source: ctx.source, eventId: ctx.eventId, ...action },
    },
    ctx.config.recordTtlDays,
  );
}
