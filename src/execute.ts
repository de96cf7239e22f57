/**
 * The one place actions become AWS calls. It honours dry run (decide and log, mutate nothing), logs one line
 * per decision with its reason and figures, and records every mutation in the state table's audit trail.
 * AWS errors are never swallowed: the first failure stops the run and is rethrown after the outcomes so far are
 * logged, so Lambda's retry re-reads state and re-decides (level-triggered).
 */
import { setDesiredCapacity } from './aws/autoscaling';
import { groupKey, putRecordOnce, recordSortKey } from './aws/state-store';
import type { Action } from './actions';
import type { Config } from './config';
import { logDecision } from './log';
import { executeSwap } from './market/swap';
import { executeInterruptionAction } from './interruption/execute';

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

export async function executeActions(actions: Action[], ctx: ExecutionContext): Promise<ExecutedAction[]> {
  const results: ExecutedAction[] = [];
  for (const action of actions) {
    const outcome = await executeAction(action, ctx);
    results.push({ action, outcome });
  }
  return results;
}

export async function executeAction(action: Action, ctx: ExecutionContext): Promise<Outcome> {
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
    case 'swapToOnDemand':
    case 'swapToSpot':
      await executeSwap(action, ctx.eventId);
      break;
    case 'recordInterruption':
    case 'detachInstance':
    case 'terminateInstance':
    case 'recordCapacityFailure':
    case 'fallBackToOnDemand': {
      const result = await executeInterruptionAction(action, ctx);
      if (!result.audit) return result.outcome;
      break;
    }
    default: {
      const unknown: never = action;
      throw new Error(`no executor for action ${JSON.stringify(unknown)}`);
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
