/** Small in-memory scenarios for the simulator's unit tests (no files). */
import { Market, StepSeries } from '../../../sim/market';
import type { Scenario } from '../../../sim/scenario';

export const T0 = Date.parse('2015-05-05T00:00:00Z') / 1000;

export interface TestScenarioOptions {
  jobs?: { at: number; runtime: number }[];
  /** Spot price step functions per AZ: [[offset seconds, price], ...]. */
  spot?: Record<string, [number, number][]>;
  onDemand?: number;
  rate?: number;
  priceAboveMax?: boolean;
  storms?: Scenario['interruptions']['storms'];
  rebalanceFraction?: number;
  farm?: Partial<Scenario['farm']>;
  duration?: number;
  drainLimit?: number;
  seed?: number;
}

export function testScenario(o: TestScenarioOptions = {}): Scenario {
  const azs = Object.keys(o.spot ?? { 'us-east-1a': [[0, 0.05]] });
  const market = new Market('us-east-1', ['c3.xlarge'], azs);
  for (const [az, points] of Object.entries(o.spot ?? { 'us-east-1a': [[0, 0.05]] as [number, number][] })) {
    market.setSpot('c3.xlarge', az, new StepSeries(points.map(([t]) => T0 + t), points.map(([, p]) => p)));
  }
  market.onDemand.set('c3.xlarge', o.onDemand ?? 0.21);
  const jobs = o.jobs ?? [];
  return {
    name: 'test',
    description: '',
    path: 'test.yaml',
    start: T0,
    duration: o.duration ?? 3600,
    drainLimit: o.drainLimit ?? 3600,
    region: 'us-east-1',
    seed: o.seed ?? 1,
    sampleSeconds: 60,
    instanceTypes: ['c3.xlarge'],
    availabilityZones: azs,
    market,
    workload: { arrival: Float64Array.from(jobs.map((j) => T0 + j.at)), runtime: Float64Array.from(jobs.map((j) => j.runtime)) },
    interruptions: {
      priceAboveMax: o.priceAboveMax ?? true,
      rate: new Map([['c3.xlarge', o.rate ?? 0]]),
      rateSource: 'test',
      rebalanceFraction: o.rebalanceFraction ?? 0,
      rebalanceLead: 600,
      storms: o.storms ?? [],
    },
    farm: {
      name: 'farm',
      marketStyle: 'launch-template',
      slotsPerInstance: 2,
      bootSeconds: 60,
      spot: { min: 0, max: 10 },
      onDemand: { min: 0, max: 10 },
      visibilityTimeout: 600,
      maxReceiveCount: 3,
      healthCheckDelay: 90,
      ...o.farm,
    },
    schedules: { priceCheck: 300, queueScaler: 60 },
    alarms: { backlogHigh: { threshold: 2, evaluationPeriods: 1 }, backlogLow: { threshold: 0, evaluationPeriods: 5 } },
    baselines: { targetBacklogPerInstance: 2, minInstances: 1 },
    spotfarm: {},
  };
}
