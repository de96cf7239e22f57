/**
 * `--sweep`: parsing and checking the values with the tags' parser, matching the baselines' targets, planning the
 * runs, dominance, and a small real sweep (spotfarm's real handlers) in this thread and in worker threads.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { dominance, dominates, planSweep } from '../../sim/frontier/plan';
import { fromPlainScenario, runSweep, toPlainScenario } from '../../sim/frontier/run';
import { baselineTargets, checkSweep, parseSweep, sweepNotes, SweepError, SWEEPABLE } from '../../sim/frontier/sweep';
import { POLICY_NAMES, type BacktestResult, type FrontierPoint } from '../../sim/result';
import { loadScenario, type Scenario } from '../../sim/scenario';
import { testScenario } from './support/scenario';
import { writeShortDefault } from './support/short-default';

/** The test scenario's farm: 4 slots, baselines' target 4 (as the default scenario: target = slots). */
const four = (spotfarm: Record<string, string> = {}): Scenario => {
  const s = testScenario({ farm: { slotsPerInstance: 4 } });
  return { ...s, baselines: { ...s.baselines, targetBacklogPerInstance: 4 }, spotfarm };
};

describe('parseSweep', () => {
  it('reads SETTING=V1,V2,... in ascending order of the parsed value', () => {
    expect(parseSweep('acceptableWait=20m,2m,10m,5m')).toEqual({ setting: 'acceptableWait', values: ['2m', '5m', '10m', '20m'] });
    expect(parseSweep('scaleInStep=5,1,2')).toEqual({ setting: 'scaleInStep', values: ['1', '2', '5'] });
    expect(parseSweep('rebalance=replace,record')).toEqual({ setting: 'rebalance', values: ['replace', 'record'] });
  });

  it('accepts every setting name of CONTRACTS.md', () => {
    const contracts = ['swapRatio', 'confirmChecks', 'hysteresis', 'minDwell', 'capacityFailures', 'breakerInterruptions', 'rebalance', 'revert', 'backlogPerInstance', 'acceptableWait', 'secondsPerJob', 'scaleOutPercent', 'scaleInStep', 'scaleInCooldown', 'idleMinutes', 'fallbackDelay'];
    expect(SWEEPABLE).toEqual(expect.arrayContaining(contracts));
  });

  it.each([
    ['acceptableWait', '--sweep acceptableWait: expected SETTING=V1,V2,... (e.g. acceptableWait=2m,5m,10m,20m)'],
    ['=2m', '--sweep =2m: expected SETTING=V1,V2,... (e.g. acceptableWait=2m,5m,10m,20m)'],
    ['acceptableWiat=2m', '--sweep: unknown setting "acceptableWiat" (known: '],
    ['slotsPerInstance=2,4', "--sweep slotsPerInstance: cannot be swept, it is the farm's (farm.slots_per_instance in the scenario)"],
    ['acceptableWait=2m,,5m', '--sweep acceptableWait: expected a comma-separated list of values, with none empty'],
    ['acceptableWait=', '--sweep acceptableWait: expected a comma-separated list of values, with none empty'],
    ['acceptableWait=2m,fast', '--sweep acceptableWait=fast: expected a duration (90s, 30m, 2h, 1d) from 1s to 7d'],
    ['swapRatio=0.9,-1', '--sweep swapRatio=-1: expected a decimal number from 0.0001 to 100'],
    ['scaleInStep=1,2.5', '--sweep scaleInStep=2.5: expected a whole number from 1 to 10000'],
    ['rebalance=record,always', '--sweep rebalance=always: expected one of ignore, record, replace'],
    ['acceptableWait=10m,600s', '--sweep acceptableWait: 600s is the same value as 10m'],
  ])('refuses %s, naming the setting or the value', (arg, message) => {
    expect(() => parseSweep(arg)).toThrow(SweepError);
    expect(() => parseSweep(arg)).toThrow(message);
  });

  it('checks each value with the scenario\'s other settings', () => {
    const sweep = parseSweep('hysteresis=0.1,0.3');
    expect(() => checkSweep(four({ swapRatio: '0.9' }), sweep)).not.toThrow();
    expect(() => checkSweep(four({ swapRatio: '0.3' }), sweep)).toThrow(
      "--sweep hysteresis=0.3: with the scenario's spotfarm settings, hysteresis 0.3 must be below swapRatio 0.3",
    );
  });
});

