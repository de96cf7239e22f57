/**
 * The real `interruption` handler against moto server through the real SDK (endpoint from AWS_ENDPOINT_URL):
 * warnings detach without lowering desired capacity and the group launches a replacement; duplicates detach
 * once; instances of untagged groups are left alone; the sweep terminates what outlived its deadline; a storm
 * trips the breaker (the group swaps to on-demand and the on-demand group grows).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  CreateAutoScalingGroupCommand,
  CreateOrUpdateTagsCommand,
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

  it('trips the breaker on a storm in one pool: records the trip once, signals price-check, which swaps the group (issue 11)', async () => {
    // Prepare: a fresh farm (no interruption history) with a breaker of 0.5 per instance-hour.
    await moto.reset();
    farm = await buildDemoFarm({ endpoint: moto.endpoint, spotDesired: 4 });
    await setBreaker('0.5');
    busEvents.length = 0;
    const before = await group(farm.spotGroup);
    const byZone = new Map<string, string[]>();
    for (const i of before.Instances!.filter((x) => x.LifecycleState === 'InService')) {
      byZone.set(i.AvailabilityZone!, [...(byZone.get(i.AvailabilityZone!) ?? []), i.InstanceId!]);
    }
    const pool = [...byZone.values()].find((ids) => ids.length >= 2)!;
    expect(pool).toBeDefined();
    const od = await group(farm.onDemandGroup);
    // Act
    const first = await handler(warning(pool[0]!, new Date()), lambdaContext('interruption'));
    const tripping = warning(pool[1]!, new Date());
    const second = await handler(tripping, lambdaContext('interruption'));
    const duplicate = await handler(tripping, lambdaContext('interruption'));
    // Assess: the interruption function records and asks; it neither swaps nor sets a desired capacity.
    expect(first.actions.map((a) => a.kind)).toEqual(['recordInterruption', 'detachInstance']);
    expect(second.actions.map((a) => [a.kind, a.outcome])).toEqual([
      ['recordInterruption', 'done'],
      ['detachInstance', 'done'],
      ['requestMarketCheck', 'done'],
    ]);
    expect(duplicate.actions.find((a) => a.kind === 'requestMarketCheck')?.outcome).toBe('skipped');
    expect(busEvents).toHaveLength(1);
    const signal = busEvents[0]!;
    expect(signal).toMatchObject({ Source: 'spotfarm', DetailType: 'Market Check Requested' });
    expect(JSON.parse(signal.Detail!)).toMatchObject({ group: farm.spotGroup, trigger: 'breaker' });
    expect((await group(farm.onDemandGroup)).DesiredCapacity).toBe(od.DesiredCapacity);
    expect((await group(farm.spotGroup)).LaunchTemplate!.Version).toBe(before.LaunchTemplate!.Version);

    // Act: EventBridge delivers the signal to price-check (its rule matches source, detail-type and stack).
    const { handler: priceCheck } = (await import('../../functions/price-check')) as unknown as {
      handler: (event: unknown, context: unknown) => Promise<{ swaps: number; groups: { asgName: string; outcome: string; reason: string }[] }>;
    };
    const delivered = {
      version: '0',
      id: 'signal-1',
      'detail-type': signal.DetailType,
      source: signal.Source,
      account: '123456789012',
      time: seconds(new Date()).toISOString().replace('.000Z', 'Z'),
      region: 'us-east-1',
      resources: [],
      detail: JSON.parse(signal.Detail!),
    };
    const checked = await priceCheck(delivered, lambdaContext('price-check'));
    // Assess: the market controller's own check fell back, by its breaker rule.
    expect(checked.groups).toEqual([expect.objectContaining({ asgName: farm.spotGroup, outcome: 'swapped', reason: expect.stringMatching(/interruption breaker/) })]);
    const after = await group(farm.spotGroup);
    expect(after.DesiredCapacity).toBe(before.DesiredCapacity);
    const version = after.LaunchTemplate!.Version!;
    const data = (
      await clients.ec2.send(
        new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateName: farm.spotTemplate, Versions: [version] }),
      )
    ).LaunchTemplateVersions![0]!.LaunchTemplateData!;
    expect(data.InstanceMarketOptions?.MarketType).not.toBe('spot');
    // A third warning in the storm asks for nothing: the group is on on-demand.
    const third = after.Instances!.find((i) => i.LifecycleState === 'InService' && !pool.includes(i.InstanceId!))!;
    const again = await handler(warning(third.InstanceId!, new Date()), lambdaContext('interruption'));
    expect(again.actions.map((a) => a.kind)).not.toContain('requestMarketCheck');
    expect(busEvents).toHaveLength(1);

    // plan shows the storm: the pool's interruptions, the breaker tripped, the detached instances (reads only).
    sent.length = 0;
    const { handler: planHandler } = (await import('../../functions/plan')) as unknown as {
      handler: (event: unknown, context: unknown) => Promise<{ farms: { groups: { name: string; interruptions?: InterruptionPlan }[] }[] }>;
    };
    const plan = await planHandler({}, lambdaContext('plan'));
    const section = plan.farms.flatMap((f) => f.groups).find((g) => g.name === farm.spotGroup)!.interruptions!;
    const stormPool = section.pools.find((p) => p.interruptions >= 2)!;
    expect(stormPool).toMatchObject({ breaker: 'tripped' });
    expect(section.breaker.state).toBe('tripped');
    expect(section.detachedInstances.map((d) => d.instanceId)).toEqual(expect.arrayContaining([pool[0], pool[1]]));
    expect(sent.filter((c) => !/^(Describe|Get|List)/.test(c))).toEqual([]);
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
