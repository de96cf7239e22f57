/**
 * Issue 14 regressions through the Lambda handlers themselves (functions/*.ts), with a mocked SDK and nothing
 * else of spotfarm's imported: the handlers are the interface that existed before the fixes, so these tests run
 * against that code as well and show the behaviour it had (each test names its item).
 *
 * The clock is the process's (Date faked by vitest): the handlers decide at the wall clock.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DescribeLifecycleHooksCommand,
  DescribeScalingActivitiesCommand,
  DetachInstancesCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  UpdateAutoScalingGroupCommand,
  type AutoScalingGroup,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  DescribeLaunchTemplatesCommand,
  CreateTagsCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplateVersionsCommand,
  DescribeSpotPriceHistoryCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetProductsCommand, PricingClient } from '@aws-sdk/client-pricing';
import { SNSClient, PublishCommand } from '@aws-sdk/client-sns';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';

const FIXTURES = join(__dirname, '../fixtures/events');
const fixture = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8'));
const context = (name: string) => ({
  functionName: `spotfarm-test-${name}`,
  awsRequestId: 'req-1',
  invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:spotfarm-test-${name}`,
  getRemainingTimeInMillis: () => 60_000,
  callbackWaitsForEmptyEventLoop: true,
});

const asMock = mockClient(AutoScalingClient);
const ec2Mock = mockClient(EC2Client);
const ddbMock = mockClient(DynamoDBClient);
const snsMock = mockClient(SNSClient);
const eventsMock = mockClient(EventBridgeClient);
const pricingMock = mockClient(PricingClient);
const mocks = [asMock, ec2Mock, ddbMock, snsMock, eventsMock, pricingMock];

type Handler = (event: unknown, context: unknown) => Promise<unknown>;
let interruption: Handler;
let priceCheck: Handler;

const instance = (id: string, az: string) => ({ InstanceId: id, InstanceType: 'c5.large', AvailabilityZone: az, LifecycleState: 'InService' as const, HealthStatus: 'Healthy', ProtectedFromScaleIn: false });
const spotGroup = (over: Partial<AutoScalingGroup> = {}): AutoScalingGroup => ({
  AutoScalingGroupName: 'ml-spot',
  AutoScalingGroupARN: 'arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:0c6a2e84-8d43-4ab0-bd18-f5e3f1b8a2a1:autoScalingGroupName/ml-spot',
  MinSize: 0,
  MaxSize: 10,
  DesiredCapacity: 2,
  AvailabilityZones: ['us-east-1a', 'us-east-1b'],
  DefaultCooldown: 300,
  HealthCheckType: 'EC2',
  CreatedTime: new Date('2025-01-01T00:00:00Z'),
  LaunchTemplate: { LaunchTemplateId: 'lt-0abc', LaunchTemplateName: 'ml-spot', Version: '$Latest' },
  Instances: [instance('i-1234567890abcdef0', 'us-east-1a'), instance('i-0fedcba0987654321', 'us-east-1b')],
  Tags: [
    { Key: 'spotfarm:farm', Value: 'ml' },
    { Key: 'spotfarm:role', Value: 'spot' },
  ],
  ...over,
});

beforeAll(async () => {
  vi.stubEnv('AWS_REGION', 'us-east-1');
  vi.stubEnv('SPOTFARM_STATE_TABLE', 'spotfarm-test-state');
  vi.stubEnv('SPOTFARM_TOPIC_ARN', 'arn:aws:sns:us-east-1:123456789012:spotfarm-alerts');
  vi.stubEnv('SPOTFARM_LOG_LEVEL', 'SILENT');
  ({ handler: interruption } = (await import('../../functions/interruption')) as unknown as { handler: Handler });
  ({ handler: priceCheck } = (await import('../../functions/price-check')) as unknown as { handler: Handler });
});

afterAll(() => {
  vi.unstubAllEnvs();
  for (const m of mocks) m.restore();
});

/** The fixtures' warning is dated 09:26:40. */
const WARNED_AT = Date.parse('2025-03-14T09:26:40Z');

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(WARNED_AT + 5_000);
  for (const m of mocks) m.reset();
  asMock.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [spotGroup()] });
  asMock.on(DescribeAutoScalingInstancesCommand).resolves({
    AutoScalingInstances: [
      { InstanceId: 'i-1234567890abcdef0', AutoScalingGroupName: 'ml-spot', AvailabilityZone: 'us-east-1a', LifecycleState: 'InService', HealthStatus: 'Healthy', ProtectedFromScaleIn: false, InstanceType: 'c5.large' },
    ],
  });
  asMock.on(DetachInstancesCommand).resolves({ Activities: [] });
  asMock.on(DescribeScalingActivitiesCommand).resolves({ Activities: [] });
  ec2Mock.on(CreateTagsCommand).resolves({});
  ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
  ddbMock.on(QueryCommand).resolves({ Items: [] });
  ddbMock.on(GetItemCommand).resolves({});
  ddbMock.on(PutItemCommand).resolves({});
  snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
  eventsMock.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
});

