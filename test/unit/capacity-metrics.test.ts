/** The queue scaler's metrics: EMF lines with backlog, backlog per instance and desired per group. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { publishCapacityMetrics } from '../../src/capacity/run';
import { decideCapacity, emptyCapacityState } from '../../src/capacity/decide';
import { DEFAULT_SETTINGS } from '../../src/settings';

describe('capacity metrics', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('publishes Backlog and BacklogPerInstance per farm and DesiredCapacity per group', () => {
    // Prepare
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    const decision = decideCapacity(
      {
        farm: 'ml',
        queue: { visible: 30, inFlight: 6, delayed: 0 },
        spot: { name: 'ml-spot', min: 0, max: 20, desired: 3, inService: 3, pending: 0 },
        onDemand: { name: 'ml-od', min: 0, max: 5, desired: 0, inService: 0, pending: 0 },
        spotMarket: 'spot',
        settings: { ...DEFAULT_SETTINGS, backlogPerInstance: 4 },
        state: emptyCapacityState(),
      },
      new Date('2025-03-01T12:00:00Z'),
    );
    // Act
    publishCapacityMetrics(decision);
    // Assess
    const emf = lines.flatMap((l) => l.split('\n')).filter((l) => l.includes('"_aws"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const value = (name: string, where: Record<string, string>) =>
      emf.find((e) => name in e && Object.entries(where).every(([k, v]) => e[k] === v))?.[name];
    expect(value('Backlog', { farm: 'ml' })).toBe(36);
    expect(value('BacklogPerInstance', { farm: 'ml' })).toBe(12);
    expect(value('DesiredCapacity', { farm: 'ml', asgName: 'ml-spot' })).toBe(9);
    expect(value('DesiredCapacity', { farm: 'ml', asgName: 'ml-od' })).toBe(0);
  });
});
