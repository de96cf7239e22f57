/**
 * The market controller's memory of each spot group, kept in the state table (pk `group#<name>`, sk `state`)
 * under optimistic concurrency: every write names the version it read, so two racing writers never both win.
 *
 * Only the market controller writes it (src/market/controller.ts); the capacity and interruption controllers
 * read the market it left a group in through src/records.ts (`marketOf`), and plan shows it. The facts the
 * market controller counts (capacity failures, interruptions, check requests) are in src/records.ts.
 *
 * All times here are the wall clock at the check (src/clock.ts), except `lastCheckAt`, the time of the event
 * that made the last check that counted (data, bounded by the clock).
 */
import { getGroupState, putGroupState } from '../aws/state-store';
import type { Market, MixedOverride } from '../model';
import { MARKET_SECTION } from '../records';

/** Why a group went to on-demand. `manual` is reserved for a user's forced fall-back. */
export type MarketTrigger = 'price' | 'capacity' | 'breaker' | 'manual';

/**
 * What the group launched from while on spot, so the controller can return to exactly that.
 * - launch configuration: the spot configuration's name (its on-demand twin is `onDemandTwinName(name)`).
 * - launch template: the template and the version spec the group named (`$Latest`, `$Default` or a number),
 *   with the number it resolved to (immutable, so its spot market options can be read back at return).
 * - mixed instances: the user's OnDemandPercentageAboveBaseCapacity (base capacity is never touched).
 */
export type MarketOriginals =
  | { style: 'launch-configuration'; name: string }
  | {
      style: 'launch-template';
      templateId: string | undefined;
      templateName: string | undefined;
      version: string;
      resolvedVersion: number | undefined;
    }
  | {
      style: 'mixed-instances';
      onDemandPercentageAboveBaseCapacity: number;
      /** How it fell back (mixedFallback); absent in states written before the setting: `percentage`. */
      fallback?: 'on-demand-group' | 'percentage';
    };

export interface MarketState {
  /** The controller's view: a mixed policy below 100% on-demand counts as spot (it is the user's spot setting). */
  market: Market;
  /** ISO time the group entered `market` (the dwell counts from here). */
  since: string;
  /** Consecutive checks on spot with spot >= on-demand x swapRatio. */
  highStreak: number;
  /** Consecutive checks on on-demand with spot <= on-demand x (swapRatio - hysteresis). */
  lowStreak: number;
  /** Doublings of minDwell now in force (back-off); dwell = min(minDwell x 2^backoff, 24 h). */
  backoff: number;
  lastFallbackAt?: string;
  lastFallbackTrigger?: MarketTrigger;
  lastReturnAt?: string;
  /** What to return to; set when a fall-back is claimed, kept after a return for the record. */
  originals?: MarketOriginals;
  /** Time of the last check that counted: a duplicate or late event at or before it changes nothing. */
  lastCheckAt?: string;
  /**
   * A swap claimed but not finished: a lease held by `by` (`<function>:<event id>`) from `at` until `until`, both
   * on the wall clock, never compared with an event's time. Written (conditionally) before the first mutation
   * and cleared after the last, so a racing check sees it and stands back, and a swap that failed half way is
   * never recorded as done. `failed`: its check gave up with that error, so the next check may take it over at
   * once instead of waiting for the lease to expire. The same event retried (same `by`) takes its own lease over.
   */
  pending?: { to: Market; at: string; by: string; until?: string; trigger?: MarketTrigger; failed?: string };
  /** CreateLaunchConfiguration was refused for this account: told once, then the group is left alone. */
  launchConfigurationRefused?: { at: string; message: string };
  /**
   * The fall-back's on-demand launches fail (first seen at `since`, AWS's words): it did not restore capacity.
   * Set once per fall-back (the user is told once), cleared by the next swap either way.
   */
  fallbackFailing?: { since: string; message: string };
  /** The last swap that failed, for plan and the next attempt's log. */
  lastError?: { at: string; message: string };
  /** Pools out of the group's launches now (src/market/pools.ts): since when and why, for plan and the logs. */
  poolsOut?: Record<string, { since: string; reasons: ('price' | 'breaker')[] }>;
  /**
   * The spot max price spotfarm set to keep pools at or above the threshold out of a mixed group's launches
   * (src/market/pools.ts): when, the user's own max price to restore (undefined: none), the cap, and the checks
   * in a row every pool has been back at or below the return level.
   */
  poolCap?: {
    since: string;
    original: number | undefined;
    to: number;
    calmStreak: number;
    /**
     * Launch-template and launch-configuration groups: the owner's launch source, exactly as the group named it
     * before the cap (`$Latest`, `$Default`, a number; the configuration's name). The cap is a copy (a version of
     * spotfarm's own template `spotfarm-capped-<template id>`, or the configuration `<name>-spotfarm-max-<price>`);
     * lifting it points the group back at this, and a fall-back remembers this, never the copy.
     */
    source?: MarketOriginals;
    /** Launch template: the owner's version number the capped copy was made from (a newer `$Latest`/`$Default` is copied again). */
    copiedFrom?: number;
  };
  /**
   * Instance types of a multi-type mixed group whose override spotfarm dropped because the type was at or above
   * the threshold in every AZ (src/market/pools.ts decideTypeDrop): since when, the override exactly as it was and
   * its place in the list (restored so), and the checks in a row all its pools were back at or below the return level.
   */
  droppedTypes?: Record<string, { since: string; override: MixedOverride; index: number; calmStreak: number }>;
  /** Doublings of the dwell of a type drop (a type dropped again within the dwell after a restore), and when one was last restored. */
  typeDropBackoff?: number;
  typeRestoredAt?: string;
  /** Doublings of the cap's dwell (a cap set again within the dwell after a restore), and when it was last lifted. */
  poolCapBackoff?: number;
  poolCapLiftedAt?: string;
}

