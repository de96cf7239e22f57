/**
 * The real `interruption` handler against moto server through the real SDK (endpoint from AWS_ENDPOINT_URL):
 * warnings detach without lowering desired capacity and the group launches a replacement; duplicates detach
 * once; instances of untagged groups are left alone; the sweep terminates what outlived its deadline; a storm
 * trips the breaker (the group swaps to on-demand and the on-demand group grows), measured on the instances'
 * launch times: a storm among instances launched minutes ago is too little evidence.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  CreateAutoScalingGroupCommand,
  CreateOrUpdateTagsCommand,
  PutLifecycleHookCommand,
  UpdateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, DescribeLaunchTemplateVersionsCommand } from '@aws-sdk/client-ec2';
import { startMoto, type MotoServer } from '../support/moto';
import { buildDemoFarm, clientsFor, type DemoFarm } from '../../scripts/lib/demo-farm';
import { clocked, lambdaContext } from '../support/lambda';
import type { InterruptionResult } from '../../src/interruption/summary';
import type { InterruptionPlan } from '../../src/interruption/plan';

type Handler = (event: unknown, context: unknown) => Promise<InterruptionResult>;

const seconds = (date: Date) => new Date(Math.floor(date.getTime() / 1000) * 1000);

function warning(instanceId: string, time: Date, id = `warn-${instanceId}-${time.getTime()}`) {
  return {
    version: '0',
    id,
    'detail-type': 'EC2 Spot Instance Interruption Warning',
    source: 'aws.ec2',
    account: '123456789012',
    time: seconds(time).toISOString().replace('.000Z', 'Z'),
    region: 'us-east-1',
    resources: [`arn:aws:ec2:us-east-1:123456789012:instance/${instanceId}`],
    detail: { 'instance-id': instanceId, 'instance-action': 'terminate' },
  };
}

function tick(time: Date) {
  return {
    version: '0',
    id: `tick-${time.getTime()}`,
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '123456789012',
    time: seconds(time).toISOString().replace('.000Z', 'Z'),
    region: 'us-east-1',
    resources: ['arn:aws:events:us-east-1:123456789012:rule/spotfarm-test-interruption-sweep'],
    detail: {},
  };
}

describe('interruption against moto server', () => {
  let moto: MotoServer;
  let farm: DemoFarm;
  let handler: Handler;
  let clients: ReturnType<typeof clientsFor>;
  const sent: string[] = [];
  type BusEntry = { Source?: string; DetailType?: string; Detail?: string; Time?: Date };
  const busEvents: BusEntry[] = [];

  const group = async (name: string) =>
    (await clients.autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }))).AutoScalingGroups![0]!;
  const instance = async (id: string) =>
    (await clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!;

  /** The template the spot group launches from now: its own, or spotfarm's on-demand copy after a fall-back. */
  const launchMarket = async () => {
    const { LaunchTemplateId, Version } = (await group(farm.spotGroup)).LaunchTemplate!;
    const data = (await clients.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId, Versions: [Version!] }))).LaunchTemplateVersions![0]!
      .LaunchTemplateData!;
    return data.InstanceMarketOptions?.MarketType ?? 'on-demand';
  };
  type PriceCheckResult = { swaps: number; groups: { asgName: string; outcome: string; reason: string }[] };
  /** EventBridge delivers a signal to price-check (its rule matches source, detail-type and stack), dated `at`. */
  const deliver = async (entry: BusEntry, id: string, at: Date) => {
    const { handler: priceCheck } = (await import('../../functions/price-check')) as unknown as { handler: (event: unknown, context: unknown) => Promise<PriceCheckResult> };
    return priceCheck(
      {
        version: '0',
        id,
        'detail-type': entry.DetailType,
        source: entry.Source,
        account: '123456789012',
        time: seconds(at).toISOString().replace('.000Z', 'Z'),
        region: 'us-east-1',
        resources: [],
        detail: JSON.parse(entry.Detail!),
      },
      lambdaContext('price-check'),
    );
  };
  type PlanPool = { pool: string; status: string; reasons: string[]; breaker: string };
  /** The spot group's section of `plan` (reads only), at the handlers' clock. */
  const planOfSpotGroup = async () => {
    const { handler: planHandler } = (await import('../../functions/plan')) as unknown as {
      handler: (event: unknown, context: unknown) => Promise<{ farms: { groups: { name: string; interruptions?: InterruptionPlan; marketController?: { pools: PlanPool[] } }[] }[] }>;
    };
    const plan = await planHandler({}, lambdaContext('plan'));
    return plan.farms.flatMap((f) => f.groups).find((g) => g.name === farm.spotGroup)!;
  };
  /**
   * A storm's time: `minutes` after the last launch among `ids`. moto stamps LaunchTime with its own (real) clock and
   * the market controller measures a pool's exposure from launch times, so the test dates its storm from them: the
   * interruption handler runs at its event's time (clocked) and leaves the clock there for price-check and plan.
   */
  const minutesAfterLaunch = async (ids: string[], minutes: number) => {
    const reservations = (await clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }))).Reservations!;
    const launched = reservations.flatMap((r) => r.Instances!).map((i) => i.LaunchTime!.getTime());
    return seconds(new Date(Math.max(...launched) + minutes * 60_000 + 1_000));
  };
  /** The spot group's in-service instances in one AZ now. */
  const inServiceIn = async (zone: string) =>
    (await group(farm.spotGroup)).Instances!.filter((i) => i.LifecycleState === 'InService' && i.AvailabilityZone === zone).length;
  /** The instance-hours in a plan's breaker evidence ("3 interruptions in 7.43 instance-hours, ..."). */
  const hoursIn = (breaker: string) => Number(/ in ([\d.]+) instance-hours/.exec(breaker)?.[1]);

  const setBreaker = (value: string) =>
    clients.autoscaling.send(
      new CreateOrUpdateTagsCommand({
        Tags: [
          { ResourceId: farm.spotGroup, ResourceType: 'auto-scaling-group', Key: 'spotfarm:breakerInterruptions', Value: value, PropagateAtLaunch: false },
        ],
      }),
    );

  beforeAll(async () => {
    moto = await startMoto();
    farm = await buildDemoFarm({ endpoint: moto.endpoint, spotDesired: 3 });
    clients = clientsFor(moto.endpoint);
    await clients.autoscaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'untagged',
        MinSize: 0,
        MaxSize: 2,
        DesiredCapacity: 1,
        AvailabilityZones: ['us-east-1a'],
        LaunchTemplate: { LaunchTemplateName: farm.spotTemplate, Version: '$Latest' },
      }),
    );
    // No breaker in the first tests (each interrupts instances of one small pool); the storm test lowers it.
    await setBreaker('1000');
    vi.stubEnv('AWS_ENDPOINT_URL', moto.endpoint);
    vi.stubEnv('SPOTFARM_STATE_TABLE', farm.stateTable);
    vi.stubEnv('SPOTFARM_LOG_LEVEL', 'SILENT');
    ({ handler } = (await import('../../functions/interruption')) as unknown as { handler: Handler });
    handler = clocked(handler, await import('../../src/clock'));
    const { autoScalingClient } = await import('../../src/aws/autoscaling');
    const { ec2Client } = await import('../../src/aws/ec2');
    const recordCommands = (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
      sent.push(String(context.commandName));
      return next(args);
    };
    for (const client of [autoScalingClient, ec2Client] as unknown as { middlewareStack: { add(mw: unknown, options: unknown): void } }[]) {
      client.middlewareStack.add(recordCommands, { step: 'initialize', name: 'recordCommands' });
    }
    // The signals the interruption function puts on the default bus (moto accepts them; the test delivers them).
    const { eventBridgeClient } = await import('../../src/aws/eventbridge');
    const recordEvents = (next: (args: { input: { Entries?: BusEntry[] } }) => Promise<unknown>) => async (args: { input: { Entries?: BusEntry[] } }) => {
      busEvents.push(...(args.input.Entries ?? []));
      return next(args);
    };
    (eventBridgeClient as unknown as { middlewareStack: { add(mw: unknown, options: unknown): void } }).middlewareStack.add(recordEvents, {
      step: 'initialize',
      name: 'recordEvents',
    });
  }, 120_000);

  afterAll(async () => {
    vi.unstubAllEnvs();
    await moto.stop();
  });

  beforeEach(() => {
    sent.length = 0;
  });

  it('detaches a warned instance without lowering desired capacity, and the group launches a replacement', async () => {
    // Prepare
    const before = await group(farm.spotGroup);
    const victim = before.Instances![0]!.InstanceId!;
    // Act
    const result = await handler(warning(victim, new Date()), lambdaContext('interruption'));
    // Assess
    expect(result.actions.map((a) => [a.kind, a.outcome])).toEqual([
      ['recordInterruption', 'done'],
      ['detachInstance', 'done'],
    ]);
    const after = await group(farm.spotGroup);
    expect(after.DesiredCapacity).toBe(3);
    const ids = after.Instances!.map((i) => i.InstanceId);
    expect(ids).not.toContain(victim);
    expect(ids).toHaveLength(3);
    const tags = Object.fromEntries((await instance(victim)).Tags!.map((t) => [t.Key, t.Value]));
    expect(tags).toMatchObject({ 'spotfarm:detached-from': farm.spotGroup, 'spotfarm:detached-for': 'interruption' });
    expect(Date.parse(tags['spotfarm:deadline']!)).toBeGreaterThan(Date.now());
  });

  it('handles the same warning twice by detaching once', async () => {
    // Prepare
    const victim = (await group(farm.spotGroup)).Instances![0]!.InstanceId!;
    const event = warning(victim, new Date());
    // Act
    const first = await handler(structuredClone(event), lambdaContext('interruption'));
    const second = await handler(structuredClone(event), lambdaContext('interruption'));
    // Assess
    expect(first.actions.find((a) => a.kind === 'detachInstance')?.outcome).toBe('done');
    expect(second.actions.map((a) => a.kind)).toEqual(['skip']);
    expect(second.actions[0]!.reason).toMatch(/already replaced|no longer in the group/);
    expect(sent.filter((c) => c === 'DetachInstancesCommand')).toHaveLength(1);
    expect((await group(farm.spotGroup)).DesiredCapacity).toBe(3);
  });

  it('leaves an instance of an untagged group untouched', async () => {
    // Prepare
    const victim = (await group('untagged')).Instances![0]!.InstanceId!;
    // Act
    const result = await handler(warning(victim, new Date()), lambdaContext('interruption'));
    // Assess
    expect(result.actions.map((a) => a.kind)).toEqual(['skip']);
    expect(sent.filter((c) => !/^Describe/.test(c))).toEqual([]);
    expect((await group('untagged')).Instances!.map((i) => i.InstanceId)).toContain(victim);
  });

  it('sweeps a detached instance that outlived its deadline, and leaves one still within it', async () => {
    // Prepare: one instance warned now (deadline in 2 min).
    const victim = (await group(farm.spotGroup)).Instances![0]!.InstanceId!;
    await handler(warning(victim, new Date()), lambdaContext('interruption'));
    // Act: a tick now, then a tick 3 minutes on.
    const early = await handler(tick(new Date()), lambdaContext('interruption'));
    const late = await handler(tick(new Date(Date.now() + 3 * 60_000)), lambdaContext('interruption'));
    // Assess
    expect(early.actions.filter((a) => a.kind === 'terminateInstance')).toEqual([]);
    const terminated = late.actions.filter((a) => a.kind === 'terminateInstance' && a.outcome === 'done').map((a) => a.instanceId);
    expect(terminated).toContain(victim);
    expect((await instance(victim)).State?.Name).toMatch(/shutting-down|terminated/);
    expect((await group(farm.spotGroup)).DesiredCapacity).toBe(3);
  });

  it('a storm among instances launched minutes ago is too little evidence: the pool stays good and the group on spot', async () => {
    // Prepare: a fresh farm in two AZs, the default breaker (0.25 per instance-hour over an hour), and a storm 5
    // minutes after its instances launched (moto puts every instance in the first AZ).
    await moto.reset();
    farm = await buildDemoFarm({ endpoint: moto.endpoint, spotDesired: 8 });
    await setBreaker('0.25');
    busEvents.length = 0;
    const inService = (await group(farm.spotGroup)).Instances!.filter((x) => x.LifecycleState === 'InService');
    const stormZone = inService[0]!.AvailabilityZone!;
    const pool = inService.filter((i) => i.AvailabilityZone === stormZone).map((i) => i.InstanceId!);
    expect(pool.length).toBeGreaterThanOrEqual(3);
    const stormAt = await minutesAfterLaunch(pool, 5);

    // Act: three warnings in the pool; the interruption function's first look (running or interrupted instances x
    // the window: 0.375 per instance-hour) asks for a check, and the market controller measures.
    for (const id of pool.slice(0, 3)) await handler(warning(id, stormAt), lambdaContext('interruption'));
    expect(busEvents).toHaveLength(1);
    const checked = await deliver(busEvents[0]!, 'signal-young', stormAt);

    // Assess: the market controller measured under an instance-hour (each instance ran about 5 minutes, the warned
    // ones up to the check, which came before their two minutes were up), too few to trust a rate: no swap, the
    // pool is good.
    expect(checked.groups).toEqual([expect.objectContaining({ asgName: farm.spotGroup, outcome: 'skipped', reason: expect.stringMatching(/staying on spot/) })]);
    expect(await launchMarket()).toBe('spot');
    const stormy = (await planOfSpotGroup()).marketController!.pools.find((p) => p.pool.endsWith(stormZone))!;
    expect(stormy).toMatchObject({ status: 'good', reasons: [] });
    expect(stormy.breaker).toMatch(/^3 interruptions in [\d.]+ instance-hours: too few instance-hours to trust a rate/);
    const expected = (((await inServiceIn(stormZone)) + 3) * 5) / 60;
    expect(hoursIn(stormy.breaker)).toBeCloseTo(expected, 1);
  });

  it('a storm in one pool trips that pool only; the group falls back whole once no good pool is left (the trip recorded once and signalled, issue 11)', async () => {
    // Prepare: a fresh farm (no interruption history) in two AZs, the default breaker (0.25 per instance-hour over
    // an hour). moto puts every instance in the first AZ, so the second pool is empty and good.
    await moto.reset();
    farm = await buildDemoFarm({ endpoint: moto.endpoint, spotDesired: 8 });
    await setBreaker('0.25');
    busEvents.length = 0;
    const before = await group(farm.spotGroup);
    const zones = [...before.AvailabilityZones!].sort();
    const inService = before.Instances!.filter((x) => x.LifecycleState === 'InService');
    const stormZone = inService[0]!.AvailabilityZone!;
    const pool = inService.filter((i) => i.AvailabilityZone === stormZone).map((i) => i.InstanceId!);
    expect(zones.length).toBe(2);
    expect(pool.length).toBeGreaterThanOrEqual(4);
    const od = await group(farm.onDemandGroup);
    // The storm comes 40 minutes after the pool's instances launched: exposure enough to weigh a rate.
    const stormAt = await minutesAfterLaunch(pool, 40);

    // Act 1: three warnings in one pool, the third one delivered twice.
    const events = pool.slice(0, 3).map((id) => warning(id, stormAt));
    const results = [];
    for (const event of events) results.push(await handler(event, lambdaContext('interruption')));
    const duplicate = await handler(events[2], lambdaContext('interruption'));

    // Assess 1: the pool's breaker trips; the interruption function records the trip once and asks, nothing more.
    expect(results[1]!.actions.map((a) => a.kind)).toEqual(['recordInterruption', 'detachInstance']);
    expect(results[2]!.actions.map((a) => [a.kind, a.outcome])).toEqual([
      ['recordInterruption', 'done'],
      ['detachInstance', 'done'],
      ['requestMarketCheck', 'done'],
    ]);
    expect(duplicate.actions.filter((a) => a.kind === 'requestMarketCheck' && a.outcome === 'done')).toEqual([]);
    expect(busEvents).toHaveLength(1);
    expect(busEvents[0]).toMatchObject({ Source: 'spotfarm', DetailType: 'Market Check Requested' });
    expect(JSON.parse(busEvents[0]!.Detail!)).toMatchObject({ group: farm.spotGroup, trigger: 'breaker' });
    // The market controller, asked, refuses to move the group: a good pool is left.
    const refused = await deliver(busEvents[0]!, 'signal-1', stormAt);
    expect(refused.groups).toEqual([expect.objectContaining({ asgName: farm.spotGroup, outcome: 'skipped', reason: expect.stringMatching(/staying on spot/) })]);
    expect(await launchMarket()).toBe('spot');
    expect((await group(farm.onDemandGroup)).DesiredCapacity).toBe(od.DesiredCapacity);

    // plan shows the pools: the stormy one out by its breaker with the evidence, the other good (reads only).
    sent.length = 0;
    const spot = await planOfSpotGroup();
    const pools = spot.marketController!.pools;
    const stormy = pools.find((p) => p.pool.endsWith(stormZone))!;
    expect(stormy).toMatchObject({ status: 'out', reasons: ['breaker'] });
    expect(stormy.breaker).toMatch(/^3 interruptions in [\d.]+ instance-hours, [\d.]+ per instance-hour: tripped the limit 0.25$/);
    // Measured from launch times (DescribeInstances): the pool's running instances (moto's replacements included:
    // its clock stamps them seconds after the others) and the three warned ones (up to the check) 40 minutes each.
    // The old approximation (running instances x the window) would have said an hour each for the running ones.
    const running = await inServiceIn(stormZone);
    expect(hoursIn(stormy.breaker)).toBeCloseTo(((running + 3) * 40) / 60, 1);
    expect(pools.find((p) => !p.pool.endsWith(stormZone))).toMatchObject({ status: 'good', reasons: [] });
    expect(spot.interruptions!.detachedInstances.map((d) => d.instanceId)).toEqual(expect.arrayContaining(pool.slice(0, 3)));
    expect(sent.filter((c) => !/^(Describe|Get|List)/.test(c))).toEqual([]);

    // Act 2: the group is narrowed to the stormy AZ (a single-AZ group), and the storm goes on there a minute later.
    await clients.autoscaling.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: farm.spotGroup, AvailabilityZones: [stormZone] }));
    const later = new Date(stormAt.getTime() + 60_000);
    const next = await handler(warning(pool[3]!, later), lambdaContext('interruption'));
    expect(next.actions.map((a) => [a.kind, a.outcome])).toContainEqual(['requestMarketCheck', 'done']);
    expect(busEvents).toHaveLength(2);
    const checked = await deliver(busEvents[1]!, 'signal-2', later);

    // Assess 2: no good pool is left, so the market controller falls back whole; the breaker set no desired
    // capacity (the queue scaler covers a spot shortfall, none here: moto keeps the group full).
    expect(checked.groups).toEqual([expect.objectContaining({ asgName: farm.spotGroup, outcome: 'swapped', reason: expect.stringMatching(/interruption breaker/) })]);
    expect(await launchMarket()).not.toBe('spot');
    expect((await group(farm.onDemandGroup)).DesiredCapacity).toBe(od.DesiredCapacity);
    // A further warning in the storm asks for nothing: the group is on on-demand.
    const again = await handler(warning(pool[4] ?? pool[3]!, later), lambdaContext('interruption'));
    expect(again.actions.map((a) => a.kind)).not.toContain('requestMarketCheck');
  });

  it('a group with a termination lifecycle hook: terminates the warned instance through the group (the hook runs), does not detach it (issue 14 item 11)', async () => {
    // Prepare: a spot group of the farm with a termination hook (moto keeps hooks; it runs none).
    await clients.autoscaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'hooked-spot',
        MinSize: 0,
        MaxSize: 4,
        DesiredCapacity: 2,
        AvailabilityZones: ['us-east-1a'],
        LaunchTemplate: { LaunchTemplateName: farm.spotTemplate, Version: '$Latest' },
        Tags: [
          { ResourceId: 'hooked-spot', ResourceType: 'auto-scaling-group', Key: 'spotfarm:farm', Value: farm.farm, PropagateAtLaunch: true },
          { ResourceId: 'hooked-spot', ResourceType: 'auto-scaling-group', Key: 'spotfarm:role', Value: 'spot', PropagateAtLaunch: false },
          { ResourceId: 'hooked-spot', ResourceType: 'auto-scaling-group', Key: 'spotfarm:breakerInterruptions', Value: '1000', PropagateAtLaunch: false },
        ],
      }),
    );
    await clients.autoscaling.send(
      new PutLifecycleHookCommand({ AutoScalingGroupName: 'hooked-spot', LifecycleHookName: 'drain-worker', LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING', HeartbeatTimeout: 90, DefaultResult: 'CONTINUE' }),
    );
    const victim = (await group('hooked-spot')).Instances![0]!.InstanceId!;
    // Act
    const result = await handler(warning(victim, new Date()), lambdaContext('interruption'));
    // Assess
    expect(result.actions.map((a) => [a.kind, a.outcome])).toEqual([
      ['recordInterruption', 'done'],
      ['terminateInstance', 'done'],
    ]);
    expect(sent).toContain('DescribeLifecycleHooksCommand');
    expect(sent).toContain('TerminateInstanceInAutoScalingGroupCommand');
    expect(sent).not.toContain('DetachInstancesCommand');
    expect((await group('hooked-spot')).DesiredCapacity).toBe(2);
  });

  it('fails a malformed warning without calling AWS', async () => {
    // Prepare
    const event = warning('i-0123456789abcdef0', new Date());
    (event.detail as Record<string, unknown>)['instance-id'] = 42;
    // Act / Assess
    await expect(handler(event, lambdaContext('interruption'))).rejects.toThrow(/malformed EC2 Spot Instance Interruption Warning event warn-/);
    expect(sent).toEqual([]);
  });
});
