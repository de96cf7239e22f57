/**
 * The interruption controller's executor: the AWS calls of its actions, through the shared executor (dry run,
 * the decision log line, the audit record). Each says whether the action was new (`done`) or already done by
 * someone else (`skipped`: a duplicate record, an instance another run detached first, an instance already gone,
 * a trip already signalled).
 */
import { detachInstances, terminateInstanceInGroup } from '../aws/autoscaling';
import { createInstanceTags, terminateInstances } from '../aws/ec2';
import { putEvent } from '../aws/eventbridge';
import { poolRecordKey, putRecordOnce, recordSortKey } from '../aws/state-store';
import { MARKET_CHECK_DETAIL_TYPE, MARKET_CHECK_SOURCE, type MarketCheckDetail } from '../events/market-check-requested';
import { executeActions, type ExecutedAction, type ExecutionContext, type Performed } from '../execute';
import { logger } from '../log';
import { countEvent } from '../figures';
import {
  INTERRUPTION_RECORD,
  REBALANCE_RECORD,
  recordCapacityFailure,
  recordMarketCheckRequest,
  type InterruptionRecord,
} from '../records';
import type { InterruptionAction, InterruptionDecision } from './actions';
import { detachTags } from './tags';

export function executeInterruptionActions(
  actions: readonly InterruptionDecision[],
  ctx: ExecutionContext,
): Promise<ExecutedAction<InterruptionDecision>[]> {
  return executeActions(actions, ctx, executeInterruptionAction);
}

export async function executeInterruptionAction(action: InterruptionAction, ctx: ExecutionContext): Promise<Performed> {
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
      countEvent(action.signal === 'interruption' ? 'interruption' : 'rebalance', {
        asgName: action.asgName,
        instanceType: action.pool.instanceType,
        availabilityZone: action.pool.availabilityZone,
      });
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
      countEvent('replacement', { asgName: action.asgName });
      return { outcome: 'done', audit: true };
    }
    case 'terminateInstance': {
      const terminated = action.inGroup
        ? await terminateInstanceInGroup(action.instanceId)
        : await terminateInstances([action.instanceId]);
      if (!terminated) return { outcome: 'skipped', audit: false };
      if (action.why) countEvent('replacement', { asgName: action.asgName });
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
      countEvent('capacityFailure', { asgName: action.asgName });
      return { outcome: 'done', audit: false };
    }
    case 'requestMarketCheck': {
      // Once per trip: the first run to record it signals; duplicates (the same warning ten times) stop here. If
      // the signal then fails, the invocation fails (failure destination) and the next scheduled check decides
      // from the same recorded facts, so a lost signal delays the fall-back by at most one priceCheckRate.
      const fresh = await recordMarketCheckRequest(
        table,
        action.asgName,
        action.at,
        `${action.trigger}:${action.requestId}`,
        { trigger: action.trigger, reason: action.reason, eventId: ctx.eventId },
        ctx.config.recordTtlDays,
      );
      if (!fresh) {
        logger.info('market check already requested for this trip', { asgName: action.asgName, requestId: action.requestId });
        return { outcome: 'skipped', audit: false };
      }
      const detail: MarketCheckDetail = { stack: ctx.config.stack, farm: action.farm, group: action.asgName, trigger: action.trigger, reason: action.reason };
      await putEvent(MARKET_CHECK_SOURCE, MARKET_CHECK_DETAIL_TYPE, detail, ctx.now);
      countEvent('marketCheckRequest', { farm: action.farm, asgName: action.asgName, trigger: action.trigger });
      return { outcome: 'done', audit: true };
    }
    default: {
      const unknown: never = action;
      throw new Error(`no executor for interruption action ${JSON.stringify(unknown)}`);
    }
  }
}
