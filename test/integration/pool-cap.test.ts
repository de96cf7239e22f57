/**
 * Pools, not groups, against moto server through the real SDK, per market style that spotfarm steers: a pool
 * priced at on-demand is taken out of the group's launches with the spot max price and brought back, while the
 * other pools, the group's purchase options and its running instances are left alone, and the only mutating
 * calls are the ones docs/market.md names: UpdateAutoScalingGroup with the policy's SpotMaxPrice (mixed
 * instances). Launch-template groups are not capped (a new version of the owner's template would become its
 * $Latest for every user): their case checks that nothing is written. Launch-configuration groups fall back whole.
 *
 * moto prices every spot pool alike (0.00001 USD/h), so the pool at on-demand is the one input set by hand:
 * the test reads the farm through spotfarm's own gather (observeFarms + gatherMarket) and marks pool b's ratio
 * 1.0 before each check; everything after that (decision, state protocol, AWS call) is the controller's.
 */
import { CreateAutoScalingGroupCommand, DescribeAutoScalingGroupsCommand, type AutoScalingGroup } from '@aws-sdk/client-auto-scaling';
import { DescribeLaunchTemplateVersionsCommand } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildDemoFarm, clientsFor, type DemoFarm } from '../../scripts/lib/demo-farm';
import { startMoto, type MotoServer } from '../support/moto';

interface MiddlewareStack {
  add(
    middleware: (next: (args: unknown) => Promise<unknown>, context: object) => (args: unknown) => Promise<unknown>,
    options: { step: string; name: string },
  ): void;
}

