/**
 * The report's frontier (a `--sweep` run): the markup (table, verdict) and, in headless Chromium as in
 * browser.test.ts, the cost-against-p95 chart drawn with every policy's points, offline and without errors.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frontierChart, formatFrontierTable } from '../../sim/report/frontier';
import { POLICY_COLORS } from '../../sim/report/charts';
import { renderReportHtml, writeReport } from '../../sim/report/index';
import { buildFixture } from './fixtures';
import { withFrontier } from './frontier-fixture';
import { tightTargetNote } from '../../sim/frontier/sweep';

const CHROMIUM = process.env.SPOTFARM_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const MISSING = existsSync(CHROMIUM)
  ? undefined
  : `Chromium not found at ${CHROMIUM}: the report's browser test needs Debian's chromium ` +
    '(apt-get update && apt-get install -y chromium; .ci/run does this), or SPOTFARM_CHROMIUM=/path/to/chromium.';

let browser: Browser;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spotfarm-frontier-'));
  if (MISSING === undefined) browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
});

afterAll(async () => {
  await browser?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the frontier in the terminal and the report markup', () => {
  it('lists every point with its baseline target and what dominates it', () => {
    // Act
    const text = formatFrontierTable(withFrontier().json);

    // Assess
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe('frontier: acceptableWait (spotfarm at each value, each baseline at its matching target; 4 runs, 2 worker threads)');
    expect(lines).toHaveLength(2 + 16 + 1);
    expect(lines.find((l) => l.startsWith('2m ') && l.includes('on-demand-only'))).toMatch(/target 1 visible\/instance\s+\$402\.70\s+5m10s\s+0\s+2m, 5m$/);
    // No job started: no p95, worse than any point that has one.
    expect(lines.find((l) => l.startsWith('20m') && l.includes('recipe'))).toMatch(/alarms 160%\/40% of slots\s+\$330\.40\s+-\s+240\s+2m, 5m, 10m, 20m$/);
    expect(lines.find((l) => l.startsWith('20m') && l.includes('aws-native'))).toMatch(/\$101\.00\s+51m40s\s+0\s+none$/);
    expect(lines.at(-1)).toBe(
      'dominance (cost <=, p95 <=, lost <=): 11 of 12 baseline points are dominated by a spotfarm point; not: aws-native at 20m ($101.00, p95 51m40s)',
    );
  });

  it('lists a matched run as spotfarm at the p95 it matches, says what it is, and why the baseline point still stands', () => {
    // Act
    const text = formatFrontierTable(withFrontier(undefined, { matched: true }).json);

    // Assess
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe(
      'frontier: acceptableWait (spotfarm at each value and at the p95 of each baseline point those did not dominate, each baseline at its matching target; 5 runs, 2 worker threads)',
    );
    expect(lines).toHaveLength(2 + 17 + 2);
    expect(lines[2 + 16]).toMatch(/^51m40s\s+spotfarm\s+p95 of aws-native at 20m\s+\$98\.60\s+53m10s\s+0$/);
    expect(lines.at(-2)).toMatch(/^matched: spotfarm run again with acceptableWait = the p95 wait a baseline point delivered/);
    expect(lines.at(-1)).toBe(
      'dominance (cost <=, p95 <=, lost <=): 11 of 12 baseline points are dominated by a spotfarm point; not: aws-native at 20m ' +
        '($101.00, p95 51m40s; spotfarm at its p95 (acceptableWait 51m40s): $98.60, p95 53m10s, slower)',
    );
  });

  it('says why an undominated point has no matched run', () => {
    const result = withFrontier();
    result.json.sweep!.matching = { runs: 0, note: 'the sweep is of scaleInStep; matched runs move acceptableWait (sweep acceptableWait to get them)', unmatched: [] };
    expect(formatFrontierTable(result.json)).toContain('\nno matched runs: the sweep is of scaleInStep; matched runs move acceptableWait');
    result.json.sweep!.matching = { runs: 0, note: null, unmatched: [{ policy: 'aws-native', value: '20m', reason: 'no job started: no p95 wait to match' }] };
    expect(formatFrontierTable(result.json)).toContain('not: aws-native at 20m ($101.00, p95 51m40s; not matched: no job started: no p95 wait to match)');
  });

  it('draws matched runs as a series of their own, without a line, each point naming what it matches', async () => {
    // Act
    const result = withFrontier(undefined, { matched: true });
    const chart = frontierChart(result.json, POLICY_COLORS)!;
    const html = await renderReportHtml(result);

    // Assess
    expect(chart.series.map((s) => [s.label, s.matched, s.points.length])).toEqual([
      ['spotfarm', false, 4],
      ['on-demand-only', false, 4],
      ['recipe', false, 3],
      ['aws-native', false, 4],
      ['spotfarm at a baseline’s p95', true, 1],
    ]);
    expect(chart.series.at(-1)!.points[0]).toEqual({ x: 3190, y: 98.6, value: '51m40s', lost: 0, dominated: false, matches: 'aws-native at 20m' });
    expect(chart.series.at(-1)!.color).toBe(POLICY_COLORS.spotfarm);
    expect(chart.note).toContain('An open diamond is spotfarm run again with acceptableWait set to the p95 wait a baseline point delivered');
    expect(frontierChart(withFrontier().json, POLICY_COLORS)!.note).not.toContain('open diamond');
    expect(html).toMatch(/<tr class="ours matched"><td>51m40s<\/td><th scope="row">.*?spotfarm<\/th><td>p95 of aws-native at 20m<\/td>/);
    expect(html).toContain('<p class="note frontier-matching">matched: spotfarm run again with acceptableWait');
  });

  it('says on a spotfarm point run with idleReceiveDelay 0s that it was, and why: table, verdict, chart, page', async () => {
    // Prepare: the matched run as a sweep makes it at a target below the workers' idle receive delay.
    const result = withFrontier(undefined, { matched: true });
    const json = result.json;
    const m = json.frontier!.find((p) => p.matched?.length)!;
    m.also_set = { idleReceiveDelay: '0s' };
    json.sweep!.also_set_note = tightTargetNote();

    // Act
    const text = formatFrontierTable(json);
    const chart = frontierChart(json, POLICY_COLORS)!;
    const html = await renderReportHtml(result);

    // Assess
    const lines = text.trimEnd().split('\n');
    expect(lines[2 + 16]).toMatch(/^51m40s\s+spotfarm\s+p95 of aws-native at 20m; with idleReceiveDelay 0s\s+\$98\.60\s+53m10s\s+0$/);
    expect(lines).toContainEqual(expect.stringMatching(/^also set: an acceptableWait shorter than the workers' idle receive delay \(30s by default\) cannot be kept with busy-first receiving.*--idle-receive-delay 0/));
    expect(lines.at(-1)).toContain('spotfarm at its p95 (acceptableWait 51m40s, idleReceiveDelay 0s): $98.60');
    expect(chart.series.at(-1)!.points[0]).toMatchObject({ value: '51m40s', also: 'idleReceiveDelay 0s' });
    expect(chart.note).toContain('A spotfarm point labelled idleReceiveDelay 0s ran with it');
    expect(frontierChart(withFrontier().json, POLICY_COLORS)!.note).not.toContain('idleReceiveDelay');
    expect(html).toMatch(/<td>p95 of aws-native at 20m; with idleReceiveDelay 0s<\/td>/);
    expect(html).toContain('<p class="note frontier-matching">also set: an acceptableWait shorter than');
    // Without such a point, nothing is said.
    expect(formatFrontierTable(withFrontier(undefined, { matched: true }).json)).not.toContain('also set');
  });

  it('prints nothing and draws no frontier without a sweep', async () => {
    const plain = buildFixture();
    expect(formatFrontierTable(plain.json)).toBe('');
    expect(frontierChart(plain.json, POLICY_COLORS)).toBeUndefined();
    const html = await renderReportHtml(plain);
    expect(html).not.toContain('id="chart-frontier"');
  });

  it('puts the chart, the verdict and the table in the page; a point without a p95 is in the table only', async () => {
    // Act
    const result = withFrontier();
    const html = await renderReportHtml(result);
    const chart = frontierChart(result.json, POLICY_COLORS)!;

    // Assess
    expect(html).toContain('<div class="chart" id="chart-frontier"></div>');
    expect(html).toContain(
      '<p class="headline" id="frontier-verdict">Dominance (cost ≤, p95 ≤, lost ≤): 11 of 12 baseline points are dominated by a spotfarm point; not:</p>' +
        '<ul class="frontier-undominated"><li>aws-native at 20m ($101.00, p95 51m40s)</li></ul>',
    );
    expect(html.match(/<tr[^>]*><td>(2m|5m|10m|20m)<\/td>/g)).toHaveLength(16);
    expect(chart.unplaced).toBe(1);
    expect(chart.series.map((s) => [s.label, s.points.length])).toEqual([
      ['spotfarm', 4],
      ['on-demand-only', 4],
      ['recipe', 3],
      ['aws-native', 4],
    ]);
    expect(chart.series.find((s) => s.label === 'aws-native')?.points.map((p) => p.dominated)).toEqual([true, true, true, false]);
  });
});

describe('the frontier chart in headless Chromium', () => {
  it('draws every policy’s points, offline and without errors, beside the time charts', async () => {
    // Prepare
    if (MISSING !== undefined) throw new Error(MISSING);
    // The matched run labelled as one run with idleReceiveDelay 0s (its label then names it too).
    const result = withFrontier(undefined, { matched: true });
    result.json.frontier!.find((p) => p.matched?.length)!.also_set = { idleReceiveDelay: '0s' };
    result.json.sweep!.also_set_note = tightTargetNote();
    const file = await writeReport(result, join(dir, 'frontier'));
    const fileUrl = pathToFileURL(file).href;
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const requests: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') errors.push(`console.${m.type()}: ${m.text()}`);
    });

    // Act
    await page.goto(fileUrl, { waitUntil: 'load' });
    await page.waitForFunction('window.spotfarmReport && window.spotfarmReport.ready === true', null, { timeout: 15_000 });
    const drawn = (await page.evaluate(`(() => {
      const spec = JSON.parse(document.getElementById('report-data').textContent).frontier;
      const canvas = document.querySelector('#chart-frontier canvas');
      if (!canvas) return null;
      const { width, height } = canvas;
      const px = canvas.getContext('2d').getImageData(0, 0, width, height).data;
      const seen = spec.series.map((s) => {
        const n = parseInt(s.color.slice(1), 16);
        const rgb = [(n >> 16) & 255, (n >> 8) & 255, n & 255];
        let count = 0;
        for (let i = 0; i < px.length; i += 4) {
          if (px[i + 3] < 200) continue;
          if (Math.abs(px[i] - rgb[0]) + Math.abs(px[i + 1] - rgb[1]) + Math.abs(px[i + 2] - rgb[2]) < 24) count++;
        }
        return [s.label, count];
      });
      return { width, height, seen, frontier: window.spotfarmReport.frontier, timeCharts: window.spotfarmReport.xRanges().length };
    })()`)) as { width: number; height: number; seen: [string, number][]; frontier: boolean; timeCharts: number } | null;
    const shot = join(tmpdir(), 'spotfarm-report-frontier.png');
    await page.locator('#chart-frontier').screenshot({ path: shot });
    console.log(`frontier chart screenshot: ${shot}`);
    await page.close();

    // Assess
    expect(errors).toEqual([]);
    expect(requests).toEqual([fileUrl]);
    expect(drawn).not.toBeNull();
    expect(drawn!.frontier).toBe(true);
    expect(drawn!.width).toBeGreaterThan(300);
    expect(drawn!.height).toBeGreaterThan(300);
    // Each policy's points and line are on the canvas in its colour (a 9 px point alone is ~60 pixels).
    for (const [label, count] of drawn!.seen) expect(count, label).toBeGreaterThan(100);
    // The time charts are still all there and still zoom together (the frontier is not one of them).
    expect(drawn!.timeCharts).toBe(8);
  });
});
