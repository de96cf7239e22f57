/**
 * The cost instruments: the clairvoyant farm (the reachable bound beside the oracle) on hand-computed cases, and
 * each policy's cost breakdown, whose parts add up to its cost.
 */
import { describe, expect, it } from 'vitest';
import { clairvoyantRun } from '../../sim/policies/clairvoyant';
import { oracle } from '../../sim/policies/oracle';
import { runBacktest } from '../../sim/runner';
import type { CostBreakdown, PolicySummary } from '../../sim/result';
import { testScenario } from './support/scenario';
import { fakeHandlers } from './support/fake-handlers';

const h = (seconds: number, price: number) => (seconds * price) / 3600;

/** One hand-computed case of the clairvoyant farm. */
interface Case {
  rule: string;
  jobs: { at: number; runtime: number }[];
  spot: Record<string, [number, number][]>;
  /** Whether the price passing the max interrupts (default: yes, as in the bundled scenarios). */
  priceAboveMax?: boolean;
  slots: number;
  cost: number;
  parts: Partial<CostBreakdown>;
}

describe('the clairvoyant farm', () => {
  // Boot 60 s, on-demand 0.21 throughout.
  it.each([
    {
      rule: 'one job: one launch pays its boot, then the job at the pool price',
      jobs: [{ at: 0, runtime: 3600 }],
      spot: { 'us-east-1a': [[-600, 0.1]] },
      slots: 1,
      cost: h(60 + 3600, 0.1),
      parts: { busy_usd: h(3600, 0.1), boot_usd: h(60, 0.1), idle_usd: 0, on_demand_premium_usd: 0 },
    },
    {
      rule: 'a dip shorter than a boot is bridged: the instance idles through it',
      jobs: [{ at: 0, runtime: 1000 }, { at: 1030, runtime: 970 }],
      spot: { 'us-east-1a': [[-600, 0.1]] },
      slots: 1,
      cost: h(60 + 2000, 0.1),
      parts: { busy_usd: h(1970, 0.1), boot_usd: h(60, 0.1), idle_usd: h(30, 0.1) },
    },
    {
      rule: 'a dip longer than a boot is not: the instance leaves and a new one boots',
      jobs: [{ at: 0, runtime: 1000 }, { at: 1600, runtime: 400 }],
      spot: { 'us-east-1a': [[-600, 0.1]] },
      slots: 1,
      cost: h(60 + 1000 + 60 + 400, 0.1),
      parts: { busy_usd: h(1400, 0.1), boot_usd: h(120, 0.1), idle_usd: 0 },
    },
    {
      rule: 'jobs pack: ceil(running / slots) instances',
      jobs: [{ at: 0, runtime: 600 }, { at: 0, runtime: 600 }, { at: 0, runtime: 600 }],
      spot: { 'us-east-1a': [[-600, 0.1]] },
      slots: 2,
      // Two instances, one with an empty slot: half of the second one is idle.
      cost: 2 * h(660, 0.1),
      parts: { busy_usd: h(1800, 0.1) / 2, boot_usd: 2 * h(60, 0.1), idle_usd: h(600, 0.1) / 2 },
    },
    {
      rule: 'spot only below the max price: the price passing on-demand moves the work to on-demand, at a boot',
      jobs: [{ at: 0, runtime: 3600 }],
      spot: { 'us-east-1a': [[-600, 0.1], [1800, 0.5]], 'us-east-1b': [[-600, 0.3]] },
      // A market where the price passing the max interrupts nothing: no free ride (below).
      priceAboveMax: false,
      slots: 1,
      cost: h(60 + 1800, 0.1) + h(60 + 1800, 0.21),
      // The on-demand boot overlaps the spot instance's last minute at 0.10: that minute is premium.
      parts: { busy_usd: h(1800, 0.1) + h(1800, 0.21), boot_usd: h(60, 0.1) + h(60, 0.21), on_demand_premium_usd: h(60, 0.21 - 0.1) },
    },
    {
      rule: 'a pool exactly at the max price still runs spot (it launches, and EC2 interrupts only above it)',
      jobs: [{ at: 0, runtime: 3600 }],
      spot: { 'us-east-1a': [[-600, 0.1], [1800, 0.21]] },
      slots: 1,
      // Staying costs what on-demand would, without a second boot.
      cost: h(60 + 1800, 0.1) + h(1800, 0.21),
      parts: { boot_usd: h(60, 0.1), idle_usd: 0, on_demand_premium_usd: 0 },
    },
    {
      rule: 'a spot instance EC2 takes within its first hour costs nothing: the bound rides it to the warning',
      jobs: [{ at: 0, runtime: 3600 }],
      spot: { 'us-east-1a': [[-600, 0.1], [1800, 0.5]], 'us-east-1b': [[-600, 0.3]] },
      slots: 1,
      // Launched at -60, warned at 1800 when the price passes on-demand, taken at 1920: not billed. On-demand from 1800.
      cost: h(60 + 1800, 0.21),
      parts: { busy_usd: h(1800, 0.21), boot_usd: h(60, 0.21), idle_usd: 0, on_demand_premium_usd: h(60, 0.21 - 0.1) },
    },
    {
      rule: 'a free ride starts as late as the hour needs: an instance launched earlier would be billed',
      jobs: [{ at: 0, runtime: 5400 }],
      spot: { 'us-east-1a': [[-600, 0.1], [4000, 0.5]] },
      slots: 1,
      // The first instance (launched at -60) would be warned 4060 s after its launch: billed. A second one launched
      // at 4000 - 3480 + 1 = 521 serves from 581, is warned at 4000 and taken at 4120, 3599 s after its launch: free.
      cost: h(60 + 581, 0.1) + h(60 + 1400, 0.21),
      parts: { busy_usd: h(581, 0.1) + h(1400, 0.21), boot_usd: h(60, 0.1) + h(60, 0.21), idle_usd: 0 },
    },
    {
      rule: 'another pool turning much cheaper is worth a boot there',
      jobs: [{ at: 0, runtime: 36000 }],
      spot: { 'us-east-1a': [[-600, 0.2]], 'us-east-1b': [[-600, 0.25], [600, 0.01]] },
      slots: 1,
      // The new instance boots once the price has dropped (at 0.01) while the old one serves on.
      cost: h(60 + 660, 0.2) + h(60 + 35340, 0.01),
      parts: { boot_usd: h(60, 0.2) + h(60, 0.01), idle_usd: 0 },
    },
    {
      rule: 'a pool turning a little cheaper for a moment is not',
      jobs: [{ at: 0, runtime: 3600 }],
      spot: { 'us-east-1a': [[-600, 0.2]], 'us-east-1b': [[-600, 0.25], [600, 0.19], [660, 0.25]] },
      slots: 1,
      cost: h(60 + 3600, 0.2),
      parts: { boot_usd: h(60, 0.2), idle_usd: 0 },
    },
  ] as Case[])('$rule', ({ jobs, spot, priceAboveMax, slots, cost, parts }) => {
    // Prepare
    const scenario = testScenario({ jobs, spot, priceAboveMax, farm: { slotsPerInstance: slots, bootSeconds: 60 } });

    // Act
    const { summary } = clairvoyantRun(scenario);

    // Assess
    expect(summary.cost_usd).toBeCloseTo(cost, 10);
    for (const [key, usd] of Object.entries(parts)) expect(summary.cost_breakdown[key as keyof CostBreakdown], key).toBeCloseTo(usd, 10);
    expect(summary).toMatchObject({ jobs_submitted: jobs.length, jobs_completed: jobs.length, jobs_lost: 0, wait_p95_s: 0 });
    expect(summary.cost_breakdown.rework_usd).toBe(0);
    expectPartsAddUp(summary);
  });

  describe("within the farm's group limits", () => {
    // Two jobs at once for an hour, one slot per instance: two instances. Spot 0.10, on-demand 0.21, boot 60 s.
    const two = [{ at: 0, runtime: 3600 }, { at: 0, runtime: 3600 }];
    const spot = { 'us-east-1a': [[-600, 0.1]] as [number, number][] };

    it('runs at most the spot group\'s max on spot and pays on-demand for the excess', () => {
      // Prepare
      const scenario = testScenario({ jobs: two, spot, farm: { slotsPerInstance: 1, bootSeconds: 60, spot: { min: 0, max: 1 }, onDemand: { min: 0, max: 5 } } });

      // Act
      const { summary } = clairvoyantRun(scenario);

      // Assess: one instance on spot, the second (above the spot max) on on-demand, each with its boot.
      expect(summary.cost_usd).toBeCloseTo(h(60 + 3600, 0.1) + h(60 + 3600, 0.21), 10);
      expect(summary.spot_instance_hours).toBeCloseTo(3660 / 3600, 10);
      expect(summary.on_demand_instance_hours).toBeCloseTo(3660 / 3600, 10);
      expect(summary.cost_breakdown.on_demand_premium_usd).toBeCloseTo(h(3660, 0.21 - 0.1), 10);
      expect(summary).toMatchObject({ jobs_completed: 2, jobs_lost: 0, wait_p95_s: 0, wait_max_s: 0 });
      expectPartsAddUp(summary);
    });

    it('costs what it did without limits when the demand stays within the spot max', () => {
      // Prepare: the same two jobs under a spot max of 2, and a day of varied demand under a max it never reaches.
      const within = testScenario({ jobs: two, spot, farm: { slotsPerInstance: 1, bootSeconds: 60, spot: { min: 0, max: 2 }, onDemand: { min: 0, max: 0 } } });
      const jobs = Array.from({ length: 500 }, (_, k) => ({ at: k * 60, runtime: 300 + ((k * 37) % 11) * 200 }));
      const prices = {
        'us-east-1a': [[-600, 0.05], [3000, 0.3], [9000, 0.06]] as [number, number][],
        'us-east-1b': [[-600, 0.07], [12000, 0.02]] as [number, number][],
      };
      const farm = { slotsPerInstance: 2, bootSeconds: 120 };
      const loose = testScenario({ jobs, spot: prices, duration: 9 * 3600, farm: { ...farm, spot: { min: 0, max: 10_000 }, onDemand: { min: 0, max: 0 } } });
      const peak = clairvoyantRun(loose).layers;
      const tight = testScenario({ jobs, spot: prices, duration: 9 * 3600, farm: { ...farm, spot: { min: 0, max: peak }, onDemand: { min: 0, max: 0 } } });

      // Act
      const a = clairvoyantRun(within).summary;
      const b = clairvoyantRun(tight).summary;

      // Assess
      expect(a.cost_usd).toBeCloseTo(2 * h(60 + 3600, 0.1), 10);
      expect(a.on_demand_instance_hours).toBe(0);
      expect(peak).toBeGreaterThan(3);
      expect(b.cost_usd).toBeCloseTo(clairvoyantRun(loose).summary.cost_usd, 10);
      expect(b.wait_max_s).toBe(0);
    });

    it('makes the jobs wait first in first out for a slot when both groups are full, and reports the waits', () => {
      // Prepare: spot max 1, no on-demand group, three jobs at once for one slot.
      const jobs = [{ at: 0, runtime: 1000 }, { at: 10, runtime: 500 }, { at: 20, runtime: 100 }];
      const scenario = testScenario({ jobs, spot, farm: { slotsPerInstance: 1, bootSeconds: 60, spot: { min: 0, max: 1 }, onDemand: { min: 0, max: 0 } } });

      // Act
      const { summary, jobsWaited } = clairvoyantRun(scenario);

      // Assess: one instance runs them back to back (0-1000, 1000-1500, 1500-1600); waits 0, 990 and 1480 s.
      expect(summary.cost_usd).toBeCloseTo(h(60 + 1600, 0.1), 10);
      expect(jobsWaited).toBe(2);
      expect(summary).toMatchObject({ jobs_completed: 3, jobs_lost: 0, wait_p50_s: 990, wait_p95_s: 1480, wait_max_s: 1480 });
      expectPartsAddUp(summary);
    });

    it('runs nothing and loses every job when both maxima are 0', () => {
      // Prepare
      const scenario = testScenario({ jobs: two, spot, farm: { spot: { min: 0, max: 0 }, onDemand: { min: 0, max: 0 } } });

      // Act
      const { summary } = clairvoyantRun(scenario);

      // Assess
      expect(summary).toMatchObject({ cost_usd: 0, jobs_completed: 0, jobs_lost: 2, wait_p95_s: null });
    });
  });

  it('never costs less than the oracle without free rides, and says where its hours went', () => {
    // Prepare: a day of jobs arriving every 40 s on a price that swings above on-demand and back, in a market where
    // that interrupts nothing (the oracle knows no free ride: with them the clairvoyant can cost less).
    const jobs = Array.from({ length: 2000 }, (_, k) => ({ at: k * 40, runtime: 200 + ((k * 37) % 11) * 150 }));
    const scenario = testScenario({
      jobs,
      duration: 24 * 3600,
      spot: {
        'us-east-1a': Array.from({ length: 48 }, (_, i) => [i * 1800 - 600, i % 6 === 3 ? 0.4 : 0.05 + (i % 5) * 0.01] as [number, number]),
        'us-east-1b': Array.from({ length: 48 }, (_, i) => [i * 1800 - 300, i % 7 === 2 ? 0.5 : 0.06 + (i % 3) * 0.01] as [number, number]),
      },
      priceAboveMax: false,
      farm: { slotsPerInstance: 4, bootSeconds: 120 },
    });

    // Act
    const { summary } = clairvoyantRun(scenario);

    // Assess
    expect(summary.cost_usd).toBeGreaterThan(oracle(scenario).cost_usd);
    expect(summary.spot_instance_hours! + summary.on_demand_instance_hours!).toBeGreaterThan(0);
    expect(summary.cost_breakdown.busy_usd).toBeGreaterThanOrEqual(oracle(scenario).cost_usd - 1e-9);
    expectPartsAddUp(summary);
  });
});

