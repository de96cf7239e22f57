/**
 * Property test of the pure capacity decision against a small model of two Auto Scaling groups: random
 * sequences of ticks, queue changes, alarm transitions (duplicated and late), interruption replacements
 * (detach without decrement), spot launches failing, and on-demand raises by another writer. Seeded, 1000 runs.
 *
 * Invariants: desired always within [min, max]; running capacity leaves at most scaleInStep per
 * scaleInCooldown and never within a cooldown of a scale-out or of someone else's change (no oscillation);
 * the same event delivered twice at once acts at most once.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CapacityAction as Action } from '../../src/capacity/actions';
import { decideCapacity, emptyCapacityState, type CapacityGroup, type CapacityInput, type CapacityState } from '../../src/capacity/decide';
import { DEFAULT_SETTINGS, type GroupSettings } from '../../src/settings';

type Event =
  | { kind: 'tick'; seconds: number }
  | { kind: 'queue'; visible: number; inFlight: number; delayed: number }
  | { kind: 'alarm'; direction: 'high' | 'low'; value: 'OK' | 'ALARM'; lateBy: number }
  | { kind: 'interruption' }
  | { kind: 'spotFails'; failing: boolean }
  | { kind: 'raiseOnDemand'; by: number };

const eventArb: fc.Arbitrary<Event> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('tick' as const), seconds: fc.integer({ min: 10, max: 400 }) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('queue' as const),
      visible: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 300 })),
      inFlight: fc.integer({ min: 0, max: 30 }),
      delayed: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 5 })),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('alarm' as const),
      direction: fc.constantFrom('high' as const, 'low' as const),
      value: fc.constantFrom('OK' as const, 'ALARM' as const),
      lateBy: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 900 })),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'interruption' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('spotFails' as const), failing: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('raiseOnDemand' as const), by: fc.integer({ min: 1, max: 3 }) }) },
);

/** The `service` policy's settings (backlogPerInstance unset: setting it selects `target`). */
const serviceSettingsArb: fc.Arbitrary<GroupSettings> = fc
  .record({
    slotsPerInstance: fc.integer({ min: 1, max: 4 }),
    secondsPerJob: fc.integer({ min: 60, max: 3600 }),
    acceptableWait: fc.integer({ min: 60, max: 3600 }),
    scaleInCooldown: fc.integer({ min: 60, max: 900 }),
    idleMinutes: fc.integer({ min: 0, max: 20 }),
    fallbackDelay: fc.integer({ min: 1, max: 900 }),
  })
  .map((s) => ({ ...DEFAULT_SETTINGS, ...s, scalingPolicy: 'service' as const, backlogPerInstance: undefined }));

const settingsArb: fc.Arbitrary<GroupSettings> = fc
  .record({
    scalingPolicy: fc.constantFrom('target' as const, 'step' as const),
    backlogPerInstance: fc.integer({ min: 1, max: 20 }),
    slotsPerInstance: fc.integer({ min: 1, max: 4 }),
    scaleInStep: fc.integer({ min: 1, max: 3 }),
    scaleInCooldown: fc.integer({ min: 60, max: 900 }),
    idleMinutes: fc.integer({ min: 0, max: 20 }),
    fallbackDelay: fc.integer({ min: 1, max: 900 }),
    scaleOutPercent: fc.integer({ min: 10, max: 200 }),
  })
  .map((s) => ({ ...DEFAULT_SETTINGS, ...s }));

const boundsArb = fc.record({
  spotMin: fc.integer({ min: 0, max: 2 }),
  spotMax: fc.integer({ min: 2, max: 25 }),
  odMin: fc.integer({ min: 0, max: 1 }),
  odMax: fc.integer({ min: 1, max: 10 }),
});

interface World {
  at: number;
  spot: CapacityGroup;
  onDemand: CapacityGroup;
  queue: CapacityInput['queue'];
  state: CapacityState;
  spotFailing: boolean;
  lastUp: number;
  lastPaidDown: number;
  lastExternal: number;
}

