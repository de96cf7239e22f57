/**
 * One market check of one group, following the state protocol that makes racing checks safe:
 *
 *   read group and state (version v) -> decide (pure) -> claim: write the state with `pending` (a lease with
 *   an owner and an expiry on the wall clock) if still at v -> swap (AWS) -> write the state after the swap ->
 *   decision record, SNS message, counted events (src/figures.ts).
 *
 * A lost claim (StaleStateError) re-reads everything the decision was made from, the group as AWS shows it now
 * and the state, and re-decides: it then sees the winner's lease or its finished swap, never the winner's state
 * against its own stale view of the group. Two racing checks make exactly one swap. The claimant finishes or
 * releases: a swap that fails leaves `pending` marked failed (when that write still works), never the post-swap
 * state, so it is not recorded as done and the next check takes it over. Checks that only count (streaks, last
 * check time) write the state too, conditionally, so a duplicated event counts once.
 */
import { notify } from '../aws/notify';
import { StaleStateError } from '../aws/state-store';
import type { Config } from '../config';
import { decideMarket, type FallbackFailingNotice, type MarketAction, type MarketDecision } from './decide';
import { errorMessage, SpotfarmError } from '../errors';
import type { ExecutionContext } from '../execute';
import { executeMarketActions as executeActions } from './execute';
import { countEvent, logMarketFigures } from '../figures';
import { logger } from '../log';
import { marketStateChanged, readMarketState, writeMarketState, type MarketOriginals, type MarketState, type VersionedMarketState } from './state';
import { isRunning } from '../model';
import type { GroupMarketView } from './observe';
import { LaunchConfigurationRefusedError } from './swap';

export type MarketOutcome = 'swapped' | 'steered' | 'dry-run' | 'skipped' | 'refused';

export interface MarketCheckResult {
  asgName: string;
  outcome: MarketOutcome;
  action: MarketAction;
}

/** Lost races re-read and re-decide at most this many times before leaving the group to the next check. */
const MAX_ATTEMPTS = 3;

export interface CheckOptions {
  /** Fall back now (a user's manual fall-back): decideMarket's `force`. */
  force?: { trigger: 'breaker' | 'capacity' | 'manual'; reason: string };
  /** The time of the event that asked for the check (dedupes a retried or late event); default ctx.now. */
  eventTime?: Date;
  /** Asked for by a signal: falls back only by the breaker or capacity rule (decideMarket's `signal`). */
  signal?: boolean;
  /** Reads the group's view afresh (group and state) after a lost claim; undefined when it is gone. */
  reobserve?: () => Promise<GroupMarketView | undefined>;
}

/** The swap happened but recording it failed: the message says so, plainly. */
export class SwapNotRecordedError extends SpotfarmError {}

