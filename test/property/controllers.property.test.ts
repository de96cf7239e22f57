/**
 * Property test of the three controllers together (issue 11): random interleavings of the real handlers'
 * steps (price checks, retried and late ticks, market-check signals, queue-scaler ticks, interruption warnings
 * delivered several times, sweeps), run concurrently against the backtest's simulated cloud (an in-memory
 * DynamoDB table and faked Auto Scaling, EC2, SQS, EventBridge), with every AWS call a point where the
 * concurrent handlers may interleave in a seeded order. After every completed step:
 * - at most one live claim per group (no conditional write ever claims over another owner's live lease);
 * - the stored market matches the group's launch source, and no claim is left behind;
 * - desired capacity within [min, max] for every group;
 * - no instance detached twice;
 * - every instance spotfarm detached is terminated once a sweep runs past its deadline.
 * 1000 seeded runs.
 */
import fc from 'fast-check';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getItem, Tables } from '../../sim/cloud/dynamodb-api';
import { connectSdk, type SdkConnection } from '../../sim/cloud/sdk';
import { World } from '../../sim/cloud/world';
import { mulberry32 } from '../../sim/rng';
import {
  buildSpotfarmFarm,
  loadHandlers,
  resetStackConfig,
  spotfarmEnvironment,
  STATE_TABLE,
  withEnvironment,
  type SpotfarmFunction,
} from '../../sim/policies/spotfarm';
import { setWallClock, resetWallClock } from '../../src/clock';
import { lambdaContext } from '../support/lambda';
import { testScenario } from '../sim/support/scenario';

type Handler = (event: unknown, context: unknown) => Promise<unknown>;

/** Spot alternates dear (0.15 = 0.71 x on-demand, over swapRatio 0.5) and cheap (0.05) every 20 minutes. */
const scenario = testScenario({
  spot: { 'us-east-1a': Array.from({ length: 16 }, (_, i) => [i * 1200, i % 2 === 0 ? 0.05 : 0.15] as [number, number]) },
  onDemand: 0.21,
  priceAboveMax: false,
  duration: 6 * 3600,
  jobs: Array.from({ length: 40 }, (_, i) => ({ at: i * 300, runtime: 900 })),
  farm: { spot: { min: 2, max: 6 }, onDemand: { min: 0, max: 4 } },
});
scenario.spotfarm = { swapRatio: '0.5', hysteresis: '0', confirmChecks: '1', minDwell: '10m', breakerInterruptions: '0.5', fallbackDelay: '2m' };

type Call =
  | { kind: 'tick'; lagSeconds: number; copies: number }
  | { kind: 'signal'; copies: number }
  | { kind: 'scale'; copies: number }
  | { kind: 'warning'; pick: number; copies: number }
  | { kind: 'sweep' };

const callArb: fc.Arbitrary<Call> = fc.oneof(
  fc.record({ kind: fc.constant('tick' as const), lagSeconds: fc.constantFrom(0, 0, 120), copies: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant('signal' as const), copies: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant('scale' as const), copies: fc.integer({ min: 1, max: 2 }) }),
  fc.record({ kind: fc.constant('warning' as const), pick: fc.nat(), copies: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('sweep' as const) }),
);
const runArb = fc.record({
  seed: fc.integer(),
  steps: fc.array(fc.record({ advance: fc.integer({ min: 30, max: 1500 }), calls: fc.array(callArb, { minLength: 1, maxLength: 5 }) }), { minLength: 2, maxLength: 6 }),
});

const reached: Record<string, number> = {};
const reach = (path: string) => (reached[path] = (reached[path] ?? 0) + 1);

