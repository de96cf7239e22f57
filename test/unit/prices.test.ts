import { describe, expect, it } from 'vitest';
import { groupSpotPrice } from '../../src/decide/prices';

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
      name: 'a spike in one of three AZs moves the ratio by a third',
      types: ['c5.large'],
      pools: [
        { instanceType: 'c5.large', availabilityZone: 'a', spot: 0.17 },
        { instanceType: 'c5.large', availabilityZone: 'b', spot: 0.0255 },
        { instanceType: 'c5.large', availabilityZone: 'c', spot: 0.0255 },
      ],
      ratio: (2 + 0.3 + 0.3) / 3,
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