export async function checkGroupMarket(
  initial: GroupMarketView,
  ctx: ExecutionContext,
  options: CheckOptions = {},
): Promise<MarketCheckResult> {
  const { config, now } = ctx;
  const table = config.stateTable;
  let view = initial;
  const asgName = view.input.asgName;
  const checkId = `${ctx.source}:${ctx.eventId}`;
  let stored: VersionedMarketState = view.stored;
  let decision: MarketDecision | undefined;
  let outsideConfirmed = false;

  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    if (attempt > 1 && !outsideConfirmed) {
      // Lost the race: everything this decision was made from is stale, the group included.
      const fresh = options.reobserve ? await options.reobserve() : undefined;
      if (options.reobserve && !fresh) {
        const action: MarketAction = { kind: 'skip', asgName, reason: 'lost the race for the group\'s state, and the group is no longer managed' };
        await executeActions([action], ctx);
        return { asgName, outcome: 'skipped', action };
      }
      if (fresh) view = fresh;
      stored = fresh ? fresh.stored : await readMarketState(table, asgName);
    }
    decision = decideMarket({ ...view.input, state: stored.state }, view.group.settings, now, {
      checkId,
      dryRun: ctx.dryRun,
      ...(options.force ? { force: options.force } : {}),
      ...(options.eventTime ? { eventTime: options.eventTime } : {}),
      ...(options.signal ? { signal: true } : {}),
    });
    if (decision.outside && !outsideConfirmed && options.reobserve && !ctx.dryRun) {
      // "Changed outside spotfarm" is only true of a group observed after the state was read: the group was
      // observed first, so a swap by a racing check in between looks like someone else's. Observe it again and
      // decide on the state already read; a claim written since then makes the conditional write fail.
      outsideConfirmed = true;
      const fresh = await options.reobserve();
      if (!fresh) {
        const action: MarketAction = { kind: 'skip', asgName, reason: 'the group is no longer managed' };
        await executeActions([action], ctx);
        return { asgName, outcome: 'skipped', action };
      }
      view = { ...fresh, stored, input: { ...fresh.input, state: stored.state } };
      attempt--;
      continue;
    }
    outsideConfirmed = false;
    const { action } = decision;

    if (ctx.dryRun || table === '') {
      const [done] = await executeActions([action], { ...ctx, dryRun: true });
      return { asgName, outcome: done?.outcome === 'dry-run' ? 'dry-run' : 'skipped', action };
    }

    if (action.kind === 'skip' || action.kind === 'setSpotMaxPrice' || action.kind === 'setOverrides') {
      // A pool cap is one idempotent call (the same price whoever sets it), so the state goes first and a
      // racing check that lost the write re-decides; a call that fails is set again by the next check.
      if (decision.state && marketStateChanged(stored.state, decision.state)) {
        try {
          await writeMarketState(table, asgName, decision.state, stored.version, stored.others);
        } catch (error) {
          if (error instanceof StaleStateError) continue;
          throw error;
        }
      }
      await executeActions([action], ctx);
      // Told once: the state that records it is written (conditionally) first, so a racing check that lost the
      // write re-decides on the winner's state, which already holds it, and says nothing.
      if (decision.notice) await fallbackFailing(config, view, decision.notice, now, ctx.eventId);
      return { asgName, outcome: action.kind === 'skip' ? 'skipped' : 'steered', action };
    }

    // Claim the swap: only one of several racing checks gets past this write.
    let claimed: number;
    try {
      claimed = await writeMarketState(table, asgName, decision.state!, stored.version, stored.others);
    } catch (error) {
      if (error instanceof StaleStateError) continue;
      throw error;
    }
    try {
      await executeActions([action], ctx);
    } catch (error) {
      if (error instanceof LaunchConfigurationRefusedError) {
        await refused(config, view, decision.state!, claimed, stored.others, error, now);
        return { asgName, outcome: 'refused', action };
      }
      // Leave the claim in place, marked failed, so the next check (or Lambda's retry) finishes the swap.
      const failedState: MarketState = {
        ...decision.state!,
        pending: { ...decision.state!.pending!, failed: errorMessage(error) },
        lastError: { at: now.toISOString(), message: errorMessage(error) },
      };
      await writeMarketState(table, asgName, failedState, claimed, stored.others).catch((writeError: unknown) =>
        logger.warn('could not mark the failed swap in the state table; it times out instead', {
          asgName,
          error: errorMessage(writeError),
        }),
      );
      throw error;
    }
    const unrecorded = await commit(table, asgName, decision.after!, claimed, stored.others);
    // The swap is done whatever happened to its record: the SNS message and the count go out.
    await announce(config, view, action, now, ctx.eventId);
    if (unrecorded) {
      throw new SwapNotRecordedError(
        `${asgName} now launches ${decision.after!.market}, but recording that in the state table failed (${unrecorded}); ` +
          `the claim stays until its lease ends, then the next check finishes the record`,
      );
    }
    return { asgName, outcome: 'swapped', action };
  }

  const reason = `lost the race for the group's state ${MAX_ATTEMPTS} times: another check is deciding; the next check re-reads`;
  const action: MarketAction = { kind: 'skip', asgName, reason };
  await executeActions([action], ctx);
  return { asgName, outcome: 'skipped', action };
}

