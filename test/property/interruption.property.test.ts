/**
 * Property test of the interruption decisions (src/interruption/decide.ts) against a small model of the AWS
 * semantics they rely on: a group replaces a member that leaves without a decrement (detach, terminate, EC2
 * taking it) or that Capacity Rebalancing replaces; DetachInstances fails for a non-member; SetDesiredCapacity
 * refuses values outside [min, max]; putRecordOnce refuses duplicates; EC2 takes a warned instance at its
 * deadline, or sometimes does not. Random farms and random event sequences, with duplicates, reordering, late
 * deliveries, failed detaches (retried like Lambda does) and sweep ticks, seeded, 1000 runs:
 *
 * - every group's desired capacity stays within [min, max];
 * - no instance is ever replaced twice;
 * - no detached instance outlives its deadline by more than one sweep period (no orphans), and none is left
 *   at the end.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { InterruptionAction, InterruptionDecision as Action } from '../../src/interruption/actions';
import {
  decideSweep,
  decideWarning,
  type DetachedInstance,
  type ManagedGroup,
  type WarningObservation,
} from '../../src/interruption/decide';
import { DEFAULT_SETTINGS, type RebalanceMode } from '../../src/settings';
import type { GroupInstance } from '../../src/model';

const SWEEP_PERIOD = 60;
const ZONES = ['us-east-1a', 'us-east-1b'];
const TYPE = 'c5.large';

interface Instance {
  id: string;
  az: string;
  alive: boolean;
  group: 'spot' | 'od' | null;
  tags: Record<string, string>;
  /** When EC2 takes it (warning deadline), if it does. */
  reclaimAt: number | undefined;
}

interface Farm {
  spot: { min: number; max: number; desired: number; capacityRebalance: boolean; rebalance: RebalanceMode; breaker: number };
  od: { min: number; max: number; desired: number };
  victims: { warnAt: number; rebalanceBefore: number | undefined; taken: boolean; copies: number; delays: number[] }[];
  failDetach: boolean[];
}

/** How often each interesting path ran, over all runs (the generator must reach them all). */
const reached: Record<string, number> = {};
const reach = (what: string) => (reached[what] = (reached[what] ?? 0) + 1);

class Model {
  now = 0;
  readonly instances = new Map<string, Instance>();
  readonly desired = { spot: 0, od: 0 };
  readonly bounds: Record<'spot' | 'od', { min: number; max: number }>;
  readonly replacements = new Map<string, number>();
  readonly records = new Set<string>();
  readonly poolRecords: { pool: string; instanceId: string; at: number }[] = [];
  market: 'spot' | 'on-demand' = 'spot';
  readonly violations: string[] = [];
  private next = 0;
  private detachFailures: boolean[];

  constructor(readonly farm: Farm) {
    this.bounds = { spot: { min: farm.spot.min, max: farm.spot.max }, od: { min: farm.od.min, max: farm.od.max } };
    this.desired.spot = farm.spot.desired;
    this.desired.od = farm.od.desired;
    this.detachFailures = [...farm.failDetach];
    this.reconcile();
  }

  members(group: 'spot' | 'od'): Instance[] {
    return [...this.instances.values()].filter((i) => i.alive && i.group === group);
  }

  /** Auto Scaling: launch up to desired (new instances are in service at once in this model). */
  reconcile(): void {
    for (const group of ['spot', 'od'] as const) {
      while (this.members(group).length < this.desired[group]) {
        const id = `i-${(this.next++).toString(16).padStart(8, '0')}`;
        this.instances.set(id, { id, az: ZONES[this.next % 2]!, alive: true, group, tags: {}, reclaimAt: undefined });
      }
    }
  }

  replaced(id: string): void {
    const n = (this.replacements.get(id) ?? 0) + 1;
    this.replacements.set(id, n);
    if (n > 1) this.violations.push(`${id} replaced ${n} times`);
  }

  /** A member leaving without a decrement: the group replaces it. */
  leave(instance: Instance): void {
    instance.group = null;
    this.replaced(instance.id);
    this.reconcile();
  }

