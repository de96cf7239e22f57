/**
 * From a BacktestResult to the chart specs the page draws: which lines, which colours, which markers, with every
 * table already aligned and reduced to at most ~2000 rows (see downsample.ts).
 */
import type { BacktestResult, PolicyMark, PolicyName } from '../result';
import { POLICY_NAMES } from '../result';
import { type Column, type Table, alignSamples, alignSteps, downsampleMax, downsampleSteps, MAX_POINTS } from './downsample';

export type YUnit = 'usd_per_hour' | 'usd' | 'count' | 'seconds';

export interface SeriesSpec {
  label: string;
  color: string;
  values: Column;
  /** Fill the area under the line (spot capacity). */
  fill?: boolean;
  dash?: number[];
  width?: number;
  /** Draw only points (a single figure such as the oracle's total). */
  pointsOnly?: boolean;
}

export interface MarkSpec {
  t: number;
  kind: PolicyMark['kind'];
  detail: string;
  /** How many events this marker stands for (more than 1 once markers are grouped). */
  count?: number;
}

export interface ChartSpec {
  id: string;
  title: string;
  /** One sentence under the title: how to read the chart. */
  note: string;
  yLabel: string;
  yUnit: YUnit;
  height: number;
  /** A log y axis: spot prices span from cents to many times on-demand in the old market. */
  logScale?: boolean;
  x: number[];
  series: SeriesSpec[];
  marks: MarkSpec[];
}

export const POLICY_COLORS: Record<PolicyName, string> = {
  spotfarm: '#2563eb',
  'on-demand-only': '#6b7280',
  recipe: '#d97706',
  'aws-native': '#059669',
  oracle: '#7c3aed',
  clairvoyant: '#db2777',
};

export const MARK_STYLE: Record<PolicyMark['kind'], { color: string; label: string }> = {
  interruption: { color: '#dc2626', label: 'interruption' },
  'swap-to-on-demand': { color: '#ea580c', label: 'swap to on-demand' },
  'swap-to-spot': { color: '#16a34a', label: 'swap to spot' },
  storm: { color: '#7f1d1d', label: 'storm' },
  'capacity-failure': { color: '#a21caf', label: 'capacity failure' },
};

/** Distinct, colour-blind-friendlier hues for pools and groups (Tableau 10). */
const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

/** More marks than this on one chart are grouped per kind and time bucket, so the page stays light. */
export const MAX_MARKS = 400;