export interface VersionedMarketState {
  state: MarketState | undefined;
  /** 0 when the group has no stored state yet. */
  version: number;
  /** Other functions' sections of the same state item, written back unchanged. */
  others: Record<string, unknown>;
}

/** A swap's lease: past it, the claim was abandoned (the function timed out or its calls failed for good). */
export const PENDING_TIMEOUT_SECONDS = 180;

/** Back-off never makes a group wait longer than a day on on-demand, and a quiet day resets it. */
export const MAX_DWELL_SECONDS = 24 * 3600;
export const QUIET_PERIOD_SECONDS = 24 * 3600;


/**
 * Whether a check changed the group's state in anything but the time of the check. A check that changes
 * nothing writes nothing: at a 5-minute schedule that is most checks of a calm group, each a conditional PutItem
 * (a write unit) for every group. The price spent: `lastCheckAt` (the guard against a duplicate or late event)
 * moves only with a write, so a late event may still count after a check that changed nothing, and a check of
 * its own cannot count twice unless it changes something, which writes `lastCheckAt` with it.
 */
export function marketStateChanged(before: MarketState | undefined, after: MarketState): boolean {
  if (!before) return true;
  const canonical = (value: unknown): unknown =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(
          Object.entries(value as Record<string, unknown>)
            .filter(([key, v]) => v !== undefined && key !== 'lastCheckAt')
            .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
            .map(([key, v]) => [key, canonical(v)]),
        )
      : value;
  return JSON.stringify(canonical(before)) !== JSON.stringify(canonical(after));
}

export function initialMarketState(market: Market, now: Date): MarketState {
  return { market, since: now.toISOString(), highStreak: 0, lowStreak: 0, backoff: 0 };
}

export async function readMarketState(table: string, groupName: string): Promise<VersionedMarketState> {
  const { data, version } = await getGroupState<Record<string, unknown>>(table, groupName);
  const { [MARKET_SECTION]: market, ...others } = data ?? {};
  return { state: market as MarketState | undefined, version, others };
}

/**
 * Writes the group's market state if nobody wrote since `version`; throws StaleStateError otherwise (re-read
 * and re-decide). The state item is shared: other sections of it (written by other functions) are kept.
 */
export async function writeMarketState(
  table: string,
  groupName: string,
  state: MarketState,
  version: number,
  others: Record<string, unknown> = {},
): Promise<number> {
  return putGroupState(table, groupName, { ...others, [MARKET_SECTION]: state }, version);
}

/** spotfarm's own template holding the capped copies (spot max price set) of one of the owner's templates. */
export const cappedTemplateName = (templateId: string): string => `spotfarm-capped-${templateId}`;

/** The capped copy of a spot launch configuration: its SpotPrice set to the cap (`0.0765`). */
export function cappedLaunchConfigurationName(spotName: string, maxPrice: string): string {
  const suffix = `-spotfarm-max-${maxPrice}`;
  return `${spotName.slice(0, 255 - suffix.length)}${suffix}`;
}

/** Name of the on-demand twin of a spot launch configuration (created by spotfarm, or by you beforehand). */
export function onDemandTwinName(spotName: string): string {
  return `${spotName}-on-demand`.slice(0, 255);
}
