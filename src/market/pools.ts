/**
 * Pools, not groups (pure): which of a spot group's pools (instance type x AZ) are good and which are out, and
 * why. A pool is out when its spot price is at or above the group's threshold (on-demand x `swapRatio`) or when
 * its own interruption breaker tripped. The group falls back whole only when no good pool is left (or, by the
 * capacity rule in decide.ts, when the good ones cannot hold the farm); one bad pool among good ones leaves the
 * group on spot.
 *
 * The breaker weighs evidence before a rate counts: at least BREAKER_MIN_INTERRUPTIONS interruptions (price
 * interruptions left out) and BREAKER_MIN_INSTANCE_HOURS instance-hours observed in the pool over
 * `breakerWindow`. Two interruptions among seven instances in an hour is 0.29 per instance-hour, over the 0.25
 * default, and still bad luck: on the bundled 2015 r3.large history such a "trip" moved a whole group to
 * on-demand while its other AZs were healthy.
 */
import { weighBreaker, type BreakerEvidence } from '../breaker';
import type { GroupSettings } from '../settings';
import type { MarketState } from './state';
import { canLaunchSpot } from '../pools';

export { BREAKER_MIN_INSTANCE_HOURS, BREAKER_MIN_INTERRUPTIONS, weighBreaker, type BreakerEvidence } from '../breaker';

/** What one pool's decision is made on. */
export interface PoolSignal {
  /** `<type>|<az>` (src/model.ts poolKey). */
  pool: string;
  instanceType: string;
  availabilityZone: string;
  /** Spot / on-demand of this pool now; undefined when unpriced. */
  ratio: number | undefined;
  /** Interruptions in the pool over `breakerWindow`, price interruptions left out. */
  interruptions: number;
  /** The group's running instances in the pool now. */
  instances: number;
}

const r2 = (n: number): number => Math.round(n * 100) / 100;

export type PoolStatus = 'good' | 'out';

export interface PoolAssessment {
  pool: string;
  status: PoolStatus;
  /** Why it is out: its price, its breaker, or both. */
  reasons: ('price' | 'breaker')[];
  ratio: number | undefined;
  breaker: BreakerEvidence;
}

/** Each pool good or out, by the price threshold and its own breaker. */
export function assessPools(
  pools: readonly PoolSignal[],
  settings: Pick<GroupSettings, 'swapRatio' | 'breakerInterruptions' | 'breakerWindow'>,
): PoolAssessment[] {
  return pools.map((p) => {
    const breaker = weighBreaker(p.interruptions, p.instances, settings);
    const reasons: PoolAssessment['reasons'] = [];
    if (p.ratio !== undefined && p.ratio >= settings.swapRatio) reasons.push('price');
    if (breaker.tripped) reasons.push('breaker');
    return { pool: p.pool, status: reasons.length ? 'out' : 'good', reasons, ratio: p.ratio, breaker };
  });
}

/**
 * Whether the group's breaker trips the whole group: some pool's breaker tripped and no good pool is left (every
 * pool out by price or breaker). One stormy pool among healthy ones leaves the group on spot: Auto
 * Scaling places new instances in the pools that launch, and the pool comes back when its breaker is quiet.
 */
export function groupBreakerTripped(assessed: readonly PoolAssessment[]): boolean {
  // A pool with no price yet and a quiet breaker counts as good: as far as anyone knows, it launches.
  return assessed.some((a) => a.reasons.includes('breaker')) && assessed.every((a) => a.status === 'out');
}

/** One line per pool for logs and plan: "c5.large|us-east-1a: out (breaker: 4 interruptions in ...)". */
export function describePools(assessed: readonly PoolAssessment[]): string[] {
  return assessed.map((a) => {
    const price = a.ratio === undefined ? 'no price' : `${r2(a.ratio)} x on-demand`;
    return a.status === 'good'
      ? `${a.pool}: good (${price}; ${a.breaker.why})`
      : `${a.pool}: out (${a.reasons.join(' and ')}; ${price}; ${a.breaker.why})`;
  });
}

/**
 * Steering by the spot max price (mixed-instances groups of one instance type): while
 * a pool's price is at or above on-demand x `swapRatio` on two checks in a row and still at or below the group's
 * max price (so Auto Scaling would launch there: canLaunchSpot), and another pool is cheap, the group's max price is
 * set to on-demand x (`swapRatio` - `hysteresis`). Auto Scaling then launches only in the pools priced at or
 * under the cap ("If your maximum price is lower than the Spot price ..., your Spot Instances are not launched",
 * API_InstancesDistribution), and a pool comes back by itself once its price is at or below the cap: the
 * hysteresis. Running instances keep the max price they launched with. The user's own max price comes back
 * after the dwell (`minDwell`, doubled when a cap is set again within the dwell after it was lifted) once every
 * pool has been at or below the return level for `confirmChecks` checks.
 *
 * Launch-template groups are not capped: the cap would be a new version of the owner's template, which becomes its
 * `$Latest` for every other user of the template and pins a `$Default` follower to a number (EC2 user guide,
 * "Modify a launch template (manage launch template versions)"), the very thing the fall-back avoids by keeping its
 * on-demand copy in spotfarm's own template. They fall back whole, as launch-configuration groups do.
 */
