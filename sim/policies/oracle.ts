/**
 * The oracle: the lower bound on cost, computed, not simulated. Each job runs the moment it is submitted, on one
 * slot of an instance bought at the cheapest price of that moment (min over the scenario's pools of the spot price,
 * and the on-demand price), paying 1/slots of the instance's price for exactly its run time: no boot, no idle
 * slot, no interruption, no wait.
 */
import { emptyBreakdown, type PolicySummary } from '../result';
import type { Scenario } from '../scenario';

export function oracle(scenario: Scenario): PolicySummary {
  const { arrival, runtime } = scenario.workload;
  const n = arrival.length;
  let end = scenario.start + scenario.duration;
  for (let i = 0; i < n; i++) end = Math.max(end, arrival[i]! + runtime[i]!);
  const cheapest = scenario.market.cheapestSeries(scenario.start, end);
  const slots = scenario.farm.slotsPerInstance;
  let cost = 0;
  for (let i = 0; i < n; i++) cost += cheapest.integral(arrival[i]!, arrival[i]! + runtime[i]!) / slots;
  // All of it is busy time, at the cheapest price of its moment: on-demand only when spot was dearer, so it pays no
  // premium.
  return {
    cost_usd: cost,
    jobs_submitted: n,
    jobs_completed: n,
    jobs_lost: 0,
    wait_p50_s: null,
    wait_p95_s: null,
    wait_max_s: null,
    spot_instance_hours: null,
    on_demand_instance_hours: null,
    swaps: null,
    interruptions: null,
    max_backlog: null,
    cost_breakdown: { ...emptyBreakdown(), busy_usd: cost },
  };
}
