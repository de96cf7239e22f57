/**
 * One reconcile of one farm by the capacity controller: read the farm's capacity state and the spot group's
 * market, decide (pure, src/capacity/decide.ts), claim the decision with a conditional write of the state, then
 * act. The capacity controller alone sets desired capacity, the on-demand cover for a spot shortfall included
 * (never more than the shortfall: the decision's rule).
 *
 * Why claim before acting: two runs (an alarm event and a schedule tick, say) can decide on the same state at
 * once. Only one conditional write wins; the loser re-reads everything it decided from (the groups, the queue,
 * the state) and decides again, so an alarm transition it carries is never dropped. Desired capacities are
 * absolute values within [min, max], so even a replayed action cannot push a group out of its bounds.
 */
import { getQueueWork } from '../aws/cloudwatch';
import { StaleStateError } from '../aws/state-store';
import { AwsCallError, ConfigError } from '../errors';
import type { QueueDepthAlarm } from '../events/alarm-state-change';
import type { ExecutedAction, ExecutionContext } from '../execute';
import { logger } from '../log';
import type { Market } from '../model';
import type { FarmObservation } from '../observe';
import { marketOf } from '../records';
import type { CapacityAction } from './actions';
import { capacityStateChanged, decideCapacity, emptyCapacityState, scalingPolicyOf, type CapacityDecision, type CapacityInput } from './decide';
import { executeCapacityActions } from './execute';
import { capacityInputOf, farmGroups, farmProblem } from './observe';
import { WORK_WINDOW_SECONDS, workReadDue } from './service';
import { readCapacityState, writeCapacityState } from './state';

/**
 * The queue's work over the last window, from its AWS/SQS metrics (one GetMetricData call), for learning the job
 * duration. A failed read (throttled, or a stack from before cloudwatch:GetMetricData was in the policy) never
 * stops the scaling: the decision keeps what it learned before, or the secondsPerJob setting.
 */
async function readWork(farm: string, queue: string, now: Date): Promise<CapacityInput['work']> {
  const to = new Date(Math.floor(now.getTime() / 60_000) * 60_000);
  const from = new Date(to.getTime() - WORK_WINDOW_SECONDS * 1000);
  try {
    return await getQueueWork(queue, from, to);
  } catch (error) {
    logger.warn('could not read the queue\'s metrics to learn the job duration; sizing on what was learned before or secondsPerJob', {
      farm,
      queue,
      error: error instanceof Error ? error.message : String(error),
    });
    return 'unavailable';
  }
}

/** Lost write races re-read and re-decide at most this many times. */
const MAX_ATTEMPTS = 4;

export interface ScaleOptions {
  alarm?: QueueDepthAlarm;
  /** Reads the farm afresh after a lost write race; without it the first observation is reused. */
  reobserve?: () => Promise<FarmObservation | undefined>;
}

export interface FarmScaleResult {
  farm: string;
  outcome: 'acted' | 'unchanged' | 'dry-run' | 'lost-race' | 'scaling-in-progress';
  figures: CapacityDecision['figures'];
  executed: ExecutedAction<CapacityAction>[];
}

/**
 * One reconcile of one farm. Reads: the capacity state and the spot group's market (one GetItem each).
 * Writes: the capacity state only when it changed, SetDesiredCapacity only for a group whose desired changes.
 * A lost write race re-reads the farm and the state and decides again; a run carrying an alarm transition that
 * keeps losing fails, so Lambda retries the event rather than lose the transition.
 */
export async function scaleFarm(first: FarmObservation, ctx: ExecutionContext, options: ScaleOptions = {}): Promise<FarmScaleResult> {
  const { alarm } = options;
  const table = ctx.config.stateTable;
  if (table === '' && !ctx.dryRun) {
    throw new ConfigError('the queue scaler needs the state table (SPOTFARM_STATE_TABLE) for its cooldowns and delays');
  }
  let farm = first;
  let decision: CapacityDecision | undefined;
  for (let attempt = 1; ; attempt++) {
    if (attempt > 1) {
      const fresh = options.reobserve ? await options.reobserve() : farm;
      if (!fresh) throw new ConfigError(`farm ${farm.farm}: its groups are gone`);
      farm = fresh;
    }
    const problem = farmProblem(farm);
    if (problem) throw new ConfigError(problem);
    const groups = farmGroups(farm);
    const spotName = groups.ok ? groups.spot?.group.name : undefined;
    // Coordinated through the state the market controller records, never a call into it.
    const market = spotName && table ? await marketOf(table, spotName) : { market: 'spot' as Market, via: undefined };
    const spotMarket: Market = market.market;
    const stored = table ? await readCapacityState(table, farm.farm) : { state: emptyCapacityState(), version: 0 };
    const input = capacityInputOf(farm, stored.state, spotMarket, alarm, ctx.now, market.via);
    if (scalingPolicyOf(input.settings) === 'service' && farm.queueName && workReadDue(stored.state, ctx.now.getTime())) {
      input.work = await readWork(farm.farm, farm.queueName, ctx.now);
    }
    decision = decideCapacity(input, ctx.now);
    if (ctx.dryRun || !capacityStateChanged(stored.state, decision.state)) break;
    try {
      await writeCapacityState(table, farm.farm, decision.state, stored.version);
      break;
    } catch (error) {
      if (!(error instanceof StaleStateError)) throw error;
      logger.info('another queue-scaler run decided for this farm first: re-reading the farm and deciding again', {
        farm: farm.farm,
        attempt,
        error: error.message,
      });
      if (attempt >= MAX_ATTEMPTS) {
        if (alarm) throw new StaleStateError(`farm ${farm.farm}: lost the write race ${attempt} times with an alarm transition to record; retrying the event`);
        return { farm: farm.farm, outcome: 'lost-race', figures: decision.figures, executed: [] };
      }
    }
  }
  try {
    const executed = await executeCapacityActions(decision.actions, ctx);
    const acted = executed.some((e) => e.outcome === 'done');
    const outcome = ctx.dryRun ? 'dry-run' : acted ? 'acted' : 'unchanged';
    return { farm: farm.farm, outcome, figures: decision.figures, executed };
  } catch (error) {
    // Auto Scaling refuses a new desired while an activity runs and the SDK does not retry it (aws.md §2.3).
    if (error instanceof AwsCallError && /^ScalingActivityInProgress/.test(error.awsName ?? '')) {
      logger.warn('a scaling activity is in progress; the next tick re-reads and re-decides', { farm: farm.farm, error: error.message });
      return { farm: farm.farm, outcome: 'scaling-in-progress', figures: decision.figures, executed: [] };
    }
    throw error;
  }
}


