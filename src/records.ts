/**
 * Facts in the state table that one controller writes and another reads: the signals that pass between them
 * instead of calls (docs/market.md "One writer per decision"). Shared code, below the controllers.
 *
 * - capacity failures (pk `group#<name>`, sk `capacity-failure#<time>#<activity id>`): written by the
 *   interruption controller from "EC2 Instance Launch Unsuccessful" events, counted by the market controller;
 * - interruptions and rebalance recommendations per pool (pk `pool#<type>|<az>`, sk
 *   `interruption#<time>#<instance id>` / `rebalance#...`): written by the interruption controller, counted by
 *   the market controller's breaker;
 * - market-check requests (pk `group#<name>`, sk `market-check-request#<time>#<id>`): a breaker trip or a burst
 *   of capacity failures, recorded once per trip by the interruption controller before it asks for a check;
 * - the group's market as the market controller left it (the `market` section of the group's state item), read
 *   by the capacity controller (the split) and the interruption controller (no second trip while on on-demand).
 *
 * One record per id: the same id from two sources, or a retried event, is one record (putRecordOnce).
 */
import {
  getGroupState,
  groupKey,
  poolRecordKey,
  putRecordOnce,
  queryRecords,
  recordSortKey,
  type StoredRecord,
} from './aws/state-store';
import type { Market } from './model';

export const CAPACITY_FAILURE_RECORD = 'capacity-failure';
export const INTERRUPTION_RECORD = 'interruption';
/** The record kind of a rebalance recommendation: a risk for the pool, not an interruption. */
export const REBALANCE_RECORD = 'rebalance';
export const MARKET_CHECK_REQUEST_RECORD = 'market-check-request';
/** The section of a group's state item the market controller owns. */
export const MARKET_SECTION = 'market';

export interface CapacityFailure {
  /** Auto Scaling's activity id when known (dedupes the event and the scaling-activity history). */
  id: string;
  at: string;
  message: string;
  source: string;
}

/** Data of an interruption / rebalance record. */
export interface InterruptionRecord {
  instanceId: string;
  groupName: string;
  eventId: string;
  instanceAction?: string;
}

/** Records a spot capacity failure. Idempotent: false when it was already recorded. */
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

/** Interruption records of one pool in [from, to]. */
export async function readPoolInterruptions(
  table: string,
  instanceType: string,
  availabilityZone: string,
  from: Date,
  to: Date,
): Promise<StoredRecord<unknown>[]> {
  return queryRecords<unknown>(table, poolRecordKey(instanceType, availabilityZone), INTERRUPTION_RECORD, from, to);
}

export interface MarketCheckRequestRecord {
  trigger: 'breaker' | 'capacity';
  reason: string;
  eventId: string;
}

/**
 * Records a request for a market check of a group (a breaker trip, a burst of capacity failures) once per
 * `id`: true for the first caller, false for every duplicate. Only the first asks for the check.
 */
export async function recordMarketCheckRequest(
  table: string,
  groupName: string,
  at: string,
  id: string,
  data: MarketCheckRequestRecord,
  ttlDays: number,
): Promise<boolean> {
  return putRecordOnce(table, { pk: groupKey(groupName), sk: recordSortKey(MARKET_CHECK_REQUEST_RECORD, at, id), at, data }, ttlDays);
}

/**
 * The market the market controller has put a group in; `spot` for a group it never touched. Read only. With
 * `via: 'on-demand-group'` when the fall-back left the group alone and the farm's on-demand group is to take its
 * share (a mixed-instances group with mixedFallback=on-demand-group; issue 14, item 2).
 */
export async function marketOf(
  table: string,
  groupName: string,
): Promise<{ market: Market; since: string | undefined; via?: 'on-demand-group' }> {
  const { data } = await getGroupState<
    Record<string, { market?: Market; since?: string; originals?: { style?: string; fallback?: string } } | undefined>
  >(table, groupName);
  const section = data?.[MARKET_SECTION];
  const market = section?.market ?? 'spot';
  const o = section?.originals;
  const via = market === 'on-demand' && o?.style === 'mixed-instances' && o.fallback === 'on-demand-group' ? ('on-demand-group' as const) : undefined;
  return { market, since: section?.since, ...(via ? { via } : {}) };
}

/**
 * Launch failures that mean "no spot capacity (at this price) now", matched on AWS's free text and codes:
 * InsufficientInstanceCapacity, InsufficientCapacity, UnfulfillableCapacity, SpotMaxPriceTooLow,
 * MaxSpotInstanceCountExceeded and their English wordings. Other failures (bad AMI, quota on on-demand vCPUs,
 * a missing security group) are not a market signal: swapping markets would not fix them.
 */
const CAPACITY_FAILURE =
  /InsufficientInstanceCapacity|InsufficientCapacity|UnfulfillableCapacity|SpotMaxPriceTooLow|MaxSpotInstanceCountExceeded|capacity-not-available|do not have sufficient .*capacity|insufficient capacity|no Spot capacity|Spot request price of .* is lower than|max spot instance count exceeded|spot instance count exceeded/i;

/**
 * A mixed-instances group says which market failed: "Could not launch On-Demand Instances. <code> - ..." or
 * "Could not launch Spot Instances. <code> - ..." (EC2 Auto Scaling user guide, "Troubleshoot Amazon EC2 Auto
 * Scaling: EC2 instance launch failures"). An on-demand capacity failure is no reason to leave spot.
 */
const ON_DEMAND_FAILURE = /Could not launch On-Demand Instances/i;

export function isCapacityFailure(message: string): boolean {
  return CAPACITY_FAILURE.test(message) && !ON_DEMAND_FAILURE.test(message);
}

/** A mixed-instances group's spot launch failure ("Could not launch Spot Instances. <code> - ..."), same source. */
const SPOT_FAILURE = /Could not launch Spot Instances/i;

/**
 * Whether a failed launch of a group was an on-demand launch: one a mixed-instances group says was ("Could not
 * launch On-Demand Instances"), or, when the group launches only on-demand (`launchesOnDemand`: fallen back by
 * its launch source), any failure not said to be a spot one, capacity or not (a refused template, a quota). Used
 * to tell that a fall-back to on-demand did not restore capacity.
 */
export function isOnDemandLaunchFailure(message: string, launchesOnDemand: boolean): boolean {
  if (ON_DEMAND_FAILURE.test(message)) return true;
  return launchesOnDemand && !SPOT_FAILURE.test(message);
}
