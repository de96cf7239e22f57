import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main, USAGE } from '../../cli/spotfarm';
import { POLICY_NAMES } from '../../sim/result';

const ROOT = resolve(__dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'spotfarm-cli-'));

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
}

describe('spotfarm CLI', () => {
  it('--help prints the usage', async () => {
    const c = capture();
    expect(await main(['--help'], c.io)).toBe(0);
    expect(c.out.join('')).toBe(USAGE);
  });

  it('a bad scenario exits 2 with the field path, and writes nothing', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, readFileSync(join(ROOT, 'scenarios/default.yaml'), 'utf8').replace('max: 50}\n  on_demand', 'max: lots}\n  on_demand'));
    const json = join(dir, 'bad.json');
    const report = join(dir, 'bad-report');
    const c = capture();
    expect(await main(['backtest', bad, '--json', json, '--report', report], c.io)).toBe(2);
    expect(c.err.join('')).toContain(`${bad}: farm.spot.max: expected a whole number`);
    expect(existsSync(json)).toBe(false);
    expect(existsSync(report)).toBe(false);
  });

  it('rejects unknown commands, options and policies with the usage', async () => {
    for (const argv of [['frobnicate'], ['backtest', 'x.yaml', '--frob'], ['backtest', 'x.yaml', '--policies', 'cheapest']]) {
      const c = capture();
      expect(await main(argv, c.io)).toBe(2);
      expect(c.err.join('')).toContain('Usage:');
    }
  });

  it('writes the JSON figures for the chosen policies', async () => {
    const json = join(dir, 'out.json');
    const c = capture();
    expect(await main(['backtest', join(ROOT, 'scenarios/default.yaml'), '--policies', 'on-demand-only,oracle,clairvoyant', '--json', json, '--quiet'], c.io)).toBe(0);
    const doc = JSON.parse(readFileSync(json, 'utf8'));
    expect(Object.keys(doc)).toEqual(expect.arrayContaining(['scenario', 'simulated_hours', 'wall_seconds', 'policies']));
    expect(Object.keys(doc.policies)).toEqual(['on-demand-only', 'oracle', 'clairvoyant']);
    for (const name of ['on-demand-only', 'oracle', 'clairvoyant']) {
      expect(Object.keys(doc.policies[name]), name).toEqual(
        expect.arrayContaining(['cost_usd', 'jobs_submitted', 'jobs_completed', 'jobs_lost', 'wait_p50_s', 'wait_p95_s', 'wait_max_s', 'spot_instance_hours', 'on_demand_instance_hours', 'swaps', 'interruptions', 'max_backlog', 'cost_breakdown']),
      );
      expect(Object.keys(doc.policies[name].cost_breakdown).sort(), name).toEqual(['boot_usd', 'busy_usd', 'idle_usd', 'on_demand_premium_usd', 'rework_usd']);
    }
    // The clairvoyant farm costs more than the oracle and less than on-demand only.
    expect(doc.policies.clairvoyant.cost_usd).toBeGreaterThan(doc.policies.oracle.cost_usd);
    expect(doc.policies.clairvoyant.cost_usd).toBeLessThan(doc.policies['on-demand-only'].cost_usd);
    expect(Object.keys(doc.policies['on-demand-only'].pools)).toEqual(['c3.xlarge/us-east-1a', 'c3.xlarge/us-east-1b', 'c3.xlarge/us-east-1e']);
    expect(Object.keys(doc.policies['on-demand-only'].pools['c3.xlarge/us-east-1a']).sort()).toEqual(['cost_usd', 'on_demand_hours', 'spot_hours', 'spot_usd_at_or_above_on_demand']);
    expect(doc.policies.oracle.pools).toBeUndefined();
    expect(c.out.join('')).toContain('on-demand-only');
    expect(POLICY_NAMES).toEqual(expect.arrayContaining(['oracle', 'clairvoyant']));
  });

  it('runs as `spotfarm` through bin/spotfarm.cjs (what npx runs after npm ci)', () => {
    const run = spawnSync(process.execPath, [join(ROOT, 'bin/spotfarm.cjs'), '--help'], { cwd: tmpdir(), encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('spotfarm backtest <scenario.yaml>');
    const bad = spawnSync(process.execPath, [join(ROOT, 'bin/spotfarm.cjs'), 'backtest', join(dir, 'missing.yaml')], { cwd: tmpdir(), encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('missing.yaml: file not found');
  });
});