  managed(group: 'spot' | 'od'): ManagedGroup {
    const spot = group === 'spot';
    return {
      name: spot ? 'ml-spot' : 'ml-on-demand',
      farm: 'ml',
      role: spot ? 'spot' : 'on-demand',
      settings: {
        ...DEFAULT_SETTINGS,
        rebalance: this.farm.spot.rebalance,
        breakerInterruptions: this.farm.spot.breaker,
      },
      min: this.bounds[group].min,
      max: this.bounds[group].max,
      desired: this.desired[group],
      capacityRebalance: spot && this.farm.spot.capacityRebalance,
      instances: this.members(group).map(
        (i): GroupInstance => ({ id: i.id, type: TYPE, availabilityZone: i.az, lifecycleState: 'InService', healthStatus: 'Healthy', protectedFromScaleIn: false }),
      ),
    };
  }

  detachedView(i: Instance): DetachedInstance | undefined {
    if (i.tags['spotfarm:detached-from'] === undefined) return undefined;
    return {
      id: i.id,
      instanceType: TYPE,
      availabilityZone: i.az,
      state: 'running',
      farm: 'ml',
      fromGroup: i.tags['spotfarm:detached-from']!,
      deadline: i.tags['spotfarm:deadline'] ?? '',
      reason: i.tags['spotfarm:detached-for'] === 'rebalance' ? 'rebalance' : 'interruption',
      stillInGroup: i.group === 'spot' ? 'ml-spot' : undefined,
    };
  }

  /** What src/interruption/observe.ts gathers, from the model. */
  observeWarning(kind: 'warning' | 'rebalance', id: string, at: number): WarningObservation {
    const time = new Date(at * 1000);
    const message =
      kind === 'warning'
        ? { kind: 'spot_interruption' as const, id: `ev-${id}-${at}`, time, instanceId: id, instanceAction: 'terminate' as const, deadline: new Date((at + 120) * 1000) }
        : { kind: 'rebalance_recommendation' as const, id: `rb-${id}-${at}`, time, instanceId: id };
    const i = this.instances.get(id);
    const spot = this.managed('spot');
    const member = i?.alive && i.group === 'spot' ? spot.instances.find((x) => x.id === id) : undefined;
    const detached = i?.alive && !member ? this.detachedView(i) : undefined;
    const group = member || detached ? spot : undefined;
    const pool = i ? `${TYPE}|${i.az}` : '';
    const W = spot.settings.breakerWindow;
    const obs: WarningObservation = {
      message,
      group,
      instance: member,
      detached,
      poolInterruptions: this.poolRecords
        .filter((r) => r.pool === pool && Math.abs(r.at - at) <= W)
        .map((r) => ({ instanceId: r.instanceId, at: new Date(r.at * 1000).toISOString() })),
      earlyReplacements: [...this.instances.values()]
        .filter((x) => x.alive && x.id !== id && x.tags['spotfarm:detached-for'] === 'rebalance')
        .map((x) => x.id),
      market: this.market,
    };
    return obs;
  }

  /** The executor's semantics, one action at a time; throws like AWS where AWS would. */
  execute(actions: Action[]): void {
    for (const action of actions) {
      reach(action.kind === 'detachInstance' ? `detach:${action.why}` : action.kind === 'skip' && /late/.test(action.reason) ? 'late' : action.kind);
      switch (action.kind) {
        case 'skip':
          break;
        default:
          this.executeInterruption(action);
      }
    }
  }

