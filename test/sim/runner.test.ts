/**
 * A whole backtest run: the policies side by side, the oracle, the spotfarm plumbing (events in virtual time,
 * Lambda retries, failed events counted) with a stand-in controller, and the clear error when the real handlers
 * are missing.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { oracle } from '../../sim/policies/oracle';
import { loadConfig } from '../../src/config';
import { world } from './support/world';
import { missingHandlers, SpotfarmUnavailableError, spotfarmEnvironment, withEnvironment } from '../../sim/policies/spotfarm';
import { percentile, runBacktest, spotfarmIdleReceiveDelay } from '../../sim/runner';
import { T0, testScenario } from './support/scenario';
import { fakeHandlers } from './support/fake-handlers';

describe('the oracle', () => {
  it('prices each job at the cheapest price of its moment, per slot, with no boot or idle time', () => {
    // Prepare: 2 slots; spot in 1a is 0.10 then 0.50 from t=1000; 1b is 0.30; on-demand 0.21.
    const s = testScenario({
      jobs: [{ at: 0, runtime: 3600 }, { at: 1000, runtime: 1800 }],
      spot: { 'us-east-1a': [[-60, 0.1], [1000, 0.5]], 'us-east-1b': [[-60, 0.3]] },
      farm: { slotsPerInstance: 2 },
    });
    // Act
    const o = oracle(s);
    // Assess: job 1: 1000 s at 0.10 + 2600 s at 0.21; job 2: 1800 s at 0.21; halved for 2 slots.
    const expected = ((1000 * 0.1 + 2600 * 0.21) / 3600 + (1800 * 0.21) / 3600) / 2;
    expect(o.cost_usd).toBeCloseTo(expected, 12);
    expect(o).toMatchObject({ jobs_submitted: 2, jobs_completed: 2, jobs_lost: 0, wait_p95_s: null, swaps: null });
  });
});

describe("spotfarm's workers", () => {
  it('run with the idle receive delay the idleReceiveDelay setting names, else the agent\'s default', () => {
    // Prepare
    const plain = testScenario({ jobs: [{ at: 0, runtime: 60 }] });
    const set = { ...plain, spotfarm: { idleReceiveDelay: '0s' } };
    const minutes = { ...plain, spotfarm: { idleReceiveDelay: '2m' } };
    // Act, Assess
    expect(spotfarmIdleReceiveDelay(plain)).toBeUndefined();
    expect(spotfarmIdleReceiveDelay(set)).toBe(0);
    expect(spotfarmIdleReceiveDelay(minutes)).toBe(120);
  });
});

describe('percentile', () => {
  it.each([
    [[], 50, null],
    [[5], 95, 5],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50, 5],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95, 10],
  ])('of %j at p%d is %j (nearest rank)', (values, p, expected) => {
    expect(percentile(values, p)).toBe(expected);
  });
});

const jobs = Array.from({ length: 300 }, (_, k) => ({ at: k * 20, runtime: 120 + (k % 7) * 60 }));
const spiky = testScenario({
  jobs,
  duration: 6 * 3600,
  drainLimit: 3600,
  spot: {
    'us-east-1a': [[-60, 0.05], [3600, 0.4], [5400, 0.05]],
    'us-east-1b': [[-60, 0.06], [3700, 0.5], [5500, 0.06]],
  },
  farm: { slotsPerInstance: 4, spot: { min: 0, max: 20 }, onDemand: { min: 0, max: 20 } },
});

describe('a backtest run', () => {
  it('runs the baselines and the oracle on the same arrivals, and accounts for every job', async () => {
    const result = await runBacktest(spiky, { policies: ['on-demand-only', 'recipe', 'aws-native', 'oracle'] });
    const p = result.json.policies;
    for (const name of ['on-demand-only', 'recipe', 'aws-native'] as const) {
      expect(p[name].jobs_submitted).toBe(300);
      const stats = result.json.stats![name]!;
      expect(p[name].jobs_completed + stats.dead_lettered + stats.still_queued).toBe(300);
      expect(p[name].jobs_lost).toBe(300 - p[name].jobs_completed);
      // The oracle bounds what the work costs when every hour is paid; EC2 bills nothing for an instance it
      // interrupts in its first hour, so the bound holds for the cost with those hours added back.
      expect(p[name].cost_usd + (stats.free_interrupted_usd ?? 0)).toBeGreaterThan(p.oracle.cost_usd);
      expect(result.series[name]!.t.length).toBeGreaterThan(10);
    }
    expect(p['on-demand-only'].spot_instance_hours).toBe(0);
    expect(p['aws-native'].on_demand_instance_hours).toBe(0);
    // The price spike above on-demand interrupts spot instances of the recipe (max price = on-demand).
    expect(p.recipe.interruptions).toBeGreaterThan(0);
    expect(result.market.spot).toHaveLength(2);
    expect(result.marks.recipe!.some((m) => m.kind === 'interruption')).toBe(true);
  });

  it('accounts for the money per pool: pools add up to the totals, and spot spend at or above on-demand is its own figure', async () => {
    const result = await runBacktest(spiky, { policies: ['on-demand-only', 'recipe', 'aws-native', 'oracle'] });
    for (const name of ['on-demand-only', 'recipe', 'aws-native'] as const) {
      const p = result.json.policies[name];
      const pools = Object.values(p.pools!);
      expect(pools.length).toBeGreaterThan(0);
      expect(pools.reduce((sum, x) => sum + x.cost_usd, 0)).toBeCloseTo(p.cost_usd, 9);
      expect(pools.reduce((sum, x) => sum + x.spot_hours, 0)).toBeCloseTo(p.spot_instance_hours!, 9);
      expect(pools.reduce((sum, x) => sum + x.on_demand_hours, 0)).toBeCloseTo(p.on_demand_instance_hours!, 9);
      for (const x of pools) expect(x.spot_usd_at_or_above_on_demand).toBeLessThanOrEqual(x.cost_usd + 1e-12);
      expect(Object.keys(p.pools!).every((k) => /^c3\.xlarge\/us-east-1[ab]$/.test(k))).toBe(true);
    }
    expect(result.json.policies.oracle.pools).toBeUndefined();
    expect(Object.values(result.json.policies['on-demand-only'].pools!).every((x) => x.spot_usd_at_or_above_on_demand === 0)).toBe(true);
  });

  it('drives a controller through the real SDK clients with EventBridge events in virtual time', async () => {
    const result = await runBacktest(spiky, { policies: ['spotfarm'], handlers: fakeHandlers });
    const stats = result.json.stats!.spotfarm!;
    const p = result.json.policies.spotfarm;
    expect(stats.not_implemented).toEqual([]);
    expect(stats.failed_events).toBe(0);
    expect(stats.handler_invocations!['queue-scaler']).toBeGreaterThan(6 * 60);
    expect(stats.handler_invocations!['price-check']).toBeGreaterThan(6 * 12 - 1);
    expect(stats.handler_invocations!.interruption).toBeGreaterThan(0);
    // The stand-in swaps to on-demand during the spike and back after it.
    expect(p.swaps).toBeGreaterThanOrEqual(2);
    expect(result.marks.spotfarm!.some((m) => m.kind === 'swap-to-on-demand')).toBe(true);
    expect(p.jobs_completed + stats.dead_lettered + stats.still_queued).toBe(300);
  });

  it('retries a failing handler like Lambda (1 then 2 minutes later) and counts the event as failed', async () => {
    const times: number[] = [];
    const failing = {
      ...fakeHandlers,
      'price-check': async (event: unknown) => {
        times.push(Date.parse((event as { time: string }).time) / 1000);
        throw Object.assign(new Error('boom'), { name: 'Boom' });
      },
    };
    const short = testScenario({ jobs: [{ at: 0, runtime: 10 }], duration: 600, drainLimit: 0 });
    const result = await runBacktest(short, { policies: ['spotfarm'], handlers: failing });
    const stats = result.json.stats!.spotfarm!;
    // The tick at t=0 is tried at 0, 60 and 180 s (all with the original event time).
    expect(times.slice(0, 3)).toEqual([T0, T0, T0]);
    expect(stats.failed_events).toBeGreaterThanOrEqual(1);
    expect(stats.errors![0]!.message).toBe('price-check: Boom: boom');
    expect(stats.handler_retries).toBeGreaterThanOrEqual(2);
  });

  it('says clearly which handlers are missing', () => {
    const empty = mkdtempSync(join(tmpdir(), 'spotfarm-functions-'));
    writeFileSync(join(empty, 'queue-scaler.ts'), 'export const handler = async () => undefined;\n');
    const missing = missingHandlers(empty);
    expect(missing).toEqual(['functions/price-check.ts is missing', 'functions/interruption.ts is missing']);
    expect(new SpotfarmUnavailableError(missing).message).toMatch(
      /^the spotfarm policy cannot run: functions\/price-check.ts is missing; functions\/interruption.ts is missing\. .*--policies on-demand-only,recipe,aws-native,oracle/,
    );
  });
});

describe("the simulated Lambdas' environment", () => {
  it('is the stack configuration alone: a SPOTFARM_* variable of the caller (SPOTFARM_SHARED_DATA) is hidden while it runs, then restored', () => {
    // Prepare
    process.env.SPOTFARM_SHARED_DATA = '/data/shared';
    expect(() => loadConfig()).toThrow(/SPOTFARM_SHARED_DATA/);
    // Act
    const restore = withEnvironment(spotfarmEnvironment(world(testScenario({ jobs: [{ at: 0, runtime: 10 }] }))));
    let inside: unknown;
    try {
      inside = loadConfig();
    } finally {
      restore();
    }
    // Assess
    expect(inside).toMatchObject({ dryRun: false });
    expect(process.env.SPOTFARM_SHARED_DATA).toBe('/data/shared');
    delete process.env.SPOTFARM_SHARED_DATA;
  });
});
