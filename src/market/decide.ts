/**
 * The market controller's decision, pure: `decideMarket(input, settings, now, options)` -> one action (swap to
 * on-demand, swap back to spot, or skip with the reason) and the state to store. `now` is the wall clock at the
 * check (dwell, back-off, the swap lease); the event's own time (`options.eventTime`) only dedupes.
 *
 * Rules (docs/market.md "When a group swaps"; every threshold is a per-group setting):
 * - To on-demand when, for `confirmChecks` consecutive checks, the group's spot/on-demand ratio
 *   (src/prices.ts) is >= `swapRatio` (whatever the room: a swap stops spot relaunching into a spike); at once
 *   when capacity failures in `capacityWindow` reach `capacityFailures` while the group is short, or when the
 *   group's pools were interrupted
 *   at `breakerInterruptions` per instance-hour over `breakerWindow` (and at least BREAKER_MIN_INTERRUPTIONS times)
 *   with no good pool left; or when forced (a user's manual fall-back). Capacity failures are a shortfall: while
 *   the farm's on-demand group has room it covers them (the capacity controller, as the promised wait needs, and
 *   only until spot is back), and the group falls back only once that group is full or absent; a swap would buy
 *   on-demand the wait does not need and hold it for the dwell.
 *   The interruption controller's breaker trip and capacity burst only ask for a check now: this same rule decides.
 * - Back to spot only after the dwell (`minDwell`, doubled per back-off level, at most 24 h) on on-demand, with
 *   the ratio <= `swapRatio - hysteresis` for `confirmChecks` consecutive checks, no capacity failure in the
 *   window and the breaker quiet.
 * - Back-off: a fall-back within the dwell after a return to spot doubles the next dwell; a day without a
 *   fall-back resets it.
 * - A check for an event dated at or before the last one that counted (a duplicated or late event) changes nothing.
 * - A swap another check has claimed and not finished (state.pending, a lease on the wall clock) makes this check
 *   stand back until the lease expires or the claimant marks it failed.
 */
import { skip } from '../actions';
import { breakerState } from '../breaker';
import type { MarketAction, SetOverridesAction, SetSpotMaxPriceAction, SwapToOnDemandAction, SwapToSpotAction } from './actions';
import {
  initialMarketState,
  MAX_DWELL_SECONDS,
  PENDING_TIMEOUT_SECONDS,
  QUIET_PERIOD_SECONDS,
  type MarketOriginals,
  type MarketState,
  type MarketTrigger,
} from './state';
import type { LaunchMarket } from '../observe';
import { assessPools, decidePoolCap, decideTypeDrop, describePools, groupBreakerTripped, spotSourceOf, type PoolAssessment, type PoolSignal } from './pools';
import type { GroupRole, GroupSettings } from '../settings';
import type { MixedOverride } from '../model';

export { breakerState, BREAKER_MIN_INSTANCE_HOURS, BREAKER_MIN_INTERRUPTIONS } from '../breaker';
export type { MarketAction } from './actions';

