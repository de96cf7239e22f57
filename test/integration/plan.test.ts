/**
 * The real `plan` handler against moto server through the real SDK (endpoint from AWS_ENDPOINT_URL).
 * moto has no Pricing API, so the bundled fallback table is what prices on-demand here.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CreateAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { startMoto, type MotoServer } from '../support/moto';
import { buildDemoFarm, clientsFor, type DemoFarm } from '../../scripts/lib/demo-farm';
import type { Plan } from '../../src/plan';
import { lambdaContext } from '../support/lambda';

describe('plan against moto server', () => {
  let moto: MotoServer;
  let farm: DemoFarm;
  let handler: (event: unknown, context: ReturnType<typeof lambdaContext>) => Promise<Plan>;
  const sent: string[] = [];

  beforeAll(async () => {
    moto = await startMoto();
    farm = await buildDemoFarm({ endpoint: moto.endpoint, messages: 7, spotDesired: 2 });
    const { autoscaling } = clientsFor(moto.endpoint);
    // A second farm tagged by hand, with a bad setting on one of its groups.
    await autoscaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'other-broken',
        MinSize: 0,
        MaxSize: 2,
        DesiredCapacity: 0,
        AvailabilityZones: ['us-east-1a'],
        LaunchTemplate: { LaunchTemplateName: farm.spotTemplate, Version: '$Latest' },
        Tags: [{ Key: 'spotfarm:farm', Value: 'other' }, { Key: 'spotfarm:swapRatio', Value: 'cheap' }],
      }),
    );
    // A third farm: one mixed-instances spot group and no on-demand group, so no route to on-demand; and a wait
    // target (10 s) shorter than the workers' default idle receive delay (30 s).
    await autoscaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'solo-spot',
        MinSize: 0,
        MaxSize: 4,
        DesiredCapacity: 0,
        AvailabilityZones: ['us-east-1a'],
        MixedInstancesPolicy: {
          LaunchTemplate: { LaunchTemplateSpecification: { LaunchTemplateName: farm.onDemandTemplate, Version: '1' }, Overrides: [{ InstanceType: 'c5.large' }] },
          InstancesDistribution: { OnDemandBaseCapacity: 0, OnDemandPercentageAboveBaseCapacity: 0, SpotAllocationStrategy: 'price-capacity-optimized' },
        },
        Tags: [{ Key: 'spotfarm:farm', Value: 'solo' }, { Key: 'spotfarm:queue', Value: farm.queueName }, { Key: 'spotfarm:acceptableWait', Value: '10s' }],
      }),
    );
    await autoscaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'untagged',
        MinSize: 0,
        MaxSize: 2,
        DesiredCapacity: 1,
        AvailabilityZones: ['us-east-1a'],
        LaunchTemplate: { LaunchTemplateName: farm.spotTemplate, Version: '$Latest' },
      }),
    );
    vi.stubEnv('AWS_ENDPOINT_URL', moto.endpoint);
    vi.stubEnv('SPOTFARM_STATE_TABLE', farm.stateTable);
    handler = (await import('../../functions/plan')).handler as unknown as typeof handler;
    // Record every command name the handler's clients send, to prove plan mutates nothing.
    const { autoScalingClient } = await import('../../src/aws/autoscaling');
    const { ec2Client } = await import('../../src/aws/ec2');
    const { sqsClient } = await import('../../src/aws/sqs');
    for (const client of [autoScalingClient, ec2Client, sqsClient]) {
      (client.middlewareStack as { add: (m: unknown, o: unknown) => void }).add(
        (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
          sent.push(String(context.commandName));
          return next(args);
        },
        { step: 'initialize', name: 'recordCommands' },
      );
    }
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await moto.stop();
  });

  it('reports the tagged farm: groups, market, sizes, prices, queue depth, cost', async () => {
    // Act
    const plan = await handler({}, lambdaContext('plan'));
    // Assess
    const demo = plan.farms.find((f) => f.farm === 'demo');
    expect(demo).toBeDefined();
    expect(demo!.queue).toMatchObject({ name: farm.queueName, visible: 7, inFlight: 0 });
    const spot = demo!.groups.find((g) => g.name === farm.spotGroup)!;
    expect(spot).toMatchObject({
      role: 'spot',
      status: 'ok',
      marketStyle: 'launch-template',
      market: 'spot',
      size: { min: 0, desired: 2, max: 10, inService: 2, pending: 0 },
      instanceTypes: ['c5.large'],
      availabilityZones: ['us-east-1a', 'us-east-1b'],
    });
    // moto prices every pool at 0.00001; the on-demand price is the bundled table's (moto has no Pricing API).
    expect(spot.spotPrices['us-east-1a']?.['c5.large']).toBeCloseTo(0.00001);
    expect(spot.onDemandPrices['c5.large']).toMatchObject({ usdPerHour: 0.085, source: 'fallback-table' });
    expect(spot.spotToOnDemandRatio).toBeCloseTo(0.00001 / 0.085, 7);
    expect(spot.estimatedCostPerHour).toBeGreaterThan(0);
    const onDemand = demo!.groups.find((g) => g.name === farm.onDemandGroup)!;
    expect(onDemand).toMatchObject({ role: 'on-demand', market: 'on-demand', size: { desired: 0, inService: 0 } });
    expect(plan.notes.join(' ')).toMatch(/fallback table/);
    expect(plan.notes).toContain(
      `backtest farm demo on its last 30 days: npx spotfarm scenario from-account --farm demo --region us-east-1 --out scenario-demo && npx spotfarm backtest scenario-demo/scenario.yaml`,
    );
  });

  it('says per farm, in plain words, when a farm has no route to on-demand or a wait target its workers cannot keep, and what to do', async () => {
    // Act
    const plan = await handler({}, lambdaContext('plan'));
    // Assess: the mixed-instances farm without an on-demand group is told; the demo farm (one on-demand group) is not.
    const solo = plan.farms.find((f) => f.farm === 'solo')!;
    expect(solo.warnings).toEqual([
      expect.stringMatching(
        /^this farm has no route to on-demand: the mixed-instances group solo-spot falls back through the farm's on-demand group \(mixedFallback=on-demand-group\), and the farm has none, .*To fix: add an on-demand group \(tags spotfarm:farm=solo, spotfarm:role=on-demand\), or tag solo-spot spotfarm:mixedFallback=percentage/,
      ),
      expect.stringMatching(
        /^acceptableWait 10s is shorter than the workers' idle receive delay \(idleReceiveDelay 30s\), which busy-first receiving cannot keep.* start the workers with --idle-receive-delay 0 and tag the farm's groups spotfarm:idleReceiveDelay=0s/,
      ),
    ]);
    expect(plan.farms.find((f) => f.farm === 'demo')!.warnings).toEqual([]);
  });

  it('skips a group with a malformed setting, naming group, tag and value, and never lists untagged groups', async () => {
    const plan = await handler({}, lambdaContext('plan'));
    expect(plan.skippedGroups).toEqual([
      { groupName: 'other-broken', error: expect.stringMatching(/group other-broken: tag spotfarm:swapRatio=cheap: expected a decimal number from 0.0001 to 100/) },
    ]);
    const names = plan.farms.flatMap((f) => f.groups.map((g) => g.name));
    expect(names).not.toContain('untagged');
  });

  it('narrows to one farm on request and explains an empty result', async () => {
    const plan = await handler({ farm: 'nobody' }, lambdaContext('plan'));
    expect(plan.farms).toEqual([]);
    expect(plan.notes[0]).toMatch(/no managed group found for farm nobody/);
  });

  it('rejects a malformed payload with a clear error', async () => {
    await expect(handler({ dryRun: 'yes' }, lambdaContext('plan'))).rejects.toThrow(
      /invalid invoke payload: dryRun: expected boolean/,
    );
  });

  it('sends no mutating command', async () => {
    await handler({}, lambdaContext('plan'));
    expect(sent.length).toBeGreaterThan(0);
    const mutating = sent.filter((name) => !/^(Describe|Get|List)/.test(name));
    expect(mutating).toEqual([]);
  });
});