describe('the baselines at the matching target', () => {
  // spotfarm's backlog per instance = max(1, acceptableWait / secondsPerJob x slots): 10m / 10m x 4 = 4 here.
  it.each([
    ['2m', 1, 0.2, 0.05], // 0.8 -> 1 (spotfarm never sizes below one message per instance): r = 1/4
    ['5m', 2, 0.4, 0.1],
    ['10m', 4, 0.8, 0.2], // the scenario's own value: the plain backtest's targets
    ['20m', 8, 1.6, 0.4],
  ])('acceptableWait=%s: target tracking at %d, recipe alarms at %d / %d', (value, target, high, low) => {
    expect(baselineTargets(four(), parseSweep(`acceptableWait=${value}`), value)).toEqual({
      value,
      target_backlog_per_instance: target,
      recipe_alarm_high: high,
      recipe_alarm_low: low,
    });
  });

  it('follow secondsPerJob the other way, and backlogPerInstance directly', () => {
    expect(baselineTargets(four(), parseSweep('secondsPerJob=5m'), '5m').target_backlog_per_instance).toBe(8);
    expect(baselineTargets(four(), parseSweep('backlogPerInstance=2'), '2').target_backlog_per_instance).toBe(2);
  });

  it('do not move with a setting that is not part of the sizing', () => {
    expect(baselineTargets(four(), parseSweep('swapRatio=0.8'), '0.8')).toEqual({ value: '0.8', target_backlog_per_instance: 4, recipe_alarm_high: 0.8, recipe_alarm_low: 0.2 });
  });

  it('do not move with acceptableWait while the scenario pins backlogPerInstance, and the sweep says so', () => {
    const pinned = four({ backlogPerInstance: '8' });
    const sweep = parseSweep('acceptableWait=2m,20m');
    expect(baselineTargets(pinned, sweep, '2m').target_backlog_per_instance).toBe(4);
    expect(sweepNotes(pinned, sweep)).toEqual([expect.stringContaining('spotfarm.backlogPerInstance=8, which spotfarm\'s sizing uses instead of acceptableWait')]);
    expect(sweepNotes(four(), sweep)).toEqual([]);
  });
});

describe('planSweep', () => {
  it('serves the scenario\'s own value from the plain backtest and runs each other value once', () => {
    const plan = planSweep(four(), parseSweep('acceptableWait=2m,10m,20m'), POLICY_NAMES);
    expect(plan.tasks.map((t) => [t.value, t.policies, t.targetBacklogPerInstance])).toEqual([
      [undefined, [...POLICY_NAMES], 4],
      ['2m', ['spotfarm', 'on-demand-only', 'recipe', 'aws-native'], 1],
      ['20m', ['spotfarm', 'on-demand-only', 'recipe', 'aws-native'], 8],
    ]);
    expect(plan.tasks[1]?.spotfarm).toEqual({ acceptableWait: '2m' });
    expect(plan.tasks[2]?.recipeAlarms).toEqual({ high: 1.6, low: 0.4 });
    expect(plan.sources.map((s) => s.from.spotfarm)).toEqual([1, 0, 2]);
  });

  it('runs the baselines once when the setting does not move them', () => {
    const plan = planSweep(four(), parseSweep('scaleInStep=1,2,5'), ['spotfarm', 'aws-native', 'oracle']);
    expect(plan.tasks.map((t) => [t.value, t.policies])).toEqual([
      [undefined, ['spotfarm', 'aws-native', 'oracle']],
      ['2', ['spotfarm']],
      ['5', ['spotfarm']],
    ]);
    expect(plan.sources.map((s) => s.from['aws-native'])).toEqual([0, 0, 0]);
  });
});

describe('dominance', () => {
  const point = (policy: FrontierPoint['policy'], value: string, cost: number, p95: number | null, lost = 0): FrontierPoint => ({
    policy, setting: 'acceptableWait', value, cost_usd: cost, wait_p95_s: p95, jobs_lost: lost,
  });

  it.each([
    ['cheaper and faster', point('spotfarm', 'a', 10, 60), point('recipe', 'b', 20, 120), true],
    ['equal on both', point('spotfarm', 'a', 10, 60), point('recipe', 'b', 10, 60), true],
    ['cheaper but slower', point('spotfarm', 'a', 10, 180), point('recipe', 'b', 20, 120), false],
    ['faster but dearer', point('spotfarm', 'a', 30, 60), point('recipe', 'b', 20, 120), false],
    ['cheaper and faster but loses more jobs', point('spotfarm', 'a', 10, 60, 3), point('recipe', 'b', 20, 120, 1), false],
    ['against a run where no job started (no p95)', point('spotfarm', 'a', 10, 60), point('recipe', 'b', 20, null), true],
    ['with no p95 itself', point('spotfarm', 'a', 10, null), point('recipe', 'b', 20, 120), false],
  ])('%s', (_, a, b, expected) => {
    expect(dominates(a, b)).toBe(expected);
  });

  it('lists, for each baseline point, the spotfarm values that dominate it', () => {
    const points = [point('spotfarm', '2m', 30, 60), point('spotfarm', '20m', 10, 600), point('aws-native', '2m', 40, 300), point('aws-native', '20m', 5, 900)];
    expect(dominance(points)).toEqual([
      { policy: 'aws-native', value: '2m', dominated_by: ['2m'] },
      { policy: 'aws-native', value: '20m', dominated_by: [] },
    ]);
  });

  it('says nothing when the sweep left spotfarm out (--policies)', () => {
    expect(dominance([point('aws-native', '2m', 40, 300)])).toEqual([]);
  });
});

