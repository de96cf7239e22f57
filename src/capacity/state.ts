/**
 * The capacity controller's memory of each farm in the state table (pk `farm#<farm>`, sk `capacity`), versioned:
 * every write names the version it read, so of two racing runs only one wins and the other re-reads and
 * re-decides (src/capacity/run.ts). Only the capacity controller writes it.
 */
import { getFarmState, putFarmState } from '../aws/state-store';
import { emptyCapacityState, type CapacityState } from './decide';

export const CAPACITY_SECTION = 'capacity';

export interface StoredCapacityState {
  state: CapacityState;
  /** 0 when nothing is stored yet. */
  version: number;
}

export async function readCapacityState(table: string, farm: string): Promise<StoredCapacityState> {
  const { data, version } = await getFarmState<CapacityState>(table, farm, CAPACITY_SECTION);
  return { state: { ...emptyCapacityState(), ...data }, version };
}

/** Throws StaleStateError when another run wrote since `version` was read. */
export async function writeCapacityState(table: string, farm: string, state: CapacityState, version: number): Promise<number> {
  return putFarmState(table, farm, CAPACITY_SECTION, state, version);
}

