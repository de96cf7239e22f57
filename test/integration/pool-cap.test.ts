/**
 * Pools, not groups, against moto server through the real SDK, per market style: a pool priced at on-demand is
 * taken out of the group's launches with the spot max price and brought back, while the other pools, the group's
 * purchase options and its running instances are left alone, and the only mutating calls are the ones
 * docs/market.md names:
 * - mixed instances (one type): UpdateAutoScalingGroup with the policy's SpotMaxPrice;
 * - launch template: a capped copy in spotfarm's own template (CreateLaunchTemplate the first time, then
 *   CreateLaunchTemplateVersion) and UpdateAutoScalingGroup pointing the group at it; the release is one
 *   UpdateAutoScalingGroup back to the owner's template as it was named. The owner's template is never written;
 * - launch configuration: CreateLaunchConfiguration of the capped copy (once) and UpdateAutoScalingGroup; the
 *   release points the group back at the original name.
 *
 * moto prices every spot pool alike (0.00001 USD/h), so the pool at on-demand is the one input set by hand:
 * the test reads the farm through spotfarm's own gather (observeFarms + gatherMarket) and marks pool b's ratio
 * before each check; everything after that (decision, state protocol, AWS calls) is the controller's.
 */
import { CreateAutoScalingGroupCommand, DescribeAutoScalingGroupsCommand, type AutoScalingGroup } from '@aws-sdk/client-auto-scaling';
import { CreateLaunchConfigurationCommand, DescribeLaunchConfigurationsCommand } from '@aws-sdk/client-auto-scaling';
import { CreateLaunchTemplateVersionCommand, DescribeLaunchTemplatesCommand, DescribeLaunchTemplateVersionsCommand } from '@aws-sdk/client-ec2';
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
  let checkGroup: (name: string, minutes: number, ratioB: number, groupRatio?: number) => Promise<{ outcome: string; action: string; reason: string }>;
  const check = (minutes: number, ratioB: number) => checkGroup('pools-spot', minutes, ratioB);
  let checkPools: (name: string, minutes: number, ratioOf: (type: string, az: string) => number) => Promise<{ outcome: string; action: string; reason: string }>;

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
    checkGroup = async (name, minutes, ratioB, groupRatio) => {
      const now = at(minutes);
      const config = getConfig();
      const views = await gatherMarket(await observeFarms(config, now, { farm: farm.farm, ...MARKET_READS }), config, now);
      const view = views.find((v) => v.input.asgName === name)!;
      for (const pool of view.input.signals.pools ?? []) pool.ratio = pool.availabilityZone === 'us-east-1b' ? ratioB : (groupRatio ?? 0.1);
      // The group's own ratio (the price rule) only when the test sets every pool dear.
      if (groupRatio !== undefined) view.input.signals.ratio = groupRatio;
      const result = await checkGroupMarket(view, { config, now, dryRun: false, source: 'price-check', eventId: `${name}-tick-${minutes}` });
      return { outcome: result.outcome, action: result.action.kind, reason: result.action.reason };
    };
    checkPools = async (name, minutes, ratioOf) => {
      const now = at(minutes);
      const config = getConfig();
      const views = await gatherMarket(await observeFarms(config, now, { farm: farm.farm, ...MARKET_READS }), config, now);
      const view = views.find((v) => v.input.asgName === name)!;
      // The pools of the group's types and of the types spotfarm dropped (whose prices it still reads).
      for (const pool of [...(view.input.signals.pools ?? []), ...(view.input.signals.droppedPools ?? [])]) pool.ratio = ratioOf(pool.instanceType, pool.availabilityZone);
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

  it("launch template: a capped copy in spotfarm's own template, following what the owner publishes; released to $Latest as named", async () => {
    // Prepare: the demo farm's spot group follows $Latest of its spot template (the owner's).
    const spot = farm.spotGroup;
    const before = await group(spot);
    const ids = before.Instances!.map((i) => i.InstanceId).sort();
    const ownerVersions = async () =>
      (await clients.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateName: farm.spotTemplate }))).LaunchTemplateVersions!.map((v) => v.VersionNumber).sort();
    const owned = await ownerVersions();

    // Act 1: pool b at on-demand on two checks in a row.
    sent.length = 0;
    await checkGroup(spot, 100, 1);
    const second = await checkGroup(spot, 105, 1);

    // Assess 1: the group launches from a version of spotfarm's own template with MaxPrice at the cap.
    expect(second).toMatchObject({ outcome: 'steered', action: 'setSpotMaxPrice', reason: expect.stringMatching(/capped at \$0.0765\/h \(spot max price, a copy in spotfarm's own template; the owner's template is not written\)/) });
    expect(mutations()).toEqual(['CreateLaunchTemplateCommand', 'UpdateAutoScalingGroupCommand']);
    const capped = await group(spot);
    const mine = (await clients.ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: [`spotfarm-capped-${before.LaunchTemplate!.LaunchTemplateId}`] }))).LaunchTemplates![0]!;
    expect(capped.LaunchTemplate).toMatchObject({ LaunchTemplateId: mine.LaunchTemplateId, Version: '1' });
    expect(mine.Tags).toEqual(expect.arrayContaining([{ Key: 'spotfarm:farm', Value: farm.farm }]));
    const copyData = (await clients.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: mine.LaunchTemplateId, Versions: ['1'] }))).LaunchTemplateVersions![0]!.LaunchTemplateData!;
    expect(copyData.InstanceMarketOptions).toEqual({ MarketType: 'spot', SpotOptions: { MaxPrice: '0.0765', SpotInstanceType: 'one-time', InstanceInterruptionBehavior: 'terminate' } });
    expect(await ownerVersions()).toEqual(owned);
    expect(capped.AvailabilityZones).toEqual(before.AvailabilityZones);
    expect(capped.Instances!.map((i) => i.InstanceId).sort()).toEqual(ids);

    // Act 2: the owner publishes a new version (new user data) while the group is capped.
    const latest = (await clients.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateName: farm.spotTemplate, Versions: ['$Latest'] }))).LaunchTemplateVersions![0]!;
    const published = await clients.ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateName: farm.spotTemplate,
        LaunchTemplateData: { ...(latest.LaunchTemplateData as object), UserData: Buffer.from('echo v2').toString('base64') },
      }),
    );
    sent.length = 0;
    const follow = await checkGroup(spot, 110, 1);

    // Assess 2: copied again from the owner's new $Latest, still capped; the owner's template untouched by spotfarm.
    expect(follow).toMatchObject({ outcome: 'steered', reason: expect.stringMatching(new RegExp(`is now version ${published.LaunchTemplateVersion!.VersionNumber}`)) });
    expect(mutations()).toEqual(['CreateLaunchTemplateVersionCommand', 'UpdateAutoScalingGroupCommand']);
    const followed = await group(spot);
    expect(followed.LaunchTemplate).toMatchObject({ LaunchTemplateId: mine.LaunchTemplateId, Version: '2' });
    const v2 = (await clients.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: mine.LaunchTemplateId, Versions: ['2'] }))).LaunchTemplateVersions![0]!.LaunchTemplateData!;
    expect(v2.UserData).toBe(Buffer.from('echo v2').toString('base64'));
    expect(v2.InstanceMarketOptions?.SpotOptions?.MaxPrice).toBe('0.0765');
    expect(await ownerVersions()).toEqual([...owned, published.LaunchTemplateVersion!.VersionNumber].sort());

    // Act 3: b calm; after the dwell the second calm check releases the cap.
    sent.length = 0;
    const early = await checkGroup(spot, 120, 0.5);
    const calm = await checkGroup(spot, 140, 0.5);

    // Assess 3: one UpdateAutoScalingGroup, back to the owner's template as named ($Latest); instances untouched.
    expect(early).toMatchObject({ outcome: 'skipped' });
    expect(calm).toMatchObject({ outcome: 'steered', action: 'setSpotMaxPrice', reason: expect.stringMatching(/the group launches from launch template .* \$Latest again/) });
    expect(mutations()).toEqual(['UpdateAutoScalingGroupCommand']);
    const released = await group(spot);
    expect(released.LaunchTemplate).toMatchObject({ LaunchTemplateId: before.LaunchTemplate!.LaunchTemplateId, Version: '$Latest' });
    expect(released.Instances!.map((i) => i.InstanceId).sort()).toEqual(ids);
    expect(await ownerVersions()).toEqual([...owned, published.LaunchTemplateVersion!.VersionNumber].sort());
  });

  it("launch template: capped, then every pool dear: falls back whole from the owner's source and returns to it, never to the copy", async () => {
    const spot = farm.spotGroup;
    const before = await group(spot);
    await checkGroup(spot, 200, 1);
    expect(await checkGroup(spot, 205, 1)).toMatchObject({ action: 'setSpotMaxPrice' });

    // Act: every pool at 1.2 x on-demand for two checks (the price rule), then calm after the dwell.
    sent.length = 0;
    await checkGroup(spot, 210, 1.2, 1.2);
    const down = await checkGroup(spot, 215, 1.2, 1.2);
    const onDemand = await group(spot);
    const fallbackCalls = mutations();
    sent.length = 0;
    await checkGroup(spot, 250, 0.2, 0.2);
    const up = await checkGroup(spot, 255, 0.2, 0.2);

    // Assess: the on-demand copy is of the owner's version; the return names the owner's template as before.
    expect(down).toMatchObject({ outcome: 'swapped', action: 'swapToOnDemand' });
    expect(fallbackCalls).toEqual(['CreateLaunchTemplateCommand', 'UpdateAutoScalingGroupCommand']);
    const own = (await clients.ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: [onDemand.LaunchTemplate!.LaunchTemplateId!] }))).LaunchTemplates![0]!;
    expect(own.LaunchTemplateName).toBe(`spotfarm-on-demand-${before.LaunchTemplate!.LaunchTemplateId}`);
    expect(up).toMatchObject({ outcome: 'swapped', action: 'swapToSpot' });
    expect(mutations()).toEqual(['UpdateAutoScalingGroupCommand']);
    expect((await group(spot)).LaunchTemplate).toMatchObject({ LaunchTemplateId: before.LaunchTemplate!.LaunchTemplateId, Version: '$Latest' });
  });

  it('launch configuration: a capped copy of the configuration (SpotPrice), released to the original name', async () => {
    // Prepare: a launch-configuration group with the recipe's spot price (on-demand, $0.085 for c5.large).
    await clients.autoscaling.send(new CreateLaunchConfigurationCommand({ LaunchConfigurationName: 'pools-lc', ImageId: 'ami-12c6146b', InstanceType: 'c5.large', SpotPrice: '0.085' }));
    await clients.autoscaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'pools-lc-spot',
        MinSize: 0,
        MaxSize: 8,
        DesiredCapacity: 2,
        AvailabilityZones: ['us-east-1a', 'us-east-1b'],
        LaunchConfigurationName: 'pools-lc',
        Tags: Object.entries({ 'spotfarm:farm': farm.farm, 'spotfarm:role': 'spot' }).map(([Key, Value]) => ({ Key, Value, PropagateAtLaunch: false, ResourceId: 'pools-lc-spot', ResourceType: 'auto-scaling-group' })),
      }),
    );
    const before = await group('pools-lc-spot');
    const ids = before.Instances!.map((i) => i.InstanceId).sort();

    // Act 1
    sent.length = 0;
    await checkGroup('pools-lc-spot', 300, 1);
    const second = await checkGroup('pools-lc-spot', 305, 1);

    // Assess 1
    expect(second).toMatchObject({ outcome: 'steered', action: 'setSpotMaxPrice', reason: expect.stringMatching(/capped at \$0.0765\/h \(spot max price, a copy of the launch configuration\)/) });
    expect(mutations()).toEqual(['CreateLaunchConfigurationCommand', 'UpdateAutoScalingGroupCommand']);
    const capped = await group('pools-lc-spot');
    expect(capped.LaunchConfigurationName).toBe('pools-lc-spotfarm-max-0.0765');
    const lcs = (await clients.autoscaling.send(new DescribeLaunchConfigurationsCommand({ LaunchConfigurationNames: ['pools-lc', 'pools-lc-spotfarm-max-0.0765'] }))).LaunchConfigurations!;
    expect(Object.fromEntries(lcs.map((l) => [l.LaunchConfigurationName, [l.SpotPrice, l.ImageId, l.InstanceType]]))).toEqual({
      'pools-lc': ['0.085', 'ami-12c6146b', 'c5.large'],
      'pools-lc-spotfarm-max-0.0765': ['0.0765', 'ami-12c6146b', 'c5.large'],
    });
    expect(capped.Instances!.map((i) => i.InstanceId).sort()).toEqual(ids);

    // Act 2
    sent.length = 0;
    await checkGroup('pools-lc-spot', 330, 0.5);
    const calm = await checkGroup('pools-lc-spot', 340, 0.5);

    // Assess 2
    expect(calm).toMatchObject({ outcome: 'steered', reason: expect.stringMatching(/launches from launch configuration pools-lc again/) });
    expect(mutations()).toEqual(['UpdateAutoScalingGroupCommand']);
    const released = await group('pools-lc-spot');
    expect(released.LaunchConfigurationName).toBe('pools-lc');
    expect(released.AvailabilityZones).toEqual(before.AvailabilityZones);
    expect(released.Instances!.map((i) => i.InstanceId).sort()).toEqual(ids);
  });

  it('mixed instances, two types: a type bad in every AZ loses its override and gets it back; an AZ bad across types is capped by one max price', async () => {
    // Prepare: c5.large and m5.large in a and b, all spot.
    await clients.autoscaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'pools-multi',
        MinSize: 0,
        MaxSize: 8,
        DesiredCapacity: 4,
        AvailabilityZones: ['us-east-1a', 'us-east-1b'],
        MixedInstancesPolicy: {
          LaunchTemplate: {
            LaunchTemplateSpecification: { LaunchTemplateName: farm.onDemandTemplate, Version: '1' },
            Overrides: [{ InstanceType: 'c5.large', WeightedCapacity: '1' }, { InstanceType: 'm5.large', WeightedCapacity: '1' }],
          },
          InstancesDistribution: { OnDemandBaseCapacity: 0, OnDemandPercentageAboveBaseCapacity: 0, SpotAllocationStrategy: 'price-capacity-optimized' },
        },
        Tags: Object.entries({ 'spotfarm:farm': farm.farm, 'spotfarm:role': 'spot' }).map(([Key, Value]) => ({ Key, Value, PropagateAtLaunch: false, ResourceId: 'pools-multi', ResourceType: 'auto-scaling-group' })),
      }),
    );
    const before = await group('pools-multi');
    const ids = before.Instances!.map((i) => i.InstanceId).sort();
    const policy = before.MixedInstancesPolicy!;
    const c5Bad = (type: string) => (type === 'c5.large' ? 1 : 0.2);

    // Act 1: c5.large at on-demand in both AZs for two checks.
    sent.length = 0;
    await checkPools('pools-multi', 400, c5Bad);
    const dropped = await checkPools('pools-multi', 405, c5Bad);

    // Assess 1: one UpdateAutoScalingGroup; only the override list changed; instances and AZs untouched.
    expect(dropped).toMatchObject({ outcome: 'steered', action: 'setOverrides', reason: expect.stringMatching(/instance type c5.large at or above 1 x on-demand in every AZ for 2 checks: its override is dropped, m5.large still launches/) });
    expect(mutations()).toEqual(['UpdateAutoScalingGroupCommand']);
    const without = await group('pools-multi');
    expect(without.MixedInstancesPolicy!.LaunchTemplate!.Overrides).toEqual([policy.LaunchTemplate!.Overrides![1]]);
    expect(without.MixedInstancesPolicy!.InstancesDistribution).toEqual(policy.InstancesDistribution);
    expect(without.AvailabilityZones).toEqual(before.AvailabilityZones);
    expect(without.Instances!.map((i) => i.InstanceId).sort()).toEqual(ids);

    // Act 2: c5.large calm; within the dwell nothing moves; after it the second calm check restores it.
    sent.length = 0;
    const early = await checkPools('pools-multi', 420, () => 0.2);
    const back = await checkPools('pools-multi', 440, () => 0.2);

    // Assess 2: the override exactly as it was, at its place.
    expect(early).toMatchObject({ outcome: 'skipped', reason: expect.stringMatching(/c5.large dropped since .* \(calm for 1 of 2 checks\)/) });
    expect(back).toMatchObject({ outcome: 'steered', action: 'setOverrides', reason: expect.stringMatching(/c5.large at or below 0.9 x on-demand in every AZ for 2 checks after 35 min: its override is back/) });
    expect(mutations()).toEqual(['UpdateAutoScalingGroupCommand']);
    const restored = await group('pools-multi');
    expect(restored.MixedInstancesPolicy!.LaunchTemplate).toEqual(policy.LaunchTemplate);
    expect(restored.Instances!.map((i) => i.InstanceId).sort()).toEqual(ids);

    // Act 3: AZ b at on-demand for both types, a cheap: one max price separates them.
    const bBad = (_type: string, az: string) => (az === 'us-east-1b' ? 1 : 0.2);
    sent.length = 0;
    await checkPools('pools-multi', 500, bBad);
    const capped = await checkPools('pools-multi', 505, bBad);

    // Assess 3: the cap at the cheaper type's level (c5.large $0.085 x 0.9), nothing else changed.
    expect(capped).toMatchObject({ outcome: 'steered', action: 'setSpotMaxPrice', reason: expect.stringMatching(/capped at \$0.0765\/h/) });
    expect(mutations()).toEqual(['UpdateAutoScalingGroupCommand']);
    const cappedGroup = await group('pools-multi');
    expect(cappedGroup.MixedInstancesPolicy!.InstancesDistribution).toEqual({ ...policy.InstancesDistribution, SpotMaxPrice: '0.0765' });
    expect(cappedGroup.MixedInstancesPolicy!.LaunchTemplate).toEqual(policy.LaunchTemplate);
    expect(cappedGroup.Instances!.map((i) => i.InstanceId).sort()).toEqual(ids);

    // Act 4 / Assess 4: calm after the dwell: the cap is lifted.
    sent.length = 0;
    await checkPools('pools-multi', 540, () => 0.2);
    const lifted = await checkPools('pools-multi', 545, () => 0.2);
    expect(lifted).toMatchObject({ outcome: 'steered', action: 'setSpotMaxPrice', reason: expect.stringMatching(/the spot max price is removed/) });
    expect(mutations()).toEqual(['UpdateAutoScalingGroupCommand']);
    expect((await group('pools-multi')).MixedInstancesPolicy!.InstancesDistribution!.SpotMaxPrice ?? '').toBe('');
  });
});