export interface MarketSignals {
  /** Spot / on-demand as src/prices.ts defines it; undefined when no pool is priced. */
  ratio: number | undefined;
  spotPrice: number | undefined;
  onDemandPrice: number | undefined;
  /**
   * AZs where the group can launch spot now (its cheapest type priced at or below the max price, src/prices.ts).
   * 0: spot is above the max price everywhere, so spot launches fail and running spot instances are interrupted
   * (EC2 never bills a spot instance above its max price); the decision's reason says so. Undefined (an older
   * caller): taken as launchable.
   */
  launchableAzs?: number;
  /** Spot capacity failures (launches refused for capacity or price) in the last `capacityWindow`. */
  capacityFailures: number;
  /**
   * Instances the group is short of its desired capacity now (desired - pending - in service). Failures only
   * count as "spot capacity failing" while the group is short: when Auto Scaling placed the instances in other
   * pools, spot still delivers.
   */
  shortfall: number;
  /**
   * Instances the farm's on-demand fallback group can still add (its max - desired; 0 without one). The capacity
   * controller covers a spot shortfall with that group, when and as far as the promised wait needs it, and gives
   * the cover back as soon as spot instances are in service again, which is cheaper than moving the spot group
   * itself: so while this is above 0 the farm has another route to on-demand and capacity failures do not move
   * the group (otherRouteToOnDemand).
   */
  fallbackRoom: number;
  /**
   * Failed on-demand launches of the group since it fell back, in the last `capacityWindow` (any refusal: no
   * on-demand capacity, the template's launch refused, a quota). The fall-back did not restore capacity.
   */
  onDemandFailures?: number;
  /** The newest of them, in AWS's words. */
  onDemandFailure?: string;
  /** Interruptions recorded in the group's pools in the last `breakerWindow`. */
  interruptions: number;
  /** Running instances of the group: the exposure the interruption rate is per. */
  instances: number;
  /**
   * The group's pools, each with its price and its own breaker evidence (src/market/pools.ts). With them the
   * breaker moves the whole group only when no good pool is left; without them (an older caller) the group's
   * interruptions are weighed as one pool.
   */
  pools?: PoolSignal[];
  /** The group's instance types and its spot max price now (undefined: on-demand), for steering by the max price. */
  instanceTypes?: string[];
  spotMaxPrice?: number | undefined;
  /**
   * A launch-template group under a pool cap whose owner's source is `$Latest` or `$Default`: the number it
   * resolves to now (the capped copy is made again when the owner publishes).
   */
  capSourceVersion?: number | undefined;
  /** Mixed instances: the policy's overrides, each type's on-demand price, and the pools of the types spotfarm dropped. */
  overrides?: MixedOverride[];
  onDemandByType?: Record<string, number | undefined>;
  droppedPools?: PoolSignal[];
}

export interface MarketInput {
  asgName: string;
  role: GroupRole;
  /** What new instances get now, read from the group's launch source; undefined when unreadable. */
  observed: LaunchMarket | undefined;
  /** The group's launch source now, in the form a fall-back remembers; undefined when unreadable. */
  current: MarketOriginals | undefined;
  /** Why the group cannot be managed as it stands (from the observation). */
  problems: string[];
  signals: MarketSignals;
  /** Stored state; undefined for a group the controller has never seen. */
  state: MarketState | undefined;
}

export interface MarketOptions {
  /** Identifies this check in a pending-swap claim (`<function>:<event id>`). */
  checkId: string;
  /** Fall back now whatever the price (a user's manual fall-back). */
  force?: { trigger: MarketTrigger; reason: string };
  /** A dry run decides as if the check counted, even for a time already checked (nothing is stored). */
  dryRun?: boolean;
  /**
   * The time of the event that asked for this check (data; never later than `now`): a check for an event at or
   * before the last one that counted changes nothing. Default `now`.
   */
  eventTime?: Date;
  /**
   * A check asked for by a signal (a breaker trip, a capacity burst), not the schedule: it may fall back by the
   * breaker or capacity rule only. Price streaks and returns to spot are the schedule's, so a storm of signals
   * neither confirms a price spike in seconds nor moves the group back and forth between ticks.
   */
  signal?: boolean;
}

export interface MarketDecision {
  action: MarketAction;
  /** The state to store now (streaks, last check; with `pending` set when the action is a swap). */
  state: MarketState | undefined;
  /** The state to store once the swap has succeeded. */
  after: MarketState | undefined;
  /**
   * The decision concludes that someone outside spotfarm changed the group's market (the stored market and the
   * group's launch source disagree with no claim to explain it). Only trustworthy when the group was observed
   * after the state was read: the controller confirms it so (src/market/controller.ts).
   */
  outside?: true;
  /**
   * The group's on-demand launches fail since its fall-back, seen for the first time this fall-back: the
   * controller tells the user once (SNS) after the state that records it is written.
   */
  notice?: FallbackFailingNotice;
}

