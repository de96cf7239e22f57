/**
 * The real `price-check` handler against moto server through the real SDK: a full swap to on-demand and back
 * for each market style (launch configuration, launch template, mixed instances), checking the group's launch
 * source after each step and that running instances were never touched; plus races, duplicates, dry run,
 * malformed tags, and throttling / 5xx injected under the SDK's own retry.
 *
 * moto prices every spot pool at 0.00001 USD/h and has no Pricing API (the bundled table prices on-demand), so
 * a price-driven fall-back is set up with a tiny `spotfarm:swapRatio` tag; capacity-driven ones with capacity
 * failure records as the interruption function writes them. Time moves with the manual invoke's `time`.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  CreateAutoScalingGroupCommand,
  CreateLaunchConfigurationCommand,
  CreateOrUpdateTagsCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeLaunchConfigurationsCommand,
  type AutoScalingGroup,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateKeyPairCommand,
  CreateLaunchTemplateVersionCommand,
  CreateSecurityGroupCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
} from '@aws-sdk/client-ec2';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, DeleteMessageCommand } from '@aws-sdk/client-sqs';
import { startMoto, type MotoServer } from '../support/moto';
import { buildDemoFarm, clientsFor, type DemoFarm } from '../../scripts/lib/demo-farm';
import { clocked, lambdaContext } from '../support/lambda';
import type { PriceCheckSummary } from '../../src/market/run';
import type { MarketState } from '../../src/market/state';
import tick from '../fixtures/events/price-check-tick.json';


type Handler = (event: unknown, context: unknown) => Promise<PriceCheckSummary>;

/** The part of the SDK's middleware stack used here, the same for every client. */
interface MiddlewareStack {
  add(
    middleware: (next: (args: unknown) => Promise<unknown>, context: object) => (args: unknown) => Promise<unknown>,
    options: { step: string; name: string },
  ): void;
}