describe('a scenario posted to a worker thread', () => {
  it('comes back with the same market', () => {
    const s = testScenario({ spot: { 'us-east-1a': [[0, 0.05], [600, 0.3]], 'us-east-1b': [[0, 0.07]] } });
    const back = fromPlainScenario(structuredClone(toPlainScenario(s)));
    expect(back.market.spotPrice('c3.xlarge', 'us-east-1a', s.start + 700)).toBe(0.3);
    expect(back.market.spotSeries('c3.xlarge', 'us-east-1b').integral(s.start, s.start + 3600)).toBeCloseTo(0.07);
    expect(back.market.onDemandPrice('c3.xlarge')).toBe(0.21);
    expect(back.interruptions.rate).toEqual(s.interruptions.rate);
  });
});

describe('a small real sweep (2 hours of the default scenario, spotfarm\'s real handlers)', () => {
  const sweep = parseSweep('acceptableWait=2m,10m,30m');
  let scenario: Scenario;
  let inThread: BacktestResult;
  let threaded: BacktestResult;
  beforeAll(async () => {
    scenario = loadScenario(writeShortDefault(mkdtempSync(join(tmpdir(), 'spotfarm-sweep-')), '2h', '2h'));
    const policies = ['spotfarm', 'on-demand-only', 'recipe', 'aws-native', 'oracle'] as const;
    inThread = await runSweep(scenario, sweep, { policies, threads: 0 });
    threaded = await runSweep(scenario, sweep, { policies, threads: 2 });
  }, 300_000);

  it('has one point per simulated policy and value, with the contract\'s fields', () => {
    const frontier = inThread.json.frontier!;
    expect(frontier).toHaveLength(3 * 4);
    for (const p of frontier) {
      expect(Object.keys(p).sort()).toEqual(['cost_usd', 'jobs_lost', 'policy', 'setting', 'value', 'wait_p95_s']);
      expect(p.setting).toBe('acceptableWait');
      expect(p.cost_usd).toBeGreaterThan(0);
    }
    expect(frontier.map((p) => `${p.value} ${p.policy}`).slice(0, 4)).toEqual(['2m spotfarm', '2m on-demand-only', '2m recipe', '2m aws-native']);
    expect(inThread.json.sweep).toMatchObject({ setting: 'acceptableWait', values: ['2m', '10m', '30m'], threads: 0, runs: 3 });
  });

  it('takes the scenario\'s own value from the plain backtest, which stays whole for the report', () => {
    for (const p of inThread.json.frontier!.filter((q) => q.value === '10m')) {
      const plain = inThread.json.policies[p.policy];
      expect([p.cost_usd, p.wait_p95_s, p.jobs_lost]).toEqual([plain.cost_usd, plain.wait_p95_s, plain.jobs_lost]);
    }
    expect(Object.keys(inThread.json.policies)).toEqual(['spotfarm', 'on-demand-only', 'recipe', 'aws-native', 'oracle']);
    expect(inThread.series.spotfarm?.t.length).toBeGreaterThan(10);
  });

  it('moves spotfarm and the baselines with the setting', () => {
    const at = (policy: string, value: string) => inThread.json.frontier!.find((p) => p.policy === policy && p.value === value)!;
    // A longer acceptable wait: a smaller farm (cheaper), longer waits.
    for (const policy of ['spotfarm', 'on-demand-only']) {
      expect(at(policy, '30m').cost_usd, policy).toBeLessThan(at(policy, '2m').cost_usd);
      expect(at(policy, '30m').wait_p95_s!, policy).toBeGreaterThan(at(policy, '2m').wait_p95_s!);
    }
  });

  it('gives the same figures in worker threads as in this thread: runs are isolated', () => {
    expect(threaded.json.sweep?.threads).toBe(2);
    expect(threaded.json.frontier).toEqual(inThread.json.frontier);
    expect(threaded.json.policies).toEqual(inThread.json.policies);
  });
});
