/**
 * The market controller's memory of each spot group, kept in the state table (pk `group#<name>`, sk `state`)
 * under optimistic concurrency: every write names the version it read, so two racing writers never both win.
 *
 * Readers: price-check (src/market/controller.ts), the interruption function (forced fall-back on a breaker
 * trip), the queue scaler (`marketOf`: is the spot group on on-demand now?), and plan.
 *
 * Also here: the capacity-failure records the interruption function writes from "EC2 Instance Launch
 * Unsuccessful" events (pk `group#<name>`, sk `capacity-failure#<time>#<activity id>`), and the interruption
 * records it writes per pool (pk `pool#<type>|<az>`, sk `interruption#<time>#<instance id>`), which the
 * market controller counts. One record per activity / instance: the same id from two sources is one record.
 */
import {
  getGroupState,
  groupKey,
  poolRecordKey,
  putGroupState,
  putRecordOnce,
  queryRecords,
  recordSortKey,
  type StoredRecord,
} from '../aws/state-store';
import type { Market } from '../model';

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
  | { style: 'mixed-instances'; onDemandPercentageAboveBaseCapacity: number };

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
   * A swap claimed but not finished (`failed`: its check gave up with that error, so the next check may retry
   * at once instead of waiting PENDING_TIMEOUT_SECONDS). Written (conditionally) before the first mutation and cleared after the
   * last, so a racing check sees it and stands back, and a swap that failed half way is never recorded as done.
   */
  pending?: { to: Market; at: string; by: string; trigger?: MarketTrigger; failed?: string };
  /** CreateLaunchConfiguration was refused for this account: told once, then the group is left alone. */
  launchConfigurationRefused?: { at: string; message: string };
  /** The last swap that failed, for plan and the next attempt's log. */
  lastError?: { at: string; message: string };
  /** Pools out of the group's launches now (src/market/pools.ts): since when and why, for plan and the logs. */
  poolsOut?: Record<string, { since: string; reasons: ('price' | 'breaker')[] }>;
  /**
   * The spot max price spotfarm set to keep pools at or above the threshold out of a mixed group's launches
   * (src/market/pools.ts): when, the user's own max price to restore (undefined: none), the cap, and the checks
   * in a row every pool has been back at or below the return level.
   */
  poolCap?: { since: string; original: number | undefined; to: number; calmStreak: number };
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

/** A pending swap older than this was abandoned (the function timed out or its calls failed for good). */
export const PENDING_TIMEOUT_SECONDS = 180;

/** Back-off never makes a group wait longer than a day on on-demand, and a quiet day resets it. */
export const MAX_DWELL_SECONDS = 24 * 3600;
export const QUIET_PERIOD_SECONDS = 24 * 3600;

export const CAPACITY_FAILURE_RECORD = 'capacity-failure';
export const INTERRUPTION_RECORD = 'interruption';

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
  const { data, version } = await getGroupState<Record<string, unknown> & { market?: MarketState }>(table, groupName);
  const { market, ...others } = data ?? {};
  return { state: market, version, others };
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
  return putGroupState(table, groupName, { ...others, market: state }, version);
}

/** The market the controller has put a group in; `spot` for a group it never touched. For the queue scaler. */
export async function marketOf(table: string, groupName: string): Promise<{ market: Market; since: string | undefined }> {
  const { state } = await readMarketState(table, groupName);
  return { market: state?.market ?? 'spot', since: state?.since };
}

export interface CapacityFailure {
  /** Auto Scaling's activity id when known (dedupes the event and the scaling-activity history). */
  id: string;
  at: string;
  message: string;
  source: string;
}

/** The interruption function records a spot capacity failure from a Launch Unsuccessful event. Idempotent. */
export async function recordCapacityFailure(
  table: string,
  groupName: string,
  failure: CapacityFailure,
  ttlDays: number,
): Promise<boolean> {
  return putRecordOnce(
    table,
    { pk: groupKey(groupName), sk: recordSortKey(CAPACITY_FAILURE_RECORD, failure.at, failure.id), at: failure.at, data: failure },
    ttlDays,
  );
}

export async function readCapacityFailures(
  table: string,
  groupName: string,
  from: Date,
  to: Date,
): Promise<StoredRecord<CapacityFailure>[]> {
  return queryRecords<CapacityFailure>(table, groupKey(groupName), CAPACITY_FAILURE_RECORD, from, to);
}

/** Interruption records of one pool in [from, to] (written by the interruption function). */
export async function readPoolInterruptions(
  table: string,
  instanceType: string,
  availabilityZone: string,
  from: Date,
  to: Date,
): Promise<StoredRecord<unknown>[]> {
  return queryRecords<unknown>(table, poolRecordKey(instanceType, availabilityZone), INTERRUPTION_RECORD, from, to);
}

/** Name of the on-demand twin of a spot launch configuration (created by spotfarm, or by you beforehand). */
export function onDemandTwinName(spotName: string): string {
  return `${spotName}-on-demand`.slice(0, 255);
}
