/**
 * Decision tables for the queue scaler's pure capacity decision: both policies, cooldowns, in-flight-aware
 * scale-in, scale to zero, the split between the spot and on-demand groups and its delay. Plain objects, no mocks.
 */
import { describe, expect, it } from 'vitest';
import type { SetDesiredCapacityAction } from '../../src/capacity/actions';
import {
  capacityStateChanged,
  decideCapacity,
  emptyCapacityState,
  trackShortfall,
  type CapacityGroup,
  type CapacityInput,
  type CapacityState,
} from '../../src/capacity/decide';
import { lateAllowance, RECEIVE_DELAY_SECONDS, serviceNeed, trackLate, workReadDue } from '../../src/capacity/service';
import { IDLE_RECEIVE_DELAY_SECONDS } from '../../worker/rules';
import { DEFAULT_SETTINGS, type GroupSettings } from '../../src/settings';

const NOW = new Date('2025-03-01T12:00:00Z');
const ago = (seconds: number) => new Date(NOW.getTime() - seconds * 1000).toISOString();

const group = (name: string, desired: number, extra: Partial<CapacityGroup> = {}): CapacityGroup => ({
  name,
  min: 0,
  max: 20,
  desired,
  inService: desired,
  pending: 0,
  ...extra,
});

interface Row {
  name: string;
  queue?: Partial<CapacityInput['queue']>;
  spot?: CapacityGroup | null;
  onDemand?: CapacityGroup | null;
  settings?: Partial<GroupSettings>;
  state?: Partial<CapacityState>;
  alarm?: CapacityInput['alarm'];
  spotMarket?: CapacityInput['spotMarket'];
  spotFallback?: CapacityInput['spotFallback'];
  /** Expected desired per group after the decision (absent: unchanged). */
  spotTo?: number;
  onDemandTo?: number;
  reason?: RegExp;
}

function input(row: Row): CapacityInput {
  return {
    farm: 'ml',
    queue: { visible: 0, inFlight: 0, delayed: 0, ...row.queue },
    spot: row.spot === null ? undefined : (row.spot ?? group('ml-spot', 2)),
    onDemand: row.onDemand === null ? undefined : (row.onDemand ?? group('ml-od', 0)),
    spotMarket: row.spotMarket ?? 'spot',
    ...(row.spotFallback ? { spotFallback: row.spotFallback } : {}),
    // The tables below the service policy's are the target and step policies' (the service policy has its own).
    settings: { ...DEFAULT_SETTINGS, scalingPolicy: 'target', ...row.settings },
    state: { ...emptyCapacityState(), ...row.state },
    alarm: row.alarm,
  };
}

function desiredAfter(row: Row) {
  const decision = decideCapacity(input(row), NOW);
  const to = (name: string | undefined) => {
    const action = decision.actions.find((a) => a.asgName === name);
    return action?.kind === 'setDesiredCapacity' ? action.to : undefined;
  };
  const i = input(row);
  return { decision, spot: to(i.spot?.name), onDemand: to(i.onDemand?.name) };
}

function check(row: Row) {
  // Act
  const { decision, spot, onDemand } = desiredAfter(row);
  // Assess
  expect(spot).toBe(row.spotTo);
  expect(onDemand).toBe(row.onDemandTo);
  if (row.reason) expect(decision.actions.map((a) => a.reason).join(' | ')).toMatch(row.reason);
  return decision;
}

const service = { scalingPolicy: 'service' as const, slotsPerInstance: 4, secondsPerJob: 600, acceptableWait: 600 };

