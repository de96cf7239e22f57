/**
 * Number formats and the summary columns shared by the terminal table (summary.ts) and the HTML report
 * (index.ts), so both show the same figures the same way.
 */
import { POLICY_NAMES, type BacktestJson, type PolicyName, type PolicySummary } from '../result';

/** What a missing figure looks like (the oracle has no waits, instance hours, swaps...). */
export const NONE = '-';

export function formatUsd(usd: number | null): string {
  if (usd === null || !Number.isFinite(usd)) return NONE;
  // Cents are noise on big runs, and hide the difference on small ones: keep about 4 significant digits.
  const digits = Math.abs(usd) >= 1000 ? 0 : Math.abs(usd) >= 10 ? 2 : Math.abs(usd) >= 0.01 ? 3 : 4;
  return `$${usd.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })}`;
}

/** Spot prices: always 4 decimals, as AWS quotes them. */
export function formatPrice(usdPerHour: number): string {
  return `$${usdPerHour.toFixed(4)}/h`;
}

export function formatRatio(ratio: number | null): string {
  if (ratio === null || !Number.isFinite(ratio)) return NONE;
  return `${ratio.toFixed(2)}x`;
}

export function formatInt(n: number | null): string {
  if (n === null || !Number.isFinite(n)) return NONE;
  return Math.round(n).toLocaleString('en-US');
}

export function formatHours(h: number | null): string {
  if (h === null || !Number.isFinite(h)) return NONE;
  return h >= 100 ? Math.round(h).toLocaleString('en-US') : h.toFixed(1);
}

/** A wait as `45s`, `12m05s` or `3h07m`: short enough for a table cell, exact enough to compare. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return NONE;
  const s = Math.round(Math.max(0, seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** Cost relative to the oracle's lower bound; null when the oracle cost is missing or zero. */
export function costVsOracle(json: BacktestJson, policy: PolicyName): number | null {
  const oracle = json.policies.oracle?.cost_usd;
  const cost = json.policies[policy]?.cost_usd;
  if (oracle === undefined || cost === undefined || !(oracle > 0)) return null;
  return cost / oracle;
}

/** Cost relative to the clairvoyant farm (the reachable bound); null when it is missing or zero. */
export function costVsClairvoyant(json: BacktestJson, policy: PolicyName): number | null {
  const bound = json.policies.clairvoyant?.cost_usd;
  const cost = json.policies[policy]?.cost_usd;
  if (bound === undefined || cost === undefined || !(bound > 0)) return null;
  return cost / bound;
}

/** Idle share of the cost as `23%`. */
export function formatShare(part: number | undefined, whole: number): string {
  if (part === undefined || !(whole > 0)) return NONE;
  return `${Math.round((part / whole) * 100)}%`;
}

export interface SummaryColumn {
  /** Terminal header (short). */
  header: string;
  /** HTML header (may be longer) and its tooltip. */
  title: string;
  help: string;
  value: (p: PolicySummary, json: BacktestJson, name: PolicyName) => string;
}

/** The policy column comes first in both renderers and is not listed here. */
export const SUMMARY_COLUMNS: readonly SummaryColumn[] = [
  { header: 'cost', title: 'Cost', help: 'Total cost in USD', value: (p) => formatUsd(p.cost_usd) },
  {
    header: 'vs oracle',
    title: 'vs oracle',
    help: 'Cost divided by the oracle lower bound',
    value: (_p, json, name) => formatRatio(costVsOracle(json, name)),
  },
  {
    header: 'vs clairvoyant',
    title: 'vs clairvoyant',
    help: 'Cost divided by the clairvoyant farm (no wait, boots paid, the future known)',
    value: (_p, json, name) => formatRatio(costVsClairvoyant(json, name)),
  },
  {
    header: 'idle',
    title: 'Idle',
    help: 'Share of the cost spent on instances in service with empty slots',
    value: (p) => formatShare(p.cost_breakdown?.idle_usd, p.cost_usd),
  },
  { header: 'jobs', title: 'Jobs', help: 'Jobs submitted', value: (p) => formatInt(p.jobs_submitted) },
  {
    header: 'lost',
    title: 'Lost',
    help: 'Submitted minus completed at the end of the run (dead-lettered jobs count as lost)',
    value: (p) => formatInt(p.jobs_lost),
  },
  { header: 'wait p50', title: 'Wait p50', help: 'Median queue wait', value: (p) => formatDuration(p.wait_p50_s) },
  { header: 'wait p95', title: 'Wait p95', help: '95th percentile queue wait', value: (p) => formatDuration(p.wait_p95_s) },
  { header: 'wait max', title: 'Wait max', help: 'Longest queue wait', value: (p) => formatDuration(p.wait_max_s) },
  { header: 'spot h', title: 'Spot h', help: 'Spot instance hours', value: (p) => formatHours(p.spot_instance_hours) },
  {
    header: 'od h',
    title: 'On-demand h',
    help: 'On-demand instance hours',
    value: (p) => formatHours(p.on_demand_instance_hours),
  },
  { header: 'swaps', title: 'Swaps', help: 'Swaps between spot and on-demand', value: (p) => formatInt(p.swaps) },
  {
    header: 'interrupts',
    title: 'Interruptions',
    help: 'Spot interruptions',
    value: (p) => formatInt(p.interruptions),
  },
  { header: 'max backlog', title: 'Max backlog', help: 'Most messages waiting or in flight', value: (p) => formatInt(p.max_backlog) },
];

/** The policies present in a result, in the contract's order (unknown extra keys are ignored). */
export function policiesIn(json: BacktestJson): PolicyName[] {
  return POLICY_NAMES.filter((name) => json.policies[name] !== undefined);
}