/**
 * Writes the post-swap state. A lost reply (the connection reset after DynamoDB applied the write) makes the SDK
 * retry the same conditional put, which then fails its own condition: read back, and if the stored state is the
 * one this check wrote (the next version, the claim cleared, the same market since the same time), it is
 * recorded. Returns why it was not, or undefined when it was.
 */
async function commit(
  table: string,
  asgName: string,
  after: MarketState,
  claimed: number,
  others: Record<string, unknown>,
): Promise<string | undefined> {
  try {
    await writeMarketState(table, asgName, after, claimed, others);
    return undefined;
  } catch (error) {
    const back = await readMarketState(table, asgName).catch(() => undefined);
    const mine =
      back?.version === claimed + 1 && back.state !== undefined && !back.state.pending && back.state.market === after.market && back.state.since === after.since;
    if (mine) {
      logger.info('the post-swap state write succeeded though its reply was lost', { asgName, error: errorMessage(error) });
      return undefined;
    }
    return errorMessage(error);
  }
}

/** One SNS message per swap (and per breaker trip, which is a swap with trigger `breaker`), one count. */
async function announce(config: Readonly<Config>, view: GroupMarketView, action: MarketAction, now: Date, eventId: string) {
  if (action.kind === 'skip') return;
  const to = action.kind === 'swapToOnDemand' ? 'on-demand' : 'spot';
  const trigger = action.kind === 'swapToOnDemand' ? action.trigger : 'price';
  countEvent('swap', { farm: view.group.farm, asgName: action.asgName, to, trigger });
  if (trigger === 'breaker') countEvent('breakerTrip', { farm: view.group.farm, asgName: action.asgName });
  const subject =
    trigger === 'breaker'
      ? `spotfarm: breaker tripped, ${action.asgName} now launches on-demand`
      : `spotfarm: ${action.asgName} now launches ${to}`;
  await notify(config.topicArn, subject, {
    group: action.asgName,
    farm: view.group.farm,
    swap: to,
    trigger,
    reason: action.reason,
    at: now.toISOString(),
    eventId,
    figures: action.figures ?? {},
    runningInstances: view.group.group.instances.filter(isRunning).length,
    note:
      action.kind === 'swapToOnDemand'
        ? swapNote(action.from, view.input.signals.fallbackRoom)
        : action.kind === 'swapToSpot'
          ? swapNote(action.to)
          : 'running instances keep the max price they launched with',
  });
  logger.info('market swap', { asgName: action.asgName, to, trigger });
}

/**
 * What the swap does to running instances, truthfully per style (docs/market.md). `fallbackRoom` (a fall-back
 * only): what the farm's on-demand group can still add; a mixed-instances group that falls back through it while
 * it is at its max gets nothing from it until it has room, and the message says so rather than promise the share.
 */
export function swapNote(originals: MarketOriginals, fallbackRoom?: number): string {
  if (originals.style === 'mixed-instances') {
    if (originals.fallback === 'on-demand-group' && fallbackRoom === 0) {
      return "the group itself is unchanged; the farm's on-demand group is at its max now, so nothing takes the group's share until it has room (raise its max if this lasts); running instances are not touched";
    }
    return originals.fallback === 'on-demand-group'
      ? 'the group itself is unchanged; the queue scaler gives its share to the farm\'s on-demand group; running instances are not touched'
      : 'the on-demand percentage changed: Auto Scaling gradually replaces running instances to reach the new mix, interrupting their jobs';
  }
  return 'running instances are not touched; only new instances launch in the new market';
}

/**
 * The group fell back to on-demand and its on-demand launches fail (no on-demand capacity, or the launch is
 * refused): the fall-back did not restore capacity. One SNS message per fall-back and an error log line; the
 * group stays on on-demand under the usual return rules, and the farm's on-demand group covers the shortfall.
 */