/** A fall-back to on-demand that did not restore capacity: its on-demand launches fail. */
export interface FallbackFailingNotice {
  asgName: string;
  failures: number;
  message: string;
  fallenBackAt: string;
  fallbackRoom: number;
}

/** Seconds the group must stay on on-demand before a return, at back-off level `backoff`. */
export function dwellSeconds(settings: Pick<GroupSettings, 'minDwell'>, backoff: number): number {
  return Math.min(settings.minDwell * 2 ** backoff, Math.max(MAX_DWELL_SECONDS, settings.minDwell));
}

/** When a claim's lease ends (wall clock, epoch ms); a claim stored before leases had `until` ends at+timeout. */
export function leaseExpiry(pending: NonNullable<MarketState['pending']>): number {
  const until = pending.until === undefined ? NaN : Date.parse(pending.until);
  return Number.isNaN(until) ? Date.parse(pending.at) + PENDING_TIMEOUT_SECONDS * 1000 : until;
}

/** The group's breaker: per pool when the pools are known (the group trips only with no good pool left). */
export function groupBreaker(
  signals: Pick<MarketSignals, 'interruptions' | 'instances' | 'pools' | 'ratio'>,
  settings: Pick<GroupSettings, 'swapRatio' | 'breakerInterruptions' | 'breakerWindow'>,
): { rate: number; tripped: boolean; why: string; pools: PoolAssessment[] | undefined } {
  if (!signals.pools || signals.pools.length === 0) return { ...breakerState(signals.interruptions, signals.instances, settings), pools: undefined };
  const pools = assessPools(signals.pools, settings);
  const tripped = groupBreakerTripped(pools);
  const worst = pools.reduce<PoolAssessment | undefined>((w, p) => (!w || p.breaker.rate > w.breaker.rate ? p : w), undefined);
  const out = pools.filter((p) => p.status === 'out');
  const why = tripped
    ? `no good pool left: ${describePools(out).join('; ')}`
    : out.some((p) => p.reasons.includes('breaker'))
      ? `${out.filter((p) => p.reasons.includes('breaker')).map((p) => `${p.pool} tripped (${p.breaker.why})`).join('; ')}, but ${pools.length - out.length} good pool(s) left: the group stays`
      : (worst?.breaker.why ?? 'no interruptions');
  return { rate: worst?.breaker.rate ?? 0, tripped, why, pools };
}

const seconds = (from: string | undefined, now: Date): number =>
  from === undefined ? Infinity : (now.getTime() - Date.parse(from)) / 1000;

const round = (n: number | undefined, digits = 4): number | undefined =>
  n === undefined ? undefined : Math.round(n * 10 ** digits) / 10 ** digits;

export function decideMarket(
  input: MarketInput,
  settings: GroupSettings,
  now: Date,
  options: MarketOptions,
): MarketDecision {
  if (!options.signal) return decideScheduled(input, settings, now, options);
  const decision = decideScheduled(input, settings, now, { ...options, signal: false });
  const { action } = decision;
  if (action.kind === 'swapToOnDemand' && (action.trigger === 'breaker' || action.trigger === 'capacity')) return decision;
  if (action.kind === 'skip' && !decision.state?.pending) {
    return { action: { ...action, reason: `${action.reason} (a signalled check: nothing stored)` }, state: undefined, after: undefined };
  }
  return {
    action: skip(input.asgName, `a signalled check falls back only for the breaker or capacity; ${action.kind === 'skip' ? action.reason : `the schedule decides "${action.reason}"`}`, action.figures),
    state: undefined,
    after: undefined,
  };
}

