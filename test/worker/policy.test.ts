import { describe, expect, it } from 'vitest';
import { failureBackoffSeconds, heartbeatDelaySeconds, planDrain } from '../../worker/policy';
import * as rules from '../../worker/rules';

describe('failureBackoffSeconds', () => {
  it.each([
    { receiveCount: 1, expected: 30 },
    { receiveCount: 2, expected: 60 },
    { receiveCount: 3, expected: 120 },
    { receiveCount: 5, expected: 480 },
    { receiveCount: 6, expected: 900 },
    { receiveCount: 1000, expected: 900 },
    { receiveCount: 0, expected: 30 },
    { receiveCount: Number.NaN, expected: 30 },
  ])('receive $receiveCount backs off $expected s', ({ receiveCount, expected }) => {
    // Act
    const seconds = failureBackoffSeconds(receiveCount);
    // Assess
    expect(seconds).toBe(expected);
  });
});

describe('heartbeatDelaySeconds', () => {
  it('extends once HEARTBEAT_FRACTION of the lease is left', () => {
    // Act
    const delay = heartbeatDelaySeconds(30);
    // Assess
    expect(delay).toBe(30 * (1 - rules.HEARTBEAT_FRACTION));
    expect(delay).toBeLessThan(30);
  });
});

describe('planDrain', () => {
  const now = Date.parse('2025-01-01T12:00:00Z');
  const deadline = now + rules.INTERRUPTION_NOTICE_SECONDS * 1000;
  const cutoff = deadline - rules.FINISH_MARGIN_SECONDS * 1000;

  it.each([
    { rule: 'unknown duration is handed back', job: { startedAt: now - 10_000 }, kind: 'handBack' },
    { rule: 'ends well before the cutoff: finishes', job: { startedAt: now - 10_000, expectedSeconds: 60 }, kind: 'finish' },
    { rule: 'ends exactly at the cutoff: finishes', job: { startedAt: now, expectedSeconds: 105 }, kind: 'finish' },
    { rule: 'ends a second after the cutoff: handed back', job: { startedAt: now, expectedSeconds: 106 }, kind: 'handBack' },
    { rule: 'long job: handed back', job: { startedAt: now - 60_000, expectedSeconds: 3600 }, kind: 'handBack' },
  ])('$rule', ({ job, kind }) => {
    // Act
    const [decision] = planDrain([{ id: 'm', ...job }], deadline, now);
    // Assess
    expect(decision?.kind).toBe(kind);
    if (decision?.kind === 'finish') expect(decision.handBackAt).toBe(cutoff);
  });

  it('hands everything back when the cutoff has passed', () => {
    // Act
    const plan = planDrain([{ id: 'm', startedAt: now - 1000, expectedSeconds: 0 }], now + 5_000, now);
    // Assess
    expect(plan).toEqual([expect.objectContaining({ kind: 'handBack' })]);
  });

  it('lets everything finish without a deadline (rebalance drain)', () => {
    // Act
    const plan = planDrain([{ id: 'a', startedAt: now }, { id: 'b', startedAt: now, expectedSeconds: 9999 }], undefined, now);
    // Assess
    expect(plan.map((d) => d.kind)).toEqual(['finish', 'finish']);
    expect(plan.every((d) => d.reason === 'no deadline')).toBe(true);
  });
});