export interface CapDecision {
  /** The max price to set ("0.1575"), '' to remove it; undefined: no call. */
  maxPrice: string | undefined;
  reason: string;
  state: Pick<MarketState, 'poolCap' | 'poolCapBackoff' | 'poolCapLiftedAt'>;
}

export function decidePoolCap(args: {
  style: string;
  instanceTypes: readonly string[];
  onDemand: number | undefined;
  /** The group's spot max price now (undefined: on-demand). */
  currentMax: number | undefined;
  assessed: readonly PoolAssessment[];
  /** The pools out on the previous check (MarketState.poolsOut before this one). */
  previouslyOut: MarketState['poolsOut'];
  state: Pick<MarketState, 'poolCap' | 'poolCapBackoff' | 'poolCapLiftedAt'>;
  settings: Pick<GroupSettings, 'swapRatio' | 'hysteresis' | 'confirmChecks' | 'minDwell'>;
  dwellSeconds: (backoff: number) => number;
  now: Date;
}): CapDecision | undefined {
  const { settings, state, now } = args;
  const at = now.toISOString();
  if (args.style !== 'mixed-instances' || args.instanceTypes.length !== 1 || args.onDemand === undefined) return undefined;
  const returnRatio = settings.swapRatio - settings.hysteresis;
  const level = Math.floor(args.onDemand * returnRatio * 10_000) / 10_000;
  if (!(level > 0)) return undefined;
  const since = (iso: string | undefined): number => (iso === undefined ? Infinity : (now.getTime() - Date.parse(iso)) / 1000);
  const backoff = state.poolCapBackoff ?? 0;
  const cap = state.poolCap;

  if (!cap) {
    // Only pools Auto Scaling would still launch into at that price need the cap: a pool above the max price
    // (canLaunchSpot false) gets no launch anyway, and capping for it would only expose every new instance to
    // price interruptions below on-demand (on the spiky 2015 default scenario that doubled the cost).
    const maxPrice = args.currentMax ?? args.onDemand;
    const priceOut = args.assessed.filter(
      (a) =>
        a.reasons.includes('price') &&
        args.previouslyOut?.[a.pool]?.reasons.includes('price') &&
        a.ratio !== undefined &&
        canLaunchSpot(a.ratio * args.onDemand!, maxPrice),
    );
    const launchable = args.assessed.filter((a) => a.ratio !== undefined && a.ratio * args.onDemand! <= level);
    if (priceOut.length === 0 || launchable.length === 0) return undefined;
    if (args.currentMax !== undefined && args.currentMax <= level) return undefined;
    // Capped again within the dwell after the cap was lifted: the pools flap, so the next dwell doubles.
    const flapped = since(state.poolCapLiftedAt) < args.dwellSeconds(backoff);
    const nextBackoff = flapped && args.dwellSeconds(backoff + 1) > args.dwellSeconds(backoff) ? backoff + 1 : backoff;
    return {
      maxPrice: level.toFixed(4),
      reason:
        `pool${priceOut.length > 1 ? 's' : ''} ${priceOut.map((p) => p.pool).join(', ')} at or above ${settings.swapRatio} x on-demand for 2 checks: ` +
        `new launches capped at $${level.toFixed(4)}/h (spot max price), ${launchable.length} pool(s) still launch; running instances are not touched` +
        (nextBackoff > backoff ? `; back-off: the cap's dwell doubles to ${args.dwellSeconds(nextBackoff) / 60} min` : ''),
      state: { ...state, poolCap: { since: at, original: args.currentMax, to: level, calmStreak: 0 }, poolCapBackoff: nextBackoff },
    };
  }

  const calm = args.assessed.every((a) => a.ratio === undefined || a.ratio <= returnRatio);
  const calmStreak = calm ? cap.calmStreak + 1 : 0;
  const dwell = args.dwellSeconds(backoff);
  const held = since(cap.since);
  // A day without a cap forgets the back-off, as for groups.
  if (held >= dwell && calmStreak >= settings.confirmChecks) {
    return {
      maxPrice: cap.original === undefined ? '' : cap.original.toFixed(4),
      reason: `every pool at or below ${returnRatio} x on-demand for ${calmStreak} checks after ${Math.round(held / 60)} min: the spot max price is ${cap.original === undefined ? 'removed (on-demand)' : `back to $${cap.original.toFixed(4)}/h`}`,
      state: { poolCap: undefined, poolCapBackoff: backoff, poolCapLiftedAt: at },
    };
  }
  const drifted = args.currentMax === undefined || Math.abs(args.currentMax - cap.to) > 1e-9;
  return {
    // The cap is not in force (a failed call, or someone changed the policy): set it again.
    maxPrice: drifted ? cap.to.toFixed(4) : undefined,
    reason: drifted
      ? `the pool cap of $${cap.to.toFixed(4)}/h is not in force (max price ${args.currentMax ?? 'none'}): setting it again`
      : `pools capped at $${cap.to.toFixed(4)}/h since ${cap.since}: ${calm ? `every pool at or below ${returnRatio} x on-demand for ${calmStreak} of ${settings.confirmChecks} checks` : 'a pool is still above the return level'}${held < dwell ? `, ${Math.ceil((dwell - held) / 60)} min of the ${dwell / 60} min dwell left` : ''}`,
    state: { ...state, poolCap: { ...cap, calmStreak } },
  };
}
