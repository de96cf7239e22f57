/**
 * Interruption rates from the Spot Instance Advisor (bundled extract: sim/data/spot-advisor.csv.gz, see its
 * PROVENANCE.md). The advisor gives a bucket of "frequency of interruption" per region and type: the share of
 * instances interrupted over the trailing month. We take the bucket's midpoint (<5% -> 2.5%, 5-10% -> 7.5%,
 * 10-15% -> 12.5%, 15-20% -> 17.5%, >20% -> 25%) and spread it evenly over a 730-hour month:
 * rate per instance-hour = midpoint / 730.
 */
import { resolve } from 'node:path';
import { readText } from './workload';

export const ADVISOR_BUCKETS = [
  { label: '<5%', midpoint: 0.025 },
  { label: '5-10%', midpoint: 0.075 },
  { label: '10-15%', midpoint: 0.125 },
  { label: '15-20%', midpoint: 0.175 },
  { label: '>20%', midpoint: 0.25 },
] as const;

export const HOURS_PER_MONTH = 730;
export const ADVISOR_SNAPSHOTS = ['2025-06-28', '2021-02-10'] as const;
export type AdvisorSnapshot = (typeof ADVISOR_SNAPSHOTS)[number];

let table: Map<string, number> | undefined;

function load(): Map<string, number> {
  if (table) return table;
  table = new Map();
  const text = readText(resolve(__dirname, 'data/spot-advisor.csv.gz'));
  for (const line of text.trim().split('\n').slice(1)) {
    const [snapshot, region, type, index] = line.split(',') as [string, string, string, string];
    table.set(`${snapshot}|${region}|${type}`, Number(index));
  }
  return table;
}

export interface AdvisorRate {
  snapshot: AdvisorSnapshot;
  bucket: string;
  /** Interruptions per instance-hour. */
  perInstanceHour: number;
}

/** The advisor's rate for a type in a region: the newest snapshot that lists it, unless one is named. */
export function advisorRate(region: string, instanceType: string, snapshot?: AdvisorSnapshot): AdvisorRate | null {
  const data = load();
  for (const snap of snapshot ? [snapshot] : ADVISOR_SNAPSHOTS) {
    const index = data.get(`${snap}|${region}|${instanceType}`);
    if (index !== undefined) {
      const bucket = ADVISOR_BUCKETS[index];
      if (!bucket) continue;
      return { snapshot: snap, bucket: bucket.label, perInstanceHour: bucket.midpoint / HOURS_PER_MONTH };
    }
  }
  return null;
}

let known: Set<string> | undefined;

/** Every instance type the bundled price and advisor tables name (sim/data/instance-types.txt). */
export function knownInstanceTypes(): Set<string> {
  if (!known) {
    known = new Set(readText(resolve(__dirname, 'data/instance-types.txt')).trim().split('\n'));
  }
  return known;
}
