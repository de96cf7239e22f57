/**
 * Opens a written report in headless Chromium (Debian's package, driven by playwright-core) and checks what a
 * user would see: every chart drawn with its lines, no script or console error, and no network request but the
 * report file itself. Leaves a screenshot in the OS temp folder (path printed) for a human look.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeReport } from '../../sim/report/index';
import { buildFixture, buildLargeResult, HOSTILE } from './fixtures';

const CHROMIUM = process.env.SPOTFARM_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

interface Loaded {
  page: Page;
  requests: string[];
  errors: string[];
  fileUrl: string;
}

interface ChartCheck {
  id: string;
  width: number;
  height: number;
  inkPixels: number;
  /** Series labels whose stroke colour was found on the canvas. */
  seen: string[];
  labels: string[];
}

let browser: Browser;
let dir: string;

async function open(result: ReturnType<typeof buildFixture>, name: string): Promise<Loaded> {
  if (MISSING !== undefined) throw new Error(MISSING);
  const file = await writeReport(result, join(dir, name));
  const fileUrl = pathToFileURL(file).href;
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') errors.push(`console.${m.type()}: ${m.text()}`);
  });
  page.on('dialog', (d) => {
    errors.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  await page.goto(fileUrl, { waitUntil: 'load' });
  await page.waitForFunction('window.spotfarmReport && window.spotfarmReport.ready === true', null, { timeout: 15_000 });
  return { page, requests, errors, fileUrl };
}

/**
 * Runs in the page (as source text: the project compiles without DOM types). Per chart: canvas size, how many
 * pixels are not transparent, and which series' stroke colours appear on the canvas.
 */
const INSPECT_CHARTS = `(() => {
  const data = JSON.parse(document.getElementById('report-data').textContent);
  return data.charts.map((spec) => {
    const labels = spec.series.map((s) => s.label);
    const canvas = document.querySelector('#' + spec.id + ' canvas');
    if (!canvas) return { id: spec.id, width: 0, height: 0, inkPixels: 0, seen: [], labels };
    const { width, height } = canvas;
    const px = canvas.getContext('2d').getImageData(0, 0, width, height).data;
    const wanted = spec.series.map((s) => {
      const n = parseInt(s.color.slice(1), 16);
      return { label: s.label, rgb: [(n >> 16) & 255, (n >> 8) & 255, n & 255], count: 0 };
    });
    let ink = 0;
    for (let i = 0; i < px.length; i += 4) {
      if (px[i + 3] === 0) continue;
      ink++;
      if (px[i + 3] < 200) continue;
      for (const w of wanted) {
        const d = Math.abs(px[i] - w.rgb[0]) + Math.abs(px[i + 1] - w.rgb[1]) + Math.abs(px[i + 2] - w.rgb[2]);
        if (d < 24) w.count++;
      }
    }
    return { id: spec.id, width, height, inkPixels: ink, seen: wanted.filter((w) => w.count >= 3).map((w) => w.label), labels };
  });
})()`;

function inspectCharts(page: Page): Promise<ChartCheck[]> {
  return page.evaluate(INSPECT_CHARTS) as Promise<ChartCheck[]>;
}

const MISSING = existsSync(CHROMIUM)
  ? undefined
  : `Chromium not found at ${CHROMIUM}: the report's browser test needs Debian's chromium ` +
    '(apt-get update && apt-get install -y chromium; .ci/run does this), or SPOTFARM_CHROMIUM=/path/to/chromium.';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spotfarm-report-'));
  // Without Chromium every test fails with MISSING (in open()), rather than being reported as skipped.
  if (MISSING === undefined) browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
});

