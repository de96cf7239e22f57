/**
 * The executor's cases for the interruption function's actions (src/execute.ts delegates here). Dry run,
 * the decision log line and the audit record are the shared executor's; this module does the AWS calls and
 * says whether the action was new (`done`) or already done by someone else (`skipped`: a duplicate record, an
 * instance another run detached first, an instance already gone).
 */
import type { Action, InterruptionAction } from '../actions';
import { detachInstances, terminateInstanceInGroup } from '../aws/autoscaling';
import { createInstanceTags, terminateInstances } from '../aws/ec2';
import { poolRecordKey, putRecordOnce, recordSortKey } from '../aws/state-store';
import type { ExecutionContext, Executor, OwnOutcome } from '../execute';
import { logger } from '../log';
import { INTERRUPTION_RECORD, recordCapacityFailure } from '../market/state';
import { metrics, MetricUnit } from '../metrics';
import { fallBackToOnDemand } from './breaker';
import { detachTags } from './tags';

/** The record kind of a rebalance recommendation: a risk for the pool, not an interruption. */
export const REBALANCE_RECORD = 'rebalance';

/** Data of an interruption / rebalance record (pk `pool#<type>|<az>`, sk `<kind>#<time>#<instance id>`). */
export interface InterruptionRecord {
  instanceId: string;
  groupName: string;
  eventId: string;
  instanceAction?: string;
}


export type InterruptionOutcome = OwnOutcome;

const INTERRUPTION_KINDS = new Set<Action['kind']>(['recordInterruption', 'detachInstance', 'terminateInstance', 'recordCapacityFailure', 'fallBackToOnDemand']);

/** The interruption function's executor (src/execute.ts carries out the shared kinds and writes the audit record). */
export const interruptionExecutor: Executor = (action, ctx) => {
  if (!INTERRUPTION_KINDS.has(action.kind)) return Promise.reject(new Error(`the interruption function does not execute ${action.kind}`));
  return executeInterruptionAction(action as InterruptionAction, ctx);
};

export async function executeInterruptionAction(action: InterruptionAction, ctx: ExecutionContext): Promise<InterruptionOutcome> {
  const table = ctx.config.stateTable;
  switch (action.kind) {
    case 'recordInterruption': {
      const kind = action.signal === 'interruption' ? INTERRUPTION_RECORD : REBALANCE_RECORD;
      const data: InterruptionRecord = {
        instanceId: action.instanceId,
        groupName: action.asgName,
        eventId: ctx.eventId,
        ...(action.instanceAction ? { instanceAction: action.instanceAction } : {}),
      };
      const fresh = await putRecordOnce(
        table,
        {
          pk: poolRecordKey(action.pool.instanceType, action.pool.availabilityZone),
          sk: recordSortKey(kind, action.at, action.instanceId),
          at: action.at,
          data,
        },
        ctx.config.recordTtlDays,
      );
      if (!fresh) {
        logger.info('duplicate event: already recorded', { instanceId: action.instanceId, asgName: action.asgName });
        return { outcome: 'skipped', audit: false };
      }
      // One series for the stack, not one per pool: CloudWatch bills each series for every hour it receives data,
      // and the pool is in the record and the log line.
      metrics.addMetric(action.signal === 'interruption' ? 'Interruptions' : 'RebalanceRecommendations', MetricUnit.Count, 1);
      return { outcome: 'done', audit: false };
    }
    case 'detachInstance': {
      // Tag first: whatever fails after this, the sweep can find the instance and see it gone by its deadline.
      await createInstanceTags([action.instanceId], detachTags(action.asgName, action.deadline, action.why));
      const detached = await detachInstances(action.asgName, [action.instanceId]);
      if (detached === 'not-in-group') {
        logger.info('already detached by a concurrent run or gone from the group', { instanceId: action.instanceId, asgName: action.asgName });
        return { outcome: 'skipped', audit: false };
      }
      if (detached === 'not-detachable') {
        // Pending (still launching) or already Detaching/Terminating: AWS detaches only InService and Standby
        // instances. Its deadline tag is on: the sweep terminates it in its group if EC2 has not by then.
        logger.info('not detachable in its lifecycle state (AWS detaches InService and Standby only); the sweep handles it by its deadline', {
          instanceId: action.instanceId,
          asgName: action.asgName,
        });
        return { outcome: 'skipped', audit: false };
      }
      metrics.addMetric('Replacements', MetricUnit.Count, 1);
      return { outcome: 'done', audit: true };
    }
    case 'terminateInstance': {
      const terminated = action.inGroup
        ? await terminateInstanceInGroup(action.instanceId)
        : await terminateInstances([action.instanceId]);
      if (!terminated) return { outcome: 'skipped', audit: false };
      return { outcome: 'done', audit: true };
    }
    case 'recordCapacityFailure': {
      const fresh = await recordCapacityFailure(
        table,
        action.asgName,
        { id: action.failureId, at: action.at, message: action.message, source: `event:${ctx.eventId}` },
        ctx.config.recordTtlDays,
      );
      if (!fresh) return { outcome: 'skipped', audit: false };
      metrics.addMetric('CapacityFailures', MetricUnit.Count, 1);
      return { outcome: 'done', audit: false };
    }
    case 'fallBackToOnDemand': {
      const outcome = await fallBackToOnDemand(action, ctx);
      return { outcome, audit: outcome === 'done' };
    }
    default: {
      const unknown: never = action;
      throw new Error(`no executor for interruption action ${JSON.stringify(unknown)}`);
    }
  }
}
