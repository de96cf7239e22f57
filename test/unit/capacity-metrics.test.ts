/**
 * The queue scaler's metrics: DesiredCapacity per group as an EMF gauge, published when it changes (and every
 * GAUGE_REFRESH_MS), since CloudWatch bills a custom metric for every hour it receives a data point.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { publishCapacityMetrics } from '../../src/capacity/state';
import { decideCapacity, emptyCapacityState } from '../../src/capacity/decide';
import { GAUGE_REFRESH_MS, resetGauges } from '../../src/metrics';
import { DEFAULT_SETTINGS } from '../../src/settings';

const T = new Date('2025-03-01T12:00:00Z');

function decision(visible: number) {
  return decideCapacity(
    {
      farm: 'ml',
      queue: { visible, inFlight: 6, delayed: 0 },
      spot: { name: 'ml-spot', min: 0, max: 20, desired: 3, inService: 3, pending: 0 },
      onDemand: { name: 'ml-od', min: 0, max: 5, desired: 0, inService: 0, pending: 0 },
      spotMarket: 'spot',
      settings: { ...DEFAULT_SETTINGS, backlogPerInstance: 4 },
      state: emptyCapacityState(),
    },
    T,
  );
}

describe('capacity metrics', () => {
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
  const value = (name: string, where: Record<string, string>) => emf().find((e) => name in e && Object.entries(where).every(([k, v]) => e[k] === v))?.[name];

  it('publishes DesiredCapacity per group, and nothing the dashboard does not show', () => {
    // Act
    publishCapacityMetrics(decision(30), T);
    // Assess
    expect(value('DesiredCapacity', { farm: 'ml', asgName: 'ml-spot' })).toBe(9);
    expect(value('DesiredCapacity', { farm: 'ml', asgName: 'ml-od' })).toBe(0);
    expect(emf().flatMap((e) => Object.keys(e).filter((k) => !['_aws', 'service', 'farm', 'asgName'].includes(k)))).toEqual(['DesiredCapacity', 'DesiredCapacity']);
  });

  it('publishes a group again only when its desired capacity changes or the refresh period has passed', () => {
    // Act
    publishCapacityMetrics(decision(30), T);
    publishCapacityMetrics(decision(30), new Date(T.getTime() + 60_000));
    const unchanged = emf().length;
    publishCapacityMetrics(decision(60), new Date(T.getTime() + 120_000));
    const afterChange = emf();
    publishCapacityMetrics(decision(60), new Date(T.getTime() + 120_000 + GAUGE_REFRESH_MS));
    // Assess: 2 series at first; a minute later nothing; then only the spot group moved (36 / 4 = 9 -> 66 / 4 rounded up = 17); then both again.
    expect(unchanged).toBe(2);
    expect(afterChange).toHaveLength(3);
    expect(afterChange[2]).toMatchObject({ asgName: 'ml-spot', DesiredCapacity: 17 });
    expect(emf()).toHaveLength(5);
  });
});
