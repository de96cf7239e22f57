/**
 * The one place actions become AWS calls. It honours dry run (decide and log, mutate nothing), logs one line
 * per decision with its reason and figures, and records every mutation in the state table's audit trail.
 * AWS errors are never swallowed: the first failure stops the run and is rethrown after the outcomes so far are
 * logged, so Lambda's retry re-reads state and re-decides (level-triggered).
 *
 * The shared kinds (skip, setDesiredCapacity) are carried out here; a controller's own kinds by the executor it
 * passes (the market's swaps, the interruption function's detach/terminate/records). This module imports no
 * controller, so a function's bundle carries only the SDK clients of the actions it can take.
 */
import { setDesiredCapacity } from './aws/autoscaling';
import { groupKey, putRecordOnce, recordSortKey } from './aws/state-store';
import type { Action } from './actions';
import type { Config } from './config';
import { logDecision } from './log';

export interface ExecutionContext {
  config: Readonly<Config>;
  /** The event's time: decision records are keyed by it, never by the wall clock. */
  now: Date;
  dryRun: boolean;
  /** Which function decided (for the audit trail). */
  source: string;
  /** The triggering event's id, for dedupe and tracing. */
  eventId: string;
}

export type Outcome = 'done' | 'dry-run' | 'skipped';

export interface ExecutedAction {
  action: Action;
  outcome: Outcome;
}

/** What a controller's executor reports: the outcome, and whether the shared audit record is written too. */
export interface OwnOutcome {
  outcome: Outcome;
  /** False for actions that are a record themselves. */
  audit: boolean;
}

/** Carries out a controller's own kinds of action (never skip or setDesiredCapacity). */
export type Executor = (action: Action, ctx: ExecutionContext) => Promise<OwnOutcome>;

/** The queue scaler's executor: it has no kinds of its own, so any other kind is a bug. */
const sharedKindsOnly: Executor = (action) => Promise.reject(new Error(`no executor for action ${action.kind} in this function`));

export async function executeActions(actions: Action[], ctx: ExecutionContext, execute: Executor = sharedKindsOnly): Promise<ExecutedAction[]> {
  const results: ExecutedAction[] = [];
  for (const action of actions) {
    const outcome = await executeAction(action, ctx, execute);
    results.push({ action, outcome });
  }
  return results;
}

export async function executeAction(action: Action, ctx: ExecutionContext, execute: Executor = sharedKindsOnly): Promise<Outcome> {
  const { kind, asgName, reason, figures, ...details } = action;
  if (kind === 'skip') {
    logDecision({ asgName, action: kind, reason, ...figures });
    return 'skipped';
  }
  logDecision({ asgName, action: kind, reason, dryRun: ctx.dryRun, ...details, ...figures });
  if (ctx.dryRun) return 'dry-run';
  switch (action.kind) {
    case 'setDesiredCapacity':
      await setDesiredCapacity(action.asgName, action.to);
      break;
    default: {
      const result = await execute(action, ctx);
      if (!result.audit) return result.outcome;
    }
  }
  await recordDecision(action, ctx);
  return 'done';
}

/** The audit trail: one record per mutation, keyed by event time, expiring after the configured TTL. */
async function recordDecision(action: Action, ctx: ExecutionContext): Promise<void> {
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