function decideScheduled(
  input: MarketInput,
  settings: GroupSettings,
  now: Date,
  options: MarketOptions,
): MarketDecision {
  const { asgName, signals } = input;
  const at = now.toISOString();
  const eventAt = options.eventTime && options.eventTime.getTime() < now.getTime() ? options.eventTime : now;
  const checkedAt = eventAt.toISOString();
  const breaker = groupBreaker(signals, settings);
  const figures: Record<string, unknown> = {
    ratio: round(signals.ratio),
    spotPrice: round(signals.spotPrice, 6),
    onDemandPrice: round(signals.onDemandPrice, 6),
    swapRatio: settings.swapRatio,
    returnAtOrBelow: round(settings.swapRatio - settings.hysteresis),
    capacityFailures: signals.capacityFailures,
    capacityFailuresLimit: settings.capacityFailures,
    shortfall: signals.shortfall,
    fallbackRoom: signals.fallbackRoom,
    interruptions: signals.interruptions,
    interruptionRate: round(breaker.rate),
    breakerInterruptions: settings.breakerInterruptions,
    breaker: breaker.why,
    ...(breaker.pools ? { pools: describePools(breaker.pools) } : {}),
  };
  const leaseUntil = new Date(now.getTime() + PENDING_TIMEOUT_SECONDS * 1000).toISOString();
  const nothing = (reason: string, state?: MarketState): MarketDecision => ({
    action: skip(asgName, reason, figures),
    state,
    after: undefined,
  });

  if (input.role !== 'spot') return nothing('on-demand fallback group: the market controller leaves it alone');
  if (input.problems.length > 0) return nothing(`cannot manage the group's market: ${input.problems.join('; ')}`);
  if (input.observed === undefined || input.current === undefined) {
    return nothing("cannot manage the group's market: its launch source could not be read");
  }

  const stored = input.state;
  if (stored?.pending && !stored.pending.failed && now.getTime() < leaseExpiry(stored.pending)) {
    // The lease is on the wall clock and ends at `until` whatever the events' times: a claim is never taken over
    // early, not even by a retry of the claimant's own event (Lambda may run the same event twice at once).
    return nothing(
      `a swap to ${stored.pending.to} claimed by ${stored.pending.by} at ${stored.pending.at} is in progress (its lease runs until ${new Date(leaseExpiry(stored.pending)).toISOString()})`,
    );
  }
  // A swap left half done is worth finishing even on a retried event, so only a clean state dedupes.
  if (!options.force && !options.dryRun && !stored?.pending && stored?.lastCheckAt !== undefined && Date.parse(stored.lastCheckAt) >= eventAt.getTime()) {
    return nothing(`duplicate or late check: the group was already checked for an event at ${stored.lastCheckAt}`);
  }

  const observedMarket = input.observed === 'on-demand' ? 'on-demand' : 'spot';
  // Not in progress (checked above), so a pending swap here was abandoned half way by a failed check.
  const abandoned = stored?.pending;
  let state: MarketState;
  if (!stored) {
    if (observedMarket === 'on-demand') {
      return nothing(
        'the group launches on-demand and spotfarm has no record of its spot configuration: set it to spot once and spotfarm takes it from there',
      );
    }
    state = initialMarketState('spot', now);
  } else if (stored.market === 'spot' && observedMarket === 'on-demand') {
    if (abandoned?.to === 'on-demand' && stored.originals) {
      // A template group following $Latest launches on-demand as soon as the new version exists: finish the job.
      const reason = `finishing the swap to on-demand that ${abandoned.by} started at ${abandoned.at}`;
      return fallBack({ ...stored, pending: undefined, lastCheckAt: checkedAt }, abandoned.trigger ?? 'price', reason, stored.originals, false);
    }
    return {
      ...nothing('the group was moved to on-demand outside spotfarm: leaving it alone until it launches spot again', {
        ...stored,
        pending: undefined,
        lastCheckAt: checkedAt,
      }),
      outside: true,
    };
  } else if (stored.market === 'on-demand' && observedMarket === 'spot') {
    if (abandoned?.to === 'spot' && stored.originals) {
      const reason = `finishing the return to spot that ${abandoned.by} started at ${abandoned.at}`;
      return goBack({ ...stored, pending: undefined, lastCheckAt: checkedAt }, reason, stored.originals);
    }
    // Someone put the group back on spot by hand: follow them rather than fight them.
    state = { ...initialMarketState('spot', now), backoff: stored.backoff, lastFallbackAt: stored.lastFallbackAt, lastReturnAt: at };
    state.lastCheckAt = checkedAt;
    return { ...nothing('the group was put back on spot outside spotfarm: following it', state), outside: true };
  } else {
    state = { ...stored, pending: undefined };
  }
  state.lastCheckAt = checkedAt;
  const previouslyOut = state.poolsOut;
  if (breaker.pools) state.poolsOut = poolsOut(breaker.pools, state.poolsOut, at);
  const inMarket = seconds(state.since, now);

  if (state.market === 'spot') {
    // A day without a fall-back forgets the back-off.
    if (state.backoff > 0 && seconds(state.lastFallbackAt, now) >= QUIET_PERIOD_SECONDS) state.backoff = 0;
    const high = signals.ratio !== undefined && signals.ratio >= settings.swapRatio;
    state.highStreak = high ? state.highStreak + 1 : 0;
    state.lowStreak = 0;
    figures.highStreak = state.highStreak;
    figures.confirmChecks = settings.confirmChecks;

    // The farm's other route to on-demand: its on-demand group, while it has room. A spot capacity shortfall is
    // the capacity controller's to cover with that group, as far as the promised wait needs it; the group falls
    // back for capacity only when the farm has no other route. (Price is not a shortfall: see the price rule.)
    // A mixed-instances group that falls back through the on-demand group (mixedFallback=on-demand-group) has no
    // route of its own: its fall-back is that group taking its share, the cover's route too. With room the cover
    // takes the shortfall as the wait needs it; without, the fall-back would add nothing and only stop the group's
    // spot launches until its return.
    const through = input.current.style === 'mixed-instances' && input.current.fallback === 'on-demand-group';
    const route = otherRouteToOnDemand(signals, through);
    const noRoute = "the farm's on-demand group has no room (or there is none): no other route to on-demand";
    const capacityShort = signals.capacityFailures >= settings.capacityFailures && signals.shortfall > 0;
    const priceConfirmed = high && state.highStreak >= settings.confirmChecks;
    // Price falls back whatever the room. Where spot still launches at this price (at or below the max price) the
    // group pays it and no launch fails, so nothing else brings on-demand in. Above the max price in every AZ spot
    // launches fail and EC2 interrupts the running spot instances (billing none above its max price, nor one it
    // interrupts in its first hour), but a spike flickers: the group relaunches spot in every dip and loses it at
    // the next jump, each time handing its jobs back, and the cover (which leaves as soon as spot is in service)
    // follows it. Only the swap's dwell stops that; measured, deferring such spikes to the cover bounced jobs up to
    // 30 times and dead-lettered two on the bundled default (docs/market.md).
    const launchable = signals.launchableAzs === undefined || signals.launchableAzs > 0;
    figures.launchableAzs = signals.launchableAzs;

    let trigger: MarketTrigger | undefined;
    let reason = '';
    if (options.force) {
      trigger = options.force.trigger;
      reason = options.force.reason;
    } else if (capacityShort && route === undefined) {
      trigger = 'capacity';
      reason = `${signals.capacityFailures} spot capacity failures in the last ${settings.capacityWindow / 60} min (limit ${settings.capacityFailures}) and the group is ${signals.shortfall} short of desired, ${noRoute}`;
    } else if (breaker.tripped) {
      trigger = 'breaker';
      reason = `interruption breaker: ${signals.interruptions} interruptions in the group's pools in the last ${settings.breakerWindow / 60} min; ${breaker.why}`;
    } else if (priceConfirmed) {
      trigger = 'price';
      reason = launchable
        ? `spot costs ${round(signals.ratio)} x on-demand, at or above swapRatio ${settings.swapRatio}, for ${state.highStreak} checks`
        : `spot costs ${round(signals.ratio)} x on-demand, above the max price in every AZ, for ${state.highStreak} checks: the fall-back stops the group relaunching spot into the spike (an instance launched in a dip is interrupted when the price jumps again, handing its jobs back), which the on-demand group's cover cannot`;
    }
    // Why a signal that reached its threshold did not move the group (said in the decision's reason).
    const held: string[] = [];
    if (!trigger && capacityShort) {
      held.push(`${signals.capacityFailures} spot capacity failures in the last ${settings.capacityWindow / 60} min and the group is ${signals.shortfall} short, but ${route}`);
    }
    if (held.length) figures.held = held;

    if (!trigger) {
      // A multi-type mixed group first drops a type bad in every AZ (or restores one); the cap handles the rest.
      const drop = breaker.pools
        ? decideTypeDrop({
            style: input.current.style,
            overrides: signals.overrides,
            assessed: breaker.pools,
            droppedAssessed: signals.droppedPools ? assessPools(signals.droppedPools, settings) : [],
            previouslyOut,
            onDemandByType: signals.onDemandByType ?? {},
            currentMax: signals.spotMaxPrice,
            state,
            settings,
            dwellSeconds: (level) => dwellSeconds(settings, level),
            now,
          })
        : undefined;
      if (drop) {
        Object.assign(state, drop.state);
        figures.instanceTypes = drop.reason;
        if (drop.change) {
          const action: SetOverridesAction = { kind: 'setOverrides', asgName, reason: drop.reason, figures, change: drop.change };
          return { action, state, after: undefined };
        }
      }
      const cap = breaker.pools && !(state.launchConfigurationRefused && input.current.style === 'launch-configuration')
        ? decidePoolCap({
            style: input.current.style,
            current: input.current,
            sourceVersion: signals.capSourceVersion,
            instanceTypes: signals.instanceTypes ?? [],
            onDemand: signals.onDemandPrice,
            ...(signals.onDemandByType ? { onDemandByType: signals.onDemandByType } : {}),
            currentMax: signals.spotMaxPrice,
            assessed: breaker.pools,
            previouslyOut,
            state,
            settings,
            dwellSeconds: (level) => dwellSeconds(settings, level),
            now,
          })
        : undefined;
      if (cap) {
        Object.assign(state, cap.state);
        figures.poolCap = cap.reason;
        if (cap.maxPrice !== undefined) {
          const action: SetSpotMaxPriceAction = {
            kind: 'setSpotMaxPrice',
            asgName,
            reason: cap.reason,
            figures,
            maxPrice: cap.maxPrice,
            // A copied cap is made from (and lifted back to) the owner's source, never from spotfarm's copy.
            source: spotSourceOf(input.current, { poolCap: input.state?.poolCap }, signals.spotMaxPrice),
            ...(cap.restore ? { restore: true as const } : {}),
            ...(cap.copyVersion !== undefined ? { copyVersion: cap.copyVersion } : {}),
          };
          return { action, state, after: undefined };
        }
      }
      const capNote = (drop ? `; ${drop.reason}` : '') + (cap ? `; ${cap.reason}` : '');
      const heldNote = held.length ? `${held.join('; ')}; ` : '';
      if (signals.ratio === undefined) return nothing(`staying on spot: ${heldNote}no spot price for any of the group's pools${capNote}`, state);
      return nothing(
        `staying on spot: ${heldNote}` +
          (high
            ? `spot costs ${round(signals.ratio)} x on-demand (>= ${settings.swapRatio}) for ${state.highStreak} of ${settings.confirmChecks} checks`
            : `spot costs ${round(signals.ratio)} x on-demand, below swapRatio ${settings.swapRatio}`) +
          capNote,
        state,
      );
    }
    if (state.launchConfigurationRefused && input.current.style === 'launch-configuration') {
      return nothing(
        `would fall back to on-demand (${reason}) but this account cannot create launch configurations: move the group to a launch template`,
        state,
      );
    }

    // Under a copied pool cap the group launches from spotfarm's copy: the fall-back remembers the owner's source.
    return fallBack(state, trigger, reason, spotSourceOf(input.current, state, signals.spotMaxPrice), true);
  }

  // On on-demand.
  const low = signals.ratio !== undefined && signals.ratio <= settings.swapRatio - settings.hysteresis;
  state.lowStreak = low ? state.lowStreak + 1 : 0;
  state.highStreak = 0;
  const dwell = dwellSeconds(settings, state.backoff);
  figures.lowStreak = state.lowStreak;
  figures.confirmChecks = settings.confirmChecks;
  figures.dwellSeconds = dwell;
  figures.onDemandForSeconds = Math.round(inMarket);
  // The fall-back's own launches fail (no on-demand capacity, or the launch refused): it did not restore
  // capacity. Returning to spot early would not fix a refused launch and would flap with the rule that fell back,
  // so the group stays under the same return rules; the capacity controller's on-demand group covers the spot
  // group's shortfall after fallbackDelay, as for any shortfall. Said once per fall-back (notice), and in every
  // decision while it lasts.
  let failing = '';
  let notice: FallbackFailingNotice | undefined;
  const onDemandFailures = signals.onDemandFailures ?? 0;
  if (onDemandFailures > 0 && signals.onDemandFailure !== undefined) {
    figures.onDemandFailures = onDemandFailures;
    if (!state.fallbackFailing) {
      state.fallbackFailing = { since: at, message: signals.onDemandFailure };
      notice = { asgName, failures: onDemandFailures, message: signals.onDemandFailure, fallenBackAt: state.since, fallbackRoom: signals.fallbackRoom };
    }
    failing =
      `the fall-back did not restore capacity: ${onDemandFailures} on-demand launch(es) failed in the last ${settings.capacityWindow / 60} min (newest: "${signals.onDemandFailure.slice(0, 160)}"); ` +
      (signals.fallbackRoom > 0
        ? `the farm's on-demand group covers the shortfall (room for ${signals.fallbackRoom}); `
        : 'the farm\'s on-demand group has no room to cover it; ');
  }
  const stay = (reason: string): MarketDecision => ({ ...nothing(failing + reason, state), ...(notice ? { notice } : {}) });
  if (options.force) return stay(`already on on-demand (${options.force.reason})`);
  if (!state.originals) return stay('on on-demand with no remembered spot configuration to return to');
  if (inMarket < dwell) {
    return stay(`staying on on-demand: ${Math.ceil((dwell - inMarket) / 60)} min of the ${dwell / 60} min dwell left`);
  }
  if (signals.capacityFailures > 0) {
    return stay(`staying on on-demand: ${signals.capacityFailures} capacity failures in the last ${settings.capacityWindow / 60} min`);
  }
  if (breaker.tripped) {
    return stay(`staying on on-demand: the interruption breaker is still tripped (${breaker.why})`);
  }
  if (signals.ratio === undefined) return stay("staying on on-demand: no spot price for any of the group's pools");
  if (!low) {
    return stay(
      `staying on on-demand: spot costs ${round(signals.ratio)} x on-demand, above ${round(settings.swapRatio - settings.hysteresis)} (swapRatio - hysteresis)`,
    );
  }
  if (state.lowStreak < settings.confirmChecks) {
    return stay(`staying on on-demand: spot cheap enough for ${state.lowStreak} of ${settings.confirmChecks} checks`);
  }
  return goBack(
    state,
    failing +
      `spot costs ${round(signals.ratio)} x on-demand (<= ${round(settings.swapRatio - settings.hysteresis)}) for ${state.lowStreak} checks after ${Math.round(inMarket / 60)} min on on-demand`,
    state.originals,
  );

  function fallBack(state: MarketState, trigger: MarketTrigger, reason: string, from: MarketOriginals, fresh: boolean): MarketDecision {
    // A fall-back within the dwell just served after a return to spot: flapping, so the next dwell doubles.
    const dwellServed = dwellSeconds(settings, state.backoff);
    const flapped = fresh && seconds(state.lastReturnAt, now) < dwellServed;
    const backoff = flapped && dwellSeconds(settings, state.backoff + 1) > dwellServed ? state.backoff + 1 : state.backoff;
    figures.trigger = trigger;
    figures.nextDwellSeconds = dwellSeconds(settings, backoff);
    // A copied cap ends with the fall-back (the return points the group at the owner's source, uncapped; the pools
    // decide afresh); a mixed group's cap is its policy's SpotMaxPrice, which the fall-back leaves alone.
    const capEnds = state.poolCap?.source !== undefined;
    const after: MarketState = {
      ...state,
      ...(capEnds ? { poolCap: undefined, poolCapLiftedAt: at } : {}),
      market: 'on-demand',
      since: at,
      highStreak: 0,
      lowStreak: 0,
      backoff,
      lastFallbackAt: at,
      lastFallbackTrigger: trigger,
      originals: from,
      pending: undefined,
      lastError: undefined,
      fallbackFailing: undefined,
    };
    const action: SwapToOnDemandAction = {
      kind: 'swapToOnDemand',
      asgName,
      reason: backoff > state.backoff ? `${reason}; back-off: the next dwell doubles to ${dwellSeconds(settings, backoff) / 60} min` : reason,
      figures,
      trigger,
      from,
    };
    // The claim remembers the originals already, so a swap abandoned half way can still be finished.
    return { action, state: { ...state, originals: from, pending: { to: 'on-demand', at, by: options.checkId, until: leaseUntil, trigger } }, after };
  }

  function goBack(state: MarketState, reason: string, to: MarketOriginals): MarketDecision {
    const after: MarketState = {
      ...state,
      market: 'spot',
      since: at,
      highStreak: 0,
      lowStreak: 0,
      lastReturnAt: at,
      pending: undefined,
      lastError: undefined,
      fallbackFailing: undefined,
    };
    const action: SwapToSpotAction = { kind: 'swapToSpot', asgName, reason, figures, to };
    return { action, state: { ...state, pending: { to: 'spot', at, by: options.checkId, until: leaseUntil } }, after };
  }
}