afterEach(() => {
  vi.useRealTimers();
});

/** Sort keys of the records the handler wrote. */
const written = () => ddbMock.commandCalls(PutItemCommand).map((c) => String((unmarshall(c.args[0].input.Item!) as { sk: string }).sk));

describe('interruption handler', () => {
  it('item 5: a detach refused with "not in InService or Standby" (a Pending or Detaching instance) is a skip, not a failed invocation', async () => {
    asMock.on(DetachInstancesCommand).rejects(
      Object.assign(new Error('The instance i-1234567890abcdef0 is not in InService or Standby.'), { name: 'ValidationError', $fault: 'client', $metadata: { httpStatusCode: 400 } }),
    );
    await expect(interruption(fixture('spot-interruption-warning'), context('interruption'))).resolves.toBeDefined();
    expect(asMock).toHaveReceivedCommandTimes(DetachInstancesCommand, 1);
  });

  it('item 7: a warning retried after its deadline on the wall clock (3 min after it was sent) detaches nothing', async () => {
    vi.setSystemTime(WARNED_AT + 180_000);
    await interruption(fixture('spot-interruption-warning'), context('interruption'));
    expect(asMock).not.toHaveReceivedCommand(DetachInstancesCommand);
  });

  it('item 7 (control): the same warning 5 s after it was sent is detached', async () => {
    await interruption(fixture('spot-interruption-warning'), context('interruption'));
    expect(asMock).toHaveReceivedCommandTimes(DetachInstancesCommand, 1);
  });

  it('item 11: a group with a termination lifecycle hook gets the warned instance terminated through it (the hook runs), not detached (which bypasses it)', async () => {
    asMock.on(DescribeLifecycleHooksCommand).resolves({
      LifecycleHooks: [{ LifecycleHookName: 'drain-worker', AutoScalingGroupName: 'ml-spot', LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING', HeartbeatTimeout: 90, DefaultResult: 'CONTINUE' }],
    });
    asMock.on(TerminateInstanceInAutoScalingGroupCommand).resolves({ Activity: { ActivityId: 'a-1', AutoScalingGroupName: 'ml-spot', Cause: 'c', StartTime: new Date(), StatusCode: 'InProgress' } });
    await interruption(fixture('spot-interruption-warning'), context('interruption'));
    expect(asMock).toHaveReceivedCommandWith(TerminateInstanceInAutoScalingGroupCommand, { InstanceId: 'i-1234567890abcdef0', ShouldDecrementDesiredCapacity: false });
    expect(asMock).not.toHaveReceivedCommand(DetachInstancesCommand);
  });

  it('item 6: an on-demand capacity failure of a mixed-instances group is not recorded as a spot capacity failure', async () => {
    vi.setSystemTime(Date.parse('2025-03-14T09:31:10Z'));
    const event = fixture('launch-unsuccessful') as { detail: Record<string, unknown> };
    const message =
      'Could not launch On-Demand Instances. InsufficientInstanceCapacity - We currently do not have sufficient c5.large capacity in the Availability Zone you requested (us-east-1b). Launching EC2 instance failed.';
    event.detail.StatusMessage = message;
    event.detail.Description = `Launching a new EC2 instance.  Status Reason: ${message}`;
    await interruption(event, context('interruption'));
    expect(written().filter((sk) => sk.startsWith('capacity-failure#'))).toEqual([]);
  });

  it('item 6 (control): a spot capacity failure of the same group is recorded', async () => {
    vi.setSystemTime(Date.parse('2025-03-14T09:31:10Z'));
    await interruption(fixture('launch-unsuccessful'), context('interruption'));
    expect(written().filter((sk) => sk.startsWith('capacity-failure#'))).toHaveLength(1);
  });
});

describe('price-check handler', () => {
  const TICK = Date.parse('2025-03-14T10:00:00Z');
  beforeEach(() => {
    vi.setSystemTime(TICK + 2_000);
    ec2Mock.on(DescribeLaunchTemplateVersionsCommand).resolves({
      LaunchTemplateVersions: [
        {
          LaunchTemplateId: 'lt-0abc',
          LaunchTemplateName: 'ml-spot',
          VersionNumber: 3,
          DefaultVersion: true,
          LaunchTemplateData: { ImageId: 'ami-1', InstanceType: 'c5.large', InstanceMarketOptions: { MarketType: 'spot' } },
        },
      ],
    });
    ec2Mock.on(DescribeSpotPriceHistoryCommand).resolves({
      SpotPriceHistory: ['us-east-1a', 'us-east-1b'].map((az) => ({ AvailabilityZone: az, InstanceType: 'c5.large', ProductDescription: 'Linux/UNIX', SpotPrice: '0.030000', Timestamp: new Date(TICK - 600_000) })),
    });
    ec2Mock.on(CreateLaunchTemplateVersionCommand).resolves({ LaunchTemplateVersion: { LaunchTemplateId: 'lt-0abc', VersionNumber: 4 } });
    pricingMock.on(GetProductsCommand).rejects(new Error('no pricing in this test'));
    asMock.on(UpdateAutoScalingGroupCommand).resolves({});
  });
  const tick = () => ({ ...fixture('price-check-tick'), time: new Date(TICK).toISOString() });

  it('item 9: reads the scaling activities of the managed group by name, not the whole account', async () => {
    await priceCheck(tick(), context('price-check'));
    const reads = asMock.commandCalls(DescribeScalingActivitiesCommand).map((c) => c.args[0].input.AutoScalingGroupName);
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.every((name) => name === 'ml-spot')).toBe(true);
  });

  const ON_DEMAND_ICE =
    'Could not launch On-Demand Instances. InsufficientInstanceCapacity - We currently do not have sufficient c5.large capacity in the Availability Zone you requested (us-east-1a). Launching EC2 instance failed.';
  const SPOT_ICE = 'Could not launch Spot Instances. InsufficientInstanceCapacity - There is no Spot capacity available that matches your request. Launching EC2 instance failed.';
  /**
   * A mixed-instances group short of desired (5 wanted, 2 running), base capacity 1 on-demand, no fallback group.
   * `tags`: more spotfarm settings. A group that falls back through the on-demand group (the default) has no
   * fall-back for a shortfall without one (it would add nothing), so the capacity rule is shown on a
   * `mixedFallback=percentage` group, which has a route of its own.
   */
  /** The farm's on-demand group: the route a default mixed-instances group falls back through (src/route.ts). */
  const onDemandGroup = (): AutoScalingGroup =>
    spotGroup({
      AutoScalingGroupName: 'ml-od',
      AutoScalingGroupARN: spotGroup().AutoScalingGroupARN!.replace(/ml-spot$/, 'ml-od'),
      DesiredCapacity: 0,
      LaunchTemplate: { LaunchTemplateId: 'lt-0od', LaunchTemplateName: 'ml-od', Version: '$Latest' },
      Instances: [],
      Tags: [
        { Key: 'spotfarm:farm', Value: 'ml' },
        { Key: 'spotfarm:role', Value: 'on-demand' },
      ],
    });

  function shortMixedGroup(message: string, tags: { Key: string; Value: string }[] = [], others: AutoScalingGroup[] = []) {
    const failed = (id: string, minutes: number) => ({
      ActivityId: id,
      AutoScalingGroupName: 'ml-spot',
      Description: `Launching a new EC2 instance.  Status Reason: ${message}`,
      Cause: 'c',
      StartTime: new Date(TICK - minutes * 60_000),
      EndTime: new Date(TICK - minutes * 60_000),
      StatusCode: 'Failed' as const,
      StatusMessage: message,
      Progress: 100,
    });
    asMock.on(DescribeScalingActivitiesCommand).resolves({ Activities: [failed('a-1', 1), failed('a-2', 2), failed('a-3', 3)] });
    asMock.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [
        spotGroup({
          DesiredCapacity: 5,
          LaunchTemplate: undefined,
          Tags: [...spotGroup().Tags!, ...tags],
          MixedInstancesPolicy: {
            LaunchTemplate: { LaunchTemplateSpecification: { LaunchTemplateId: 'lt-0abc', LaunchTemplateName: 'ml-spot', Version: '$Latest' }, Overrides: [{ InstanceType: 'c5.large' }] },
            InstancesDistribution: { OnDemandBaseCapacity: 1, OnDemandPercentageAboveBaseCapacity: 0, SpotAllocationStrategy: 'price-capacity-optimized' },
          },
        }),
        ...others,
      ],
    });
  }

  const PERCENTAGE = [{ Key: 'spotfarm:mixedFallback', Value: 'percentage' }];

  it('item 6 (control): spot capacity failures of the same short group fall it back (one swap message)', async () => {
    shortMixedGroup(SPOT_ICE, PERCENTAGE);
    await priceCheck(tick(), context('price-check'));
    expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 1);
  });

  it('item 6: on-demand capacity failures of a short mixed-instances group do not push it to on-demand', async () => {
    shortMixedGroup(ON_DEMAND_ICE, PERCENTAGE);
    await priceCheck(tick(), context('price-check'));
    expect(asMock).not.toHaveReceivedCommand(UpdateAutoScalingGroupCommand);
    expect(snsMock).not.toHaveReceivedCommand(PublishCommand);
  });

  it('item 2: the default fall-back of a mixed-instances group leaves the group alone (no OnDemandPercentageAboveBaseCapacity change, which would replace the fleet)', async () => {
    // A fall-back it still takes: spot at on-demand (c5.large $0.085, the bundled table) where it launches. The farm
    // has its on-demand group: without one, a default mixed-instances group has no route and is not fallen back.
    shortMixedGroup(SPOT_ICE, [{ Key: 'spotfarm:confirmChecks', Value: '1' }], [onDemandGroup()]);
    ec2Mock.on(DescribeSpotPriceHistoryCommand).resolves({
      SpotPriceHistory: ['us-east-1a', 'us-east-1b'].map((az) => ({ AvailabilityZone: az, InstanceType: 'c5.large', ProductDescription: 'Linux/UNIX', SpotPrice: '0.085000', Timestamp: new Date(TICK - 600_000) })),
    });
    await priceCheck(tick(), context('price-check'));
    expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 1);
    expect(asMock).not.toHaveReceivedCommand(UpdateAutoScalingGroupCommand);
  });

  /** The owner's template, tagged for the farm, whose version 3 launches spot and tags its spot requests. */
  function ownerTemplate() {
    ec2Mock.on(DescribeLaunchTemplateVersionsCommand).resolves({
      LaunchTemplateVersions: [
        {
          LaunchTemplateId: 'lt-0abc',
          LaunchTemplateName: 'ml-spot',
          VersionNumber: 3,
          DefaultVersion: true,
          LaunchTemplateData: {
            ImageId: 'ami-1',
            InstanceType: 'c5.large',
            InstanceMarketOptions: { MarketType: 'spot' },
            TagSpecifications: [
              { ResourceType: 'instance', Tags: [{ Key: 'team', Value: 'ml' }] },
              { ResourceType: 'spot-instances-request', Tags: [{ Key: 'team', Value: 'ml' }] },
            ],
          },
        },
      ],
    });
    ec2Mock.on(DescribeLaunchTemplatesCommand).resolves({
      LaunchTemplates: [{ LaunchTemplateId: 'lt-0abc', LaunchTemplateName: 'ml-spot', LatestVersionNumber: 3, DefaultVersionNumber: 3, Tags: [{ Key: 'spotfarm:farm', Value: 'ml' }] }],
    });
    ec2Mock.on(CreateLaunchTemplateCommand).resolves({ LaunchTemplate: { LaunchTemplateId: 'lt-0od', LaunchTemplateName: 'spotfarm-on-demand-lt-0abc', LatestVersionNumber: 1 } });
  }

  it('items 3 and 4: the on-demand launch source has no spot options and no spot-instances-request tags (EC2 refuses those on an on-demand launch), and is no version of the owner\'s template', async () => {
    ownerTemplate();
    asMock.on(DescribeScalingActivitiesCommand).resolves({
      Activities: [1, 2, 3].map((m) => ({
        ActivityId: `a-${m}`,
        AutoScalingGroupName: 'ml-spot',
        Description: 'Launching a new EC2 instance.  Status Reason: We currently do not have sufficient c5.large capacity in the Availability Zone you requested (us-east-1a). Launching EC2 instance failed.',
        Cause: 'c',
        StartTime: new Date(TICK - m * 60_000),
        EndTime: new Date(TICK - m * 60_000),
        StatusCode: 'Failed' as const,
        StatusMessage: 'We currently do not have sufficient c5.large capacity in the Availability Zone you requested (us-east-1a). Launching EC2 instance failed.',
        Progress: 100,
      })),
    });
    asMock.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [spotGroup({ DesiredCapacity: 5 })] });
    await priceCheck(tick(), context('price-check'));
    const launchData = [
      ...ec2Mock.commandCalls(CreateLaunchTemplateVersionCommand).map((c) => c.args[0].input.LaunchTemplateData),
      ...ec2Mock.commandCalls(CreateLaunchTemplateCommand).map((c) => c.args[0].input.LaunchTemplateData),
    ];
    expect(launchData.length).toBeGreaterThan(0);
    for (const data of launchData) {
      expect(data?.InstanceMarketOptions).toBeUndefined();
      expect((data?.TagSpecifications ?? []).map((t) => t.ResourceType)).not.toContain('spot-instances-request');
    }
    expect(asMock).toHaveReceivedCommandTimes(UpdateAutoScalingGroupCommand, 1);
    // Item 4: the copy is not a new version of the owner's template (its $Latest would move for every user).
    const owners = ec2Mock.commandCalls(CreateLaunchTemplateVersionCommand).filter((c) => c.args[0].input.LaunchTemplateId === 'lt-0abc' || c.args[0].input.LaunchTemplateName === 'ml-spot');
    expect(owners).toEqual([]);
  });

  it('item 4: the return points the group back at the owner\'s template as it was ($Latest), copying nothing back', async () => {
    ownerTemplate();
    asMock.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [spotGroup({ LaunchTemplate: { LaunchTemplateId: 'lt-0od', LaunchTemplateName: 'spotfarm-on-demand-lt-0abc', Version: '1' } })],
    });
    ec2Mock.on(DescribeLaunchTemplateVersionsCommand).resolves({
      LaunchTemplateVersions: [{ LaunchTemplateId: 'lt-0od', LaunchTemplateName: 'spotfarm-on-demand-lt-0abc', VersionNumber: 1, LaunchTemplateData: { ImageId: 'ami-1', InstanceType: 'c5.large' } }],
    });
    // On on-demand for two hours, cheap for one check already: this check returns.
    const since = new Date(TICK - 2 * 3600_000).toISOString();
    const market = {
      market: 'on-demand',
      since,
      highStreak: 0,
      lowStreak: 1,
      backoff: 0,
      lastFallbackAt: since,
      lastFallbackTrigger: 'price',
      lastCheckAt: new Date(TICK - 300_000).toISOString(),
      originals: { style: 'launch-template', templateId: 'lt-0abc', templateName: 'ml-spot', version: '$Latest', resolvedVersion: 3 },
    };
    ddbMock.on(GetItemCommand).resolves({ Item: marshall({ pk: 'group#ml-spot', sk: 'state', version: 7, data: JSON.stringify({ market }) }) });
    await priceCheck(tick(), context('price-check'));
    const updates = asMock.commandCalls(UpdateAutoScalingGroupCommand).map((c) => c.args[0].input.LaunchTemplate);
    expect(updates).toHaveLength(1);
    expect(updates[0]).toMatchObject({ LaunchTemplateId: 'lt-0abc', Version: '$Latest' });
    expect(ec2Mock).not.toHaveReceivedCommand(CreateLaunchTemplateVersionCommand);
  });
});
