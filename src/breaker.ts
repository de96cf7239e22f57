/**
 * The interruption breaker's rule, shared by the two controllers that apply it (below both, so neither imports
 * the other): the interruption controller to one pool when a warning comes, to decide whether to ask for a market
 * check; the market controller to each of the group's pools (src/market/pools.ts), to decide. Pure.
 *
 * The breaker weighs evidence before a rate counts: at least BREAKER_MIN_INTERRUPTIONS interruptions (price
 * interruptions left out) and BREAKER_MIN_INSTANCE_HOURS instance-hours observed in the pool over
 * `breakerWindow` (measured from launch times by the market controller; approximated as max(running,
 * interrupted) x window by the interruption controller's first look, which only asks for a check).
 */
import type { GroupSettings } from './settings';

/** Fewer interruptions than this in a pool's window are bad luck, not a storm. */
export const BREAKER_MIN_INTERRUPTIONS = 3;
/** A rate over fewer instance-hours than this is noise: one interruption among two instances is 50%. */
export const BREAKER_MIN_INSTANCE_HOURS = 4;

export interface BreakerEvidence {
  interruptions: number;
  /**
   * Instance-hours observed in the pool over the window: measured from the instances' launch times when the
   * caller has them (the market controller, src/market/observe.ts), else max(running, interrupted) x window hours.
   */
  instanceHours: number;
  rate: number;
  tripped: boolean;
  /** "2 interruptions in 7 instance-hours: too few to trip", for plan and the logs. */
  why: string;
}

const r2 = (n: number): number => Math.round(n * 100) / 100;

/** The breaker of one pool, with the evidence it weighed. */
export function weighBreaker(
  interruptions: number,
  instances: number,
  settings: Pick<GroupSettings, 'breakerInterruptions' | 'breakerWindow'>,
  measuredHours?: number,
): BreakerEvidence {
  const instanceHours = measuredHours ?? Math.max(instances, interruptions) * (settings.breakerWindow / 3600);
  const rate = instanceHours > 0 ? interruptions / instanceHours : 0;
  const seen = `${interruptions} interruption${interruptions === 1 ? '' : 's'} in ${r2(instanceHours)} instance-hours`;
  if (interruptions < BREAKER_MIN_INTERRUPTIONS) {
    return { interruptions, instanceHours, rate, tripped: false, why: `${seen}: too few to trip (at least ${BREAKER_MIN_INTERRUPTIONS} interruptions)` };
  }
  if (instanceHours < BREAKER_MIN_INSTANCE_HOURS) {
    return { interruptions, instanceHours, rate, tripped: false, why: `${seen}: too few instance-hours to trust a rate (at least ${BREAKER_MIN_INSTANCE_HOURS})` };
  }
  const tripped = rate >= settings.breakerInterruptions;
  return {
    interruptions,
    instanceHours,
    rate,
    tripped,
    why: `${seen}, ${r2(rate)} per instance-hour: ${tripped ? 'tripped' : 'below'} the limit ${settings.breakerInterruptions}`,
  };
}

/** Interruptions per instance-hour, whether that trips the breaker, and why (for one pool or one group). */
export function breakerState(
  interruptions: number,
  instances: number,
  settings: Pick<GroupSettings, 'breakerInterruptions' | 'breakerWindow'>,
): { rate: number; tripped: boolean; why: string } {
  const { rate, tripped, why } = weighBreaker(interruptions, instances, settings);
  return { rate, tripped, why };
}