/** Auto Scaling's part: launch or terminate to match desired (spot launches fail while spotFailing). */
function converge(w: World): void {
  for (const g of [w.spot, w.onDemand]) {
    const supply = g.inService + g.pending;
    if (g.desired > supply && !(g === w.spot && w.spotFailing)) g.pending += g.desired - supply;
    if (g.desired < supply) {
      let extra = supply - g.desired;
      const fromPending = Math.min(extra, g.pending);
      g.pending -= fromPending;
      extra -= fromPending;
      g.inService -= extra;
    }
  }
}

function decide(w: World, settings: GroupSettings, alarm?: CapacityInput['alarm']) {
  return decideCapacity(
    { farm: 'p', queue: w.queue, spot: { ...w.spot }, onDemand: { ...w.onDemand }, spotMarket: 'spot', settings, state: w.state, alarm },
    new Date(w.at * 1000),
  );
}

function sets(actions: Action[]) {
  return actions.flatMap((a) => (a.kind === 'setDesiredCapacity' ? [a] : []));
}

function property(settingsOf: fc.Arbitrary<GroupSettings>) {
  return fc.property(fc.array(eventArb, { minLength: 5, maxLength: 80 }), settingsOf, boundsArb, (events, settings, b) => {
        const w: World = {
          at: Date.parse('2025-03-01T00:00:00Z') / 1000,
          spot: { name: 'p-spot', min: b.spotMin, max: b.spotMax, desired: b.spotMin, inService: b.spotMin, pending: 0 },
          onDemand: { name: 'p-od', min: b.odMin, max: b.odMax, desired: b.odMin, inService: b.odMin, pending: 0 },
          queue: { visible: 0, inFlight: 0, delayed: 0 },
          state: emptyCapacityState(),
          spotFailing: false,
          lastUp: -Infinity,
          lastPaidDown: -Infinity,
          lastExternal: -Infinity,
        };
        for (const event of events) {
          let alarm: CapacityInput['alarm'];
          switch (event.kind) {
            case 'tick':
              w.at += event.seconds;
              for (const g of [w.spot, w.onDemand]) {
                g.inService += g.pending;
                g.pending = 0;
              }
              break;
            case 'queue':
              w.queue = { visible: event.visible, inFlight: event.inFlight, delayed: event.delayed };
              break;
            case 'alarm':
              alarm = { direction: event.direction, value: event.value, since: new Date((w.at - event.lateBy) * 1000).toISOString() };
              break;
            case 'interruption':
              // Detached without decrement: the group launches a replacement (unless spot fails).
              if (w.spot.inService > 0) {
                w.spot.inService--;
                converge(w);
              }
              break;
            case 'spotFails':
              w.spotFailing = event.failing;
              break;
            case 'raiseOnDemand': {
              const to = Math.min(w.onDemand.max, w.onDemand.desired + event.by);
              // The scaler can only tell someone else's change from a desired it has already left the group at.
              if (to !== w.onDemand.desired && w.state.desired[w.onDemand.name] !== undefined) w.lastExternal = w.at;
              w.onDemand.desired = to;
              converge(w);
              break;
            }
          }

          // The scaler runs on every event (alarm events, schedule ticks, and the rest as ticks).
          const supplyBefore = new Map([w.spot, w.onDemand].map((g) => [g.name, g.inService + g.pending]));
          const decision = decide(w, settings, alarm);
          let paid = 0;
          for (const action of sets(decision.actions)) {
            const g = action.asgName === w.spot.name ? w.spot : w.onDemand;
            expect(action.to).toBeGreaterThanOrEqual(g.min);
            expect(action.to).toBeLessThanOrEqual(g.max);
            expect(action.from).toBe(g.desired);
            if (action.to > action.from) w.lastUp = w.at;
            else {
              const unlaunched = Math.max(0, action.from - supplyBefore.get(g.name)!);
              paid += Math.max(0, action.from - action.to - unlaunched);
            }
            g.desired = action.to;
          }
          if (paid > 0 && settings.scalingPolicy === 'service') {
            // Service: running capacity leaves only while nothing grows, never below the work in flight, never
            // undoing someone else's change within scaleInCooldown, and only down to the most the need was over
            // the hold-down.
            expect(sets(decision.actions).every((a) => a.to <= a.from)).toBe(true);
            const cap = w.spot.max + w.onDemand.max;
            expect(Math.min(w.spot.desired + w.onDemand.desired, cap)).toBeGreaterThanOrEqual(Math.min(Math.ceil(w.queue.inFlight / settings.slotsPerInstance), cap));
            expect(decision.figures.total).toBeGreaterThanOrEqual(Math.min(decision.figures.service!.held, cap));
            expect(w.at - w.lastExternal).toBeGreaterThanOrEqual(settings.scaleInCooldown);
          } else if (paid > 0) {
            expect(paid).toBeLessThanOrEqual(settings.scaleInStep);
            expect(w.at - w.lastPaidDown).toBeGreaterThanOrEqual(settings.scaleInCooldown);
            expect(w.at - w.lastUp).toBeGreaterThanOrEqual(settings.scaleInCooldown);
            expect(w.at - w.lastExternal).toBeGreaterThanOrEqual(settings.scaleInCooldown);
            w.lastPaidDown = w.at;
          }
          w.state = decision.state;
          converge(w);

          // The same event again, at the same time, on what the first delivery left: no second action.
          const duplicate = decide(w, settings, alarm);
          expect(sets(duplicate.actions).map((a) => `${a.asgName} ${a.from} -> ${a.to}: ${a.reason}`)).toEqual([]);
          w.state = duplicate.state;
        }
  });
}

