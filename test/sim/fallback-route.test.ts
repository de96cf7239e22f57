/**
 * The real handlers on the simulated cloud, a mixed-instances farm whose spot group falls back through the farm's
 * on-demand group (mixedFallback=on-demand-group, the default): such a fall-back changes no launch source, and
 * the backtest's `swaps` counts it all the same (docs/backtest.md); and without an on-demand group to go through
 * (max 0) no fall-back is made at all (docs/market.md, "A farm with no route to on-demand").
 */
import { describe, expect, it } from 'vitest';
import { runBacktest } from '../../sim/runner';
import { testScenario } from './support/scenario';

/** Spot above on-demand (0.21) in both AZs from 30 min to 2 h: a price fall-back, then a return. */
function spikeScenario(onDemandMax: number) {
  const jobs = Array.from({ length: 200 }, (_, i) => ({ at: i * 60, runtime: 900 }));
  return {
    jobs,
    scenario: testScenario({
      jobs,
      duration: 4 * 3600,
      drainLimit: 2 * 3600,
      spot: {
        'us-east-1a': [[-60, 0.05], [1800, 0.5], [7200, 0.05]],
        'us-east-1b': [[-60, 0.06], [1800, 0.5], [7200, 0.06]],
      },
      farm: { marketStyle: 'mixed-instances', onDemand: { min: 0, max: onDemandMax } },
    }),
  };
}

async function run(onDemandMax: number) {
  const { jobs, scenario } = spikeScenario(onDemandMax);
  const swapMessages: string[] = [];
  const result = await runBacktest(scenario, {
    policies: ['spotfarm'],
    onSdkCall: (command, input) => {
      const subject = (input as { Subject?: string }).Subject ?? '';
      if (command === 'PublishCommand' && /now launches (spot|on-demand)/.test(subject)) swapMessages.push(subject);
    },
  });
  return { jobs, result, swapMessages, marks: result.marks.spotfarm ?? [] };
}

describe('a mixed-instances farm falling back through its on-demand group', () => {
  it("counts the fall-back and the return in the JSON's swaps, as one swap message each", async () => {
    // Act
    const { jobs, result, swapMessages, marks } = await run(10);
    // Assess: one fall-back and one return, told once each, counted once each.
    expect(swapMessages).toEqual([
      expect.stringMatching(/farm-spot now launches on-demand/),
      expect.stringMatching(/farm-spot now launches spot/),
    ]);
    const p = result.json.policies.spotfarm;
    expect(p.swaps).toBe(2);
    expect(marks.filter((m) => m.kind === 'swap-to-on-demand' || m.kind === 'swap-to-spot').map((m) => m.kind)).toEqual(['swap-to-on-demand', 'swap-to-spot']);
    expect(p.on_demand_instance_hours).toBeGreaterThan(0);
    expect(p.jobs_completed).toBe(jobs.length);
    expect(result.json.stats!.spotfarm!.failed_events).toBe(0);
  }, 60_000);

  it('makes no fall-back when the on-demand group has max 0: it would only stop the spot launches', async () => {
    // Act
    const { jobs, result, swapMessages } = await run(0);
    // Assess: no swap at all (the same spike made one fall-back and one return above), and the jobs done on spot.
    expect(swapMessages).toEqual([]);
    const p = result.json.policies.spotfarm;
    expect(p.swaps).toBe(0);
    expect(p.on_demand_instance_hours).toBe(0);
    expect(p.jobs_completed).toBe(jobs.length);
    expect(result.json.stats!.spotfarm!.failed_events).toBe(0);
  }, 60_000);
});
