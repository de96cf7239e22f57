/**
 * The frontier of a `--sweep` run, for the terminal (a table with what dominates what) and for the report (the
 * cost-against-p95 chart's data). Both read only the JSON's `frontier` and `sweep`.
 */
import type { BacktestJson, BaselineTargets, FrontierPoint, PolicyName } from '../result';
import { formatDuration, formatInt, formatUsd } from './format';

/** What a baseline was set to at a value, in words ('' for spotfarm: the value itself says it). */
export function describeTarget(policy: PolicyName, t: BaselineTargets | undefined): string {
  if (t === undefined || policy === 'spotfarm') return '';
  const n = (v: number) => String(Math.round(v * 100) / 100);
  if (policy === 'recipe') return `alarms ${n(t.recipe_alarm_high * 100)}%/${n(t.recipe_alarm_low * 100)}% of slots`;
  return `target ${n(t.target_backlog_per_instance)} visible/instance`;
}

export interface FrontierRow {
  point: FrontierPoint;
  /**
   * What the point's policy was set to: a baseline's target, or which baseline points a matched run matches, and
   * what a spotfarm run set besides the swept setting (`with idleReceiveDelay 0s`).
   */
  target: string;
  /** spotfarm values whose point dominates this one (baselines only). */
  dominatedBy: string[] | undefined;
}

/** The frontier's rows, value by value, with each baseline's target and what dominates it. */
export function frontierRows(json: BacktestJson): FrontierRow[] {
  const frontier = json.frontier ?? [];
  const targets = new Map((json.sweep?.baseline_targets ?? []).map((t) => [t.value, t]));
  const dom = new Map((json.sweep?.dominance ?? []).map((d) => [`${d.policy}|${d.value}`, d.dominated_by]));
  return frontier.map((point) => ({
    point,
    target: [
      point.matched?.length ? `p95 of ${describeMatched(point.matched)}` : describeTarget(point.policy, targets.get(point.value)),
      point.also_set ? `with ${describeAlsoSet(point.also_set)}` : '',
    ]
      .filter(Boolean)
      .join('; '),
    dominatedBy: point.policy === 'spotfarm' ? undefined : (dom.get(`${point.policy}|${point.value}`) ?? []),
  }));
}

