/**
 * A hand-built but realistic BacktestResult for the report tests: the bundled default scenario's shape
 * (c3.xlarge in three us-east-1 AZs, 2015 prices around $0.03-0.06/h with spells above the $0.21 on-demand price
 * as in the real series, a spiky job trace, a storm), four simulated policies and the oracle.
 *
 * The series come from a small deterministic fluid model (seeded PRNG), not from the simulator, so these tests
 * do not depend on it. 54 h sampled every 60 s: 3241 samples, more than the 2000-point chart budget, so the
 * downsampling runs too.
 */
import type { BacktestJson, BacktestResult, CostBreakdown, PolicyMark, PolicyName, PolicySeries, PolicySummary } from '../../sim/result';
import { mulberry32 } from '../../sim/rng';

const START = Date.UTC(2015, 5, 1) / 1000; // 2015-06-01T00:00:00Z
const ARRIVAL_HOURS = 48;
const DRAIN_HOURS = 6;
const SAMPLE_S = 60;
const ON_DEMAND = 0.21;
const SLOTS = 4;
const BOOT_S = 120;
const AZS = ['us-east-1a', 'us-east-1b', 'us-east-1e'] as const;
const STORM_AT = START + 30 * 3600;

function spotPool(az: string, seed: number): { t: number[]; price: number[] } {
  const r = mulberry32(seed);
  const t: number[] = [];
  const price: number[] = [];
  // The real c3.xlarge series changes about every 8-9 minutes; 1a spikes above on-demand most often.
  const spikeChance = az === 'us-east-1a' ? 0.025 : 0.006;
  let at = START - 300;
  let p = 0.035 + r() * 0.015;
  let spikeLeft = 0;
  while (at < START + (ARRIVAL_HOURS + DRAIN_HOURS) * 3600) {
    if (spikeLeft > 0) {
      spikeLeft--;
      p = ON_DEMAND * (0.9 + r() * 1.4);
    } else if (r() < spikeChance) {
      spikeLeft = 3 + Math.floor(r() * 12);
      p = ON_DEMAND * (0.5 + r() * 0.6);
    } else {
      p = Math.min(0.09, Math.max(0.032, p * (0.92 + r() * 0.16) + (0.045 - p) * 0.2));
    }
    t.push(at);
    price.push(Math.round(p * 10000) / 10000);
    at += 420 + Math.floor(r() * 180);
  }
  return { t, price };
}

/** A breakdown of `cost` whose parts add up to it: `busy` of it busy, the rest idle, boot and rework. */
function split(cost: number, premiumShare: number, busy = 0.62): CostBreakdown {
  const rest = cost * (1 - busy);
  return {
    busy_usd: cost * busy,
    idle_usd: rest * 0.7,
    boot_usd: rest * 0.2,
    rework_usd: rest * 0.1,
    on_demand_premium_usd: cost * premiumShare,
  };
}

interface PolicyModel {
  name: Exclude<PolicyName, 'oracle' | 'clairvoyant'>;
  /** Seconds of delay before capacity follows the backlog. */
  lag: number;
  /** Instances wanted per waiting message. */
  perMessage: number;
  spotShare: (t: number, cheapestSpot: number) => number;
  /** Chance per spot instance-hour of an interruption. */
  interruptRate: number;
  groups: (spot: number, od: number) => Record<string, number>;
  swaps: boolean;
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] as number;
}

