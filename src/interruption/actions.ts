/**
 * The interruption controller's actions: it alone detaches, tags and terminates instances. It records facts
 * (interruptions, capacity failures) and asks the market controller for a check; it never swaps a group or sets
 * a desired capacity itself.
 */
import type { ActionBase, SkipAction } from '../actions';
import type { Pool } from '../model';

export type DetachReason = 'interruption' | 'rebalance';

export interface RecordInterruptionAction extends ActionBase {
  kind: 'recordInterruption';
  instanceId: string;
  pool: Pool;
  /** `interruption` for a two-minute warning, `rebalance` for a recommendation (a risk, not a loss). */
  signal: 'interruption' | 'rebalance';
  /** The event's time (ISO): the record's time. */
  at: string;
  instanceAction?: string;
}

export interface DetachInstanceAction extends ActionBase {
  kind: 'detachInstance';
  instanceId: string;
  farm: string;
  why: DetachReason;
  /** ISO time (wall clock) after which the sweep terminates the instance if EC2 has not. */
  deadline: string;
  /** The event's time (ISO), for the replacement-latency metric. */
  eventTime: string;
}

export interface TerminateInstanceAction extends ActionBase {
  kind: 'terminateInstance';
  instanceId: string;
  /** Still in a group (its detach never happened): terminate through the group, which replaces it. */
  inGroup: boolean;
  /** Set when this replaces a warned instance (a group with termination lifecycle hooks, which a detach bypasses). */
  why?: DetachReason;
}

export interface RecordCapacityFailureAction extends ActionBase {
  kind: 'recordCapacityFailure';
  /** The scaling activity's id (or the event's, without one): one record per failure whatever its source. */
  failureId: string;
  at: string;
  message: string;
  availabilityZone: string | undefined;
}

/**
 * A breaker trip or a burst of capacity failures: recorded once per trip (`requestId`), then a "Market Check
 * Requested" event asks the market controller to check the group now. The market controller decides on its own
 * reading of the group and the recorded facts; the on-demand cover is the capacity controller's.
 */
export interface RequestMarketCheckAction extends ActionBase {
  kind: 'requestMarketCheck';
  farm: string;
  trigger: 'breaker' | 'capacity';
  /** What makes this trip one trip: the tripping warning's instance id, or the failure's activity id. */
  requestId: string;
  /** The event's time (ISO): the request record's time. */
  at: string;
}

export type InterruptionAction =
  | RecordInterruptionAction
  | DetachInstanceAction
  | TerminateInstanceAction
  | RecordCapacityFailureAction
  | RequestMarketCheckAction;

export type InterruptionDecision = SkipAction | InterruptionAction;
