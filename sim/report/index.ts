/**
 * The `--report DIR` output: one self-contained HTML page (charts, summary table, event lists) that works offline.
 *
 * Charts are drawn by uPlot: ~50 kB minified with no dependencies (small enough to inline in every report),
 * canvas-based and fast on long time series, with step lines, synced cursors and drag-to-zoom built in, and
 * maintained (MIT). Chart.js would also do, at three to four times the size and slower on many points.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { BacktestResult, PolicyMark } from '../result';
import { COMPUTED_POLICIES, POLICY_NAMES } from '../result';
import { MARK_STYLE, POLICY_COLORS, buildCharts, timeRange, type ChartSpec } from './charts';
import { BREAKDOWN_CSS, breakdownHtml } from './breakdown';
import { CLIENT_JS } from './client';
import { SUMMARY_COLUMNS, costVsClairvoyant, costVsOracle, formatDuration, formatInt, formatUsd, policiesIn } from './format';
import { dominanceParts, frontierChart, frontierRows, matchingNotes, type FrontierChartSpec } from './frontier';
import { poolTableHtml } from './pools';

export { createProgress, formatSummaryTable, type Progress } from './summary';

/** The report's file name inside DIR. */
export const REPORT_FILE = 'index.html';

/** Rows per policy in the event lists under the charts (the charts show every event). */
export const MAX_EVENT_ROWS = 300;

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * JSON that is safe inside a `<script type="application/json">`: no `<` (so no `</script>`), and no raw
 * U+2028/U+2029.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** Text inlined in a `<script>` or `<style>` element must not close it early. */
function inlineSafe(code: string, tag: 'script' | 'style'): string {
  return code.replace(new RegExp(`</${tag}`, 'gi'), `<\\/${tag}`);
}

// The project is CommonJS: `require` exists under tsx, vitest and a CJS bundle, and finds uPlot's files in
// node_modules (a runtime dependency). Pure ESM has no `require`: resolve from the working directory then (no
// `import.meta`, which a CJS bundle would leave empty).
const localRequire = typeof require === 'function' ? require : createRequire(join(process.cwd(), 'package.json'));

interface Assets {
  uplotJs: string;
  uplotCss: string;
}

let assets: Promise<Assets> | undefined;