/** Builds the fixture; the options let a test put hostile text in every string that reaches the page. */
export function buildFixture(
  opts: { scenario?: string; groupSuffix?: string; detailSuffix?: string } = {},
): BacktestResult {
  const scenario = opts.scenario ?? 'c3-spiky-2015';
  const groupSuffix = opts.groupSuffix ?? '';
  const detailSuffix = opts.detailSuffix ?? '';
  const end = START + (ARRIVAL_HOURS + DRAIN_HOURS) * 3600;
  const pools = AZS.map((az, i) => ({ instance_type: 'c3.xlarge', availability_zone: az, ...spotPool(az, 11 + i) }));
  const spotAt = (poolIdx: number, t: number): number => {
    const pool = pools[poolIdx] as (typeof pools)[number];
    let v = pool.price[0] as number;
    for (let i = 0; i < pool.t.length && (pool.t[i] as number) <= t; i++) v = pool.price[i] as number;
    return v;
  };

  // Arrivals: a daily wave plus a burst at hour 20, jobs of 5-40 minutes.
  const arrivalsRng = mulberry32(7);
  const arrivals: { at: number; runtime: number }[] = [];
  for (let at = START; at < START + ARRIVAL_HOURS * 3600; ) {
    const hour = (at - START) / 3600;
    const rate = 0.05 + 0.04 * Math.sin((hour / 24) * 2 * Math.PI) + (hour >= 20 && hour < 21.5 ? 0.35 : 0); // jobs/s
    at += Math.max(1, Math.round(-Math.log(1 - arrivalsRng()) / rate));
    arrivals.push({ at, runtime: 300 + Math.floor(arrivalsRng() * 2100) });
  }

  const models: PolicyModel[] = [
    {
      name: 'spotfarm',
      lag: 180,
      perMessage: 1 / 6,
      spotShare: (_t, cheapest) => (cheapest > ON_DEMAND * 0.9 ? 0 : 1),
      interruptRate: 0.004,
      groups: (spot, od) => ({ [`farm-spot${groupSuffix}`]: spot, [`farm-on-demand${groupSuffix}`]: od }),
      swaps: true,
    },
    {
      name: 'on-demand-only',
      lag: 300,
      perMessage: 1 / 6,
      spotShare: () => 0,
      interruptRate: 0,
      groups: (_spot, od) => ({ [`farm-on-demand-only${groupSuffix}`]: od }),
      swaps: false,
    },
    {
      name: 'recipe',
      lag: 600,
      perMessage: 1 / 5,
      spotShare: () => 1,
      interruptRate: 0.03,
      groups: (spot) => ({ [`farm-recipe${groupSuffix}`]: spot }),
      swaps: false,
    },
    {
      name: 'aws-native',
      lag: 300,
      perMessage: 1 / 6,
      spotShare: () => 1,
      interruptRate: 0.012,
      groups: (spot) => ({ [`farm-native${groupSuffix}`]: spot }),
      swaps: false,
    },
  ];

  const series: Partial<Record<PolicyName, PolicySeries>> = {};
  const marks: Partial<Record<PolicyName, PolicyMark[]>> = {};
  const policies = {} as Record<PolicyName, PolicySummary>;
  const storm: PolicyMark = {
    t: STORM_AT,
    kind: 'storm',
    detail: `c3.xlarge us-east-1a loses 80% of its instances, no capacity for 2h${detailSuffix}`,
  };

  models.forEach((m, mi) => {
    const r = mulberry32(100 + mi);
    const s: PolicySeries = { t: [], backlog: [], spot_instances: [], on_demand_instances: [], by_group: {}, cost_usd: [], wait_p95_s: [] };
    const pm: PolicyMark[] = [storm];
    const queue: { at: number; runtime: number }[] = [];
    const running: { until: number; job: { at: number; runtime: number } }[] = [];
    let next = 0;
    let spot = 0;
    let od = 0;
    let cost = 0;
    let spotHours = 0;
    let odHours = 0;
    let lastShare = 1;
    let swaps = 0;
    let interruptions = 0;
    let maxBacklog = 0;
    let completed = 0;
    const waits: number[] = [];
    const history: number[] = [];
    for (let t = START; t <= end; t += SAMPLE_S) {
      while (next < arrivals.length && (arrivals[next] as { at: number }).at <= t) queue.push(arrivals[next++] as { at: number; runtime: number });
      for (let i = running.length - 1; i >= 0; i--) {
        if ((running[i] as { until: number }).until <= t) {
          running.splice(i, 1);
          completed++;
        }
      }
      const backlog = queue.length + running.length;
      history.push(backlog);
      const seen = history[Math.max(0, history.length - 1 - Math.round(m.lag / SAMPLE_S))] as number;
      const want = Math.min(80, Math.ceil(seen * m.perMessage));
      const cheapest = Math.min(...AZS.map((_, i) => spotAt(i, t)));
      const share = m.spotShare(t, cheapest);
      if (m.swaps && share !== lastShare) {
        swaps++;
        pm.push({
          t,
          kind: share === 0 ? 'swap-to-on-demand' : 'swap-to-spot',
          detail: `spot $${cheapest.toFixed(4)}/h vs on-demand $${ON_DEMAND}/h${detailSuffix}`,
        });
      }
      lastShare = share;
      const wantSpot = Math.round(want * share);
      spot = wantSpot > spot ? spot + Math.min(5, wantSpot - spot) : Math.max(wantSpot, spot - 2);
      od = want - wantSpot > od ? od + Math.min(5, want - wantSpot - od) : Math.max(want - wantSpot, od - 2);
      // Interruptions: a rate per instance-hour, much higher while the price is above on-demand or in the storm.
      const stress = (cheapest > ON_DEMAND ? 8 : 1) * (t >= STORM_AT && t < STORM_AT + 600 ? 30 : 1);
      const lostNow = spot > 0 && r() < m.interruptRate * stress * spot * (SAMPLE_S / 3600) * 4 ? 1 : 0;
      if (lostNow) {
        interruptions++;
        spot--;
        const id = `i-0${Math.floor(r() * 0xfffffff).toString(16).padStart(7, '0')}${mi}`;
        pm.push({ t, kind: 'interruption', detail: `${id} in c3.xlarge ${AZS[Math.floor(r() * 3)]}${detailSuffix}` });
        // The interrupted instance's work goes back to the queue (and waits again).
        for (let k = 0; k < SLOTS && running.length > 0; k++) {
          const job = running.pop() as { until: number; job: { at: number; runtime: number } };
          queue.unshift(job.job);
        }
      }
      if (m.name === 'aws-native' && t >= STORM_AT && t < STORM_AT + 2 * 3600 && t % 1800 === 0) {
        pm.push({ t, kind: 'capacity-failure', detail: `no c3.xlarge capacity in us-east-1a${detailSuffix}` });
      }
      const ready = Math.max(0, (spot + od) * SLOTS - Math.ceil((BOOT_S / SAMPLE_S) * 2));
      const intervalWaits: number[] = [];
      while (running.length < ready && queue.length > 0) {
        const job = queue.shift() as { at: number; runtime: number };
        running.push({ until: t + job.runtime, job });
        waits.push(t - job.at);
        intervalWaits.push(t - job.at);
      }
      // spotfarm runs in the cheapest pool; the baselines spread over all three.
      const spotPrice = m.name === 'spotfarm' ? cheapest : AZS.reduce((sum, _, i) => sum + spotAt(i, t), 0) / AZS.length;
      cost += ((spot * spotPrice + od * ON_DEMAND) * SAMPLE_S) / 3600;
      spotHours += (spot * SAMPLE_S) / 3600;
      odHours += (od * SAMPLE_S) / 3600;
      maxBacklog = Math.max(maxBacklog, backlog);
      intervalWaits.sort((a, b) => a - b);
      s.t.push(t);
      s.backlog.push(backlog);
      s.spot_instances.push(spot);
      s.on_demand_instances.push(od);
      for (const [g, n] of Object.entries(m.groups(spot, od))) (s.by_group[g] ??= []).push(n);
      s.cost_usd.push(Math.round(cost * 1e6) / 1e6);
      s.wait_p95_s.push(intervalWaits.length ? percentile(intervalWaits, 0.95) : null);
    }
    waits.sort((a, b) => a - b);
    series[m.name] = s;
    marks[m.name] = pm;
    policies[m.name] = {
      cost_usd: Math.round(cost * 100) / 100,
      jobs_submitted: arrivals.length,
      jobs_completed: completed,
      jobs_lost: arrivals.length - completed,
      wait_p50_s: percentile(waits, 0.5),
      wait_p95_s: percentile(waits, 0.95),
      wait_max_s: waits.at(-1) ?? 0,
      spot_instance_hours: Math.round(spotHours * 10) / 10,
      on_demand_instance_hours: Math.round(odHours * 10) / 10,
      swaps,
      interruptions,
      max_backlog: maxBacklog,
      // A plausible split that adds up to the cost (the report draws it; the simulator's is tested in test/sim).
      cost_breakdown: split(Math.round(cost * 100) / 100, odHours > 0 ? 0.1 : 0),
    };
  });

  // The oracle: each job's run time at the cheapest price of its moment, per slot.
  const oracleCost = arrivals.reduce((sum, a) => {
    const price = Math.min(ON_DEMAND, ...AZS.map((_, i) => spotAt(i, a.at)));
    return sum + (a.runtime / 3600) * (price / SLOTS);
  }, 0);
  policies.oracle = {
    cost_usd: Math.round(oracleCost * 100) / 100,
    jobs_submitted: arrivals.length,
    jobs_completed: arrivals.length,
    jobs_lost: 0,
    wait_p50_s: null,
    wait_p95_s: null,
    wait_max_s: null,
    spot_instance_hours: null,
    on_demand_instance_hours: null,
    swaps: null,
    interruptions: null,
    max_backlog: null,
    cost_breakdown: split(Math.round(oracleCost * 100) / 100, 0, 1),
  };
  // The clairvoyant farm: a little above the oracle, with some boot and idle time.
  const clairvoyantCost = Math.round(oracleCost * 115) / 100;
  policies.clairvoyant = {
    ...policies.oracle,
    cost_usd: clairvoyantCost,
    wait_p50_s: 0,
    wait_p95_s: 0,
    wait_max_s: 0,
    cost_breakdown: split(clairvoyantCost, 0, 0.87),
  };

  const json: BacktestJson = {
    scenario,
    simulated_hours: ARRIVAL_HOURS + DRAIN_HOURS,
    wall_seconds: 8.4,
    policies,
  };
  return {
    json,
    start_epoch_s: START,
    end_epoch_s: end,
    sample_seconds: SAMPLE_S,
    market: { spot: pools, on_demand: [{ instance_type: 'c3.xlarge', price: ON_DEMAND }] },
    series,
    marks,
  };
}