/** `idleReceiveDelay 0s` (a point's also_set, as the tags spell them). */
export function describeAlsoSet(alsoSet: Readonly<Record<string, string>>): string {
  return Object.entries(alsoSet)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

/** `aws-native at 20m, recipe at 2m` */
export function describeMatched(matched: readonly { policy: PolicyName; value: string }[]): string {
  return matched.map((m) => `${m.policy} at ${m.value}`).join(', ');
}

const p95Of = (p: FrontierPoint) => p.wait_p95_s ?? Infinity;

/** How a point falls short of dominating a baseline point: `dearer and slower`. */
export function shortfall(ours: FrontierPoint, theirs: FrontierPoint): string {
  const why: string[] = [];
  if (ours.cost_usd > theirs.cost_usd) why.push('dearer');
  if (p95Of(ours) > p95Of(theirs)) why.push('slower');
  if (ours.jobs_lost > theirs.jobs_lost) why.push('loses more jobs');
  return why.join(' and ');
}

/**
 * How many baseline points a spotfarm point dominates (`head`), and for each that none does (`undominated`), its
 * figures and what spotfarm did at the wait it delivered (the matched run), or why there was no such run.
 */
export function dominanceParts(json: BacktestJson): { head: string; undominated: string[] } | undefined {
  const dom = json.sweep?.dominance ?? [];
  if (dom.length === 0) return undefined;
  const free = dom.filter((d) => d.dominated_by.length === 0);
  if (free.length === 0) return { head: `every baseline point (${dom.length}) is dominated by a spotfarm point`, undominated: [] };
  const frontier = json.frontier ?? [];
  const unmatched = json.sweep?.matching?.unmatched ?? [];
  const why = (d: (typeof dom)[number]): string => {
    const b = frontier.find((p) => p.policy === d.policy && p.value === d.value);
    if (!b) return `${d.policy} at ${d.value}`;
    const figures = `${formatUsd(b.cost_usd)}, p95 ${formatDuration(b.wait_p95_s)}`;
    const m = frontier.find((p) => p.policy === 'spotfarm' && p.matched?.some((x) => x.policy === d.policy && x.value === d.value));
    const skipped = unmatched.find((u) => u.policy === d.policy && u.value === d.value);
    const after = m
      ? `; spotfarm at its p95 (${m.setting} ${m.value}${m.also_set ? `, ${describeAlsoSet(m.also_set)}` : ''}): ${formatUsd(m.cost_usd)}, p95 ${formatDuration(m.wait_p95_s)}, ${shortfall(m, b) || 'not dominating'}`
      : skipped
        ? `; not matched: ${skipped.reason}`
        : '';
    return `${d.policy} at ${d.value} (${figures}${after})`;
  };
  return { head: `${dom.length - free.length} of ${dom.length} baseline points are dominated by a spotfarm point`, undominated: free.map(why) };
}

/** dominanceParts in one sentence ('' without a sweep that has spotfarm and a baseline). */
export function dominanceVerdict(json: BacktestJson): string {
  const parts = dominanceParts(json);
  if (!parts) return '';
  return parts.undominated.length ? `${parts.head}; not: ${parts.undominated.join(', ')}` : parts.head;
}

/**
 * The terminal's frontier table, after the summary table. Ends with a newline; '' without a sweep.
 *
 * @example
 * ```
 * frontier: acceptableWait (spotfarm at each value, each baseline at its matching target; 4 runs, 2 threads)
 * acceptableWait  policy          baseline set to                cost  wait p95  lost  dominated by spotfarm at
 * 2m              spotfarm                                    $212.10     2m05s     0
 * 2m              on-demand-only  target 1 visible/instance   $420.00     9m40s     0  2m, 5m
 * ```
 */
export function formatFrontierTable(json: BacktestJson): string {
  const sweep = json.sweep;
  if (!sweep || !json.frontier?.length) return '';
  const rows = frontierRows(json);
  const header = [sweep.setting, 'policy', 'baseline set to', 'cost', 'wait p95', 'lost', 'dominated by spotfarm at'];
  const cells = rows.map((r) => [
    r.point.value,
    r.point.policy,
    r.target,
    formatUsd(r.point.cost_usd),
    formatDuration(r.point.wait_p95_s),
    formatInt(r.point.jobs_lost),
    r.dominatedBy === undefined ? '' : r.dominatedBy.length ? r.dominatedBy.join(', ') : 'none',
  ]);
  const right = new Set([3, 4, 5]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: string[]) =>
    c
      .map((cell, i) => (right.has(i) ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const how = `${sweep.runs} run${sweep.runs === 1 ? '' : 's'}, ${sweep.threads ? `${sweep.threads} worker thread${sweep.threads === 1 ? '' : 's'}` : 'in one thread'}`;
  const title = `frontier: ${sweep.setting} (${frontierHow(json)}; ${how})`;
  const verdict = dominanceVerdict(json);
  const notes = matchingNotes(json);
  return [title, line(header), ...cells.map(line), ...notes, ...(verdict ? [`dominance (cost <=, p95 <=, lost <=): ${verdict}`] : [])].join('\n') + '\n';
}

/** What the runs were, for the table's title. */
function frontierHow(json: BacktestJson): string {
  const matched = (json.frontier ?? []).some((p) => p.matched?.length);
  return matched
    ? 'spotfarm at each value and at the p95 of each baseline point those did not dominate, each baseline at its matching target'
    : 'spotfarm at each value, each baseline at its matching target';
}

/** What a matched row is, and why an undominated point has none (docs/backtest.md, "Cost at equal service"). */
export function matchingNotes(json: BacktestJson): string[] {
  const matching = json.sweep?.matching;
  const notes: string[] = [];
  if ((json.frontier ?? []).some((p) => p.matched?.length)) {
    notes.push(
      'matched: spotfarm run again with acceptableWait = the p95 wait a baseline point delivered (floored to whole ' +
        'seconds, at least 1s), to compare cost at equal service; "p95 of" names the point it matches',
    );
  }
  // Points run with more than the swept setting say so in their row; this says why.
  if (json.sweep?.also_set_note && (json.frontier ?? []).some((p) => p.also_set)) notes.push(`also set: ${json.sweep.also_set_note}`);
  const undominated = (json.sweep?.dominance ?? []).some((d) => d.dominated_by.length === 0);
  if (matching?.note && undominated) notes.push(`no matched runs: ${matching.note}`);
  return notes;
}

/** The cost-against-p95 chart: one line of points per policy, in the order of the swept values. */
export interface FrontierChartSpec {
  id: 'chart-frontier';
  title: string;
  note: string;
  height: number;
  setting: string;
  series: {
    /** The policy, or for spotfarm's matched runs MATCHED_LABEL. */
    label: string;
    policy: PolicyName;
    /** spotfarm's runs at the p95 of baseline points: points only, no line, drawn as open diamonds. */
    matched: boolean;
    color: string;
    /** x: p95 wait, seconds; y: cost, USD. A point without a p95 (no job started) cannot be placed and is left out. */
    points: { x: number; y: number; value: string; lost: number; dominated: boolean; matches?: string; also?: string }[];
  }[];
  /** Points left out for want of a p95 wait. */
  unplaced: number;
}

/** The chart's series of spotfarm's matched runs. */
export const MATCHED_LABEL = 'spotfarm at a baseline’s p95';

/** The chart's data, or undefined without a sweep. `colors`: the report's colour per policy. */
export function frontierChart(json: BacktestJson, colors: Record<PolicyName, string>): FrontierChartSpec | undefined {
  if (!json.sweep || !json.frontier?.length) return undefined;
  const rows = frontierRows(json);
  const byPolicy = new Map<string, FrontierChartSpec['series'][number]>();
  let unplaced = 0;
  for (const r of rows) {
    const p = r.point;
    if (p.wait_p95_s === null) {
      unplaced++;
      continue;
    }
    // A matched run is a point of its own, not a step of the swept line: it has its own series.
    const swept = !(p.policy === 'spotfarm' && p.matched?.length && !json.sweep.values.includes(p.value));
    const key = swept ? p.policy : MATCHED_LABEL;
    let s = byPolicy.get(key);
    if (!s) byPolicy.set(key, (s = { label: key, policy: p.policy, matched: !swept, color: colors[p.policy], points: [] }));
    s.points.push({
      x: Math.round(p.wait_p95_s),
      y: Math.round(p.cost_usd * 100) / 100,
      value: p.value,
      lost: p.jobs_lost,
      dominated: (r.dominatedBy?.length ?? 0) > 0,
      ...(p.matched?.length ? { matches: describeMatched(p.matched) } : {}),
      ...(p.also_set ? { also: describeAlsoSet(p.also_set) } : {}),
    });
  }
  const anyMatched = rows.some((r) => r.point.matched?.length);
  const alsoSet = rows.find((r) => r.point.also_set)?.point.also_set;
  return {
    id: 'chart-frontier',
    title: `Cost against p95 wait, ${json.sweep.setting} swept`,
    note:
      `Each point is one run: spotfarm with ${json.sweep.setting} at the value written beside it, each baseline at its ` +
      'matching target. Down and left is better. A baseline point crossed out is dominated: some spotfarm point costs ' +
      'no more, has a p95 wait no longer and loses no more jobs.' +
      (anyMatched
        ? ` An open diamond is spotfarm run again with ${json.sweep.setting} set to the p95 wait a baseline point ` +
          'delivered (the point it matches is named beside it): cost at equal service. A swept spotfarm point whose ' +
          'value is such a wait already is ringed.'
        : '') +
      (alsoSet
        ? ` A spotfarm point labelled ${describeAlsoSet(alsoSet)} ran with it: its target is shorter than the workers' ` +
          'idle receive delay, which busy-first receiving cannot keep, so its workers and its scaler ran as plan advises.'
        : ''),
    height: 360,
    setting: json.sweep.setting,
    series: [...byPolicy.values()],
    unplaced,
  };
}