const T0 = Date.parse('2026-03-02T10:00:00Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000);

describe('a pool taken out and brought back with the spot max price (moto)', () => {
  let moto: MotoServer;
  let farm: DemoFarm;
  let clients: ReturnType<typeof clientsFor>;
  const sent: string[] = [];
  let checkGroup: (name: string, minutes: number, ratioB: number) => Promise<{ outcome: string; action: string; reason: string }>;
  const check = (minutes: number, ratioB: number) => checkGroup('pools-spot', minutes, ratioB);

  const group = async (name = 'pools-spot'): Promise<AutoScalingGroup> =>
    (await clients.autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }))).AutoScalingGroups![0]!;
  const mutations = () => sent.filter((name) => !/^(Describe|Get|List)/.test(name));

  beforeAll(async () => {
    moto = await startMoto();
    farm = await buildDemoFarm({ endpoint: moto.endpoint, spotDesired: 4 });
    clients = clientsFor(moto.endpoint);
    await clients.autoscaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'pools-spot',
        MinSize: 0,
        MaxSize: 8,
        DesiredCapacity: 4,
        AvailabilityZones: ['us-east-1a', 'us-east-1b'],
        MixedInstancesPolicy: {
          LaunchTemplate: {
            LaunchTemplateSpecification: { LaunchTemplateName: farm.onDemandTemplate, Version: '1' },
            Overrides: [{ InstanceType: 'c5.large' }],
          },
          InstancesDistribution: { OnDemandBaseCapacity: 0, OnDemandPercentageAboveBaseCapacity: 0, SpotAllocationStrategy: 'price-capacity-optimized' },
        },
        Tags: Object.entries({ 'spotfarm:farm': farm.farm, 'spotfarm:role': 'spot', 'spotfarm:queue': farm.queueName }).map(([Key, Value]) => ({
          Key,
          Value,
          PropagateAtLaunch: false,
          ResourceId: 'pools-spot',
          ResourceType: 'auto-scaling-group',
        })),
      }),
    );
    vi.stubEnv('AWS_ENDPOINT_URL', moto.endpoint);
    vi.stubEnv('SPOTFARM_STATE_TABLE', farm.stateTable);
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
    const { resetConfigCache, getConfig } = await import('../../src/config');
    resetConfigCache();
    const { observeFarms } = await import('../../src/observe');
    const { gatherMarket, MARKET_READS } = await import('../../src/market/observe');
    const { checkGroupMarket } = await import('../../src/market/controller');
    const { autoScalingClient } = await import('../../src/aws/autoscaling');
    const { ec2Client } = await import('../../src/aws/ec2');
    for (const client of [autoScalingClient, ec2Client]) {
      (client.middlewareStack as unknown as MiddlewareStack).add(
        (next, context) => async (args) => {
          sent.push(String((context as { commandName?: string }).commandName));
          return next(args);
        },
        { step: 'initialize', name: 'recordCommands' },
      );
    }
    checkGroup = async (name, minutes, ratioB) => {
      const now = at(minutes);
      const config = getConfig();
      const views = await gatherMarket(await observeFarms(config, now, { farm: farm.farm, ...MARKET_READS }), config, now);
      const view = views.find((v) => v.input.asgName === name)!;
      for (const pool of view.input.signals.pools ?? []) pool.ratio = pool.availabilityZone === 'us-east-1b' ? ratioB : 0.1;
      const result = await checkGroupMarket(view, { config, now, dryRun: false, source: 'price-check', eventId: `${name}-tick-${minutes}` });
      return { outcome: result.outcome, action: result.action.kind, reason: result.action.reason };
    };
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await moto?.stop();
  });

  it('mixed instances: caps new launches below the pool at on-demand, then lifts the cap once every pool is calm after the dwell', async () => {
    // Prepare
    const before = await group();
    const ids = before.Instances!.map((i) => i.InstanceId).sort();
    expect(ids).toHaveLength(4);
    const distribution = before.MixedInstancesPolicy!.InstancesDistribution!;
    expect(distribution.SpotMaxPrice ?? '').toBe('');

    // Act 1: pool b at on-demand on two checks in a row.
    sent.length = 0;
    const first = await check(0, 1);
    const second = await check(5, 1);

    // Assess 1: the second check caps the max price at 0.9 x on-demand (c5.large: $0.085 in the bundled table).
    expect(first).toMatchObject({ outcome: 'skipped', action: 'skip' });
    expect(second).toMatchObject({ outcome: 'steered', action: 'setSpotMaxPrice', reason: expect.stringMatching(/pool c5.large\|us-east-1b at or above 1 x on-demand for 2 checks: new launches capped at \$0.0765\/h/) });
    const capped = await group();
    expect(capped.MixedInstancesPolicy!.InstancesDistribution).toEqual({ ...distribution, SpotMaxPrice: '0.0765' });
    expect(capped.MixedInstancesPolicy!.LaunchTemplate).toEqual(before.MixedInstancesPolicy!.LaunchTemplate);
    expect(capped.AvailabilityZones).toEqual(before.AvailabilityZones);
    expect(capped.Instances!.map((i) => i.InstanceId).sort()).toEqual(ids);
    expect(mutations()).toEqual(['UpdateAutoScalingGroupCommand']);

    // Act 2: b calm again; within the dwell (30 min from the cap) nothing moves, after it the second calm check lifts it.
    sent.length = 0;
    const early = await check(20, 0.5);
    const calm = await check(40, 0.5);

    // Assess 2
    expect(early).toMatchObject({ outcome: 'skipped', reason: expect.stringMatching(/1 of 2 checks, 15 min of the 30 min dwell left/) });
    expect(calm).toMatchObject({ outcome: 'steered', action: 'setSpotMaxPrice', reason: expect.stringMatching(/for 2 checks after 35 min: the spot max price is removed/) });
    const lifted = await group();
    expect(lifted.MixedInstancesPolicy!.InstancesDistribution!.SpotMaxPrice ?? '').toBe('');
    expect({ ...lifted.MixedInstancesPolicy!.InstancesDistribution, SpotMaxPrice: undefined }).toEqual({ ...distribution, SpotMaxPrice: undefined });
    expect(lifted.Instances!.map((i) => i.InstanceId).sort()).toEqual(ids);
    expect(mutations()).toEqual(['UpdateAutoScalingGroupCommand']);
  });

  it("launch template: no cap, the owner's template gets no version and the group keeps following $Latest", async () => {
    // Prepare: the demo farm's spot group follows $Latest of its spot template.
    const spot = farm.spotGroup;
    const before = await group(spot);
    const ids = before.Instances!.map((i) => i.InstanceId).sort();
    const latest = async () =>
      (await clients.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateName: farm.spotTemplate, Versions: ['$Latest'] })))
        .LaunchTemplateVersions![0]!;
    const first = await latest();

    // Act: a pool at on-demand on two checks, the others cheap (the mixed-instances group above is capped here).
    sent.length = 0;
    await checkGroup(spot, 0, 1);
    const second = await checkGroup(spot, 5, 1);

    // Assess: no max price step; a new version would become $Latest for every other user of the template.
    expect(second.action).not.toBe('setSpotMaxPrice');
    expect((await latest()).VersionNumber).toBe(first.VersionNumber);
    expect(mutations()).not.toContain('CreateLaunchTemplateVersionCommand');
    const after = await group(spot);
    expect(after.LaunchTemplate!.Version).toBe(before.LaunchTemplate!.Version);
    expect(after.Instances!.map((i) => i.InstanceId).sort()).toEqual(ids);
  });
});