async function fallbackFailing(config: Readonly<Config>, view: GroupMarketView, notice: FallbackFailingNotice, now: Date, eventId: string): Promise<void> {
  const cover =
    notice.fallbackRoom > 0
      ? `the farm's on-demand group covers the group's shortfall after fallbackDelay (room for ${notice.fallbackRoom} more)`
      : 'the farm has no on-demand group with room to cover the shortfall: fix what AWS refuses (message) or give the farm an on-demand group';
  logger.error('fall-back to on-demand did not restore capacity: on-demand launches fail', {
    asgName: notice.asgName,
    failures: notice.failures,
    message: notice.message,
    fallenBackAt: notice.fallenBackAt,
  });
  await notify(config.topicArn, `spotfarm: ${notice.asgName} fell back to on-demand, but its on-demand launches fail`, {
    group: notice.asgName,
    farm: view.group.farm,
    problem: 'the fall-back to on-demand did not restore capacity',
    failures: notice.failures,
    message: notice.message,
    fallenBackAt: notice.fallenBackAt,
    at: now.toISOString(),
    eventId,
    whatNow: `the group stays on on-demand and returns to spot under the usual rules (no early return, no retry loop); ${cover}`,
  });
}

/** Launch configurations cannot be created in this account: say so once per group, then leave it alone. */
async function refused(
  config: Readonly<Config>,
  view: GroupMarketView,
  claim: MarketState,
  version: number,
  others: Record<string, unknown>,
  error: LaunchConfigurationRefusedError,
  now: Date,
): Promise<void> {
  const first = !view.stored.state?.launchConfigurationRefused;
  const state: MarketState = {
    ...claim,
    pending: undefined,
    launchConfigurationRefused: { at: now.toISOString(), message: error.awsMessage },
  };
  await writeMarketState(config.stateTable, view.input.asgName, state, version, others);
  logger.error('cannot swap: launch configurations cannot be created in this account', {
    asgName: view.input.asgName,
    error: error.message,
  });
  if (first) {
    await notify(config.topicArn, `spotfarm: ${view.input.asgName} cannot fall back: move it to a launch template`, {
      group: view.input.asgName,
      problem: error.message,
      at: now.toISOString(),
    });
  }
}

/**
 * The figures of one check of a spot group, those the dashboard plots: prices, market, estimated savings per
 * hour. One log line per check (src/figures.ts: a line costs its bytes, a metric series $0.30 a month).
 */
export function logGroupFigures(view: GroupMarketView): void {
  const g = view.group;
  if (g.role !== 'spot' || g.problems.length > 0) return;
  const { spotPrice, onDemandPrice } = view.input.signals;
  const savings = estimatedSavingsPerHour(view);
  logMarketFigures({
    farm: g.farm,
    asgName: g.group.name,
    onSpot: g.market === 'on-demand' ? 0 : 1,
    ...(spotPrice !== undefined ? { spotPrice } : {}),
    ...(onDemandPrice !== undefined ? { onDemandPrice } : {}),
    ...(savings !== undefined ? { savingsPerHour: savings } : {}),
  });
}

/** What the group's running spot instances save per hour against on-demand, at today's prices (USD). */
export function estimatedSavingsPerHour(view: GroupMarketView): number | undefined {
  const g = view.group;
  let savings = 0;
  for (const instance of g.group.instances.filter(isRunning)) {
    const market = g.instanceMarkets[instance.id] ?? (g.market === 'spot' ? 'spot' : undefined);
    if (market !== 'spot') continue;
    const od = g.onDemandPrices[instance.type]?.usdPerHour;
    const spot = g.spotPrices.find((p) => p.instanceType === instance.type && p.availabilityZone === instance.availabilityZone)?.spot;
    if (od === undefined || spot === undefined) continue;
    savings += od - spot;
  }
  return Math.round(savings * 10_000) / 10_000;
}
