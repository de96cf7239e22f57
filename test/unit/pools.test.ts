import { describe, expect, it } from 'vitest';
import { assessPools, describePools, groupBreakerTripped, weighBreaker, type PoolSignal } from '../../src/market/pools';
import type { GroupMarketView } from '../../src/market/observe';
import { planMarket } from '../../src/market/plan';
import { canLaunchSpot } from '../../src/pools';
import { DEFAULT_SETTINGS } from '../../src/settings';

describe('canLaunchSpot: the one rule the decisions and the simulated cloud share', () => {
  it.each([
    { rule: 'below the max price: launches', spot: 0.05, max: 0.21, expected: true },
    { rule: 'exactly at the max price: launches and stays (EC2 interrupts only above it)', spot: 0.21, max: 0.21, expected: true },
    { rule: 'above the max price: no launch, running instances interrupted', spot: 0.2101, max: 0.21, expected: false },
  ])('$rule', ({ spot, max, expected }) => {
    expect(canLaunchSpot(spot, max)).toBe(expected);
  });
});

describe('weighBreaker: evidence before a rate counts', () => {
  const settings = { breakerInterruptions: 0.25, breakerWindow: 3600 };
  it.each([
    { rule: 'two interruptions among seven instances: too few to trip', n: 2, instances: 7, tripped: false, why: '2 interruptions in 7 instance-hours: too few to trip (at least 3 interruptions)' },
    { rule: 'three among three: too few instance-hours to trust a rate', n: 3, instances: 3, tripped: false, why: /too few instance-hours to trust a rate/ },
    { rule: 'three among twelve: at the limit, tripped', n: 3, instances: 12, tripped: true, why: '3 interruptions in 12 instance-hours, 0.25 per instance-hour: tripped the limit 0.25' },
    { rule: 'three among thirteen: below the limit', n: 3, instances: 13, tripped: false, why: /below the limit/ },
    { rule: 'interrupted instances count as exposure when the pool has emptied', n: 5, instances: 0, tripped: true, why: /5 interruptions in 5 instance-hours/ },
  ])('$rule', ({ n, instances, tripped, why }) => {
    const e = weighBreaker(n, instances, settings);
    expect(e.tripped).toBe(tripped);
    if (typeof why === 'string') expect(e.why).toBe(why);
    else expect(e.why).toMatch(why);
  });
});

describe('assessPools and the group breaker: a trip moves only the tripped pool', () => {
  const settings = { swapRatio: 1, breakerInterruptions: 0.25, breakerWindow: 3600 };
  const pool = (az: string, ratio: number | undefined, interruptions = 0, instances = 5): PoolSignal => ({
    pool: `r3.large|${az}`,
    instanceType: 'r3.large',
    availabilityZone: az,
    ratio,
    interruptions,
    instances,
  });
  it.each([
    { rule: 'all pools cheap and quiet: all good, no trip', pools: [pool('a', 0.1), pool('b', 0.1)], out: [], trips: false },
    { rule: 'one pool at on-demand: out by price alone', pools: [pool('a', 0.1), pool('b', 1)], out: ['r3.large|b'], trips: false },
    { rule: 'one stormy pool among good ones: out by its breaker, the group stays', pools: [pool('a', 0.1), pool('e', 0.1, 4, 4)], out: ['r3.large|e'], trips: false },
    { rule: 'storm in one pool, the other priced out: no good pool left, the group trips', pools: [pool('a', 1.2), pool('e', 0.1, 4, 4)], out: ['r3.large|a', 'r3.large|e'], trips: true },
    { rule: 'every pool priced out and no storm: not the breaker (the price rule decides)', pools: [pool('a', 1.2), pool('e', 1.1)], out: ['r3.large|a', 'r3.large|e'], trips: false },
  ])('$rule', ({ pools, out, trips }) => {
    const assessed = assessPools(pools, settings);
    expect(assessed.filter((a) => a.status === 'out').map((a) => a.pool)).toEqual(out);
    expect(groupBreakerTripped(assessed)).toBe(trips);
  });

  it('describes each pool for plan and the logs', () => {
    const lines = describePools(assessPools([pool('a', 0.1), pool('e', 0.1, 4, 4)], settings));
    expect(lines[0]).toBe('r3.large|a: good (0.1 x on-demand; 0 interruptions in 5 instance-hours: too few to trip (at least 3 interruptions))');
    expect(lines[1]).toMatch(/^r3.large\|e: out \(breaker; 0.1 x on-demand; 4 interruptions in 4 instance-hours, 1 per instance-hour: tripped/);
  });
});

describe('plan: per-pool state (good / out since / breaker)', () => {
  it('shows each pool with its status, since when it is out, and the breaker evidence', () => {
    // Prepare: a spot group with a pool at on-demand (out since earlier) and a pool with two interruptions.
    const now = new Date('2015-04-12T00:00:00Z');
    const since = '2015-04-11T20:00:00Z';
    const signals = {
      ratio: 0.4,
      spotPrice: 0.07,
      onDemandPrice: 0.175,
      capacityFailures: 0,
      shortfall: 0,
      fallbackRoom: 10,
      interruptions: 2,
      instances: 14,
      pools: [
        { pool: 'r3.large|us-east-1a', instanceType: 'r3.large', availabilityZone: 'us-east-1a', ratio: 0.1, interruptions: 2, instances: 7 },
        { pool: 'r3.large|us-east-1b', instanceType: 'r3.large', availabilityZone: 'us-east-1b', ratio: 1, interruptions: 0, instances: 7 },
      ],
    };
    const state = { market: 'spot' as const, since, highStreak: 0, lowStreak: 0, backoff: 0, lastCheckAt: since, poolsOut: { 'r3.large|us-east-1b': { since, reasons: ['price' as const] } } };
    const view = {
      group: { role: 'spot', settings: { ...DEFAULT_SETTINGS }, group: { instances: [] }, instanceMarkets: {}, market: 'spot', onDemandPrices: {}, spotPrices: [], instanceTypes: ['r3.large'] },
      stored: { state, version: 3, others: {} },
      input: { asgName: 'ml-spot', role: 'spot', observed: 'spot', current: { style: 'mixed-instances', onDemandPercentageAboveBaseCapacity: 0 }, problems: [], signals, state },
      capacityFailureMessages: [],
      breakerPool: 'r3.large|us-east-1a',
    } as unknown as GroupMarketView;

    // Act
    const plan = planMarket('ml-spot', { views: new Map([['ml-spot', view]]), swaps: new Map() }, now);

    // Assess
    expect(plan?.pools).toEqual([
      { pool: 'r3.large|us-east-1a', status: 'good', outSince: null, reasons: [], ratio: 0.1, breaker: '2 interruptions in 7 instance-hours: too few to trip (at least 3 interruptions)' },
      { pool: 'r3.large|us-east-1b', status: 'out', outSince: since, reasons: ['price'], ratio: 1, breaker: '0 interruptions in 7 instance-hours: too few to trip (at least 3 interruptions)' },
    ]);
  });
});
