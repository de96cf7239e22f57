import { describe, expect, it } from 'vitest';
import { failureBackoffSeconds, heartbeatDelaySeconds, planDrain, planHandBack, planReceive } from '../../worker/policy';
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

describe('planHandBack', () => {
  const base = { fifo: false, handBacks: 0, attributeNames: [] as string[], jobAtFault: false };
  it.each([
    { name: 'standard queue: re-send, count 1', input: base, kind: 'resend', handBacks: 1 },
    { name: 'a copy handed back again counts on', input: { ...base, handBacks: 4 }, kind: 'resend', handBacks: 5 },
    { name: 'the last re-send within the bound', input: { ...base, handBacks: rules.MAX_RESENT_HAND_BACKS - 1 }, kind: 'resend', handBacks: rules.MAX_RESENT_HAND_BACKS },
    { name: 'past the bound the receive counts', input: { ...base, handBacks: rules.MAX_RESENT_HAND_BACKS }, kind: 'visibility', reason: 'receives count again' },
    { name: 'the job outran its time: it counts', input: { ...base, jobAtFault: true }, kind: 'visibility', reason: 'maximum time' },
    { name: 'FIFO by default: keep its place in the group', input: { ...base, fifo: true }, kind: 'visibility', reason: 'FIFO' },
    { name: 'FIFO with resend chosen', input: { ...base, fifo: true, mode: 'resend' as const }, kind: 'resend', handBacks: 1 },
    { name: 'visibility chosen', input: { ...base, mode: 'visibility' as const }, kind: 'visibility', reason: 'mode' },
    { name: '8 attributes of its own leave room for ours', input: { ...base, attributeNames: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'] }, kind: 'resend', handBacks: 1 },
    { name: '9 attributes of its own do not', input: { ...base, attributeNames: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'] }, kind: 'visibility', reason: 'no room' },
    {
      name: 'our own two attributes do not count against the room',
      input: { ...base, handBacks: 1, attributeNames: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', rules.HAND_BACK_ATTRIBUTE, rules.JOB_ID_ATTRIBUTE] },
      kind: 'resend',
      handBacks: 2,
    },
  ])('$name', ({ input, kind, handBacks, reason }) => {
    // Act
    const plan = planHandBack(input);
    // Assess
    expect(plan.kind).toBe(kind);
    if (handBacks !== undefined) expect(plan.handBacks).toBe(handBacks);
    if (reason !== undefined) expect(plan.kind === 'visibility' && plan.reason).toContain(reason);
  });
});

describe('planReceive (busy-first)', () => {
  const D = rules.IDLE_RECEIVE_DELAY_SECONDS;
  const W = rules.RECEIVE_WAIT_SECONDS;
  const w = rules.IDLE_RECEIVE_WAIT_SECONDS;
  it.each([
    { name: 'first receive of a new instance: at once, full wait', running: 0, slots: 4, first: true, delay: 0, wait: W },
    { name: 'idle 4-slot instance: the whole delay, brief poll', running: 0, slots: 4, first: false, delay: D, wait: w },
    { name: '1 of 4 running: two thirds of it', running: 1, slots: 4, first: false, delay: (2 * D) / 3, wait: w },
    { name: '2 of 4 running: a third of it', running: 2, slots: 4, first: false, delay: D / 3, wait: w },
    { name: '3 of 4 running (one free slot): at once, full wait', running: 3, slots: 4, first: false, delay: 0, wait: W },
    { name: 'a 1-slot instance never waits', running: 0, slots: 1, first: false, delay: 0, wait: W },
    { name: 'idle, but its last receive was full (a backlog flows): at once, full wait', running: 0, slots: 4, first: false, full: true, delay: 0, wait: W },
  ])('$name', ({ running, slots, first, full, delay, wait }) => {
    // Act
    const plan = planReceive({ running, slots, first, lastReceiveFull: full, waitSeconds: W });
    // Assess
    expect(plan.delaySeconds).toBeCloseTo(delay, 9);
    expect(plan.waitSeconds).toBe(wait);
  });

  it.each([
    { name: 'on-demand, 1 of 2 running (one free slot): the idle delay, brief poll', running: 1, slots: 2, delay: D, wait: w },
    { name: 'on-demand, idle 4-slot instance: twice the idle delay', running: 0, slots: 4, delay: 2 * D, wait: w },
    { name: 'on-demand, 1 of 4 running: two thirds of the delay more than a spot one', running: 1, slots: 4, delay: (2 * D) / 3 + D, wait: w },
    { name: 'on-demand 1-slot instance: the idle delay', running: 0, slots: 1, delay: D, wait: w },
    { name: 'on-demand, first receive: at once', running: 0, slots: 4, first: true, delay: 0, wait: W },
    { name: 'on-demand, its last receive was full (a backlog flows): at once', running: 0, slots: 4, full: true, delay: 0, wait: W },
  ])('on-demand last: $name', ({ running, slots, first, full, delay, wait }) => {
    // Act
    const plan = planReceive({ running, slots, first: first ?? false, lastReceiveFull: full, waitSeconds: W, last: true });
    // Assess
    expect(plan.delaySeconds).toBeCloseTo(delay, 9);
    expect(plan.waitSeconds).toBe(wait);
  });

  it('on-demand last: an on-demand instance never polls sooner than a spot one with the same free slots; a delay of 0 turns it off', () => {
    for (let slots = 1; slots <= 8; slots++) {
      for (let running = 0; running < slots; running++) {
        const spot = planReceive({ running, slots, first: false, waitSeconds: W }).delaySeconds;
        const onDemand = planReceive({ running, slots, first: false, waitSeconds: W, last: true }).delaySeconds;
        expect(onDemand).toBeCloseTo(spot + D, 9);
      }
    }
    expect(planReceive({ running: 1, slots: 2, first: false, waitSeconds: W, idleDelaySeconds: 0, last: true })).toEqual({ delaySeconds: 0, waitSeconds: W });
  });

  it('a delay of 0 turns busy-first off; the delay never passes the idle delay', () => {
    // Act / Assess
    expect(planReceive({ running: 0, slots: 4, first: false, waitSeconds: W, idleDelaySeconds: 0 })).toEqual({ delaySeconds: 0, waitSeconds: W });
    for (let running = 0; running < 8; running++) {
      expect(planReceive({ running, slots: 8, first: false, waitSeconds: W }).delaySeconds).toBeLessThanOrEqual(D);
    }
  });
});