describe('the three controllers under random interleavings (simulated cloud, real handlers)', () => {
  let handlers: Record<SpotfarmFunction, Handler>;
  let connection: SdkConnection;
  let restoreEnv: () => void;

  beforeAll(async () => {
    const probe = new World(scenario, { workers: 'agent', horizon: scenario.start + scenario.duration });
    restoreEnv = withEnvironment(spotfarmEnvironment(probe));
    handlers = (await loadHandlers()) as Record<SpotfarmFunction, Handler>;
    connection = connectSdk({ world: probe, tables: new Tables() });
  });

  afterAll(() => {
    connection.restore();
    restoreEnv();
    resetWallClock();
  });

  async function run(input: { seed: number; steps: { advance: number; calls: Call[] }[] }): Promise<string[]> {
    const violations: string[] = [];
    const world = new World(scenario, { workers: 'agent', horizon: scenario.start + scenario.duration + 3600 });
    const tables = new Tables();
    tables.create(STATE_TABLE, 'pk', 'sk');
    connection.target = { world, tables };
    await resetStackConfig();
    const farm = buildSpotfarmFarm(world);
    setWallClock(() => world.now * 1000);
    const random = mulberry32(input.seed >>> 0);
    const detached = new Map<string, number>();
    let n = 0;
    const id = () => `e-${++n}`;

    connection.beforeAnswer = async (command: string, commandInput: unknown) => {
      // Let the other concurrent handlers run first, a seeded number of turns.
      for (let i = Math.floor(random() * 3); i > 0; i--) await new Promise((r) => setImmediate(r));
      if (command === 'PutItemCommand') {
        const put = commandInput as { Item: Record<string, never>; ExpressionAttributeValues?: Record<string, never> };
        const item = unmarshall(put.Item) as { pk: string; sk: string; data: string };
        if (item.sk !== 'state') return;
        const next = (JSON.parse(item.data) as { market?: { pending?: { by: string } } }).market?.pending;
        if (!next) return;
        const current = getItem(tables, { TableName: STATE_TABLE, Key: marshall({ pk: item.pk, sk: 'state' }) }).Item;
        if (!current) return;
        const stored = unmarshall(current) as { version: number; data: string };
        const expected = put.ExpressionAttributeValues ? (unmarshall(put.ExpressionAttributeValues) as { ':expected'?: number })[':expected'] : 0;
        const held = (JSON.parse(stored.data) as { market?: { pending?: { by: string; until?: string; failed?: string } } }).market?.pending;
        const live = held && !held.failed && held.until !== undefined && Date.parse(held.until) > world.now * 1000;
        if (stored.version === expected && live && held.by !== next.by) violations.push(`${item.pk}: ${next.by} claimed over ${held.by}'s live lease`);
      }
      if (command === 'DetachInstancesCommand') {
        const { AutoScalingGroupName, InstanceIds } = commandInput as { AutoScalingGroupName: string; InstanceIds: string[] };
        for (const i of InstanceIds) {
          const instance = world.instances.get(i);
          if (instance?.group?.name !== AutoScalingGroupName || instance.lifecycle !== 'InService') continue;
          detached.set(i, (detached.get(i) ?? 0) + 1);
          reach('detach');
          if (detached.get(i)! > 1) violations.push(`${i} detached twice`);
        }
      }
    };

    const invoke = (fn: SpotfarmFunction, event: unknown) =>
      handlers[fn](structuredClone(event), lambdaContext(fn)).catch((error: unknown) => {
        violations.push(`${fn} failed: ${error instanceof Error ? error.message : String(error)}`);
      });
    const envelope = (eventId: string, source: string, detailType: string, time: number, detail: unknown) => ({
      version: '0',
      id: eventId,
      'detail-type': detailType,
      source,
      account: '123456789012',
      time: new Date(time * 1000).toISOString().replace('.000Z', 'Z'),
      region: scenario.region,
      resources: [],
      detail,
    });
    const sweep = () => invoke('interruption', envelope(id(), 'aws.events', 'Scheduled Event', world.now, {}));

    await world.runUntil(scenario.start + 300);
    for (const step of input.steps) {
      await world.runUntil(world.now + step.advance);
      const running: Promise<unknown>[] = [];
      for (const call of step.calls) {
        const copies = call.kind === 'sweep' ? 1 : call.copies;
        let event: unknown;
        let fn: SpotfarmFunction;
        if (call.kind === 'tick') {
          fn = 'price-check';
          event = envelope(id(), 'aws.events', 'Scheduled Event', world.now - call.lagSeconds, {});
        } else if (call.kind === 'signal') {
          fn = 'price-check';
          event = envelope(id(), 'spotfarm', 'Market Check Requested', world.now, { stack: 'spotfarm-sim', farm: scenario.farm.name, group: farm.spotGroup, trigger: 'breaker', reason: 'test' });
        } else if (call.kind === 'scale') {
          fn = 'queue-scaler';
          event = envelope(id(), 'aws.events', 'Scheduled Event', world.now, {});
        } else if (call.kind === 'warning') {
          const alive = [...world.instances.values()].filter((i) => i.ec2State === 'running' && i.market === 'spot');
          if (alive.length === 0) continue;
          const victim = alive[call.pick % alive.length]!;
          fn = 'interruption';
          event = envelope(id(), 'aws.ec2', 'EC2 Spot Instance Interruption Warning', world.now, { 'instance-id': victim.id, 'instance-action': 'terminate' });
          reach('warning');
        } else {
          fn = 'interruption';
          event = envelope(id(), 'aws.events', 'Scheduled Event', world.now, {});
        }
        for (let c = 0; c < copies; c++) running.push(invoke(fn, event));
      }
      await Promise.all(running);
      await sweep();

      // Invariants after the step.
      const { readMarketState } = await import('../../src/market/state');
      const { state } = await readMarketState(STATE_TABLE, farm.spotGroup);
      const spot = world.groupOrThrow(farm.spotGroup);
      const launches = world.groupMarket(spot) === 'on-demand' ? 'on-demand' : 'spot';
      if ((state?.market ?? 'spot') !== launches) violations.push(`state says ${state?.market}, the group launches ${launches}`);
      if (state?.pending) violations.push(`a claim left behind: ${JSON.stringify(state.pending)}`);
      reach(`market:${launches}`);
      for (const g of world.groups.values()) {
        if (g.desired < g.minSize || g.desired > g.maxSize) violations.push(`${g.name} desired ${g.desired} outside [${g.minSize}, ${g.maxSize}]`);
      }
      for (const i of world.instances.values()) {
        const deadline = i.tags.get('spotfarm:deadline');
        if (!deadline || Date.parse(deadline) > world.now * 1000) continue;
        reach('past deadline');
        if (i.ec2State === 'running' || i.ec2State === 'pending') violations.push(`${i.id} detached, still ${i.ec2State} past its deadline ${deadline}`);
      }
      if (violations.length > 0) break;
    }
    connection.beforeAnswer = undefined;
    return violations;
  }

  it('keep one live claim per group, the state matching the group, desired in bounds, one detach per instance, no orphan (1000 seeded runs)', async () => {
    await fc.assert(
      fc.asyncProperty(runArb, async (input) => {
        expect(await run(input)).toEqual([]);
      }),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 1000), seed: 20261201 },
    );
    for (const path of ['detach', 'warning', 'market:spot', 'market:on-demand', 'past deadline']) expect(reached[path] ?? 0, path).toBeGreaterThan(0);
  }, 900_000);
});