afterAll(async () => {
  await browser?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('backtest report in headless Chromium', () => {
  it('draws every chart with its lines, offline and without errors', async () => {
    // Prepare
    const result = buildFixture();

    // Act
    const { page, requests, errors, fileUrl } = await open(result, 'plain');
    const charts = await inspectCharts(page);
    const shot = join(tmpdir(), 'spotfarm-report.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`report screenshot: ${shot}`);

    // Assess
    expect(errors).toEqual([]);
    expect(requests).toEqual([fileUrl]);
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
    for (const c of charts) {
      expect(c.width, c.id).toBeGreaterThan(300);
      expect(c.height, c.id).toBeGreaterThan(100);
      expect(c.inkPixels, c.id).toBeGreaterThan(2000);
    }
    // Every policy's line is visible on the cost, backlog and wait charts (the oracle is its end point).
    for (const id of ['chart-cost', 'chart-backlog', 'chart-waits']) {
      const c = charts.find((x) => x.id === id);
      expect(c?.seen.sort(), id).toEqual(c?.labels.sort());
    }
    // Each pool and the on-demand level are drawn.
    expect(charts[0]?.seen.sort()).toEqual(charts[0]?.labels.sort());
    // Capacity: the market a policy used is drawn.
    const seenOf = (id: string): string[] => charts.find((x) => x.id === id)?.seen ?? [];
    expect(seenOf('chart-capacity-spotfarm')).toContain('spot');
    expect(seenOf('chart-capacity-on-demand-only')).toContain('on-demand');
    expect(seenOf('chart-capacity-recipe')).toContain('spot');
    // The summary table lists every policy, the two bounds included, and the cost breakdown has a bar for each.
    await expect(page.locator('table.summary tbody tr').count()).resolves.toBe(6);
    await expect(page.locator('#cost-breakdown .bd-row').count()).resolves.toBe(6);
    const busyWidth = await page.locator('#cost-breakdown .bd-row[data-policy="spotfarm"] .seg[data-part="busy"]').evaluate((e) => e.getBoundingClientRect().width);
    expect(busyWidth).toBeGreaterThan(0);
    await page.close();
  });

  it('zooms all charts together and names the events under the cursor', async () => {
    // Prepare
    const result = buildFixture();
    const { page, errors } = await open(result, 'interactive');
    const over = page.locator('#chart-capacity-spotfarm .u-over');
    await over.scrollIntoViewIfNeeded();
    const box = await over.boundingBox();
    if (!box) throw new Error('capacity chart has no plot area');
    const storm = result.marks.spotfarm?.find((m) => m.kind === 'storm');
    const stormX = box.x + ((storm?.t ?? 0) - result.start_epoch_s) / (result.end_epoch_s - result.start_epoch_s) * box.width;

    // Act
    await page.mouse.move(stormX, box.y + box.height / 2);
    const hover = await page.locator('[data-hover-for="chart-capacity-spotfarm"]').textContent();
    await page.mouse.move(box.x + box.width * 0.25, box.y + 20);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.5, box.y + 20, { steps: 5 });
    await page.mouse.up();
    const ranges = (await page.evaluate('window.spotfarmReport.xRanges()')) as [number, number][];
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
    await page.screenshot({ path: join(tmpdir(), 'spotfarm-report-zoomed.png') });

    // Assess
    expect(errors).toEqual([]);
    expect(hover).toContain('storm: c3.xlarge us-east-1a loses 80%');
    const [first] = ranges;
    expect(ranges).toHaveLength(8);
    for (const r of ranges) expect(r).toEqual(first);
    const [min, max] = first ?? [0, 0];
    expect(max - min).toBeLessThan((result.end_epoch_s - result.start_epoch_s) * 0.3);
    expect(min).toBeGreaterThan(result.start_epoch_s);
    await page.close();
  });

  it('draws a week-long, 15-pool run with thousands of events', async () => {
    // Prepare
    const result = buildLargeResult();
    const started = performance.now();

    // Act
    const { page, requests, errors, fileUrl } = await open(result, 'large');
    const loadMs = Math.round(performance.now() - started);
    const charts = await inspectCharts(page);
    const shot = join(tmpdir(), 'spotfarm-report-large.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`week-long report: written and drawn in ${loadMs} ms; screenshot: ${shot}`);

    // Assess
    expect(errors).toEqual([]);
    expect(requests).toEqual([fileUrl]);
    expect(charts).toHaveLength(8);
    for (const c of charts) {
      expect(c.inkPixels, c.id).toBeGreaterThan(2000);
      expect(c.seen.length, c.id).toBeGreaterThan(0);
    }
    await page.close();
  });

  it('shows hostile names as text: no script runs, no request is made', async () => {
    // Prepare
    const result = buildFixture({ scenario: `spiky ${HOSTILE}`, groupSuffix: HOSTILE, detailSuffix: HOSTILE });

    // Act
    const { page, requests, errors, fileUrl } = await open(result, 'hostile');
    const pwned = await page.evaluate('window.__pwned');
    const title = await page.locator('h1').textContent();
    const legend = await page.locator('#chart-capacity-spotfarm').textContent();
    await page.hover('#chart-capacity-spotfarm .u-over', { position: { x: 300, y: 50 } });

    // Assess
    expect(pwned).toBeUndefined();
    expect(errors).toEqual([]);
    expect(requests).toEqual([fileUrl]);
    expect(title).toContain(HOSTILE);
    expect(legend).toContain(`farm-spot${HOSTILE}`);
    await expect(page.locator('img').count()).resolves.toBe(0);
    await page.close();
  });
});
