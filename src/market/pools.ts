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