  private executeInterruption(action: InterruptionAction): void {
    switch (action.kind) {
      case 'recordInterruption': {
        const key = `${action.signal}#${action.at}#${action.instanceId}`;
        if (this.records.has(key)) return;
        this.records.add(key);
        if (action.signal === 'interruption') {
          this.poolRecords.push({ pool: `${action.pool.instanceType}|${action.pool.availabilityZone}`, instanceId: action.instanceId, at: Date.parse(action.at) / 1000 });
        }
        return;
      }
      case 'detachInstance': {
        const i = this.instances.get(action.instanceId)!;
        if (i.alive) {
          i.tags = { 'spotfarm:detached-from': action.asgName, 'spotfarm:deadline': action.deadline, 'spotfarm:detached-for': action.why };
        }
        if (this.detachFailures.shift()) {
          reach('failed detach');
          throw new Error('Throttling: Rate exceeded');
        }
        if (!i.alive || i.group !== 'spot') return; // "not part of the group": already handled
        this.leave(i);
        return;
      }
      case 'terminateInstance': {
        const i = this.instances.get(action.instanceId)!;
        if (!i.alive) return;
        const inGroup = i.group !== null;
        i.alive = false;
        if (action.inGroup && inGroup) this.leave(i);
        reach(action.inGroup ? 'terminate in group' : 'terminate detached');
        return;
      }
      case 'recordCapacityFailure':
        return;
      case 'requestMarketCheck':
        // The market controller's check that the signal asks for falls back (src/market/decide.ts, same rule).
        this.market = 'on-demand';
        return;
    }
  }

  /** EC2 takes warned instances whose time has come; Capacity Rebalancing replaces at the warning. */
  advance(to: number): void {
    this.now = to;
    for (const i of this.instances.values()) {
      if (i.alive && i.reclaimAt !== undefined && i.reclaimAt <= to) {
        i.alive = false;
        if (i.group !== null) this.leave(i);
      }
    }
  }

  sweep(): void {
    const detached = [...this.instances.values()].filter((i) => i.alive).flatMap((i) => this.detachedView(i) ?? []);
    const groups = new Map([['ml-spot', this.managed('spot')]]);
    this.execute(decideSweep({ detached, groups, farm: 'ml' }, new Date(this.now * 1000)));
    for (const d of detached) {
      const i = this.instances.get(d.id)!;
      if (i.alive && i.group === null && this.now >= Date.parse(d.deadline) / 1000 + SWEEP_PERIOD) {
        this.violations.push(`${d.id} outlived its deadline ${d.deadline} at ${this.now}`);
      }
    }
  }

  checkBounds(): void {
    for (const group of ['spot', 'od'] as const) {
      const { min, max } = this.bounds[group];
      if (this.desired[group] < min || this.desired[group] > max) this.violations.push(`${group} desired ${this.desired[group]} outside [${min}, ${max}]`);
    }
  }
}

const farmArb: fc.Arbitrary<Farm> = fc
  .record({
    min: fc.integer({ min: 0, max: 3 }),
    extra: fc.integer({ min: 0, max: 4 }),
    room: fc.integer({ min: 0, max: 4 }),
    capacityRebalance: fc.boolean(),
    rebalance: fc.constantFrom<RebalanceMode>('ignore', 'record', 'replace'),
    breaker: fc.constantFrom(0.25, 0.5, 2, 100),
    odMax: fc.integer({ min: 0, max: 6 }),
    odDesired: fc.integer({ min: 0, max: 6 }),
    victims: fc.array(
      fc.record({
        warnAt: fc.integer({ min: 0, max: 1800 }),
        rebalanceBefore: fc.option(fc.integer({ min: 0, max: 600 }), { nil: undefined }),
        taken: fc.boolean(),
        copies: fc.integer({ min: 1, max: 3 }),
        // Delivery delays: most events arrive at once, some late (past the two minutes), in any order.
        delays: fc.array(fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 400 })), { minLength: 3, maxLength: 3 }),
      }),
      { maxLength: 8 },
    ),
    failDetach: fc.array(fc.boolean(), { maxLength: 6 }),
  })
  .map((r) => ({
    spot: {
      min: r.min,
      max: r.min + r.extra + r.room,
      desired: r.min + r.extra,
      capacityRebalance: r.capacityRebalance,
      rebalance: r.rebalance,
      breaker: r.breaker,
    },
    od: { min: 0, max: r.odMax, desired: Math.min(r.odDesired, r.odMax) },
    victims: r.victims,
    failDetach: r.failDetach,
  }));

