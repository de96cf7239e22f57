import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCharts, MAX_MARKS, thinMarks } from '../../sim/report/charts';
import { CLIENT_JS } from '../../sim/report/client';
import { MAX_POINTS } from '../../sim/report/downsample';
import { escapeHtml, jsonForScript, renderReportHtml, writeReport } from '../../sim/report/index';
import { formatUsd } from '../../sim/report/format';
import { buildFixture, buildLargeResult, HOSTILE } from './fixtures';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spotfarm-report-html-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The page without its inlined scripts and styles: what the server-side rendering put in the markup. */
function markupOnly(html: string): string {
  return html.replace(/<script\b[^>]*>[\s\S]*?<\/script>/g, '').replace(/<style\b[^>]*>[\s\S]*?<\/style>/g, '');
}

describe('writeReport', () => {
  it('writes one index.html into a new directory and returns its path', async () => {
    // Prepare
    const target = join(dir, 'nested', 'out');

    // Act
    const file = await writeReport(buildFixture(), target);

    // Assess
    expect(file).toBe(join(target, 'index.html'));
    await expect(readFile(file, 'utf8')).resolves.toMatch(/^<!doctype html>/);
  });
});

describe('renderReportHtml', () => {
  it('is self-contained: library inlined, no external script, stylesheet, image or font', async () => {
    // Act
    const html = await renderReportHtml(buildFixture());

    // Assess
    expect(html).not.toMatch(/src=["']?https?:/i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/<script[^>]*\bsrc=/i);
    expect(html).not.toMatch(/@import|url\(\s*["']?https?:/i);
    expect(html).not.toMatch(/<img\b/i);
    expect(html).toContain('uPlot');
    expect(html).toContain('.uplot');
    // Light: the fixture's 3241 samples per series do not all go in.
    expect(html.length).toBeLessThan(1_000_000);
  });

  it('stays light on a week-long run with 15 pools and thousands of events', async () => {
    // Prepare
    const result = buildLargeResult();
    const started = performance.now();

    // Act
    const html = await renderReportHtml(result);

    // Assess
    console.log(`week-long report: ${(html.length / 1e6).toFixed(2)} MB in ${Math.round(performance.now() - started)} ms`);
    expect(html.length).toBeLessThan(2_500_000);
    const data = JSON.parse(/<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html)?.[1] ?? '{}') as {
      charts: { x: number[]; marks: unknown[] }[];
    };
    for (const c of data.charts) {
      expect(c.x.length).toBeLessThanOrEqual(MAX_POINTS);
      expect(c.marks.length).toBeLessThanOrEqual(MAX_MARKS);
    }
    // Grouped markers still count every event in the chart's legend.
    expect(html).toContain(`interruption (${result.marks.recipe?.length})`);
  });

  it('has the summary table of every policy with cost relative to the oracle and the clairvoyant', async () => {
    // Prepare
    const result = buildFixture();
    const ratio = (result.json.policies.spotfarm.cost_usd / result.json.policies.oracle.cost_usd).toFixed(2);

    // Act
    const html = await renderReportHtml(result);

    // Assess
    const rows = html.match(/<tr[^>]*><th scope="row">/g) ?? [];
    expect(rows).toHaveLength(6);
    for (const name of ['spotfarm', 'on-demand-only', 'recipe', 'aws-native', 'oracle', 'clairvoyant']) expect(html).toContain(`</span>${name}</th>`);
    expect(html).toContain(`<td>${ratio}x</td>`);
    const vsClairvoyant = (result.json.policies.spotfarm.cost_usd / result.json.policies.clairvoyant.cost_usd).toFixed(2);
    expect(html).toContain(`<td>${vsClairvoyant}x</td>`);
  });

  it('stacks each policy’s cost into busy, idle, boot and rework bars on one scale, premium beside them', async () => {
    // Prepare
    const result = buildFixture();
    const json = result.json;
    const dearest = Math.max(...Object.values(json.policies).map((p) => p.cost_usd));

    // Act
    const html = await renderReportHtml(result);

    // Assess
    const section = html.slice(html.indexOf('id="cost-breakdown"'), html.indexOf('</section>', html.indexOf('id="cost-breakdown"')));
    for (const [name, p] of Object.entries(json.policies)) {
      const row = section.slice(section.indexOf(`data-policy="${name}"`), section.indexOf('</div>', section.indexOf(`data-policy="${name}"`)));
      expect(row, name).toContain(`on-demand premium ${formatUsd(p.cost_breakdown.on_demand_premium_usd)}`);
      const widths = [...row.matchAll(/style="width:([\d.]+)%/g)].map((m) => Number(m[1]));
      const parts = ['busy_usd', 'idle_usd', 'boot_usd', 'rework_usd'] as const;
      expect(widths, name).toHaveLength(parts.filter((k) => p.cost_breakdown[k] > 0).length);
      // The bar's length is the policy's cost on the dearest policy's scale.
      expect(widths.reduce((a, b) => a + b, 0)).toBeCloseTo((p.cost_usd / dearest) * 100, 0);
    }
  });

  it('escapes every name and detail it puts in the markup, and keeps the data script closed', async () => {
    // Prepare
    const result = buildFixture({ scenario: `spiky ${HOSTILE}`, groupSuffix: HOSTILE, detailSuffix: HOSTILE });

    // Act
    const html = await renderReportHtml(result);

    // Assess
    const markup = markupOnly(html);
    expect(markup.includes('<img')).toBe(false);
    expect(markup.includes('"window.__pwned')).toBe(false);
    expect(markup).toContain(escapeHtml(`spotfarm backtest: spiky ${HOSTILE}`));
    expect(markup).toContain(escapeHtml(HOSTILE));
    // The JSON data block has no '<' at all, so nothing in it can close the script element.
    const data = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html)?.[1] ?? '';
    expect(data.includes('<')).toBe(false);
    const parsed = JSON.parse(data) as { charts: { id: string; series: { label: string }[] }[] };
    const capacity = parsed.charts.find((c) => c.id === 'chart-capacity-spotfarm');
    expect(capacity?.series.map((s) => s.label)).toContain(`group farm-spot${HOSTILE}`);
    // Exactly our three scripts: data, uPlot, the drawing code.
    expect(html.match(/<script\b/g)).toHaveLength(3);
    expect(html.match(/<\/script>/g)).toHaveLength(3);
  });
});

describe('the drawing code', () => {
  it('is valid script with no way to close its element early', () => {
    // Act
    const compile = (): unknown => new Function(CLIENT_JS);

    // Assess
    expect(compile).not.toThrow();
    expect(CLIENT_JS.includes('</')).toBe(false);
    expect(CLIENT_JS).not.toMatch(/innerHTML|insertAdjacentHTML|document\.write|fetch\(|XMLHttpRequest/);
  });
});

describe('escapeHtml and jsonForScript', () => {
  it.each([
    ['<b>', '&#60;b&#62;'],
    ['a & b', 'a &#38; b'],
    [`"it's"`, '&#34;it&#39;s&#34;'],
    ['plain', 'plain'],
  ])('escapeHtml(%j)', (input, expected) => {
    // Act / Assess
    expect(escapeHtml(input)).toBe(expected);
  });

  it('jsonForScript round-trips and contains no < or raw line separators', () => {
    // Prepare
    const value = { s: '</script><!-- \u2028\u2029 &' };

    // Act
    const out = jsonForScript(value);

    // Assess
    expect(out).not.toMatch(/[<\u2028\u2029]/);
    expect(JSON.parse(out)).toEqual(value);
  });
});

describe('buildCharts', () => {
  it('makes the price, cost, backlog, wait and one capacity chart per simulated policy', () => {
    // Act
    const charts = buildCharts(buildFixture());

    // Assess
    expect(charts.map((c) => c.id)).toEqual([
      'chart-prices',
      'chart-cost',
      'chart-backlog',
      'chart-waits',
      'chart-capacity-spotfarm',
      'chart-capacity-on-demand-only',
      'chart-capacity-recipe',
      'chart-capacity-aws-native',
    ]);
    expect(charts[0]?.series.map((s) => s.label)).toEqual([
      'c3.xlarge us-east-1a',
      'c3.xlarge us-east-1b',
      'c3.xlarge us-east-1e',
      'on-demand c3.xlarge',
    ]);
    expect(charts[4]?.series.map((s) => s.label)).toEqual(['spot', 'on-demand', 'group farm-on-demand', 'group farm-spot']);
  });

  it('keeps every chart within the point budget, all on the same time range, columns as long as x', () => {
    // Prepare
    const result = buildFixture();

    // Act
    const charts = buildCharts(result, 500);

    // Assess
    const ends = new Set<string>();
    for (const c of charts) {
      expect(c.x.length, c.id).toBeLessThanOrEqual(500);
      for (const s of c.series) expect(s.values.length, `${c.id} ${s.label}`).toBe(c.x.length);
      ends.add(`${c.x[0]}-${c.x.at(-1)}`);
    }
    expect([...ends]).toEqual([`${result.start_epoch_s}-${result.end_epoch_s}`]);
  });

  it('keeps the highest backlog and the final cost through downsampling', () => {
    // Prepare
    const result = buildFixture();
    const s = result.series.spotfarm;

    // Act
    const charts = buildCharts(result, MAX_POINTS / 10);

    // Assess
    const backlog = charts.find((c) => c.id === 'chart-backlog')?.series[0]?.values ?? [];
    const cost = charts.find((c) => c.id === 'chart-cost')?.series[0]?.values ?? [];
    expect(Math.max(...backlog.map((v) => v ?? 0))).toBe(Math.max(...(s?.backlog ?? [])));
    expect(cost.at(-1)).toBeCloseTo(s?.cost_usd.at(-1) ?? NaN, 4);
  });

  it('puts the oracle total as a single point at the end of the cost chart', () => {
    // Prepare
    const result = buildFixture();

    // Act
    const cost = buildCharts(result).find((c) => c.id === 'chart-cost');

    // Assess
    const oracle = cost?.series.find((s) => s.label === 'oracle (total)');
    expect(oracle?.pointsOnly).toBe(true);
    expect(oracle?.values.filter((v) => v !== null)).toEqual([result.json.policies.oracle.cost_usd]);
    expect(oracle?.values.at(-1)).toBe(result.json.policies.oracle.cost_usd);
  });

  it('marks the storm on every chart and each policy’s own events on its capacity chart', () => {
    // Prepare
    const result = buildFixture();

    // Act
    const charts = buildCharts(result);

    // Assess
    for (const c of charts) expect(c.marks.filter((m) => m.kind === 'storm'), c.id).toHaveLength(1);
    const spotfarm = charts.find((c) => c.id === 'chart-capacity-spotfarm');
    expect(spotfarm?.marks).toHaveLength(result.marks.spotfarm?.length ?? -1);
    expect(spotfarm?.marks.some((m) => m.kind === 'swap-to-on-demand')).toBe(true);
  });

  it('draws only what is there: no capacity charts without series, no price chart without a market', () => {
    // Prepare
    const result = buildFixture();
    result.series = { spotfarm: result.series.spotfarm };
    result.market = { spot: [], on_demand: [] };

    // Act
    const ids = buildCharts(result).map((c) => c.id);

    // Assess
    expect(ids).toEqual(['chart-cost', 'chart-backlog', 'chart-waits', 'chart-capacity-spotfarm']);
  });
});

describe('thinMarks', () => {
  it('groups marks per kind and time bucket once there are too many, counting them', () => {
    // Prepare
    const marks = Array.from({ length: 5000 }, (_, i) => ({ t: i * 60, kind: 'interruption' as const, detail: `i-${i}` }));

    // Act
    const thin = thinMarks(marks, 0, 5000 * 60);

    // Assess
    expect(thin.length).toBeLessThanOrEqual(MAX_MARKS);
    expect(thin[0]?.detail).toMatch(/^\d+× interruption \(first: i-0\)$/);
    expect(thin.length).toBeGreaterThan(MAX_MARKS / 2);
    expect(thin.reduce((n, m) => n + (m.count ?? 1), 0)).toBe(5000);
  });
});
