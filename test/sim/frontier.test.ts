/**
 * `--sweep`: parsing and checking the values with the tags' parser, matching the baselines' targets, planning the
 * runs, dominance, and a small real sweep (spotfarm's real handlers) in this thread and in worker threads.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { dominance, dominates, dominatorOf, frontierPoints, markDominance, matchSeconds, planMatches, planSweep, withMatches } from '../../sim/frontier/plan';
import { fromPlainScenario, runSweep, toPlainScenario } from '../../sim/frontier/run';
import { baselineTargets, checkSweep, parseSweep, sweepNotes, SweepError, SWEEPABLE, tightTargetTags } from '../../sim/frontier/sweep';
import { POLICY_NAMES, type BacktestResult, type FrontierPoint } from '../../sim/result';
import { parseDuration } from '../../src/duration';
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

describe('targets the workers\' idle receive delay outlasts (below 30 s): run as plan advises', () => {
  it('runs a swept value below the delay with idleReceiveDelay 0s (workers and scaler), and says so on its point', () => {
    // Act
    const sweep = parseSweep('acceptableWait=15s,29s,30s,10m');
    const plan = planSweep(four(), sweep, ['spotfarm', 'aws-native']);
    // Assess
    expect(plan.tasks.map((t) => [t.value, t.spotfarm, t.alsoSet])).toEqual([
      [undefined, {}, {}],
      ['15s', { acceptableWait: '15s', idleReceiveDelay: '0s' }, { idleReceiveDelay: '0s' }],
      ['29s', { acceptableWait: '29s', idleReceiveDelay: '0s' }, { idleReceiveDelay: '0s' }],
      ['30s', { acceptableWait: '30s' }, {}],
    ]);
    const figures = { cost_usd: 1, wait_p95_s: 1, jobs_lost: 0 };
    const results = plan.tasks.map(() => ({ policies: { spotfarm: figures, 'aws-native': figures } }) as never);
    const points = frontierPoints(sweep, plan, results).filter((p) => p.policy === 'spotfarm');
    expect(points.map((p) => [p.value, p.also_set])).toEqual([
      ['15s', { idleReceiveDelay: '0s' }],
      ['29s', { idleReceiveDelay: '0s' }],
      ['30s', undefined],
      ['10m', undefined],
    ]);
    // The contract's keys stay, in their order; also_set is only on the points that have it.
    expect(Object.keys(points[0]!)).toEqual(['policy', 'setting', 'value', 'cost_usd', 'wait_p95_s', 'jobs_lost', 'also_set']);
    expect(Object.keys(points[2]!)).not.toContain('also_set');
  });

  it('gives the scenario\'s own tight value a run of its own, not the plain backtest\'s', () => {
    const plan = planSweep(four({ acceptableWait: '20s' }), parseSweep('acceptableWait=20s,5m'), ['spotfarm']);
    expect(plan.tasks.map((t) => [t.value, t.spotfarm])).toEqual([
      [undefined, { acceptableWait: '20s' }],
      ['20s', { acceptableWait: '20s', idleReceiveDelay: '0s' }],
      ['5m', { acceptableWait: '5m' }],
    ]);
  });

  it.each<[string, Scenario, string]>([
    ['the scenario sets idleReceiveDelay itself', four({ idleReceiveDelay: '10s' }), 'acceptableWait=15s'],
    ['the sweep is of idleReceiveDelay', four({ acceptableWait: '15s' }), 'idleReceiveDelay=0s,30s'],
    ['the target policy (acceptableWait only sets a backlog per instance)', four({ scalingPolicy: 'target' }), 'acceptableWait=15s'],
    ['a pinned backlogPerInstance', four({ backlogPerInstance: '8' }), 'acceptableWait=15s'],
  ])('leaves the delay alone when %s', (_, scenario, arg) => {
    const sweep = parseSweep(arg);
    const plan = planSweep(scenario, sweep, ['spotfarm']);
    expect(plan.tasks.every((t) => Object.keys(t.alsoSet).length === 0)).toBe(true);
    expect(tightTargetTags(scenario, { ...scenario.spotfarm, [sweep.setting]: sweep.values[0]! })).toEqual({});
  });

  it('a matched run at a wait below the delay: the same, and a swept value at that wait serves it', () => {
    const point = (policy: FrontierPoint['policy'], value: string, cost: number, p95: number): FrontierPoint => ({
      policy, setting: 'acceptableWait', value, cost_usd: cost, wait_p95_s: p95, jobs_lost: 0,
    });
    const sweep = parseSweep('acceptableWait=20s,2m');
    const swept = [
      { ...point('spotfarm', '20s', 300, 25), also_set: { idleReceiveDelay: '0s' } },
      point('spotfarm', '2m', 150, 100),
      point('recipe', '20s', 600, 20.5), // matched at 20 s: the swept 20s point serves it
      point('recipe', '2m', 576, 0), // matched at 1 s: a run with idleReceiveDelay 0s
    ];
    const plan = planMatches(four(), sweep, swept, ['spotfarm', 'recipe'], 3);
    expect(plan.runs.map((r) => [r.value, r.task])).toEqual([['1s', 3], ['20s', undefined]]);
    expect(plan.tasks.map((t) => t.alsoSet)).toEqual([{ idleReceiveDelay: '0s' }]);
    const frontier = withMatches(sweep, swept, plan, () => ({ policies: { spotfarm: { cost_usd: 200, wait_p95_s: 0, jobs_lost: 0 } } }) as never);
    expect(frontier.filter((p) => p.matched?.length).map((p) => [p.value, p.also_set])).toEqual([
      ['20s', { idleReceiveDelay: '0s' }],
      ['1s', { idleReceiveDelay: '0s' }],
    ]);
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

describe('dominance written on the frontier\'s points', () => {
  const point = (policy: FrontierPoint['policy'], value: string, cost: number, p95: number | null, lost = 0): FrontierPoint => ({
    policy, setting: 'acceptableWait', value, cost_usd: cost, wait_p95_s: p95, jobs_lost: lost,
  });

  it('names the cheapest dominator, then the shortest p95, then the first; ties dominate', () => {
    const b = point('aws-native', '10m', 100, 600);
    expect(dominatorOf([point('spotfarm', '2m', 100, 600), point('spotfarm', '5m', 100, 600)], b)?.value).toBe('2m');
    expect(dominatorOf([point('spotfarm', '2m', 100, 600), point('spotfarm', '5m', 100, 300)], b)?.value).toBe('5m');
    expect(dominatorOf([point('spotfarm', '2m', 99, 300), point('spotfarm', '5m', 90, 590), point('spotfarm', '10m', 80, 601)], b)?.value).toBe('5m');
    expect(dominatorOf([point('spotfarm', '2m', 100.01, 10)], b)).toBeUndefined();
    // A baseline point is never its own dominator, nor another baseline's.
    expect(dominatorOf([point('recipe', '2m', 1, 1)], b)).toBeUndefined();
  });

  it('a p95 of 0 is dominated only by a p95 of 0', () => {
    const b = point('recipe', '2m', 500, 0);
    expect(dominatorOf([point('spotfarm', '2m', 100, 0.5)], b)).toBeUndefined();
    expect(dominatorOf([point('spotfarm', '1s', 499, 0)], b)?.value).toBe('1s');
  });

  it('writes dominated_by on baseline points and matched on spotfarm points, keeping the contract\'s keys first', () => {
    const marked = markDominance([point('spotfarm', '2m', 30, 60), point('aws-native', '2m', 40, 300), point('aws-native', '20m', 5, 900)]);
    expect(marked).toEqual([
      { ...point('spotfarm', '2m', 30, 60), matched: null },
      { ...point('aws-native', '2m', 40, 300), dominated_by: { setting: 'acceptableWait', value: '2m' } },
      { ...point('aws-native', '20m', 5, 900), dominated_by: null },
    ]);
    expect(Object.keys(marked[1]!)).toEqual(['policy', 'setting', 'value', 'cost_usd', 'wait_p95_s', 'jobs_lost', 'dominated_by']);
  });

  it('writes no dominated_by without a spotfarm point (--policies)', () => {
    expect(markDominance([point('aws-native', '2m', 40, 300)])).toEqual([point('aws-native', '2m', 40, 300)]);
  });
});

describe('cost at equal service: matched runs', () => {
  const point = (policy: FrontierPoint['policy'], value: string, cost: number, p95: number | null, lost = 0): FrontierPoint => ({
    policy, setting: 'acceptableWait', value, cost_usd: cost, wait_p95_s: p95, jobs_lost: lost,
  });
  const sweep = parseSweep('acceptableWait=2m,5m,10m,20m');
  const ours = [point('spotfarm', '2m', 150, 100), point('spotfarm', '5m', 140, 250), point('spotfarm', '10m', 130, 500), point('spotfarm', '20m', 120, 1300)];
  const all = ['spotfarm', 'on-demand-only', 'recipe', 'aws-native'] as const;

  it.each([
    [2711.9, 2711],
    [0, 1],
    [0.7, 1],
    [1, 1],
    [30 * 86_400, 7 * 86_400],
  ])('a p95 of %d s asks spotfarm for %d s', (p95, seconds) => {
    expect(matchSeconds(p95)).toBe(seconds);
  });

  it('runs spotfarm alone, once per distinct wait, only for baseline points no swept point dominates', () => {
    // Act
    const plan = planMatches(four(), sweep, [
      ...ours,
      point('aws-native', '2m', 119, 2711.4), // not dominated: cheaper than every spotfarm point
      point('aws-native', '5m', 110, 2711.9), // the same whole second: the same run
      point('recipe', '2m', 576, 0), // p95 0: at 1 s
      point('recipe', '5m', 498, 0.4), // also 1 s
      point('recipe', '10m', 300, 900), // dominated by spotfarm at 10m
      point('on-demand-only', '20m', 200, 1300), // dominated by 20m (a tie on p95)
    ], all, 4);

    // Assess
    expect(plan.note).toBeNull();
    expect(plan.unmatched).toEqual([]);
    expect(plan.runs).toEqual([
      { value: '1s', seconds: 1, task: 4, for: [{ policy: 'recipe', value: '2m' }, { policy: 'recipe', value: '5m' }] },
      { value: '45m11s', seconds: 2711, task: 5, for: [{ policy: 'aws-native', value: '2m' }, { policy: 'aws-native', value: '5m' }] },
    ]);
    // At 1 s, below the workers' idle receive delay (30 s), as plan advises: workers and scaler at 0 s.
    expect(plan.tasks.map((t) => [t.id, t.value, t.policies, t.spotfarm, t.alsoSet])).toEqual([
      [4, '1s', ['spotfarm'], { acceptableWait: '1s', idleReceiveDelay: '0s' }, { idleReceiveDelay: '0s' }],
      [5, '45m11s', ['spotfarm'], { acceptableWait: '45m11s' }, {}],
    ]);
  });

  it('plans nothing when every baseline point is dominated', () => {
    const plan = planMatches(four(), sweep, [...ours, point('aws-native', '2m', 150, 100), point('recipe', '20m', 400, 1300)], all, 4);
    expect(plan).toEqual({ tasks: [], runs: [], note: null, unmatched: [] });
  });

  it('lets a swept value serve a p95 it equals, without a run', () => {
    const plan = planMatches(four(), sweep, [...ours, point('aws-native', '10m', 100, 600.8)], all, 4);
    expect(plan.tasks).toEqual([]);
    expect(plan.runs).toEqual([{ value: '10m', seconds: 600, task: undefined, for: [{ policy: 'aws-native', value: '10m' }] }]);
    const frontier = withMatches(sweep, [...ours, point('aws-native', '10m', 100, 600.8)], plan, () => undefined);
    expect(frontier.find((p) => p.value === '10m' && p.policy === 'spotfarm')?.matched).toEqual([{ policy: 'aws-native', value: '10m' }]);
    expect(frontier).toHaveLength(5);
  });

  it('leaves a point without a p95 unmatched, saying why', () => {
    const plan = planMatches(four(), sweep, [...ours, point('recipe', '20m', 100, null)], all, 4);
    expect(plan.tasks).toEqual([]);
    expect(plan.unmatched).toEqual([{ policy: 'recipe', value: '20m', reason: 'no job started: no p95 wait to match' }]);
  });

  it.each([
    ['another setting is swept', four(), parseSweep('scaleInStep=1,5'), all, 'the sweep is of scaleInStep; matched runs move acceptableWait'],
    ['the scenario pins backlogPerInstance', four({ backlogPerInstance: '8' }), sweep, all, 'the scenario sets spotfarm.backlogPerInstance=8'],
    ['spotfarm is left out', four(), sweep, ['aws-native'] as const, 'spotfarm is not among the policies'],
  ])('plans nothing, with a note, when %s', (_, scenario, s, policies, note) => {
    const plan = planMatches(scenario, s, [...ours, point('aws-native', '2m', 1, 9999)], policies, 4);
    expect(plan.tasks).toEqual([]);
    expect(plan.note).toContain(note);
  });

  it('adds the matched points after the swept ones and recomputes dominance with them', () => {
    // Prepare
    const swept = [...ours, point('aws-native', '2m', 119, 2711.4), point('recipe', '2m', 576, 0)];
    const plan = planMatches(four(), sweep, swept, all, 4);
    const figures = { 4: { cost_usd: 500, wait_p95_s: 0, jobs_lost: 0 }, 5: { cost_usd: 125, wait_p95_s: 2600, jobs_lost: 0 } } as Record<number, object>;

    // Act
    const frontier = withMatches(sweep, swept, plan, (id) => ({ policies: { spotfarm: figures[id] } }) as never);

    // Assess
    expect(frontier.slice(6)).toEqual([
      {
        policy: 'spotfarm', setting: 'acceptableWait', value: '1s', cost_usd: 500, wait_p95_s: 0, jobs_lost: 0,
        also_set: { idleReceiveDelay: '0s' }, matched: [{ policy: 'recipe', value: '2m' }],
      },
      { policy: 'spotfarm', setting: 'acceptableWait', value: '45m11s', cost_usd: 125, wait_p95_s: 2600, jobs_lost: 0, matched: [{ policy: 'aws-native', value: '2m' }] },
    ]);
    // recipe at 2m (p95 0, $576) is dominated by the matched run at 1s (p95 0, $500); aws-native at 2m is not
    // ($125 against $119).
    expect(frontier.find((p) => p.policy === 'recipe')?.dominated_by).toEqual({ setting: 'acceptableWait', value: '1s' });
    expect(frontier.find((p) => p.policy === 'aws-native')?.dominated_by).toBeNull();
    expect(dominance(frontier)).toEqual([
      { policy: 'aws-native', value: '2m', dominated_by: [] },
      { policy: 'recipe', value: '2m', dominated_by: ['1s'] },
    ]);
  });

  it('refuses a matched run without figures', () => {
    const swept = [...ours, point('aws-native', '2m', 119, 2711.4)];
    const plan = planMatches(four(), sweep, swept, all, 4);
    expect(() => withMatches(sweep, swept, plan, () => undefined)).toThrow('matched run 4 (acceptableWait=45m11s) has no figures for spotfarm');
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

  it('has one point per simulated policy and value, with the contract\'s fields and dominance', () => {
    const frontier = inThread.json.frontier!;
    const swept = frontier.slice(0, 3 * 4);
    const contract = ['policy', 'setting', 'value', 'cost_usd', 'wait_p95_s', 'jobs_lost'];
    for (const p of frontier) {
      expect(Object.keys(p)).toEqual([...contract, ...(p.also_set ? ['also_set'] : []), p.policy === 'spotfarm' ? 'matched' : 'dominated_by']);
      expect(p.setting).toBe('acceptableWait');
      expect(p.cost_usd).toBeGreaterThan(0);
    }
    expect(swept.map((p) => `${p.value} ${p.policy}`).slice(0, 4)).toEqual(['2m spotfarm', '2m on-demand-only', '2m recipe', '2m aws-native']);
    expect(swept.map((p) => p.value)).toEqual(['2m', '10m', '30m'].flatMap((v) => [v, v, v, v]));
    for (const p of frontier.filter((q) => q.policy !== 'spotfarm')) {
      const by = p.dominated_by ? frontier.find((q) => q.policy === 'spotfarm' && q.value === p.dominated_by!.value) : undefined;
      if (p.dominated_by) expect(dominates(by!, p), `${p.policy} ${p.value}`).toBe(true);
      else expect(frontier.some((q) => q.policy === 'spotfarm' && dominates(q, p)), `${p.policy} ${p.value}`).toBe(false);
    }
    expect(inThread.json.sweep).toMatchObject({ setting: 'acceptableWait', values: ['2m', '10m', '30m'], threads: 0, runs: 3 + frontier.length - 12 });
  });

  it('runs spotfarm again at the p95 of each baseline point the swept spotfarm points did not dominate, and only those', () => {
    const frontier = inThread.json.frontier!;
    const swept = frontier.slice(0, 12);
    const matched = frontier.slice(12);
    const undominated = swept.filter((b) => b.policy !== 'spotfarm' && !swept.some((s) => s.policy === 'spotfarm' && dominates(s, b)));
    // Which of the points the swept ones left undominated each matched run serves, by its wait.
    const wanted = new Map<number, string[]>();
    for (const b of undominated) {
      const seconds = Math.max(1, Math.floor(b.wait_p95_s!));
      wanted.set(seconds, [...(wanted.get(seconds) ?? []), `${b.policy} ${b.value}`]);
    }
    const got = new Map(
      frontier.filter((p) => p.matched?.length).map((p) => [parseDuration(p.value)!, p.matched!.map((m) => `${m.policy} ${m.value}`)]),
    );
    expect(got).toEqual(wanted);
    expect(matched.every((p) => p.policy === 'spotfarm' && p.matched!.length > 0)).toBe(true);
    expect(inThread.json.sweep?.matching).toEqual({ runs: matched.length, note: null, unmatched: [] });
    console.log(`small real sweep: ${undominated.length} baseline point(s) left undominated by the swept values, ${matched.length} matched run(s)`);
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