function run(farm: Farm): string[] {
  const model = new Model(farm);
  const initial = model.members('spot');
  if (initial.length === 0) return [];
  type Delivery = { at: number; kind: 'warning' | 'rebalance'; id: string; eventAt: number; attempt: number };
  const queue: Delivery[] = [];
  farm.victims.forEach((v, n) => {
    const victim = initial[n % initial.length]!;
    if (v.taken) victim.reclaimAt = Math.min(victim.reclaimAt ?? Infinity, v.warnAt + 120);
    for (let c = 0; c < v.copies; c++) queue.push({ at: v.warnAt + v.delays[c]!, kind: 'warning', id: victim.id, eventAt: v.warnAt, attempt: 0 });
    if (v.rebalanceBefore !== undefined) {
      const at = Math.max(0, v.warnAt - v.rebalanceBefore);
      queue.push({ at: at + v.delays[0]!, kind: 'rebalance', id: victim.id, eventAt: at, attempt: 0 });
    }
  });
  const end = 1800 + 400 + 900 + 3 * SWEEP_PERIOD;
  for (let t = 0; t <= end; t += SWEEP_PERIOD) queue.push({ at: t, kind: 'warning', id: '', eventAt: t, attempt: -1 });

  while (queue.length > 0) {
    queue.sort((a, b) => a.at - b.at || (a.attempt === -1 ? 1 : 0) - (b.attempt === -1 ? 1 : 0));
    const d = queue.shift()!;
    model.advance(d.at);
    if (d.attempt === -1) {
      model.sweep();
    } else {
      const victim = model.instances.get(d.id)!;
      // Capacity Rebalancing launches its own replacement for a warned member (what the decisions must not double).
      // It launches the replacement first, then terminates the at-risk instance.
      if (d.kind === 'warning' && farm.spot.capacityRebalance && victim.alive && victim.group === 'spot') {
        model.leave(victim);
        victim.alive = false;
      }
      try {
        model.execute(decideWarning(model.observeWarning(d.kind, d.id, d.eventAt), new Date(d.at * 1000)));
      } catch (error) {
        if (!/Throttling/.test(String(error))) throw error;
        // Lambda's async retry: one and two minutes later.
        if (d.attempt < 2) queue.push({ ...d, at: d.at + 60 * (d.attempt + 1), attempt: d.attempt + 1 });
      }
    }
    model.checkBounds();
  }
  const leftovers = [...model.instances.values()].filter((i) => i.alive && i.group === null);
  for (const i of leftovers) model.violations.push(`${i.id} left running after the run`);
  return model.violations;
}

describe('interruption decisions under random event sequences', () => {
  it('keep desired within [min, max], never replace an instance twice, and leave no orphan (1000 seeded runs)', () => {
    fc.assert(
      fc.property(farmArb, (farm) => {
        expect(run(farm)).toEqual([]);
      }),
      { numRuns: 1000, seed: 20250314 },
    );
    for (const path of ['detach:interruption', 'detach:rebalance', 'late', 'failed detach', 'terminate detached', 'terminate in group', 'requestMarketCheck']) {
      expect(reached[path] ?? 0, path).toBeGreaterThan(0);
    }
  });

  it('the model notices a double replacement (the property can fail)', () => {
    // Prepare: Capacity Rebalancing on, but the decision is told it is off, so it detaches too.
    const farm: Farm = {
      spot: { min: 0, max: 4, desired: 2, capacityRebalance: true, rebalance: 'record', breaker: 100 },
      od: { min: 0, max: 0, desired: 0 },
      victims: [],
      failDetach: [],
    };
    const model = new Model(farm);
    const victim = model.members('spot')[0]!;
    // Act
    const obs = model.observeWarning('warning', victim.id, 0);
    model.leave(victim);
    model.instances.get(victim.id)!.group = 'spot';
    model.execute(decideWarning({ ...obs, group: { ...obs.group!, capacityRebalance: false } }, new Date(0)));
    // Assess
    expect(model.violations.join()).toMatch(/replaced 2 times/);
  });
});