/** Text that would break the page (or run script) if any string reached the HTML unescaped. */
export const HOSTILE = `<img src=x onerror="window.__pwned=1">&"'</script>`;

/**
 * A week-long, many-pool result (the bench's size: 7 days at 60 s samples, 5 types x 3 AZs, four policies with
 * thousands of events), built quickly with plain arithmetic: for checking that the report stays light.
 */
export function buildLargeResult(): BacktestResult {
  const base = buildFixture();
  const days = 7;
  const end = START + days * 86400;
  const r = mulberry32(99);
  const types = ['c3.xlarge', 'm3.medium', 'r3.large', 'g2.2xlarge', 'd2.8xlarge'];
  const spot = types.flatMap((type, ti) =>
    AZS.map((az) => {
      const t: number[] = [];
      const price: number[] = [];
      for (let at = START; at < end; at += 400 + Math.floor(r() * 200)) {
        t.push(at);
        price.push(Math.round((0.03 + ti * 0.05) * (0.8 + r() * (r() < 0.02 ? 8 : 0.4)) * 10000) / 10000);
      }
      return { instance_type: type, availability_zone: az, t, price };
    }),
  );
  const series: Partial<Record<PolicyName, PolicySeries>> = {};
  const marks: Partial<Record<PolicyName, PolicyMark[]>> = {};
  for (const name of ['spotfarm', 'on-demand-only', 'recipe', 'aws-native'] as const) {
    const s: PolicySeries = { t: [], backlog: [], spot_instances: [], on_demand_instances: [], by_group: { a: [], b: [] }, cost_usd: [], wait_p95_s: [] };
    const m: PolicyMark[] = [];
    let cost = 0;
    let n = 10;
    for (let t = START; t <= end; t += SAMPLE_S) {
      n = Math.max(0, Math.min(50, n + (r() < 0.5 ? -1 : 1)));
      cost += n * 0.001;
      s.t.push(t);
      s.backlog.push(Math.floor(r() * 400));
      s.spot_instances.push(n);
      s.on_demand_instances.push(50 - n);
      s.by_group.a?.push(n);
      s.by_group.b?.push(50 - n);
      s.cost_usd.push(cost);
      s.wait_p95_s.push(r() < 0.2 ? null : Math.floor(r() * 3600));
      if (r() < 0.3) m.push({ t, kind: 'interruption', detail: `i-${t.toString(16)} in c3.xlarge us-east-1a` });
    }
    series[name] = s;
    marks[name] = m;
  }
  return {
    ...base,
    json: { ...base.json, simulated_hours: days * 24 },
    end_epoch_s: end,
    market: { spot, on_demand: types.map((instance_type, i) => ({ instance_type, price: 0.1 + i * 0.2 })) },
    series,
    marks,
  };
}