const T0 = Date.parse('2026-03-02T10:00:00Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

describe('price-check against moto server', () => {
  let moto: MotoServer;
  let farm: DemoFarm;
  let handler: Handler;
  let clients: ReturnType<typeof clientsFor>;
  let sns: SNSClient;
  let inboxUrl: string;
  let recordCapacityFailure: typeof import('../../src/records').recordCapacityFailure;
  let readMarketState: typeof import('../../src/market/state').readMarketState;
  const sent: string[] = [];

  const invoke = (payload: unknown) => handler(payload, lambdaContext('price-check'));
  const group = async (name: string): Promise<AutoScalingGroup> =>
    (await clients.autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }))).AutoScalingGroups![0]!;
  const instanceIds = async (name: string) => (await group(name)).Instances!.map((i) => i.InstanceId).sort();
  const outcome = (summary: PriceCheckSummary, name: string) => summary.groups.find((g) => g.asgName === name);
  const state = async (name: string): Promise<MarketState | undefined> => (await readMarketState(farm.stateTable, name)).state;
  const notifications = async (): Promise<{ Subject?: string; Message: string }[]> => {
    const out: { Subject?: string; Message: string }[] = [];
    for (;;) {
      const page = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: inboxUrl, MaxNumberOfMessages: 10 }));
      if (!page.Messages?.length) return out;
      for (const m of page.Messages) {
        out.push(JSON.parse(m.Body!) as { Subject?: string; Message: string });
        await clients.sqs.send(new DeleteMessageCommand({ QueueUrl: inboxUrl, ReceiptHandle: m.ReceiptHandle }));
      }
    }
  };
  const tags = (name: string, farmName: string, extra: Record<string, string> = {}) =>
    Object.entries({ 'spotfarm:farm': farmName, 'spotfarm:role': 'spot', ...extra }).map(([Key, Value]) => ({
      Key,
      Value,
      PropagateAtLaunch: false,
      ResourceId: name,
      ResourceType: 'auto-scaling-group',
    }));

  beforeAll(async () => {
    moto = await startMoto();
    // Launch template style, following $Latest: the demo farm's spot group.
    farm = await buildDemoFarm({ endpoint: moto.endpoint, spotDesired: 2 });
    clients = clientsFor(moto.endpoint);
    await clients.autoscaling.send(
      new CreateOrUpdateTagsCommand({ Tags: tags(farm.spotGroup, farm.farm, { 'spotfarm:swapRatio': '0.0001', 'spotfarm:hysteresis': '0' }) }),
    );

    // Launch configuration style: the recipe's own (with a key and a security group, so the twin's copy shows).
    await clients.ec2.send(new CreateKeyPairCommand({ KeyName: 'farm-key' }));
    const securityGroup = (await clients.ec2.send(new CreateSecurityGroupCommand({ GroupName: 'farm-workers', Description: 'workers' }))).GroupId!;
    await clients.autoscaling.send(
      new CreateLaunchConfigurationCommand({
        LaunchConfigurationName: 'lc-spot',
        ImageId: 'ami-12c6146b',
        InstanceType: 'c5.large',
        SpotPrice: '0.085',
        KeyName: 'farm-key',
        SecurityGroups: [securityGroup],
        UserData: Buffer.from('#!/bin/bash\necho worker\n').toString('base64'),
      }),
    );
    await clients.autoscaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'lc-spot',
        MinSize: 0,
        MaxSize: 5,
        DesiredCapacity: 2,
        AvailabilityZones: ['us-east-1a', 'us-east-1b'],
        LaunchConfigurationName: 'lc-spot',
        Tags: tags('lc-spot', 'lc'),
      }),
    );

    // Mixed instances style: 0% on-demand above a base of 1, two instance types.
    await clients.autoscaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'mixed-spot',
        MinSize: 0,
        MaxSize: 6,
        DesiredCapacity: 3,
        AvailabilityZones: ['us-east-1a', 'us-east-1b'],
        MixedInstancesPolicy: {
          LaunchTemplate: {
            LaunchTemplateSpecification: { LaunchTemplateName: farm.onDemandTemplate, Version: '1' },
            Overrides: [{ InstanceType: 'c5.large' }, { InstanceType: 'm5.large' }],
          },
          InstancesDistribution: {
            OnDemandBaseCapacity: 1,
            OnDemandPercentageAboveBaseCapacity: 0,
            SpotAllocationStrategy: 'price-capacity-optimized',
          },
        },
        Tags: tags('mixed-spot', 'mixed'),
      }),
    );

    // A group with a malformed setting: skipped with a clear error, the others still checked.
    await clients.autoscaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'broken-spot',
        MinSize: 0,
        MaxSize: 2,
        DesiredCapacity: 0,
        AvailabilityZones: ['us-east-1a'],
        LaunchTemplate: { LaunchTemplateName: farm.spotTemplate, Version: '1' },
        Tags: tags('broken-spot', 'broken', { 'spotfarm:confirmChecks': 'twice' }),
      }),
    );

    // SNS topic with an SQS subscriber, to read what was published.
    sns = new SNSClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const topic = await sns.send(new CreateTopicCommand({ Name: 'spotfarm-alerts' }));
    inboxUrl = (await clients.sqs.send(new CreateQueueCommand({ QueueName: 'alerts-inbox' }))).QueueUrl!;
    const inboxArn = (await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: inboxUrl, AttributeNames: ['QueueArn'] })))
      .Attributes!.QueueArn!;
    await sns.send(new SubscribeCommand({ TopicArn: topic.TopicArn, Protocol: 'sqs', Endpoint: inboxArn }));

    vi.stubEnv('AWS_ENDPOINT_URL', moto.endpoint);
    vi.stubEnv('SPOTFARM_STATE_TABLE', farm.stateTable);
    vi.stubEnv('SPOTFARM_TOPIC_ARN', topic.TopicArn!);
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
    const { resetConfigCache } = await import('../../src/config');
    resetConfigCache();
    ({ handler } = (await import('../../functions/price-check')) as unknown as { handler: Handler });
    handler = clocked(handler, await import('../../src/clock'));
    ({ recordCapacityFailure } = await import('../../src/records'));
    ({ readMarketState } = await import('../../src/market/state'));
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
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await moto?.stop();
  });

  it('a dry run decides and mutates nothing', async () => {
    // Prepare
    sent.length = 0;
    // Act
    const summary = await invoke({ dryRun: true, time: at(0) });
    // Assess
    expect(summary.dryRun).toBe(true);
    expect(sent.filter((name) => !/^(Describe|Get|List)/.test(name))).toEqual([]);
    expect(await state(farm.spotGroup)).toBeUndefined();
  });

  it('skips the group with malformed tags, naming it, and checks the others', async () => {
    // Act
    const summary = await invoke({ time: at(0) });
    // Assess
    expect(summary.skippedGroups).toEqual([
      { groupName: 'broken-spot', error: expect.stringMatching(/group broken-spot: tag spotfarm:confirmChecks=twice: expected a whole number/) },
    ]);
    expect(outcome(summary, farm.spotGroup)).toMatchObject({ action: 'skip', reason: expect.stringMatching(/for 1 of 2 checks/) });
    expect(outcome(summary, 'lc-spot')).toMatchObject({ action: 'skip', reason: expect.stringMatching(/below swapRatio 1/) });
    expect(outcome(summary, farm.onDemandGroup)).toMatchObject({ reason: expect.stringMatching(/on-demand fallback group/) });
  });

  it('launch template ($Latest): falls back on price after confirmChecks checks, then returns, instances untouched', async () => {
    // Prepare
    const before = await instanceIds(farm.spotGroup);
    expect(before).toHaveLength(2);
    // Act: the second check with spot >= on-demand x 0.0001 (the first was the test above)
    const fellBack = await invoke({ time: at(5) });
    // Assess: the on-demand copy is a version of spotfarm's own template, tagged for the farm; the group points
    // at it; the owner's template got no version, so its $Latest (other groups follow it) did not move.
    const pinned = (await group(farm.spotGroup)).LaunchTemplate!;
    expect(pinned.Version).toMatch(/^\d+$/);
    const ownerVersions = await clients.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateName: farm.spotTemplate }));
    expect(ownerVersions.LaunchTemplateVersions!.map((v) => v.VersionNumber)).toEqual([1]);
    const [owner] = (await clients.ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: [farm.spotTemplate] }))).LaunchTemplates!;
    expect(pinned.LaunchTemplateId).not.toBe(owner!.LaunchTemplateId);
    const [copyTemplate] = (await clients.ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: [pinned.LaunchTemplateId!] }))).LaunchTemplates!;
    expect(copyTemplate!.LaunchTemplateName).toBe(`spotfarm-on-demand-${owner!.LaunchTemplateId}`);
    expect(copyTemplate!.Tags).toEqual(expect.arrayContaining([{ Key: 'spotfarm:farm', Value: farm.farm }]));
    const onDemandVersion = (
      await clients.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: pinned.LaunchTemplateId, Versions: [pinned.Version!] }))
    ).LaunchTemplateVersions![0]!;
    expect(onDemandVersion.LaunchTemplateData?.InstanceMarketOptions).toBeUndefined();
    expect(onDemandVersion.LaunchTemplateData?.InstanceType).toBe('c5.large');
    expect(await instanceIds(farm.spotGroup)).toEqual(before);
    expect(await state(farm.spotGroup)).toMatchObject({
      market: 'on-demand',
      lastFallbackTrigger: 'price',
      originals: { style: 'launch-template', version: '$Latest', resolvedVersion: 1 },
    });
    expect(await state(farm.spotGroup)).not.toHaveProperty('pending');
    const messages = await notifications();
    expect(messages.map((m) => m.Subject)).toContain(`spotfarm: ${farm.spotGroup} now launches on-demand`);

    // Meanwhile the owner publishes a new version (a new image): the return must not roll it back.
    const published = await clients.ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateName: farm.spotTemplate,
        // The whole data: moto ignores SourceVersion.
        LaunchTemplateData: { ImageId: 'ami-0fedcba9876543210', InstanceType: 'c5.large', InstanceMarketOptions: { MarketType: 'spot' } },
      }),
    );
    // Act: spot cheap again (swapRatio back to 1); inside the dwell nothing happens, after it two checks return
    await clients.autoscaling.send(new CreateOrUpdateTagsCommand({ Tags: tags(farm.spotGroup, farm.farm, { 'spotfarm:swapRatio': '1' }) }));
    const inDwell = await invoke({ time: at(20) });
    expect(outcome(inDwell, farm.spotGroup)?.reason).toMatch(/staying on on-demand: \d+ min of the 30 min dwell left/);
    expect(outcome(await invoke({ time: at(36) }), farm.spotGroup)?.reason).toMatch(/cheap enough for 2 of 2|for 2 checks/);
    // (the check inside the dwell counted as the first cheap check, so this second one returns)
    const returned = await group(farm.spotGroup);
    // Assess: the group follows the owner's $Latest again, which is what the owner published; no copy was made
    expect(returned.LaunchTemplate).toMatchObject({ LaunchTemplateId: owner!.LaunchTemplateId, Version: '$Latest' });
    const latest = (
      await clients.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateName: farm.spotTemplate, Versions: ['$Latest'] }))
    ).LaunchTemplateVersions![0]!;
    expect(latest.VersionNumber).toBe(published.LaunchTemplateVersion!.VersionNumber);
    expect(latest.LaunchTemplateData?.ImageId).toBe('ami-0fedcba9876543210');
    expect(latest.LaunchTemplateData?.InstanceMarketOptions?.MarketType).toBe('spot');
    expect(await instanceIds(farm.spotGroup)).toEqual(before);
    expect(await state(farm.spotGroup)).toMatchObject({ market: 'spot' });
    expect((await notifications()).map((m) => m.Subject)).toContain(`spotfarm: ${farm.spotGroup} now launches spot`);
  });

  // Capacity failures alone no longer swap a group that moto keeps at its desired capacity (moto launches every
  // instance at once, so a group is never short): these style tests fall back on price, with confirmChecks=1.
  const priceTags = (name: string, farmName: string, swapRatio: string) =>
    clients.autoscaling.send(
      new CreateOrUpdateTagsCommand({
        Tags: tags(name, farmName, { 'spotfarm:swapRatio': swapRatio, 'spotfarm:hysteresis': '0', 'spotfarm:confirmChecks': '1' }),
      }),
    );

  it('launch configuration: falls back to an on-demand twin, then returns', async () => {
    // Prepare
    const before = await instanceIds('lc-spot');
    await priceTags('lc-spot', 'lc', '0.0001');
    // Act
    const fellBack = await invoke({ time: at(40) });
    // Assess: the twin has the spot configuration's settings without SpotPrice
    expect(outcome(fellBack, 'lc-spot')).toMatchObject({ outcome: 'swapped', action: 'swapToOnDemand', reason: expect.stringMatching(/spot costs .* at or above swapRatio 0.0001/) });
    expect((await group('lc-spot')).LaunchConfigurationName).toBe('lc-spot-on-demand');
    const twin = (await clients.autoscaling.send(new DescribeLaunchConfigurationsCommand({ LaunchConfigurationNames: ['lc-spot-on-demand'] })))
      .LaunchConfigurations![0]!;
    expect(twin).toMatchObject({ ImageId: 'ami-12c6146b', InstanceType: 'c5.large', KeyName: 'farm-key' });
    expect(twin.SecurityGroups).toHaveLength(1);
    expect(twin.SpotPrice).toBeUndefined();
    expect(Buffer.from(twin.UserData!, 'base64').toString()).toContain('echo worker');
    expect(await instanceIds('lc-spot')).toEqual(before);

    // Act: spot cheap again, the dwell passes, one cheap check (confirmChecks=1)
    await priceTags('lc-spot', 'lc', '1');
    const back = await invoke({ time: at(75) });
    // Assess
    expect(outcome(back, 'lc-spot')).toMatchObject({ outcome: 'swapped', action: 'swapToSpot' });
    expect((await group('lc-spot')).LaunchConfigurationName).toBe('lc-spot');
    expect(await instanceIds('lc-spot')).toEqual(before);
  });

  it('mixed instances, by default, and the farm has no on-demand group: no fall-back, and the decision says why and what to do', async () => {
    // Prepare: the mixed farm has no on-demand group (yet); spot dear by the group's swapRatio.
    const policy = (await group('mixed-spot')).MixedInstancesPolicy!;
    await clients.autoscaling.send(
      new CreateOrUpdateTagsCommand({
        Tags: tags('mixed-spot', 'mixed', { 'spotfarm:swapRatio': '0.0001', 'spotfarm:hysteresis': '0', 'spotfarm:confirmChecks': '1', 'spotfarm:minDwell': '1m' }),
      }),
    );
    // Act
    const held = await invoke({ time: at(75.5) });
    // Assess
    expect(outcome(held, 'mixed-spot')).toMatchObject({
      action: 'skip',
      reason: expect.stringMatching(
        /^staying on spot: the price rule would fall back to on-demand .*this farm has no route to on-demand: the mixed-instances group mixed-spot falls back through the farm's on-demand group \(mixedFallback=on-demand-group\), and the farm has none, .*add an on-demand group \(tags spotfarm:farm=mixed, spotfarm:role=on-demand\), or tag mixed-spot spotfarm:mixedFallback=percentage/,
      ),
    });
    expect((await group('mixed-spot')).MixedInstancesPolicy).toEqual(policy);
    expect(await state('mixed-spot')).toMatchObject({ market: 'spot' });
    expect((await notifications()).filter((m) => /mixed-spot/.test(m.Subject ?? ''))).toEqual([]);
  });

  it('mixed instances, by default: the fall-back leaves the group alone and records it for the on-demand group', async () => {
    // Prepare: the farm gets its on-demand group, the route a fall-back goes through.
    await clients.autoscaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'mixed-on-demand',
        MinSize: 0,
        MaxSize: 2,
        DesiredCapacity: 0,
        AvailabilityZones: ['us-east-1a'],
        LaunchTemplate: { LaunchTemplateName: farm.onDemandTemplate, Version: '1' },
        Tags: tags('mixed-on-demand', 'mixed', { 'spotfarm:role': 'on-demand' }),
      }),
    );
    const policy = (await group('mixed-spot')).MixedInstancesPolicy!;
    const mixedTags = (swapRatio: string) =>
      clients.autoscaling.send(
        new CreateOrUpdateTagsCommand({
          Tags: tags('mixed-spot', 'mixed', { 'spotfarm:swapRatio': swapRatio, 'spotfarm:hysteresis': '0', 'spotfarm:confirmChecks': '1', 'spotfarm:minDwell': '1m' }),
        }),
      );
    await mixedTags('0.0001');
    // Act
    const fellBack = await invoke({ time: at(76) });
    // Assess: no percentage change (it would replace the running fleet), the state says on-demand via the group
    expect(outcome(fellBack, 'mixed-spot'), JSON.stringify(outcome(fellBack, 'mixed-spot'))).toMatchObject({ outcome: 'swapped', action: 'swapToOnDemand' });
    expect((await group('mixed-spot')).MixedInstancesPolicy).toEqual(policy);
    expect(await state('mixed-spot')).toMatchObject({ market: 'on-demand', originals: { style: 'mixed-instances', fallback: 'on-demand-group' } });
    // Back to spot: nothing to undo on the group either.
    await mixedTags('1');
    const back = await invoke({ time: at(78) });
    expect(outcome(back, 'mixed-spot'), JSON.stringify(outcome(back, 'mixed-spot'))).toMatchObject({ outcome: 'swapped', action: 'swapToSpot' });
    expect((await group('mixed-spot')).MixedInstancesPolicy).toEqual(policy);
  });

  it('mixed instances with mixedFallback=percentage (opt-in): on-demand percentage to 100 and back to the user value, base capacity untouched', async () => {
    // Prepare
    const before = await instanceIds('mixed-spot');
    await clients.autoscaling.send(
      new CreateOrUpdateTagsCommand({
        Tags: tags('mixed-spot', 'mixed', {
          'spotfarm:swapRatio': '0.0001',
          'spotfarm:hysteresis': '0',
          'spotfarm:confirmChecks': '1',
          'spotfarm:mixedFallback': 'percentage',
          // The return within this test: no dwell to wait out after the first test's round trip.
          'spotfarm:minDwell': '1m',
        }),
      }),
    );
    // Act
    await invoke({ time: at(85) });
    // Assess
    const onDemand = (await group('mixed-spot')).MixedInstancesPolicy!;
    expect(onDemand.InstancesDistribution).toMatchObject({ OnDemandBaseCapacity: 1, OnDemandPercentageAboveBaseCapacity: 100, SpotAllocationStrategy: 'price-capacity-optimized' });
    expect(onDemand.LaunchTemplate!.Overrides!.map((o) => o.InstanceType)).toEqual(['c5.large', 'm5.large']);
    expect(await instanceIds('mixed-spot')).toEqual(before);

    // Act
    await clients.autoscaling.send(
      new CreateOrUpdateTagsCommand({
        Tags: tags('mixed-spot', 'mixed', {
          'spotfarm:swapRatio': '1',
          'spotfarm:hysteresis': '0',
          'spotfarm:confirmChecks': '1',
          'spotfarm:mixedFallback': 'percentage',
          'spotfarm:minDwell': '1m',
        }),
      }),
    );
    await invoke({ time: at(120) });
    await invoke({ time: at(125) });
    // Assess
    const spot = (await group('mixed-spot')).MixedInstancesPolicy!;
    expect(spot.InstancesDistribution).toMatchObject({ OnDemandBaseCapacity: 1, OnDemandPercentageAboveBaseCapacity: 0 });
    expect(await instanceIds('mixed-spot')).toEqual(before);
    expect(await state('mixed-spot')).toMatchObject({ market: 'spot', originals: { onDemandPercentageAboveBaseCapacity: 0 } });
  });

  it('a duplicated scheduled event takes no second action; two racing checks make exactly one swap', async () => {
    // Prepare: spot dear again, so the next check falls back (confirmChecks=1)
    await priceTags('lc-spot', 'lc', '0.0001');
    const event = (id: string) => ({ ...structuredClone(tick), id, time: at(130) });
    // Act: two different events for the same tick race; then the first is delivered again
    const raced = await Promise.all([invoke(event('race-1')), invoke(event('race-2'))]);
    const duplicate = await invoke(event('race-1'));
    // Assess
    const swaps = raced.map((s) => outcome(s, 'lc-spot')).filter((o) => o?.outcome === 'swapped');
    expect(swaps).toHaveLength(1);
    const loser = raced.map((s) => outcome(s, 'lc-spot')).find((o) => o?.outcome !== 'swapped');
    expect(loser?.reason).toMatch(/in progress|already checked/);
    expect(outcome(duplicate, 'lc-spot')).toMatchObject({ action: 'skip', reason: expect.stringMatching(/duplicate or late check/) });
    expect((await group('lc-spot')).LaunchConfigurationName).toBe('lc-spot-on-demand');
  });

  it('plan shows the market section: the next decision, the state, the last swaps, and mutates nothing', async () => {
    // Prepare
    const { handler: plan } = (await import('../../functions/plan')) as unknown as { handler: (e: unknown, c: unknown) => Promise<import('../../src/plan').Plan> };
    sent.length = 0;
    // Act
    const report = await plan({ time: at(135) }, lambdaContext('plan'));
    // Assess
    const lc = report.farms.flatMap((f) => f.groups).find((g) => g.name === 'lc-spot')!;
    expect(lc.marketController).toMatchObject({
      next: { action: 'skip', reason: expect.stringMatching(/staying on on-demand: \d+ min of the 30 min dwell left/) },
      state: { market: 'on-demand', lastFallbackTrigger: 'price' },
      dwellSeconds: 1800,
      lastSwaps: [
        { action: 'swapToOnDemand', source: 'price-check' },
        { action: 'swapToSpot', source: 'price-check' },
        { action: 'swapToOnDemand', source: 'price-check' },
      ],
    });
    const onDemand = report.farms.flatMap((f) => f.groups).find((g) => g.name === farm.onDemandGroup)!;
    expect(onDemand.marketController).toBeUndefined();
    expect(sent.filter((name) => !/^(Describe|Get|List)/.test(name))).toEqual([]);
  });
});
