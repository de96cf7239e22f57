/**
 * Gauges (src/metrics.ts): an EMF line when the value changes or GAUGE_REFRESH_MS has passed, by the event's
 * time, since CloudWatch bills a custom metric for every hour it receives a data point.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GAUGE_REFRESH_MS, MetricUnit, publishGauge, resetGauges } from '../../src/metrics';

const T = new Date('2025-03-01T12:00:00Z').getTime();
const at = (ms: number) => new Date(T + ms);

describe('gauges', () => {
  let lines: string[];
  beforeEach(() => {
    resetGauges();
    lines = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });
  const emf = () => lines.flatMap((l) => l.split('\n')).filter((l) => l.includes('"_aws"')).map((l) => JSON.parse(l) as Record<string, unknown>);

  it('publish one EMF line with the series dimensions and the service', () => {
    // Act
    const published = publishGauge('SpotPrice', MetricUnit.NoUnit, 0.0321, { asgName: 'ml-spot' }, at(0));
    // Assess
    expect(published).toBe(true);
    expect(emf()).toHaveLength(1);
    expect(emf()[0]).toMatchObject({ SpotPrice: 0.0321, asgName: 'ml-spot', service: 'spotfarm' });
  });

  it('publish a series again only when its value changes or the refresh period has passed', () => {
    // Act
    publishGauge('SpotPrice', MetricUnit.NoUnit, 0.05, { asgName: 'a' }, at(0));
    publishGauge('SpotPrice', MetricUnit.NoUnit, 0.05, { asgName: 'b' }, at(0));
    publishGauge('SpotPrice', MetricUnit.NoUnit, 0.05, { asgName: 'a' }, at(300_000));
    const unchanged = emf().length;
    publishGauge('SpotPrice', MetricUnit.NoUnit, 0.06, { asgName: 'a' }, at(600_000));
    publishGauge('SpotPrice', MetricUnit.NoUnit, 0.05, { asgName: 'b' }, at(GAUGE_REFRESH_MS - 1));
    const beforeRefresh = emf().length;
    publishGauge('SpotPrice', MetricUnit.NoUnit, 0.05, { asgName: 'b' }, at(GAUGE_REFRESH_MS));
    // Assess: a and b once; a's same value 5 minutes later is skipped; a's new value goes out; b after 6 hours.
    expect(unchanged).toBe(2);
    expect(beforeRefresh).toBe(3);
    expect(emf()).toHaveLength(4);
    expect(emf().map((e) => `${String(e.asgName)}=${String(e.SpotPrice)}`)).toEqual(['a=0.05', 'b=0.05', 'a=0.06', 'b=0.05']);
  });

  it('keep no dimension of one line on the next (a reused single-metric instance)', () => {
    // Act
    publishGauge('OnSpot', MetricUnit.Count, 1, { asgName: 'a', extra: 'x' }, at(0));
    publishGauge('OnSpot', MetricUnit.Count, 1, { asgName: 'b' }, at(0));
    // Assess
    expect(emf()[1]).not.toHaveProperty('extra');
  });
});