describe('service policy: instances for the work in flight and the visible jobs that cannot wait', () => {
  it.each<Row>([
    {
      name: 'lets visible jobs wait when the busy slots start them in time',
      spot: group('ml-spot', 10),
      queue: { visible: 20, inFlight: 40 },
      settings: service,
      // The budget is acceptableWait less a tick, a boot (120 s until one is learned) and the worker's idle receive
      // delay (30 s): 600 - 60 - 120 - 30 = 390 s. 40 busy slots finish 40 x 390 / 600 = 26 jobs within it: the 20
      // visible can wait.
      reason: /no change: ml: 20 visible, 40 in flight: the busy slots start 26 within 390s .*so 10 instance\(s\) of 4 slots/,
    },
    {
      name: 'scales out for the visible jobs that cannot wait',
      spot: group('ml-spot', 10),
      queue: { visible: 60, inFlight: 40 },
      settings: service,
      // 60 - 26 = 34 cannot wait: ceil((40 + 34) / 4) = 19.
      spotTo: 19,
      reason: /scale out at once/,
    },
    {
      name: 'longer jobs let fewer visible jobs wait',
      spot: group('ml-spot', 10),
      queue: { visible: 20, inFlight: 40 },
      settings: { ...service, secondsPerJob: 1200 },
      // 40 x 390 / 1200 = 13 start in time, 7 cannot wait: ceil((40 + 7) / 4) = 12.
      spotTo: 12,
      reason: /start 13 within 390s/,
    },
    {
      name: 'a longer boot leaves a queued job less of acceptableWait',
      spot: group('ml-spot', 10),
      queue: { visible: 20, inFlight: 40 },
      state: { bootSeconds: 300 },
      settings: service,
      // 600 - 60 - 300 - 30 = 210 s: 40 x 210 / 600 = 14 start in time, 6 cannot wait: ceil(46 / 4) = 12.
      spotTo: 12,
      reason: /start 14 within 210s \(acceptableWait 600s - a tick - a boot of 300s - the idle receive delay 30s/,
    },
    {
      name: 'sizes on the job duration learned from the queue, not secondsPerJob',
      spot: group('ml-spot', 10),
      queue: { visible: 20, inFlight: 40 },
      state: { jobSeconds: 1200, jobSecondsFrom: 90 },
      settings: service,
      // As with secondsPerJob 1200: 13 start in time, ceil(47 / 4) = 12.
      spotTo: 12,
      reason: /start 13 within 390s .*jobs take 1200s, learned from the queue/,
    },
    { name: 'from zero, every visible job needs a slot', spot: group('ml-spot', 0), queue: { visible: 5 }, settings: service, spotTo: 2 },
    {
      name: 'keeps capacity through a dip for the hold-down (a boot)',
      spot: group('ml-spot', 10),
      queue: { inFlight: 8 },
      state: { needLog: [{ since: ago(60), need: 10 }] },
      settings: service,
      reason: /no change.*10 the most of the last 180s/,
    },
    {
      name: 'scales in after the hold-down, all at once: Auto Scaling removes only unprotected (idle) instances',
      spot: group('ml-spot', 10),
      queue: { inFlight: 8 },
      state: { needLog: [{ since: ago(300), need: 10 }, { since: ago(190), need: 2 }] },
      settings: service,
      spotTo: 2,
      reason: /scale in by 8 \(Auto Scaling removes only unprotected instances/,
    },
    {
      name: 'never below the work in flight',
      spot: group('ml-spot', 10),
      queue: { inFlight: 30 },
      state: { needLog: [{ since: ago(300), need: 10 }, { since: ago(190), need: 8 }] },
      settings: service,
      spotTo: 8,
    },
    {
      name: 'a change someone else made holds running capacity for scaleInCooldown',
      spot: group('ml-spot', 10),
      queue: { inFlight: 8 },
      state: { needLog: [{ since: ago(300), need: 10 }, { since: ago(190), need: 2 }], desired: { 'ml-spot': 11 } },
      settings: service,
      reason: /hold 8 more: a change someone else made 0s ago holds it for scaleInCooldown/,
    },
    {
      name: 'the on-demand overflow leaves with the spot surplus',
      spot: group('ml-spot', 10, { max: 10 }),
      onDemand: group('ml-od', 3),
      queue: { inFlight: 20 },
      state: { total: 13, desired: { 'ml-spot': 10, 'ml-od': 3 }, needLog: [{ since: ago(400), need: 13 }, { since: ago(190), need: 5 }] },
      settings: service,
      spotTo: 5,
      onDemandTo: 0,
    },
    {
      name: 'a group with instances booting lets go of its idle ones only (Auto Scaling could pick a booting one)',
      spot: group('ml-spot', 10, { inService: 8, pending: 2, idle: 3, pendingIds: ['i-a', 'i-b'] }),
      queue: { inFlight: 8 },
      state: { needLog: [{ since: ago(300), need: 10 }, { since: ago(190), need: 2 }] },
      settings: service,
      spotTo: 7,
      reason: /scale in by 3 .*hold 5 more: 2 instance\(s\) booting, so only idle ones leave/,
    },
    {
      name: 'keeps one instance while the queue has not been idle for idleMinutes',
      spot: group('ml-spot', 1),
      state: { needLog: [{ since: ago(300), need: 0 }] },
      settings: service,
      reason: /no change.*keep one/,
    },
    {
      name: 'setting backlogPerInstance selects target tracking on it',
      spot: group('ml-spot', 2),
      queue: { visible: 50 },
      settings: { ...service, backlogPerInstance: 5 },
      spotTo: 10,
      reason: /backlog 50 at 5 per instance needs 10/,
    },
  ])('$name', (row) => {
    check(row);
  });

  it('learns the boot time from instances seen pending, and drops them once in service', () => {
    // Prepare: i-1 was first seen pending 150 s ago and is in service now; i-2 is new.
    const first = decideCapacity(
      input({ name: 'boot', spot: group('ml-spot', 2, { inService: 1, pending: 1, pendingIds: ['i-2'] }), settings: service, state: { pendingSeen: { 'i-1': ago(150) } } }),
      NOW,
    );
    // Act: a second sample of 250 s moves the mean by a fifth of the difference.
    const second = decideCapacity(
      input({ name: 'boot', spot: group('ml-spot', 2), settings: service, state: { ...first.state, pendingSeen: { 'i-2': ago(250) } } }),
      NOW,
    );
    // Assess
    expect(first.state.bootSeconds).toBe(150);
    expect(first.state.pendingSeen).toEqual({ 'i-2': NOW.toISOString() });
    expect(second.state.bootSeconds).toBe(170);
    expect(second.state.pendingSeen).toBeUndefined();
    expect(second.figures.service).toMatchObject({ bootSeconds: 170, holdDownSeconds: 230 });
  });

  it('remembers the need only when it changes, and only over the hold-down', () => {
    // Prepare
    const row = { name: 'log', spot: group('ml-spot', 10), queue: { inFlight: 8 }, settings: service };
    // Act
    const same = decideCapacity(input({ ...row, state: { needLog: [{ since: ago(30), need: 2 }] } }), NOW);
    const old = decideCapacity(input({ ...row, state: { needLog: [{ since: ago(900), need: 7 }, { since: ago(600), need: 9 }] } }), NOW);
    // Assess
    expect(same.state.needLog).toEqual([{ since: ago(30), need: 2 }]);
    expect(old.state.needLog).toEqual([{ since: ago(600), need: 9 }, { since: NOW.toISOString(), need: 2 }]);
  });
});

describe('service policy: each busy slot starts at most one queued job within the budget', () => {
  it.each<Row>([
    {
      name: 'short jobs do not let a queue longer than the busy slots wait',
      spot: group('ml-spot', 10),
      queue: { visible: 45, inFlight: 40 },
      settings: { ...service, secondsPerJob: 300 },
      // 390 s of budget is more than a 300 s job, but a slot's second start within it needs the job it started to
      // be short too: 40 start in time (not 40 x 390 / 300 = 52), 5 cannot wait: ceil(45 / 4) = 12.
      spotTo: 12,
      reason: /start 40 within 390s/,
    },
    {
      name: 'a long target does not stretch what the busy slots start beyond one job each',
      spot: group('ml-spot', 10),
      queue: { visible: 60, inFlight: 40 },
      settings: { ...service, acceptableWait: 1200 },
      // 990 s of budget for 600 s jobs: 40 start in time (not 40 x 990 / 600 = 66, which let all 60 wait), 20
      // cannot wait: ceil(60 / 4) = 15.
      spotTo: 15,
      reason: /start 40 within 990s/,
    },
  ])('$name', (row) => {
    check(row);
  });
});

describe('service policy: headroom when acceptableWait is shorter than the farm takes to react', () => {
  it.each<Row>([
    {
      name: 'holds free slots for the jobs that arrive while capacity comes up',
      spot: group('ml-spot', 10),
      queue: { visible: 0, inFlight: 40 },
      settings: { ...service, acceptableWait: 30 },
      // A tick + a boot + the idle receive delay = 210 s, 180 s more than acceptableWait: jobs arrive at 40 / 600 a
      // second, 12 of them meanwhile on average, 12 + 1.645 x sqrt(12) = 17.7 at the 95th percentile, so 18 free
      // slots: ceil((40 + 18) / 4) = 15.
      spotTo: 15,
      reason: /the farm takes 180s longer than acceptableWait to bring capacity up, so 18 free slot\(s\) are held .*95th percentile.*so 15 instance\(s\)/,
    },
    {
      name: 'the visible jobs cannot wait either: every one needs a slot, besides the headroom',
      spot: group('ml-spot', 10),
      queue: { visible: 6, inFlight: 40 },
      settings: { ...service, acceptableWait: 120 },
      // 90 s unreactive: 40 x 90 / 600 = 6 arrivals on average, ceil(6 + 1.645 x sqrt(6)) = 11 slots of headroom;
      // ceil((40 + 6 + 11) / 4) = 15.
      spotTo: 15,
      reason: /start 0 within 0s .*11 free slot\(s\) are held/,
    },
    {
      name: 'none while the farm reacts within acceptableWait',
      spot: group('ml-spot', 10),
      queue: { visible: 0, inFlight: 40 },
      settings: service,
      reason: /^no change: ml: 0 visible, 40 in flight: the busy slots start 26 within 390s \([^)]*\), so 10 instance/,
    },
  ])('$name', (row) => {
    const decision = check(row);
    expect(decision.figures.service?.headroom).toBe(row.settings?.acceptableWait === 30 ? 18 : row.settings?.acceptableWait === 120 ? 11 : 0);
  });
});

describe('service policy: the wait budget', () => {
  it.each<Row>([
    {
      name: 'takes the idle receive delay the farm names (idleReceiveDelay, its workers\' --idle-receive-delay) off',
      spot: group('ml-spot', 10),
      queue: { visible: 30, inFlight: 40 },
      settings: { ...service, idleReceiveDelay: 0 },
      // 600 - 60 - 120 - 0 = 420 s: 40 x 420 / 600 = 28 start in time, 2 cannot wait: ceil(42 / 4) = 11.
      spotTo: 11,
      reason: /start 28 within 420s \(acceptableWait 600s - a tick - a boot of 120s - the idle receive delay 0s/,
    },
    {
      name: 'and a longer one shortens the budget and brings the headroom sooner',
      spot: group('ml-spot', 10),
      queue: { visible: 0, inFlight: 40 },
      settings: { ...service, acceptableWait: 240, idleReceiveDelay: 120 },
      // 60 + 120 + 120 = 300 s to react, 60 s more than acceptableWait: 4 arrivals on average, ceil(4 + 1.645 x 2) = 8
      // free slots, ceil(48 / 4) = 12.
      spotTo: 12,
      reason: /takes 60s longer than acceptableWait .* 8 free slot/,
    },
  ])('$name', (row) => {
    check(row);
  });

  it('takes the worker agent\'s idle receive delay off, as well as a tick and a boot (busy-first receiving)', () => {
    // Arrange: the scaler's figure is the worker's own constant, not a copy that could drift.
    expect(RECEIVE_DELAY_SECONDS).toBe(IDLE_RECEIVE_DELAY_SECONDS);
    // Act
    const sizing = serviceNeed({ visible: 0, inFlight: 8, slotsPerInstance: 4, secondsPerJob: 600, acceptableWait: 600, bootSeconds: 120 });
    // Assess: 600 - 60 - 120 - the delay.
    expect(sizing.budget).toBe(600 - 60 - 120 - IDLE_RECEIVE_DELAY_SECONDS);
    expect(IDLE_RECEIVE_DELAY_SECONDS).toBeGreaterThan(0);
  });
});

describe('service policy: a spot shortfall is waited out while the p95 allows its late jobs', () => {
  // The spot group has 7 of its 10 in service; 28 jobs run, 40 wait. The budget is 390 s: 28 x 390 / 600 = 18 start
  // in time, so the need is ceil((28 + 22) / 4) = 13 and the spot group goes to 13. The shortfall of 3 has lasted
  // fallbackDelay. 600 jobs finished in the 3-hour learning window: a day's 4,800, of which 5% (240) may be late.
  const short = { spot: group('ml-spot', 10, { inService: 7 }), queue: { visible: 40, inFlight: 28 }, settings: service };
  const learned = { jobSeconds: 600, jobSecondsFrom: 600, shortfall: [{ since: ago(600), amount: 3 }] };
  it.each<Row>([
    {
      name: 'waits the shortfall out while the late jobs are within the allowance',
      ...short,
      // 40 - 28 x 540 / 600 = 14.8 queued jobs start past acceptableWait, plus the 10 already late: 24 of 240.
      state: { ...learned, lateJobs: 10, lateAt: ago(60) },
      spotTo: 13,
      reason: /waited out, 24 late job\(s\) of the 240 the p95 allows a day/,
    },
    {
      name: 'covers it once the late jobs pass the allowance',
      ...short,
      state: { ...learned, lateJobs: 240, lateAt: ago(60) },
      spotTo: 13,
      onDemandTo: 3,
      reason: /cover 3/,
    },
    {
      name: 'covers it after fallbackDelay while nothing is learned (no allowance)',
      ...short,
      state: { shortfall: [{ since: ago(600), amount: 3 }] },
      spotTo: 13,
      onDemandTo: 3,
      reason: /cover 3/,
    },
  ])('$name', (row) => {
    check(row);
  });

  it('counts each late job once, and decays the count without a state change while none is late', () => {
    // Arrange: 40 busy slots start 40 x 540 / 600 = 36 queued jobs within acceptableWait less a tick.
    const o = { visible: 100, inFlight: 40, slots: 40, secondsPerJob: 600, acceptableWait: 600 };
    // Act
    const first = trackLate({}, o, NOW.getTime() - 60_000, ago(60));
    const second = trackLate(first, o, NOW.getTime(), NOW.toISOString());
    const calm = trackLate(second, { ...o, visible: 0 }, NOW.getTime() + 60_000, ago(-60));
    const later = trackLate(calm, { ...o, visible: 0 }, NOW.getTime() + 120_000, ago(-120));
    // Assess: 64 late; a minute later the slots started 4 of them, and the 4 behind are new: 68.
    expect(first.lateJobs).toBe(64);
    expect(second.lateJobs).toBeCloseTo(68, 0);
    // The late queue cleared: the count stays (it decays on read, by a day's time constant), then nothing changes.
    expect(calm.lateJobs).toBeCloseTo(68, 0);
    expect(calm.lateJobs).toBeLessThan(second.lateJobs!);
    expect(calm).toEqual({ lateJobs: calm.lateJobs, lateAt: ago(-60) });
    expect(later).toEqual(calm);
    expect(lateAllowance({ jobSecondsFrom: 600 })).toBe(240);
    expect(lateAllowance({})).toBe(0);
  });
});

describe('target policy: total = ceil(backlog / backlogPerInstance)', () => {
  it.each<Row>([
    { name: 'scales out at once to the backlog', queue: { visible: 10, inFlight: 2 }, spotTo: 12, reason: /scale out at once: ml: backlog 12 at 1 per instance needs 12/ },
    { name: 'uses backlogPerInstance when set', queue: { visible: 120 }, settings: { backlogPerInstance: 50 }, spotTo: 3 },
    {
      name: 'derives backlogPerInstance from acceptableWait / secondsPerJob x slotsPerInstance',
      queue: { visible: 100 },
      settings: { slotsPerInstance: 4, secondsPerJob: 60, acceptableWait: 300 },
      spotTo: 5,
    },
    { name: 'starts from zero when work appears', spot: group('ml-spot', 0), queue: { visible: 1 }, spotTo: 1 },
    { name: 'holds when the backlog matches', queue: { visible: 2 }, reason: /no change/ },
    { name: 'does not scale out on delayed messages alone', spot: group('ml-spot', 0), queue: { delayed: 30 }, reason: /no change/ },
    { name: 'scales out even inside the scale-in cooldown', queue: { visible: 5 }, state: { lastScaleInAt: ago(10) }, spotTo: 5 },
    { name: 'stays within the spot group max, overflow to on-demand at once', spot: group('ml-spot', 4, { max: 10 }), queue: { visible: 14 }, spotTo: 10, onDemandTo: 4 },
    { name: 'stays within the farm max', spot: group('ml-spot', 4, { max: 10 }), onDemand: group('ml-od', 0, { max: 3 }), queue: { visible: 50 }, spotTo: 10, onDemandTo: 3, reason: /farm bounds \[0, 13\] give 13/ },
  ])('$name', (row) => {
    check(row);
  });
});

describe('scale-in: one step per cooldown, never below in-flight work, to zero only when idle', () => {
  it.each<Row>([
    { name: 'scales in by scaleInStep', spot: group('ml-spot', 6), queue: { visible: 3 }, spotTo: 5, reason: /scale in by 1 \(scaleInStep 1 per scaleInCooldown/ },
    { name: 'scales in by a larger scaleInStep', spot: group('ml-spot', 6), queue: { visible: 1 }, settings: { scaleInStep: 3 }, spotTo: 3 },
    { name: 'waits out the scale-in cooldown', spot: group('ml-spot', 6), queue: { visible: 3 }, state: { lastScaleInAt: ago(60) }, reason: /scale-in cooldown 240s left/ },
    { name: 'scales in again once the cooldown has passed', spot: group('ml-spot', 6), queue: { visible: 3 }, state: { lastScaleInAt: ago(300) }, spotTo: 5 },
    { name: 'a recent scale-out delays the scale-in', spot: group('ml-spot', 6), queue: { visible: 3 }, state: { lastScaleOutAt: ago(100) }, reason: /cooldown 200s left/ },
    {
      name: 'a change someone else made restarts the cooldown',
      spot: group('ml-spot', 6),
      queue: { visible: 3 },
      state: { desired: { 'ml-spot': 5 } },
      reason: /cooldown 300s left/,
    },
    { name: 'never below what the in-flight work needs', spot: group('ml-spot', 4), queue: { inFlight: 4 }, settings: { backlogPerInstance: 10 }, reason: /no change.*in-flight work \(4 messages, 1 per instance\) needs 4/ },
    { name: 'in-flight need counts slots per instance', spot: group('ml-spot', 3), queue: { inFlight: 4 }, settings: { backlogPerInstance: 10, slotsPerInstance: 2 }, spotTo: 2 },
    { name: 'keeps one instance while the queue has not been idle for idleMinutes', spot: group('ml-spot', 1), reason: /no change.*queue idle 0s of idleMinutes 15m: keep one/ },
    { name: 'keeps one after 14 idle minutes', spot: group('ml-spot', 1), state: { idleSince: ago(14 * 60) }, reason: /no change/ },
    { name: 'scales to zero after idleMinutes with nothing visible or in flight', spot: group('ml-spot', 1), state: { idleSince: ago(15 * 60) }, spotTo: 0 },
    { name: 'not to zero while messages are delayed', spot: group('ml-spot', 1), queue: { delayed: 2 }, state: { idleSince: ago(60 * 60) }, reason: /no change/ },
    { name: 'not to zero when min forbids', spot: group('ml-spot', 1, { min: 1 }), state: { idleSince: ago(60 * 60) }, reason: /no change/ },
    { name: 'at zero an empty queue changes nothing', spot: group('ml-spot', 0), reason: /no change/ },
    { name: 'idleMinutes 0 goes to zero as soon as the queue is empty', spot: group('ml-spot', 1), settings: { idleMinutes: 0 }, spotTo: 0 },
  ])('$name', (row) => {
    check(row);
  });

  it('starts the idle clock when the queue empties and clears it when work returns', () => {
    // Prepare / Act
    const emptied = decideCapacity(input({ name: 'idle', spot: group('ml-spot', 1) }), NOW);
    const busy = decideCapacity(input({ name: 'busy', queue: { visible: 1 }, state: { idleSince: ago(60) } }), NOW);
    // Assess
    expect(emptied.state.idleSince).toBe(NOW.toISOString());
    expect(busy.state.idleSince).toBeUndefined();
  });

  it('records the scale-in time, and not for instances that never launched', () => {
    // Prepare / Act
    const paid = decideCapacity(input({ name: 'paid', spot: group('ml-spot', 6), queue: { visible: 3 } }), NOW);
    const free = decideCapacity(
      input({ name: 'free', spot: group('ml-spot', 10, { inService: 4 }), onDemand: null, queue: { visible: 5 } }),
      NOW,
    );
    // Assess
    expect(paid.state.lastScaleInAt).toBe(NOW.toISOString());
    expect((free.actions[0] as SetDesiredCapacityAction).to).toBe(5);
    expect(free.actions[0]!.reason).toMatch(/withdraw 5 never launched/);
    expect(free.state.lastScaleInAt).toBeUndefined();
  });
});

describe('step policy: the recipe\'s +scaleOutPercent / -scaleInStep on the backlog alarms', () => {
  const step = { scalingPolicy: 'step' as const };
  const alarmed = (direction: 'high' | 'low', since = ago(30)) => ({ [direction]: { value: 'ALARM' as const, since } });
  it.each<Row>([
    { name: '+50% on backlog-high', settings: step, spot: group('ml-spot', 4), queue: { visible: 50 }, state: { alarms: alarmed('high') }, spotTo: 6, reason: /backlog-high alarm: \+50% of 4 = \+2/ },
    { name: '+50% of 10 is +5', settings: step, spot: group('ml-spot', 10), queue: { visible: 50 }, state: { alarms: alarmed('high') }, spotTo: 15 },
    { name: 'at least +1', settings: step, spot: group('ml-spot', 1), queue: { visible: 50 }, state: { alarms: alarmed('high') }, spotTo: 2 },
    { name: 'a custom scaleOutPercent', settings: { ...step, scaleOutPercent: 100 }, spot: group('ml-spot', 3), queue: { visible: 50 }, state: { alarms: alarmed('high') }, spotTo: 6 },
    { name: 'the alarm event itself counts', settings: step, spot: group('ml-spot', 4), queue: { visible: 50 }, alarm: { direction: 'high', value: 'ALARM', since: ago(0) }, spotTo: 6 },
    { name: 'once per cooldown while the alarm stays in ALARM', settings: step, spot: group('ml-spot', 6), queue: { visible: 50 }, state: { alarms: alarmed('high'), lastStepOutAt: ago(120) }, reason: /next \+50% in 180s/ },
    { name: 'again after the cooldown', settings: step, spot: group('ml-spot', 6), queue: { visible: 50 }, state: { alarms: alarmed('high'), lastStepOutAt: ago(300) }, spotTo: 9 },
    { name: '-1 on backlog-low', settings: step, spot: group('ml-spot', 6), queue: { visible: 1 }, state: { alarms: alarmed('low') }, spotTo: 5, reason: /backlog-low alarm: -1/ },
    { name: '-1 waits for the cooldown', settings: step, spot: group('ml-spot', 6), queue: { visible: 1 }, state: { alarms: alarmed('low'), lastScaleInAt: ago(200) }, reason: /backlog-low alarm: next -1 in 100s/ },
    { name: '-1 never below in-flight work', settings: step, spot: group('ml-spot', 3), queue: { inFlight: 3 }, state: { alarms: alarmed('low') }, reason: /no change.*in-flight work/ },
    { name: 'holds with no alarm state ever seen, naming the stack param that creates the alarms', settings: step, spot: group('ml-spot', 6), queue: { visible: 100 }, state: { alarms: {} }, reason: /no backlog alarm state seen yet: hold .*backlogAlarms=true/ },
    { name: 'holds with no alarm in ALARM', settings: step, spot: group('ml-spot', 6), queue: { visible: 100 }, state: { alarms: { high: { value: 'OK', since: ago(30) } } }, reason: /no backlog alarm in ALARM: hold/ },
    { name: 'an alarm back to OK stops the scale-out', settings: step, spot: group('ml-spot', 6), queue: { visible: 100 }, state: { alarms: alarmed('high') }, alarm: { direction: 'high', value: 'OK', since: ago(0) }, reason: /hold/ },
    { name: 'a late event with an older state is ignored', settings: step, spot: group('ml-spot', 4), queue: { visible: 100 }, state: { alarms: alarmed('high', ago(30)) }, alarm: { direction: 'high', value: 'OK', since: ago(600) }, spotTo: 6 },
    { name: 'visible work with nothing running starts one', settings: step, spot: group('ml-spot', 0), queue: { visible: 3 }, spotTo: 1 },
    { name: 'to zero only after idleMinutes', settings: step, spot: group('ml-spot', 1), state: { alarms: alarmed('low'), idleSince: ago(5 * 60) }, reason: /keep one/ },
  ])('$name', (row) => {
    check(row);
  });

  it('remembers when it stepped out, so a duplicate alarm event does not step again', () => {
    // Prepare
    const row: Row = { name: 'dup', settings: step, spot: group('ml-spot', 4), queue: { visible: 50 }, alarm: { direction: 'high', value: 'ALARM', since: ago(0) } };
    const first = decideCapacity(input(row), NOW);
    // Act: the same event again, with the group as the first decision left it
    const second = decideCapacity(input({ ...row, spot: group('ml-spot', 6, { inService: 4, pending: 2 }), state: first.state }), NOW);
    // Assess
    expect(first.state.lastStepOutAt).toBe(NOW.toISOString());
    expect(second.actions.every((a) => a.kind === 'skip')).toBe(true);
  });
});

describe('split between the spot group and the on-demand group', () => {
  it.each<Row>([
    { name: 'the spot group gets the total while it is healthy', queue: { visible: 6 }, spotTo: 6, reason: /on-demand share 0 = overflow 0 \+ cover 0/ },
    {
      name: 'a young shortfall waits for fallbackDelay',
      spot: group('ml-spot', 6, { inService: 3 }),
      queue: { visible: 6 },
      reason: /spot shortfall 3, oldest part 0s old; 3 not yet fallbackDelay 300s old/,
    },
    {
      name: 'a shortfall that lasted fallbackDelay goes to the on-demand group',
      spot: group('ml-spot', 6, { inService: 3 }),
      queue: { visible: 6 },
      state: { shortfall: [{ since: ago(300), amount: 3 }] },
      onDemandTo: 3,
      reason: /cover 3/,
    },
    {
      name: 'pending spot instances count as supply',
      spot: group('ml-spot', 6, { inService: 3, pending: 3 }),
      queue: { visible: 6 },
      state: { shortfall: [{ since: ago(900), amount: 3 }] },
      reason: /no change/,
    },
    {
      name: 'the on-demand group shrinks first when the shortfall closes',
      spot: group('ml-spot', 6),
      onDemand: group('ml-od', 3),
      queue: { visible: 6 },
      onDemandTo: 2,
    },
    {
      name: 'the on-demand group shrinks first when the total falls',
      spot: group('ml-spot', 6, { max: 6 }),
      onDemand: group('ml-od', 2),
      queue: { visible: 7 },
      onDemandTo: 1,
    },
    {
      name: 'one scale-in step per farm: the spot group waits while the on-demand group shrinks',
      spot: group('ml-spot', 6),
      onDemand: group('ml-od', 1),
      queue: { visible: 2 },
      onDemandTo: 0,
      reason: /this tick's scale-in step is used/,
    },
    {
      name: 'on-demand cover is not counted as extra capacity',
      spot: group('ml-spot', 6, { inService: 2 }),
      onDemand: group('ml-od', 4),
      queue: { visible: 6 },
      state: { shortfall: [{ since: ago(600), amount: 4 }] },
      reason: /no change.*no change/,
    },
    {
      name: 'after a fall-back to on-demand the spot group still takes the total first',
      spotMarket: 'on-demand',
      queue: { visible: 5 },
      spotTo: 5,
      reason: /the market controller has it on on-demand/,
    },
    // Issue 14, item 2: a mixed-instances group fallen back through the on-demand group (the default) is not
    // changed by the market controller and would launch spot: it keeps what runs, the on-demand group the rest.
    {
      name: 'fallen back through the on-demand group: the spot group keeps what runs, the on-demand group takes the rest at once',
      spotMarket: 'on-demand',
      spotFallback: 'on-demand-group',
      spot: group('ml-spot', 4, { inService: 2 }),
      queue: { visible: 6 },
      spotTo: 2,
      onDemandTo: 4,
      reason: /fallen back through the on-demand group/,
    },
    {
      name: 'fallen back through the on-demand group: interrupted spot instances are not replaced in the spot group',
      spotMarket: 'on-demand',
      spotFallback: 'on-demand-group',
      spot: group('ml-spot', 3, { inService: 3 }),
      onDemand: group('ml-od', 2),
      queue: { visible: 5 },
      reason: /no change.*no change/,
    },
    { name: 'a farm without an on-demand group', onDemand: null, queue: { visible: 30 }, spot: group('ml-spot', 2, { max: 10 }), spotTo: 10 },
    { name: 'a farm without a spot group', spot: null, onDemand: group('ml-od', 1), queue: { visible: 4 }, onDemandTo: 4 },
    { name: 'the on-demand group min counts toward the total', onDemand: group('ml-od', 1, { min: 1 }), queue: { visible: 2 }, spotTo: 1, reason: /spot group's share 1/ },
    {
      name: 'cover stays until the spot instances replacing it are in service',
      spot: group('ml-spot', 6, { inService: 4, pending: 2 }),
      onDemand: group('ml-od', 2),
      queue: { visible: 6 },
      state: { total: 6, desired: { 'ml-spot': 6, 'ml-od': 2 } },
      reason: /no change.*no change.*cover 2/,
    },
    {
      name: 'below the spot max, on-demand instances are cover, not capacity: shed first, the spot group does not grow',
      settings: { scalingPolicy: 'step' },
      spot: group('ml-spot', 5),
      onDemand: group('ml-od', 2),
      queue: { visible: 3 },
      onDemandTo: 1,
      reason: /this tick's scale-in step is used|no change/,
    },
    {
      name: 'at the spot max, on-demand instances beyond the shortfall are overflow capacity',
      settings: { scalingPolicy: 'step' },
      spot: group('ml-spot', 10, { max: 10, inService: 8 }),
      onDemand: group('ml-od', 5),
      queue: { visible: 3 },
      state: { shortfall: [{ since: ago(600), amount: 2 }] },
      reason: /no change.*overflow 3 \+ cover 2/,
    },
  ])('$name', (row) => {
    check(row);
  });

  it('starts the shortfall clock, keeps it while the shortfall lasts and clears it when it closes', () => {
    // Prepare / Act
    const opened = decideCapacity(input({ name: 'o', spot: group('ml-spot', 6, { inService: 3 }), queue: { visible: 6 } }), NOW);
    const kept = decideCapacity(
      input({ name: 'k', spot: group('ml-spot', 6, { inService: 3 }), queue: { visible: 6 }, state: { shortfall: [{ since: ago(100), amount: 3 }] } }),
      NOW,
    );
    const closed = decideCapacity(input({ name: 'c', queue: { visible: 2 }, state: { shortfall: [{ since: ago(100), amount: 3 }] } }), NOW);
    // Assess
    expect(opened.state.shortfall).toEqual([{ since: NOW.toISOString(), amount: 3 }]);
    expect(kept.state.shortfall).toEqual([{ since: ago(100), amount: 3 }]);
    expect(closed.state.shortfall).toBeUndefined();
  });

  it('covers a growing shortfall part by part, each after fallbackDelay', () => {
    // Prepare: 2 missing for 10 minutes; now 5 are missing.
    const row: Row = {
      name: 'grow',
      spot: group('ml-spot', 8, { inService: 3 }),
      queue: { visible: 8 },
      state: { shortfall: [{ since: ago(600), amount: 2 }] },
    };
    // Act
    const decision = decideCapacity(input(row), NOW);
    // Assess: the old 2 go to the on-demand group now, the new 3 wait.
    expect(decision.state.shortfall).toEqual([{ since: ago(600), amount: 2 }, { since: NOW.toISOString(), amount: 3 }]);
    expect(decision.actions).toContainEqual(expect.objectContaining({ asgName: 'ml-od', to: 2 }));
  });

  it.each([
    [[], 0, []],
    [[], 2, [{ since: 'now', amount: 2 }]],
    [[{ since: 'a', amount: 2 }], 5, [{ since: 'a', amount: 2 }, { since: 'now', amount: 3 }]],
    [[{ since: 'a', amount: 2 }, { since: 'b', amount: 3 }], 3, [{ since: 'a', amount: 2 }, { since: 'b', amount: 1 }]],
    [[{ since: 'a', amount: 2 }, { since: 'b', amount: 3 }], 0, []],
  ])('shortfall parts %j seeing %i missing -> %j (newest parts close first)', (parts, missing, expected) => {
    expect(trackShortfall(parts, missing, 'now')).toEqual(expected);
  });

  it('orders actions: up spot first, down on-demand first', () => {
    // Prepare / Act
    const up = decideCapacity(input({ name: 'up', spot: group('ml-spot', 2, { max: 4 }), queue: { visible: 6 } }), NOW);
    const down = decideCapacity(input({ name: 'down', spot: group('ml-spot', 6), onDemand: group('ml-od', 2), queue: { visible: 2 } }), NOW);
    // Assess
    expect(up.actions.map((a) => a.asgName)).toEqual(['ml-spot', 'ml-od']);
    expect(down.actions.map((a) => a.asgName)).toEqual(['ml-od', 'ml-spot']);
  });
});

describe('state', () => {
  it('remembers what it left each group at, so it can tell a change someone else made', () => {
    // Act
    const decision = decideCapacity(input({ name: 's', queue: { visible: 5 } }), NOW);
    // Assess
    expect(decision.state.desired).toEqual({ 'ml-spot': 5, 'ml-od': 0 });
    expect(decision.state.lastScaleOutAt).toBe(NOW.toISOString());
  });

  it('is unchanged on a quiet tick, so nothing is written', () => {
    // Prepare
    const first = decideCapacity(input({ name: 'q', queue: { visible: 2 } }), NOW);
    // Act
    const again = decideCapacity(input({ name: 'q', queue: { visible: 2 }, state: first.state }), new Date(NOW.getTime() + 60_000));
    // Assess
    expect(capacityStateChanged(first.state, again.state)).toBe(false);
    expect(capacityStateChanged(first.state, { ...first.state, idleSince: NOW.toISOString() })).toBe(true);
  });

  it('reports the figures it decided on', () => {
    // Act
    const { figures } = decideCapacity(input({ name: 'f', queue: { visible: 8, inFlight: 2, delayed: 1 } }), NOW);
    // Assess
    expect(figures).toMatchObject({ farm: 'ml', policy: 'target', backlog: 10, delayed: 1, backlogPerInstance: 5, current: 2, wanted: 10, total: 10 });
  });
});

describe('service policy: the job duration learned from the queue (Little\'s law)', () => {
  const serviceInput = (state: Partial<CapacityState>, work?: CapacityInput['work']): CapacityInput => ({
    ...input({ name: '', spot: group('ml-spot', 10), queue: { visible: 20, inFlight: 40 }, settings: service, state }),
    ...(work !== undefined ? { work } : {}),
  });

  it.each<{ name: string; state: Partial<CapacityState>; work: CapacityInput['work']; jobSeconds: number | undefined; source: string }>([
    {
      name: 'learns W = in-flight message-seconds / deletions',
      state: {},
      // 180 minutes, a mean of 35 in flight (378,000 message-seconds), 840 deleted: W = 450 s.
      work: { minutes: 180, deleted: 840, inFlightSeconds: 378_000 },
      jobSeconds: 450,
      source: 'learned',
    },
    {
      name: 'replaces what it learned before',
      state: { jobSeconds: 900, jobSecondsFrom: 50 },
      work: { minutes: 180, deleted: 840, inFlightSeconds: 378_000 },
      jobSeconds: 450,
      source: 'learned',
    },
    {
      name: 'too few jobs finished in the window: keeps what it had',
      state: { jobSeconds: 900, jobSecondsFrom: 50 },
      work: { minutes: 180, deleted: 19, inFlightSeconds: 10_000 },
      jobSeconds: 900,
      source: 'learned',
    },
    { name: 'too few jobs and nothing learned yet: secondsPerJob', state: {}, work: { minutes: 180, deleted: 3, inFlightSeconds: 5_000 }, jobSeconds: undefined, source: 'setting' },
    { name: 'an idle queue (nothing in flight) teaches nothing', state: {}, work: { minutes: 180, deleted: 0, inFlightSeconds: 0 }, jobSeconds: undefined, source: 'setting' },
    { name: 'a failed read keeps what it had', state: { jobSeconds: 700 }, work: 'unavailable', jobSeconds: 700, source: 'learned' },
  ])('$name', ({ state, work, jobSeconds, source }) => {
    // Act
    const decision = decideCapacity(serviceInput(state, work), NOW);
    // Assess
    expect(decision.state.jobSeconds).toBe(jobSeconds);
    expect(decision.state.workReadAt).toBe(NOW.toISOString());
    expect(decision.figures.service?.secondsPerJobSource).toBe(source);
    expect(decision.figures.service?.secondsPerJob).toBe(jobSeconds ?? 600);
  });

  it('without a read this run, the state keeps when it last read', () => {
    const decision = decideCapacity(serviceInput({ jobSeconds: 450, workReadAt: ago(300) }), NOW);
    expect(decision.state.workReadAt).toBe(ago(300));
    expect(decision.state.jobSeconds).toBe(450);
  });

  it.each([
    [undefined, true],
    [ago(600), false],
    [ago(899), false],
    [ago(900), true],
  ])('reads the queue\'s metrics at most every 15 minutes (last read %s: due %s)', (workReadAt, due) => {
    expect(workReadDue(workReadAt === undefined ? {} : { workReadAt }, NOW.getTime())).toBe(due);
  });

  it('under target tracking, nothing is learned or kept', () => {
    const decision = decideCapacity(
      { ...serviceInput({ jobSeconds: 450, workReadAt: ago(60) }), settings: { ...DEFAULT_SETTINGS, ...service, backlogPerInstance: 8 } },
      NOW,
    );
    expect(decision.figures.policy).toBe('target');
    expect(decision.state.jobSeconds).toBeUndefined();
    expect(decision.state.workReadAt).toBeUndefined();
  });
});
