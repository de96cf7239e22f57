import { describe, expect, it } from 'vitest';
import { groupSpotPrice, isPriceInterruption, priceAt } from '../../src/prices';

const od = { 'c5.large': 0.085, 'c5.xlarge': 0.17 };

describe('groupSpotPrice', () => {
  it.each([
    {
      name: 'one type, two AZs: the mean over AZs',
      types: ['c5.large'],
      pools: [
        { instanceType: 'c5.large', availabilityZone: 'a', spot: 0.034 },
        { instanceType: 'c5.large', availabilityZone: 'b', spot: 0.051 },
      ],
      ratio: (0.4 + 0.6) / 2,
    },
    {
      name: 'two types in one AZ: the cheapest relative to its on-demand price',
      types: ['c5.large', 'c5.xlarge'],
      pools: [
        { instanceType: 'c5.large', availabilityZone: 'a', spot: 0.0765 },
        { instanceType: 'c5.xlarge', availabilityZone: 'a', spot: 0.034 },
      ],
      ratio: 0.2,
    },
    {
      name: 'a spike (below the max price) in one of three AZs moves the ratio by a third',
      types: ['c5.large'],
      pools: [
        { instanceType: 'c5.large', availabilityZone: 'a', spot: 0.0765 },
        { instanceType: 'c5.large', availabilityZone: 'b', spot: 0.0255 },
        { instanceType: 'c5.large', availabilityZone: 'c', spot: 0.0255 },
      ],
      ratio: (0.9 + 0.3 + 0.3) / 3,
    },
    {
      name: 'pools of types the group does not launch are ignored',
      types: ['c5.large'],
      pools: [
        { instanceType: 'c5.large', availabilityZone: 'a', spot: 0.0425 },
        { instanceType: 'c5.xlarge', availabilityZone: 'a', spot: 0.001 },
      ],
      ratio: 0.5,
    },
  ])('$name', ({ types, pools, ratio }) => {
    const price = groupSpotPrice(types, pools, od);
    expect(price.ratio).toBeCloseTo(ratio, 10);
    expect(price.spotPrice).toBeCloseTo(ratio * od[types[0] as keyof typeof od], 10);
  });

  it('has no ratio without prices', () => {
    expect(groupSpotPrice(['c5.large'], [], od).ratio).toBeUndefined();
    expect(groupSpotPrice(['m9.huge'], [{ instanceType: 'm9.huge', availabilityZone: 'a', spot: 1 }], od).ratio).toBeUndefined();
  });
});

describe('groupSpotPrice: AZs priced at or above the max price cannot launch spot', () => {
  const pools = [
    { instanceType: 'c5.large', availabilityZone: 'a', spot: 0.2 }, // above on-demand: Auto Scaling routes around it
    { instanceType: 'c5.large', availabilityZone: 'b', spot: 0.017 },
    { instanceType: 'c5.large', availabilityZone: 'c', spot: 0.034 },
  ];

  it('averages over the AZs that can launch', () => {
    const price = groupSpotPrice(['c5.large'], pools, od);
    expect(price.ratio).toBeCloseTo((0.2 + 0.4) / 2, 10);
    expect(price.launchableAzs).toBe(2);
    expect(price.perAz.a).toMatchObject({ launchable: false });
  });

  it('counts an AZ priced exactly at the max price as launchable: AWS launches there and Auto Scaling balances into it', () => {
    const atOnDemand = [{ ...pools[0]!, spot: 0.085 }, pools[1]!, pools[2]!];
    const price = groupSpotPrice(['c5.large'], atOnDemand, od);
    expect(price.launchableAzs).toBe(3);
    expect(price.perAz.a).toMatchObject({ launchable: true, ratio: 1 });
    expect(price.ratio).toBeCloseTo((1 + 0.2 + 0.4) / 3, 10);
  });

  it('uses the group max price when it sets one', () => {
    const price = groupSpotPrice(['c5.large'], pools, od, 0.03);
    expect(price.launchableAzs).toBe(1);
    expect(price.ratio).toBeCloseTo(0.2, 10);
  });

  it('falls back to the mean over every AZ when none can launch', () => {
    const spiking = pools.map((p) => ({ ...p, spot: 0.17 }));
    const price = groupSpotPrice(['c5.large'], spiking, od);
    expect(price.launchableAzs).toBe(0);
    expect(price.ratio).toBeCloseTo(2, 10);
  });
});

describe('isPriceInterruption: the old market takes instances when the price passes the max price', () => {
  const t0 = Date.parse('2015-05-05T10:00:00Z');
  const steps = [
    { at: t0 - 3600_000, price: 0.05 },
    { at: t0 + 60_000, price: 0.5 }, // spikes a minute after the warning
    { at: t0 + 600_000, price: 0.05 },
  ];
  it.each([
    { rule: 'price below max at the warning and two minutes later: a storm', warnedAt: t0 - 600_000, max: 0.21, expected: false },
    { rule: 'price passes max within the two-minute notice: a price interruption', warnedAt: t0, max: 0.21, expected: true },
    { rule: 'price above max at the warning', warnedAt: t0 + 120_000, max: 0.21, expected: true },
    { rule: 'a max price above the spike: a storm', warnedAt: t0, max: 1, expected: false },
    { rule: 'a max price equal to the spike: the pool keeps its instances, so a storm', warnedAt: t0, max: 0.5, expected: false },
    { rule: 'no price history: counted as a storm', warnedAt: t0, max: 0.21, expected: false, steps: undefined },
  ])('$rule', ({ warnedAt, max, expected, ...rest }) => {
    const series = 'steps' in rest ? rest.steps : steps;
    expect(isPriceInterruption(series, warnedAt, max)).toBe(expected);
  });

  it('priceAt reads a step function', () => {
    expect(priceAt(steps, t0 - 7200_000)).toBeUndefined();
    expect(priceAt(steps, t0)).toBe(0.05);
    expect(priceAt(steps, t0 + 60_000)).toBe(0.5);
    expect(priceAt(steps, t0 + 3600_000)).toBe(0.05);
  });
});
