/** `spotfarm backtest --sweep`: usage errors name the setting or the value and write nothing; a real sweep's output. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../cli/spotfarm';
import { dominates } from '../../sim/frontier/plan';
import type { FrontierPoint } from '../../sim/result';
import { writeShortDefault } from './support/short-default';

const ROOT = resolve(__dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'spotfarm-sweep-cli-'));

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
}

describe('spotfarm backtest --sweep', () => {
  it.each([
    [['--sweep', 'acceptableWait=2m,fast'], '--sweep acceptableWait=fast: expected a duration (90s, 30m, 2h, 1d) from 1s to 7d'],
    [['--sweep', 'patience=2m'], '--sweep: unknown setting "patience" (known: swapRatio, '],
    [['--sweep', 'acceptableWait'], '--sweep acceptableWait: expected SETTING=V1,V2,...'],
    [['--sweep', 'slotsPerInstance=2,4'], '--sweep slotsPerInstance: cannot be swept'],
    [['--threads', '2'], '--threads applies to a sweep: add --sweep SETTING=V1,V2,...'],
    [['--sweep', 'acceptableWait=2m', '--threads', 'many'], '--threads many: expected a whole number >= 0'],
    [['--sweep', 'hysteresis=0.1,1.5'], "--sweep hysteresis=1.5: with the scenario's spotfarm settings, hysteresis 1.5 must be below swapRatio 1"],
  ])('%j exits 2 with a message naming it, and writes nothing', async (args, message) => {
    const json = join(dir, 'bad.json');
    const report = join(dir, 'bad-report');
    const c = capture();
    expect(await main(['backtest', join(ROOT, 'scenarios/default.yaml'), ...args, '--json', json, '--report', report, '--quiet'], c.io)).toBe(2);
    expect(c.err.join('')).toContain(message);
    expect(existsSync(json)).toBe(false);
    expect(existsSync(report)).toBe(false);
  });

  it('prints the tables and nothing of the simulated Lambdas\' logs, in one thread too (through bin/spotfarm.cjs)', () => {
    // The CLI imports AWS wrappers (scenario from-account) that load the handlers' logger before the backtest sets
    // SPOTFARM_LOG_LEVEL=SILENT: every decision of every simulated Lambda used to be printed.
    const scenario = writeShortDefault(dir, '30m', '30m');
    const run = spawnSync(
      process.execPath,
      [join(ROOT, 'bin/spotfarm.cjs'), 'backtest', scenario, '--policies', 'spotfarm,oracle', '--sweep', 'acceptableWait=5m,10m', '--threads', '0', '--quiet'],
      { cwd: tmpdir(), encoding: 'utf8', env: { ...process.env, SPOTFARM_LOG_LEVEL: '', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } },
    );
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^c3-spiky-2015: [\d.]+ simulated hours in [\d.]+ s$/);
    expect(lines.filter((l) => l.startsWith('{'))).toEqual([]);
    expect(lines).toContainEqual(expect.stringMatching(/^frontier: acceptableWait /));
  });

  it('runs the sweep in worker threads and writes the frontier to the table, the JSON and the report', async () => {
    // Prepare
    const scenario = writeShortDefault(dir, '1h', '1h');
    const json = join(dir, 'sweep.json');
    const report = join(dir, 'sweep-report');
    const c = capture();

    // Act
    const code = await main(
      ['backtest', scenario, '--policies', 'spotfarm,aws-native,oracle', '--sweep', 'acceptableWait=5m,30m', '--threads', '2', '--json', json, '--report', report, '--quiet'],
      c.io,
    );

    // Assess
    expect(c.err.join('')).toBe('');
    expect(code).toBe(0);
    const doc = JSON.parse(readFileSync(json, 'utf8'));
    const points = doc.frontier as FrontierPoint[];
    expect(points.slice(0, 4).map((p) => `${p.policy} ${p.value}`)).toEqual(['spotfarm 5m', 'aws-native 5m', 'spotfarm 30m', 'aws-native 30m']);
    // Then spotfarm at the p95 of each aws-native point no swept spotfarm point dominated (cost at equal service).
    const matched = points.slice(4);
    expect(matched.every((p) => p.policy === 'spotfarm' && p.matched!.every((m) => m.policy === 'aws-native'))).toBe(true);
    const undominated = points.slice(0, 4).filter((p) => p.policy === 'aws-native' && !points.slice(0, 4).some((q) => q.policy === 'spotfarm' && dominates(q, p)));
    expect(matched.flatMap((p) => p.matched!.map((m) => m.value))).toEqual(undominated.map((p) => p.value));
    for (const p of points.filter((q) => q.policy === 'aws-native')) expect(p.dominated_by === null || typeof p.dominated_by?.value === 'string').toBe(true);
    expect(doc.sweep).toMatchObject({ setting: 'acceptableWait', values: ['5m', '30m'], threads: 2, runs: 3 + matched.length });
    expect(doc.sweep.matching).toEqual({ runs: matched.length, note: null, unmatched: [] });
    expect(doc.sweep.baseline_targets.map((t: { target_backlog_per_instance: number }) => t.target_backlog_per_instance)).toEqual([2, 12]);
    expect(Object.keys(doc.policies)).toEqual(['spotfarm', 'aws-native', 'oracle']);
    const out = c.out.join('');
    expect(out).toMatch(/^frontier: acceptableWait \(spotfarm at each value.*, each baseline at its matching target; \d+ runs, 2 worker threads\)$/m);
    expect(out).toMatch(/^30m\s+aws-native\s+target 12 visible\/instance\s+\$/m);
    expect(out).toMatch(/^dominance \(cost <=, p95 <=, lost <=\): /m);
    expect(readFileSync(join(report, 'index.html'), 'utf8')).toContain('id="chart-frontier"');
  });

  it('runs a target below the workers\' idle receive delay as plan advises (idleReceiveDelay 0s), and says so in the table and the JSON', async () => {
    // Prepare: the sweep, and the same farm written as a user following plan's advice would set it.
    const sweepDir = mkdtempSync(join(dir, 'tight-'));
    const scenario = writeShortDefault(sweepDir, '30m', '30m');
    const advisedDir = mkdtempSync(join(dir, 'advised-'));
    const advised = writeShortDefault(advisedDir, '30m', '30m');
    writeFileSync(advised, `${readFileSync(advised, 'utf8')}\nspotfarm:\n  acceptableWait: 15s\n  idleReceiveDelay: 0s\n`);
    const json = join(sweepDir, 'sweep.json');
    const advisedJson = join(advisedDir, 'advised.json');
    const c = capture();

    // Act
    const code = await main(['backtest', scenario, '--policies', 'spotfarm,oracle', '--sweep', 'acceptableWait=15s,5m', '--threads', '0', '--json', json, '--quiet'], c.io);
    const advisedCode = await main(['backtest', advised, '--policies', 'spotfarm', '--json', advisedJson, '--quiet'], capture().io);

    // Assess
    expect(c.err.join('')).toBe('');
    expect([code, advisedCode]).toEqual([0, 0]);
    const doc = JSON.parse(readFileSync(json, 'utf8'));
    const [tight, loose] = doc.frontier as FrontierPoint[];
    expect([tight!.value, tight!.also_set]).toEqual(['15s', { idleReceiveDelay: '0s' }]);
    expect([loose!.value, loose!.also_set]).toEqual(['5m', undefined]);
    expect(doc.sweep.also_set_note).toMatch(/^an acceptableWait shorter than the workers' idle receive delay/);
    // The 15s point is the farm plan advises: the same figures as a backtest of that farm.
    const own = JSON.parse(readFileSync(advisedJson, 'utf8')).policies.spotfarm;
    expect([tight!.cost_usd, tight!.wait_p95_s, tight!.jobs_lost]).toEqual([own.cost_usd, own.wait_p95_s, own.jobs_lost]);
    const out = c.out.join('');
    expect(out).toMatch(/^15s\s+spotfarm\s+with idleReceiveDelay 0s\s+\$/m);
    expect(out).toMatch(/^also set: an acceptableWait shorter than/m);
  });
});
