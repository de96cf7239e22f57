import { describe, expect, it } from 'vitest';
import { describeSpotPriceHistory } from '../../sim/cloud/ec2-api';
import { Market, StepSeries } from '../../sim/market';
import { T0, testScenario } from './support/scenario';
import { world } from './support/world';

describe('spot price step function', () => {
  const series = new StepSeries([100, 200, 300], [1.0, 2.0, 0.5]);

  it.each([
    [50, 1.0, 'before the first point: the price carried into the window'],
    [100, 1.0, 'at a change point: the new price'],
    [199.9, 1.0, 'holds until the next point'],
    [200, 2.0, 'the next step'],
    [10_000, 0.5, 'after the last point: the last price'],
  ])('price at %d is %d (%s)', (at, price) => {
    expect(series.at(at)).toBe(price);
  });

  it('integrates piecewise: USD for a time range at hourly prices', () => {
    // 100 s at 1.0/h + 100 s at 2.0/h + 50 s at 0.5/h
    expect(series.integral(100, 350)).toBeCloseTo((100 * 1 + 100 * 2 + 50 * 0.5) / 3600, 12);
    expect(series.integral(150, 160)).toBeCloseTo((10 * 1) / 3600, 12);
    expect(series.integral(300, 300)).toBe(0);
  });

  it('finds the first time the pool cannot launch spot under a max price (price above it)', () => {
    expect(series.firstUnlaunchable(1.5, 0, 1000)).toBe(200);
    expect(series.firstUnlaunchable(1.5, 250, 1000)).toBe(250);
    expect(series.firstUnlaunchable(3, 0, 1000)).toBeNull();
    expect(series.firstUnlaunchable(1.5, 0, 150)).toBeNull();
    // At the max price exactly the pool still launches: the 2.0 step is not a price interruption at max 2.0.
    expect(series.firstUnlaunchable(2, 0, 1000)).toBeNull();
  });

  it('integrates only the steps whose price passes a test (spend while a pool sat at or above on-demand)', () => {
    // [100, 350]: 100 s at 1.0, 100 s at 2.0, 50 s at 0.5; only the 2.0 step is >= 1.5.
    expect(series.integralWhere(100, 350, (p) => p >= 1.5)).toBeCloseTo((100 * 2) / 3600, 12);
    expect(series.integralWhere(100, 350, () => true)).toBeCloseTo(series.integral(100, 350), 12);
    expect(series.integralWhere(0, 150, (p) => p >= 1)).toBeCloseTo((150 * 1) / 3600, 12);
    expect(series.integralWhere(250, 260, (p) => p >= 1.5)).toBeCloseTo((10 * 2) / 3600, 12);
    expect(series.integralWhere(300, 300, () => true)).toBe(0);
  });

  it('rejects malformed series', () => {
    expect(() => new StepSeries([], [])).toThrow(/at least one point/);
    expect(() => new StepSeries([2, 1], [1, 1])).toThrow(/ascending/);
  });

  it('the cheapest series takes the min over pools and on-demand at every change', () => {
    const m = new Market('us-east-1', ['c3.xlarge'], ['a', 'b']);
    m.setSpot('c3.xlarge', 'a', new StepSeries([0, 100], [0.1, 0.5]));
    m.setSpot('c3.xlarge', 'b', new StepSeries([0, 200], [0.3, 0.05]));
    m.onDemand.set('c3.xlarge', 0.21);
    const cheapest = m.cheapestSeries(0, 300);
    expect([cheapest.at(50), cheapest.at(150), cheapest.at(250)]).toEqual([0.1, 0.21, 0.05]);
  });
});

describe('DescribeSpotPriceHistory in the simulated cloud', () => {
  const scenario = testScenario({
    spot: {
      'us-east-1a': [[-3600, 0.04], [600, 0.3], [1200, 0.05]],
      'us-east-1b': [[-7200, 0.06]],
    },
  });

  it('StartTime = EndTime = now answers the price in force per AZ, with its original timestamp', async () => {
    // Prepare
    const w = world(scenario);
    await w.runUntil(T0 + 900);
    // Act
    const out = describeSpotPriceHistory(w, { StartTime: new Date((T0 + 900) * 1000), EndTime: new Date((T0 + 900) * 1000) });
    // Assess
    const byAz = Object.fromEntries(out.SpotPriceHistory.map((p) => [p.AvailabilityZone, p]));
    expect(byAz['us-east-1a']).toMatchObject({ SpotPrice: '0.300000', InstanceType: 'c3.xlarge', ProductDescription: 'Linux/UNIX' });
    expect(byAz['us-east-1a']!.Timestamp!.getTime()).toBe((T0 + 600) * 1000);
    expect(byAz['us-east-1b']!.Timestamp!.getTime()).toBe((T0 - 7200) * 1000);
  });

  it('a window holds the price at StartTime plus every change up to EndTime, newest first, never the future', async () => {
    const w = world(scenario);
    await w.runUntil(T0 + 900);
    const out = describeSpotPriceHistory(w, { StartTime: new Date((T0 - 60) * 1000), AvailabilityZone: 'us-east-1a' });
    expect(out.SpotPriceHistory.map((p) => p.SpotPrice)).toEqual(['0.300000', '0.040000']);
    expect(out.NextToken).toBe('');
  });

  it('paginates with MaxResults and NextToken', async () => {
    const w = world(scenario);
    await w.runUntil(T0 + 1800);
    const first = describeSpotPriceHistory(w, { StartTime: new Date((T0 - 60) * 1000), MaxResults: 2 });
    expect(first.SpotPriceHistory).toHaveLength(2);
    expect(first.NextToken).not.toBe('');
    const second = describeSpotPriceHistory(w, { StartTime: new Date((T0 - 60) * 1000), MaxResults: 2, NextToken: first.NextToken });
    expect(second.SpotPriceHistory).toHaveLength(2);
    expect(second.NextToken).toBe('');
  });

  it('answers nothing for a non-Linux product', async () => {
    const w = world(scenario);
    const out = describeSpotPriceHistory(w, { ProductDescriptions: ['Windows'] });
    expect(out.SpotPriceHistory).toEqual([]);
  });
});