function loadAssets(): Promise<Assets> {
  assets ??= Promise.all([
    readFile(localRequire.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
    readFile(localRequire.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
  ]).then(([uplotJs, uplotCss]) => ({ uplotJs, uplotCss }));
  return assets;
}

export function formatTime(epochS: number): string {
  return `${new Date(epochS * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function summaryTableHtml(result: BacktestResult): string {
  const json = result.json;
  const names = policiesIn(json);
  const simulated = names.filter((n) => !COMPUTED_POLICIES.includes(n));
  const cheapest = simulated.reduce<string | undefined>(
    (best, n) => (best === undefined || json.policies[n].cost_usd < json.policies[best as typeof n].cost_usd ? n : best),
    undefined,
  );
  const head = `<tr><th scope="col">Policy</th>${SUMMARY_COLUMNS.map(
    (c) => `<th scope="col" title="${escapeHtml(c.help)}">${escapeHtml(c.title)}</th>`,
  ).join('')}</tr>`;
  const rows = names.map((name) => {
    const p = json.policies[name];
    const classes = [name === 'spotfarm' ? 'ours' : '', COMPUTED_POLICIES.includes(name) ? 'oracle' : ''].filter(Boolean).join(' ');
    const cells = SUMMARY_COLUMNS.map((c) => {
      const cls: string[] = [];
      if (c.header === 'lost' && p.jobs_lost > 0 && !COMPUTED_POLICIES.includes(name)) cls.push('bad');
      if (c.header === 'cost' && name === cheapest) cls.push('best');
      return `<td${cls.length ? ` class="${cls.join(' ')}"` : ''}>${escapeHtml(c.value(p, json, name))}</td>`;
    }).join('');
    const swatch = `<span class="swatch" style="background:${POLICY_COLORS[name]}"></span>`;
    return `<tr${classes ? ` class="${classes}"` : ''}><th scope="row">${swatch}${escapeHtml(name)}</th>${cells}</tr>`;
  });
  return `<table class="summary"><thead>${head}</thead><tbody>${rows.join('')}</tbody></table>`;
}

function poolSection(json: BacktestResult['json']): string {
  const table = poolTableHtml(json, escapeHtml);
  if (!table) return '';
  return `<h3>Where the money went, per pool</h3>
<div class="table-wrap">${table}</div>
<p class="note">One row per simulated policy and pool (instance type / Availability Zone). The last column is spot spend while that pool’s spot price was at or above on-demand: money a farm saves by leaving the pool.</p>`;
}

function headline(result: BacktestResult): string {
  const json = result.json;
  const ratio = costVsOracle(json, 'spotfarm');
  const clairvoyantRatio = costVsClairvoyant(json, 'spotfarm');
  const sf = json.policies.spotfarm;
  if (sf === undefined) return '';
  const parts = [
    `spotfarm spent <b>${escapeHtml(SUMMARY_COLUMNS[0]?.value(sf, json, 'spotfarm') ?? '')}</b>`,
    ratio !== null ? `<b>${escapeHtml(ratio.toFixed(2))}×</b> the oracle lower bound` : '',
    clairvoyantRatio !== null ? `<b>${escapeHtml(clairvoyantRatio.toFixed(2))}×</b> the clairvoyant farm` : '',
    `lost <b class="${sf.jobs_lost > 0 ? 'bad' : 'good'}">${escapeHtml(String(sf.jobs_lost))}</b> of ${escapeHtml(String(sf.jobs_submitted))} jobs`,
    sf.wait_p95_s !== null ? `p95 wait <b>${escapeHtml(formatDuration(sf.wait_p95_s))}</b>` : '',
  ].filter(Boolean);
  const others = POLICY_NAMES.filter((n) => n !== 'spotfarm' && !COMPUTED_POLICIES.includes(n) && json.policies[n] !== undefined);
  const cheaper = others.filter((n) => json.policies[n].cost_usd < sf.cost_usd);
  const verdict =
    others.length === 0
      ? ''
      : cheaper.length === 0
        ? ' It was the cheapest simulated policy.'
        : ` Cheaper: ${cheaper.map((n) => escapeHtml(n)).join(', ')}.`;
  return `<p class="headline">${parts.join(', ')}.${verdict}</p>`;
}

function chartSection(chart: ChartSpec): string {
  const kinds = [...new Set(chart.marks.map((m) => m.kind))];
  const legend = kinds.length
    ? `<div class="marks-legend">${kinds
        .map((k) => {
          const n = chart.marks.filter((m) => m.kind === k).reduce((sum, m) => sum + (m.count ?? 1), 0);
          return `<span><i style="background:${MARK_STYLE[k].color}"></i>${escapeHtml(MARK_STYLE[k].label)} (${n})</span>`;
        })
        .join('')}</div>`
    : '';
  return `<section class="chart-card">
<h3>${escapeHtml(chart.title)}</h3>
<p class="note">${escapeHtml(chart.note)}</p>
<div class="chart" id="${escapeHtml(chart.id)}" data-chart="${escapeHtml(chart.id)}"></div>
${legend}<p class="hover" data-hover-for="${escapeHtml(chart.id)}"></p>
</section>`;
}

/** The frontier (with `--sweep`): the chart, then every point with what the baseline was set to and what dominates it. */
function frontierSection(result: BacktestResult, chart: FrontierChartSpec | undefined): string {
  const json = result.json;
  if (!chart || !json.sweep) return '';
  const setting = escapeHtml(json.sweep.setting);
  const rows = frontierRows(json)
    .map((r) => {
      const p = r.point;
      const swatch = `<span class="swatch" style="background:${POLICY_COLORS[p.policy]}"></span>`;
      const dom =
        r.dominatedBy === undefined
          ? ''
          : r.dominatedBy.length
            ? `<td class="good">spotfarm at ${escapeHtml(r.dominatedBy.join(', '))}</td>`
            : '<td class="bad">none</td>';
      const cls = p.policy === 'spotfarm' ? (p.matched?.length ? ' class="ours matched"' : ' class="ours"') : '';
      return `<tr${cls}><td>${escapeHtml(p.value)}</td><th scope="row">${swatch}${escapeHtml(p.policy)}</th><td>${escapeHtml(r.target)}</td><td>${escapeHtml(formatUsd(p.cost_usd))}</td><td>${escapeHtml(formatDuration(p.wait_p95_s))}</td><td${p.jobs_lost > 0 ? ' class="bad"' : ''}>${escapeHtml(formatInt(p.jobs_lost))}</td>${dom || '<td></td>'}</tr>`;
    })
    .join('');
  const parts = dominanceParts(json);
  const verdict = parts
    ? `<p class="headline" id="frontier-verdict">Dominance (cost ≤, p95 ≤, lost ≤): ${escapeHtml(parts.head)}${parts.undominated.length ? '; not:' : '.'}</p>` +
      (parts.undominated.length ? `<ul class="frontier-undominated">${parts.undominated.map((u) => `<li>${escapeHtml(u)}</li>`).join('')}</ul>` : '')
    : '';
  const notes = matchingNotes(json)
    .map((n) => `<p class="note frontier-matching">${escapeHtml(n)}.</p>`)
    .join('\n');
  const unplaced = chart.unplaced ? ` ${chart.unplaced} point(s) had no job start and no p95 wait: they are in the table only.` : '';
  return `<h2>Frontier</h2>
<section class="chart-card">
<h3>${escapeHtml(chart.title)}</h3>
<p class="note">${escapeHtml(chart.note + unplaced)}</p>
<div class="chart" id="${chart.id}"></div>
</section>
${verdict}
<div class="table-wrap"><table class="summary frontier"><thead><tr><th scope="col">${setting}</th><th scope="col">Policy</th><th scope="col">Baseline set to</th><th scope="col">Cost</th><th scope="col">Wait p95</th><th scope="col">Lost</th><th scope="col">Dominated by</th></tr></thead><tbody>${rows}</tbody></table></div>
${notes}
<p class="note">spotfarm ran with ${setting} at each value; each baseline ran at the target that moves with the value as spotfarm’s own sizing does (docs/backtest.md, “Frontier”; matched runs: “Cost at equal service”). ${escapeHtml(String(json.sweep.runs))} simulations.</p>`;
}

function eventLists(result: BacktestResult): string {
  const blocks = POLICY_NAMES.flatMap((name) => {
    const marks: PolicyMark[] = [...(result.marks[name] ?? [])].sort((a, b) => a.t - b.t);
    if (marks.length === 0) return [];
    const counts = Object.entries(
      marks.reduce<Record<string, number>>((acc, m) => {
        acc[m.kind] = (acc[m.kind] ?? 0) + 1;
        return acc;
      }, {}),
    )
      .map(([k, n]) => `${n} ${MARK_STYLE[k as PolicyMark['kind']]?.label ?? k}`)
      .join(', ');
    const rows = marks
      .slice(0, MAX_EVENT_ROWS)
      .map(
        (m) =>
          `<tr><td>${escapeHtml(formatTime(m.t))}</td><td><i style="background:${MARK_STYLE[m.kind]?.color ?? '#999'}"></i>${escapeHtml(
            MARK_STYLE[m.kind]?.label ?? m.kind,
          )}</td><td>${escapeHtml(m.detail)}</td></tr>`,
      )
      .join('');
    const more = marks.length > MAX_EVENT_ROWS ? `<p class="note">…and ${marks.length - MAX_EVENT_ROWS} more.</p>` : '';
    return [
      `<details><summary>${escapeHtml(name)}: ${escapeHtml(counts)}</summary><table class="events"><thead><tr><th>Time</th><th>Event</th><th>Detail</th></tr></thead><tbody>${rows}</tbody></table>${more}</details>`,
    ];
  });
  return blocks.length ? `<h2>Events</h2>${blocks.join('\n')}` : '';
}

const PAGE_CSS = `
:root { color-scheme: light; --fg: #111827; --muted: #6b7280; --line: #e5e7eb; --bg: #f8fafc; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", sans-serif; color: var(--fg); background: var(--bg); }
main { max-width: 1240px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 10px; }
h3 { font-size: 15px; margin: 0 0 2px; }
.meta, .note { color: var(--muted); margin: 0 0 8px; }
.note { font-size: 12.5px; }
.headline { font-size: 15px; margin: 12px 0 16px; }
.good { color: #15803d; } .bad { color: #b91c1c; font-weight: 600; }
.table-wrap { overflow-x: auto; background: #fff; border: 1px solid var(--line); border-radius: 8px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
.summary th, .summary td { padding: 7px 10px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
.summary thead th { background: #f1f5f9; font-weight: 600; font-size: 12.5px; cursor: help; }
.summary th[scope=row], .summary thead th:first-child { text-align: left; }
.summary tr.ours { background: #eff6ff; }
.summary.frontier tr.matched td:nth-child(3) { font-style: italic; }
.summary tr.oracle { color: var(--muted); font-style: italic; }
.summary td.best { font-weight: 700; color: #15803d; }
.summary.frontier td:nth-child(1), .summary.frontier td:nth-child(3), .summary.frontier td:last-child { text-align: left; }
.swatch, .marks-legend i, .events i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
.chart-card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 14px 8px; margin: 0 0 16px; }
.chart { width: 100%; min-height: 120px; }
.marks-legend { font-size: 12px; color: var(--muted); margin-top: 4px; }
.marks-legend span { margin-right: 14px; }
.hover { font-size: 12px; min-height: 1.45em; margin: 2px 0 0; color: #374151; }
details { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px; margin: 0 0 8px; }
summary { cursor: pointer; font-weight: 600; }
.events th, .events td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); font-size: 12.5px; vertical-align: top; }
.events td:first-child { white-space: nowrap; }
footer { color: var(--muted); font-size: 12px; margin-top: 32px; }
.u-legend { font-size: 12px; }
.u-legend .u-series th { font-weight: 500; }
`;

/** The whole page as a string (pure apart from reading the inlined library files once). */
export async function renderReportHtml(result: BacktestResult): Promise<string> {
  const { uplotJs, uplotCss } = await loadAssets();
  const charts = buildCharts(result);
  const { from, to } = timeRange(result);
  const json = result.json;
  const byId = new Map(charts.map((c) => [c.id, c]));
  const section = (ids: string[]): string =>
    ids
      .map((id) => byId.get(id))
      .filter((c): c is ChartSpec => c !== undefined)
      .map(chartSection)
      .join('\n');
  const capacityIds = charts.filter((c) => c.id.startsWith('chart-capacity-')).map((c) => c.id);
  const frontier = frontierChart(json, POLICY_COLORS);
  const data = { from, to, markStyle: MARK_STYLE, charts, frontier: frontier ?? null };
  const title = `spotfarm backtest: ${json.scenario}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${inlineSafe(uplotCss, 'style')}</style>
<style>${PAGE_CSS}${BREAKDOWN_CSS}</style>
</head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
<p class="meta">${escapeHtml(formatTime(from))} to ${escapeHtml(formatTime(to))} · ${escapeHtml(json.simulated_hours.toFixed(1))} simulated hours · computed in ${escapeHtml(json.wall_seconds.toFixed(1))} s · sampled every ${escapeHtml(String(result.sample_seconds))} s</p>
${headline(result)}
<h2>Summary</h2>
<div class="table-wrap">${summaryTableHtml(result)}</div>
<p class="note">Waits are queue waits (submission to the start of the attempt that completed). Lost = submitted − completed at the end, dead-lettered jobs included. The oracle is a computed lower bound, not a simulation: every job’s run time at the cheapest price of its moment, with no boot or idle time. The clairvoyant is the cheapest farm that knows the future: every job starts at arrival on ceil(running jobs / slots) instances, each launch pays a boot, an instance stays in its pool (spot only below the max price) and is kept through a dip when that is cheaper than a new boot. Hover a column header for its meaning.</p>
${frontierSection(result, frontier)}
<h2>Market</h2>
${section(['chart-prices'])}
${poolSection(json)}
<h2>Cost</h2>
${section(['chart-cost'])}
${breakdownHtml(json, POLICY_COLORS)}
<h2>Queue</h2>
${section(['chart-backlog', 'chart-waits'])}
${capacityIds.length ? `<h2>Capacity</h2>\n${section(capacityIds)}` : ''}
${eventLists(result)}
<footer>Drag across a chart to zoom (all charts follow), double-click to zoom out. Times are UTC. Made by spotfarm backtest; charts by uPlot.</footer>
</main>
<script type="application/json" id="report-data">${jsonForScript(data)}</script>
<script>${inlineSafe(uplotJs, 'script')}</script>
<script>${inlineSafe(CLIENT_JS, 'script')}</script>
</body>
</html>
`;
}

/**
 * Writes the report into `dir` (created if missing) and returns the file's path. Everything it needs is inside
 * the one file: no network fetch when it is opened.
 */
export async function writeReport(result: BacktestResult, dir: string): Promise<string> {
  const html = await renderReportHtml(result);
  await mkdir(dir, { recursive: true });
  const file = join(dir, REPORT_FILE);
  await writeFile(file, html, 'utf8');
  return file;
}