/**
 * Found by seed 6 (shrunk): under `step`, the backlog-low alarm took its -1 from the farm's total while the
 * on-demand cover still had to wait for the spot instance booting in its place, so no group shrank and no
 * cooldown started; the same alarm delivered again took a second -1, and that one shrank the on-demand group.
 */
const STEP_DUPLICATE: [Event[], GroupSettings, { spotMin: number; spotMax: number; odMin: number; odMax: number }] = [
  [
    { kind: 'alarm', direction: 'high', value: 'ALARM', lateBy: 0 },
    { kind: 'spotFails', failing: true },
    { kind: 'tick', seconds: 60 },
    { kind: 'tick', seconds: 10 },
    { kind: 'tick', seconds: 60 },
    { kind: 'spotFails', failing: false },
    { kind: 'alarm', direction: 'low', value: 'ALARM', lateBy: 0 },
  ],
  { ...DEFAULT_SETTINGS, scalingPolicy: 'step', backlogPerInstance: 1, slotsPerInstance: 1, scaleOutPercent: 10, scaleInStep: 1, scaleInCooldown: 60, idleMinutes: 0, fallbackDelay: 1 },
  { spotMin: 1, spotMax: 2, odMin: 1, odMax: 2 },
];

describe('capacity decision under random events', () => {
  it('keeps desired in [min, max], scales in slowly, never oscillates, and acts once per duplicated event', () => {
    fc.assert(property(settingsArb), { numRuns: 1000, seed: Number(process.env.CAPACITY_SEED ?? 20250301), examples: [STEP_DUPLICATE] });
  });

  it('step policy: a backlog-low step held back by the cover is still the cooldown\'s one step (seed 6 counterexample)', () => {
    fc.assert(property(fc.constant(STEP_DUPLICATE[1])), { numRuns: 1, examples: [STEP_DUPLICATE] });
  });

  it('service policy: desired in [min, max], scale-in only what the need left behind, once per duplicated event', () => {
    fc.assert(property(serviceSettingsArb), { numRuns: 1000, seed: Number(process.env.CAPACITY_SEED ?? 20250301) });
  });
});
