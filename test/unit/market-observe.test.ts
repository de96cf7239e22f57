/**
 * The market controller's view of capacity failures (issue 14, items 6 and 9): each managed group's own
 * scaling activities, on-demand failures not counted as spot ones, a fallen-back group's failures neither.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { AutoScalingClient, DescribeScalingActivitiesCommand, type Activity } from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient, GetItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { DescribeInstancesCommand, DescribeSpotPriceHistoryCommand, EC2Client } from '@aws-sdk/client-ec2';
import type { Config } from '../../src/config';
import { gatherMarket } from '../../src/market/observe';
import type { GroupObservation, Observation } from '../../src/observe';
import { DEFAULT_SETTINGS } from '../../src/settings';

const autoscaling = mockClient(AutoScalingClient);
const dynamo = mockClient(DynamoDBClient);

const now = new Date('2026-03-02T10:00:00Z');
const config = (stateTable: string): Readonly<Config> => ({
  farm: '*',
  stack: '',
  dryRun: false,
  region: 'us-east-1',
  stateTable,
  topicArn: '',
  logLevel: 'SILENT',
  priceCheckRate: 'rate(5 minutes)',
  queueScalerRate: 'rate(1 minute)',
  defaults: DEFAULT_SETTINGS,
  recordTtlDays: 14,
});

function group(name: string, role: 'spot' | 'on-demand'): GroupObservation {
  return {
    group: {
      name,
      arn: undefined,
      min: 0,
      max: 10,
      desired: 2,
      availabilityZones: ['us-east-1a'],
      instances: [],
      tags: {},
      launch: { style: 'none' },
      capacityRebalance: false,
      terminationPolicies: [],
      createdTime: undefined,
    },
    farm: 'ml',
    role,
    queue: undefined,
    settings: { ...DEFAULT_SETTINGS },
    launch: undefined,
    market: role,
    instanceTypes: ['c5.large'],
    spotPrices: [],
    onDemandPrices: {},
    instanceMarkets: {},
    problems: [],
  } as unknown as GroupObservation;
}

const observation = (...groups: GroupObservation[]): Observation => ({
  at: now,
  region: 'us-east-1',
  farms: [{ farm: 'ml', queueName: undefined, queue: undefined, queueError: undefined, groups }],
  skipped: [],
});

const minutesAgo = (m: number) => new Date(now.getTime() - m * 60_000);
const failed = (id: string, at: Date, message: string): Activity =>
  ({
    ActivityId: id,
    AutoScalingGroupName: 'ml-spot',
    StartTime: at,
    StatusCode: 'Failed',
    StatusMessage: message,
    Description: `Launching a new EC2 instance.  Status Reason: ${message}`,
    Cause: 'c',
    Progress: 100,
  }) as Activity;

const SPOT_ICE = 'Could not launch Spot Instances. InsufficientInstanceCapacity - There is no Spot capacity available that matches your request. Launching EC2 instance failed.';
const OD_ICE =
  'Could not launch On-Demand Instances. InsufficientInstanceCapacity - We currently do not have sufficient c5.large capacity in the Availability Zone you requested (us-east-1a). Launching EC2 instance failed.';
const PLAIN_ICE = 'We currently do not have sufficient c5.large capacity in the Availability Zone you requested (us-east-1a). Launching EC2 instance failed.';

beforeEach(() => {
  autoscaling.reset();
  dynamo.reset();
  dynamo.on(QueryCommand).resolves({ Items: [] });
  dynamo.on(GetItemCommand).resolves({});
});

describe('gatherMarket: capacity failures', () => {
  it('reads the scaling activities of each managed spot group by name, never the whole account', async () => {
    // Prepare
    autoscaling.on(DescribeScalingActivitiesCommand).resolves({ Activities: [] });
    // Act
    await gatherMarket(observation(group('ml-spot', 'spot'), group('other-spot', 'spot'), group('ml-on-demand', 'on-demand')), config(''), now);
    // Assess
    const names = autoscaling.commandCalls(DescribeScalingActivitiesCommand).map((c) => c.args[0].input.AutoScalingGroupName);
    expect(names.sort()).toEqual(['ml-spot', 'other-spot']);
  });

  it('counts a spot capacity failure, not an on-demand one of a mixed-instances group', async () => {
    // Prepare
    autoscaling.on(DescribeScalingActivitiesCommand).resolves({
      Activities: [failed('a-od', minutesAgo(2), OD_ICE), failed('a-spot', minutesAgo(3), SPOT_ICE)],
    });
    // Act
    const [view] = await gatherMarket(observation(group('ml-spot', 'spot')), config(''), now);
    // Assess
    expect(view!.input.signals.capacityFailures).toBe(1);
    expect(view!.capacityFailureMessages).toEqual([SPOT_ICE]);
  });

  it('stores AWS\'s reason once (Description repeats StatusMessage)', async () => {
    autoscaling.on(DescribeScalingActivitiesCommand).resolves({ Activities: [failed('a-1', minutesAgo(2), PLAIN_ICE)] });
    const [view] = await gatherMarket(observation(group('ml-spot', 'spot')), config(''), now);
    expect(view!.capacityFailureMessages).toEqual([PLAIN_ICE]);
  });

  it('does not count failures since the group fell back: it launches on-demand, so they are on-demand failures', async () => {
    // Prepare: on on-demand since 5 minutes ago; one failure before, two after.
    const since = minutesAgo(5).toISOString();
    dynamo.on(GetItemCommand).resolves({
      Item: marshall({
        pk: 'group#ml-spot',
        sk: 'state',
        version: 3,
        data: JSON.stringify({ market: { market: 'on-demand', since, highStreak: 0, lowStreak: 0, backoff: 0 } }),
      }),
    });
    autoscaling.on(DescribeScalingActivitiesCommand).resolves({
      Activities: [failed('after-1', minutesAgo(1), PLAIN_ICE), failed('after-2', minutesAgo(2), PLAIN_ICE), failed('before', minutesAgo(8), PLAIN_ICE)],
    });
    // Act
    const [view] = await gatherMarket(observation(group('ml-spot', 'spot')), config('spotfarm-test-state'), now);
    // Assess
    expect(view!.input.signals.capacityFailures).toBe(1);
  });
});

describe("gatherMarket: the breaker's instance-hours, from the instances' launch times", () => {
  const ec2 = mockClient(EC2Client);
  beforeEach(() => {
    ec2.reset();
    autoscaling.on(DescribeScalingActivitiesCommand).resolves({ Activities: [] });
    ec2.on(DescribeSpotPriceHistoryCommand).resolves({ SpotPriceHistory: [] });
  });

  const spotGroup = (instances: { id: string }[]) => {
    const g = group('ml-spot', 'spot');
    g.group.instances = instances.map((i) => ({ id: i.id, type: 'c5.large', availabilityZone: 'us-east-1a', lifecycleState: 'InService', healthStatus: 'Healthy', protectedFromScaleIn: false }));
    g.onDemandPrices = { 'c5.large': { usdPerHour: 0.085 } as never };
    return g;
  };
  const warnings = (ids: { id: string; minutesAgo: number }[]) =>
    dynamo.on(QueryCommand, { ExpressionAttributeValues: { ':pk': { S: 'pool#c5.large|us-east-1a' } } } as never).resolves({
      Items: ids.map(({ id, minutesAgo: m }) => marshall({ pk: 'pool#c5.large|us-east-1a', sk: `interruption#${minutesAgo(m).toISOString()}#${id}`, at: minutesAgo(m).toISOString(), data: JSON.stringify({ instanceId: id }) })),
    });

  it('nine new instances, three interrupted minutes after launch: 1.35 instance-hours, too few to trust a rate (the approximation said 6 and tripped)', async () => {
    // Prepare: all nine launched 10 minutes ago; three warned 5 minutes ago; six still run.
    warnings([{ id: 'i-1', minutesAgo: 5 }, { id: 'i-2', minutesAgo: 5 }, { id: 'i-3', minutesAgo: 5 }]);
    const ids = ['i-1', 'i-2', 'i-3', 'i-4', 'i-5', 'i-6', 'i-7', 'i-8', 'i-9'];
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: ids.map((id) => ({ InstanceId: id, LaunchTime: minutesAgo(10) })) }] });

    // Act
    const [view] = await gatherMarket(observation(spotGroup(ids.slice(3).map((id) => ({ id })))), config('state'), now);

    // Assess: six ran 10 minutes, three ran 7 (to two minutes after the warning): 81 minutes.
    const pool = view!.input.signals.pools![0]!;
    expect(pool.interruptions).toBe(3);
    expect(pool.instanceHours).toBeCloseTo(81 / 60, 6);
    // By id, the detached (warned) ones included: they left the group, so its tag would not find them.
    expect(ec2).toHaveReceivedCommandTimes(DescribeInstancesCommand, 1);
    const asked = ec2.commandCalls(DescribeInstancesCommand)[0]!.args[0].input.Filters!;
    expect(asked).toHaveLength(1);
    expect(asked[0]!.Name).toBe('instance-id');
    expect([...asked[0]!.Values!].sort()).toEqual([...ids].sort());
    const { assessPools } = await import('../../src/market/pools');
    expect(assessPools([pool], DEFAULT_SETTINGS)[0]!.breaker.why).toMatch(/^3 interruptions in 1.35 instance-hours: too few instance-hours to trust a rate/);
    expect(assessPools([{ ...pool, instanceHours: undefined }], DEFAULT_SETTINGS)[0]!.breaker).toMatchObject({ instanceHours: 6, tripped: true });
  });

  it('a launch time after the check\'s clock (the clocks differ) is an instance launched just now: no exposure, never a whole window', async () => {
    // Prepare: i-4 stamped a minute after the check's clock; i-1..3 no longer listed by EC2.
    warnings([{ id: 'i-1', minutesAgo: 5 }, { id: 'i-2', minutesAgo: 5 }, { id: 'i-3', minutesAgo: 5 }]);
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [{ InstanceId: 'i-4', LaunchTime: new Date(now.getTime() + 60_000) }] }] });

    // Act
    const [view] = await gatherMarket(observation(spotGroup([{ id: 'i-4' }])), config('state'), now);

    // Assess: i-4 adds nothing; i-1..3 count from the window start to two minutes after their warning, 57 minutes each.
    expect(view!.input.signals.pools![0]!.instanceHours).toBeCloseTo((3 * 57) / 60, 6);
  });

  it('fewer interruptions than could trip: no launch-time read, the pool keeps the approximation', async () => {
    warnings([{ id: 'i-1', minutesAgo: 5 }]);
    const [view] = await gatherMarket(observation(spotGroup([{ id: 'i-4' }])), config('state'), now);
    expect(view!.input.signals.pools![0]!.instanceHours).toBeUndefined();
    expect(ec2).not.toHaveReceivedCommand(DescribeInstancesCommand);
  });
});