function round(v: number | null, digits: number): number | null {
  if (v === null || !Number.isFinite(v)) return null;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

function roundTable(table: Table, digits: number): Table {
  return { x: table.x.map((t) => Math.round(t)), cols: table.cols.map((c) => c.map((v) => round(v, digits))) };
}

/** Keeps marks readable and light: one per kind per bucket once there are too many, with a count in its detail. */
export function thinMarks(marks: readonly MarkSpec[], from: number, to: number, max = MAX_MARKS): MarkSpec[] {
  const sorted = [...marks].sort((a, b) => a.t - b.t);
  if (sorted.length <= max) return sorted;
  const kinds = new Set(sorted.map((m) => m.kind)).size;
  const buckets = Math.max(1, Math.floor(max / kinds));
  const span = Math.max(1, to - from);
  const groups = new Map<string, MarkSpec[]>();
  for (const m of sorted) {
    const b = Math.min(buckets - 1, Math.max(0, Math.floor(((m.t - from) / span) * buckets)));
    const key = `${m.kind}:${b}`;
    const list = groups.get(key);
    if (list) list.push(m);
    else groups.set(key, [m]);
  }
  return [...groups.values()]
    .map((list) => {
      const first = list[0] as MarkSpec;
      if (list.length === 1) return first;
      return {
        t: first.t,
        kind: first.kind,
        detail: `${list.length}× ${MARK_STYLE[first.kind].label} (first: ${first.detail})`,
        count: list.length,
      };
    })
    .sort((a, b) => a.t - b.t);
}

/** The time range every chart shares: from the start to the last sample of any policy (drain included). */
export function timeRange(result: BacktestResult): { from: number; to: number } {
  let to = result.end_epoch_s;
  for (const name of POLICY_NAMES) {
    const last = result.series[name]?.t.at(-1);
    if (last !== undefined && last > to) to = last;
  }
  return { from: result.start_epoch_s, to: Math.max(to, result.start_epoch_s + 1) };
}

/** Storms happen to the market, not to a policy: gathered from every policy's marks, once each. */
function stormMarks(result: BacktestResult): MarkSpec[] {
  const seen = new Set<string>();
  const out: MarkSpec[] = [];
  for (const name of POLICY_NAMES) {
    for (const m of result.marks[name] ?? []) {
      const key = `${m.t}|${m.detail}`;
      if (m.kind !== 'storm' || seen.has(key)) continue;
      seen.add(key);
      out.push({ t: m.t, kind: m.kind, detail: m.detail });
    }
  }
  return out;
}

function simulatedPolicies(result: BacktestResult): PolicyName[] {
  return POLICY_NAMES.filter((name) => result.series[name] !== undefined && (result.series[name]?.t.length ?? 0) > 0);
}

/** All charts of the report, in page order. */
export function buildCharts(result: BacktestResult, maxPoints = MAX_POINTS): ChartSpec[] {
  const { from, to } = timeRange(result);
  const storms = thinMarks(stormMarks(result), from, to);
  const policies = simulatedPolicies(result);
  const charts: ChartSpec[] = [];

  // Prices: one step line per pool, the on-demand price of each type as a dashed level.
  const pools = result.market.spot;
  const onDemand = result.market.on_demand;
  if (pools.length > 0 || onDemand.length > 0) {
    const table = downsampleSteps(
      alignSteps(
        [
          ...pools.map((p) => ({ t: p.t, v: p.price })),
          ...onDemand.map((o) => ({ t: [from], v: [o.price] })),
        ],
        from,
        to,
      ),
      maxPoints,
    );
    const rounded = roundTable(table, 5);
    charts.push({
      id: 'chart-prices',
      title: 'Spot price per pool, and on-demand price',
      note: 'Each solid line is one pool (instance type × Availability Zone); dashed lines are on-demand prices. Log scale. Spot above on-demand is where the old market interrupted instances.',
      yLabel: 'USD per instance-hour',
      yUnit: 'usd_per_hour',
      height: 280,
      logScale: true,
      x: rounded.x,
      series: [
        ...pools.map((p, i) => ({
          label: `${p.instance_type} ${p.availability_zone}`,
          color: PALETTE[i % PALETTE.length] as string,
          values: rounded.cols[i] as Column,
          width: 1.5,
          ...(i >= PALETTE.length ? { dash: [2, 2] } : {}),
        })),
        ...onDemand.map((o, i) => ({
          label: `on-demand ${o.instance_type}`,
          color: i === 0 ? '#111827' : (PALETTE[(pools.length + i) % PALETTE.length] as string),
          values: rounded.cols[pools.length + i] as Column,
          dash: [8, 4],
          width: 2,
        })),
      ],
      marks: storms,
    });
  }

  if (policies.length > 0) {
    // Cumulative cost, plus the oracle's total as one point at the end: it is computed, not simulated over time.
    const costTable = roundTable(
      downsampleSteps(alignSteps(policies.map((n) => ({ t: result.series[n]?.t ?? [], v: result.series[n]?.cost_usd ?? [] })), from, to), maxPoints),
      4,
    );
    const oracleCost = result.json.policies.oracle?.cost_usd;
    const costSeries: SeriesSpec[] = policies.map((n, i) => ({
      label: n,
      color: POLICY_COLORS[n],
      values: costTable.cols[i] as Column,
      width: n === 'spotfarm' ? 2.5 : 1.75,
    }));
    if (oracleCost !== undefined && Number.isFinite(oracleCost)) {
      costSeries.push({
        label: 'oracle (total)',
        color: POLICY_COLORS.oracle,
        values: costTable.x.map((_, i) => (i === costTable.x.length - 1 ? round(oracleCost, 4) : null)),
        pointsOnly: true,
      });
    }
    charts.push({
      id: 'chart-cost',
      title: 'Cumulative cost per policy',
      note: 'Money spent so far by each policy. The purple point at the end is the oracle: the lower bound, every job at the cheapest price of its moment with no boot or idle time.',
      yLabel: 'USD',
      yUnit: 'usd',
      height: 280,
      x: costTable.x,
      series: costSeries,
      marks: storms,
    });

    const backlog = roundTable(
      downsampleSteps(alignSteps(policies.map((n) => ({ t: result.series[n]?.t ?? [], v: result.series[n]?.backlog ?? [] })), from, to), maxPoints),
      0,
    );
    charts.push({
      id: 'chart-backlog',
      title: 'Backlog per policy',
      note: 'Messages in the queue, waiting or being worked on. A backlog that keeps climbing means the farm is too small.',
      yLabel: 'messages',
      yUnit: 'count',
      height: 240,
      x: backlog.x,
      series: policies.map((n, i) => ({
        label: n,
        color: POLICY_COLORS[n],
        values: backlog.cols[i] as Column,
        width: n === 'spotfarm' ? 2.5 : 1.5,
      })),
      marks: storms,
    });

    const waitsRaw = alignSamples(policies.map((n) => ({ t: result.series[n]?.t ?? [], v: result.series[n]?.wait_p95_s ?? [] })));
    // Pin both ends so every chart spans the same time range.
    if (waitsRaw.x[0] !== from) {
      waitsRaw.x.unshift(from);
      for (const c of waitsRaw.cols) c.unshift(null);
    }
    if (waitsRaw.x.at(-1) !== to) {
      waitsRaw.x.push(to);
      for (const c of waitsRaw.cols) c.push(null);
    }
    const downsampled = waitsRaw.x.length > maxPoints;
    const waits = roundTable(downsampleMax(waitsRaw, maxPoints), 0);
    charts.push({
      id: 'chart-waits',
      title: 'Job wait, p95 per interval',
      note: downsampled
        ? 'The 95th percentile of the queue waits of the jobs that started in each interval, the worst interval of each group of intervals shown (the run is long). Gaps: no job started.'
        : `The 95th percentile of the queue waits of the jobs that started in each ${result.sample_seconds} s interval. Gaps: no job started.`,
      yLabel: 'wait',
      yUnit: 'seconds',
      height: 240,
      x: waits.x,
      series: policies.map((n, i) => ({
        label: n,
        color: POLICY_COLORS[n],
        values: waits.cols[i] as Column,
        width: n === 'spotfarm' ? 2.5 : 1.5,
      })),
      marks: storms,
    });
  }

  // Capacity of each policy: by market (spot filled), and each group as a thin dashed line; its own events marked.
  for (const name of policies) {
    const s = result.series[name];
    if (s === undefined) continue;
    const groups = Object.keys(s.by_group).sort();
    const table = roundTable(
      downsampleSteps(
        alignSteps(
          [
            { t: s.t, v: s.spot_instances },
            { t: s.t, v: s.on_demand_instances },
            ...groups.map((g) => ({ t: s.t, v: s.by_group[g] ?? [] })),
          ],
          from,
          to,
        ),
        maxPoints,
      ),
      0,
    );
    charts.push({
      id: `chart-capacity-${name}`,
      title: `Capacity: ${name}`,
      note: 'Running instances (booting or in service) by market, and per Auto Scaling group (dashed). Vertical lines mark this policy’s interruptions, swaps, storms and capacity failures.',
      yLabel: 'instances',
      yUnit: 'count',
      height: 240,
      x: table.x,
      series: [
        { label: 'spot', color: '#0ea5e9', values: table.cols[0] as Column, fill: true, width: 2 },
        { label: 'on-demand', color: '#374151', values: table.cols[1] as Column, width: 2 },
        ...groups.map((g, i) => ({
          label: `group ${g}`,
          color: PALETTE[(i + 3) % PALETTE.length] as string,
          values: table.cols[2 + i] as Column,
          dash: [5, 3],
          width: 1.25,
        })),
      ],
      marks: thinMarks(
        (result.marks[name] ?? []).map((m) => ({ t: m.t, kind: m.kind, detail: m.detail })),
        from,
        to,
      ),
    });
  }
  return charts;
}