function expectPartsAddUp(p: PolicySummary): void {
  const b = p.cost_breakdown;
  for (const v of Object.values(b)) expect(v).toBeGreaterThanOrEqual(-1e-9);
  expect(b.busy_usd + b.idle_usd + b.boot_usd + b.rework_usd).toBeCloseTo(p.cost_usd, 9);
  expect(b.on_demand_premium_usd).toBeLessThanOrEqual(p.cost_usd + 1e-9);
}

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

describe('the cost breakdown of a backtest', () => {
  it('adds up to each policy’s cost: busy + idle + boot + rework', async () => {
    // Act
    const result = await runBacktest(spiky, { policies: ['on-demand-only', 'recipe', 'aws-native', 'oracle', 'clairvoyant'] });

    // Assess
    const p = result.json.policies;
    for (const name of ['on-demand-only', 'recipe', 'aws-native', 'oracle', 'clairvoyant'] as const) expectPartsAddUp(p[name]);
    for (const name of ['on-demand-only', 'recipe', 'aws-native'] as const) {
      expect(p[name].cost_breakdown.busy_usd, name).toBeGreaterThan(0);
      expect(p[name].cost_breakdown.boot_usd, name).toBeGreaterThan(0);
      // Slots cannot all be busy all the time between bursts.
      expect(p[name].cost_breakdown.idle_usd, name).toBeGreaterThan(0);
    }
    // The spike above on-demand interrupts the recipe's spot instances: the work they held runs again.
    expect(p.recipe.interruptions).toBeGreaterThan(0);
    expect(p.recipe.cost_breakdown.rework_usd).toBeGreaterThan(0);
    // Premium: on-demand time above the cheapest spot price; none without on-demand time.
    expect(p['on-demand-only'].cost_breakdown.on_demand_premium_usd).toBeGreaterThan(0);
    expect(p['aws-native'].cost_breakdown.on_demand_premium_usd).toBe(0);
    expect(p.oracle.cost_breakdown).toEqual({ busy_usd: p.oracle.cost_usd, idle_usd: 0, boot_usd: 0, rework_usd: 0, on_demand_premium_usd: 0 });
    // The clairvoyant farm runs no wait; its free rides (spot instances EC2 takes within their first hour as the
    // spike passes on-demand) only lower it.
    expect(p.clairvoyant.wait_p95_s).toBe(0);
    const noFreeRide = clairvoyantRun({ ...spiky, interruptions: { ...spiky.interruptions, priceAboveMax: false } }).summary;
    expect(p.clairvoyant.cost_usd).toBeLessThan(noFreeRide.cost_usd);
    expect(noFreeRide.cost_usd).toBeGreaterThan(p.oracle.cost_usd);
  });

  it('adds up for spotfarm through the handlers too (swaps to on-demand and back)', async () => {
    // Act
    const result = await runBacktest(spiky, { policies: ['spotfarm'], handlers: fakeHandlers });

    // Assess
    const p = result.json.policies.spotfarm;
    expect(p.on_demand_instance_hours).toBeGreaterThan(0);
    expectPartsAddUp(p);
    expect(p.cost_breakdown.on_demand_premium_usd).toBeGreaterThan(0);
  });
});