/**
 * The farm's other route to on-demand than moving the spot group (said in a decision's reason), or undefined
 * when it has none. The farm's on-demand group, while it has room, takes a spot shortfall (the capacity
 * controller, after fallbackDelay, or under `service` once the late jobs exceed what the p95 allows) and gives it
 * back as soon as spot instances are in service again; a swapped group holds on-demand for the dwell and keeps its
 * on-demand instances until it scales in. So the group falls back whole only once that group is full or absent,
 * and a group whose fall-back is that group taking its share (`throughOnDemandGroup`) never for a shortfall.
 */
export function otherRouteToOnDemand(signals: Pick<MarketSignals, 'fallbackRoom'>, throughOnDemandGroup = false): string | undefined {
  if (signals.fallbackRoom > 0) return `the farm's on-demand group covers the shortfall (room for ${signals.fallbackRoom} more)`;
  if (throughOnDemandGroup) {
    return "the group falls back through the farm's on-demand group (mixedFallback=on-demand-group), which has no room (or there is none): a fall-back would add no on-demand capacity and would stop the group's spot launches until its return";
  }
  return undefined;
}

/** The pools out now, each keeping the time it went out while it stays out. */
function poolsOut(
  assessed: readonly PoolAssessment[],
  before: MarketState['poolsOut'],
  at: string,
): MarketState['poolsOut'] {
  const out: NonNullable<MarketState['poolsOut']> = {};
  for (const a of assessed) if (a.status === 'out') out[a.pool] = { since: before?.[a.pool]?.since ?? at, reasons: a.reasons };
  return Object.keys(out).length ? out : undefined;
}
