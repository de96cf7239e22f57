/**
 * The market controller's state protocol with aws-sdk-client-mock: failures injected on AWS calls never leave a
 * swap recorded as done, and a launch configuration the account may not create is reported once per group, not
 * retried. (The SDK's own retries on throttling and 5xx run for real against moto in
 * test/integration/price-check-faults.test.ts: a mocked `send` bypasses the retry middleware.)
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import {
  AutoScalingClient,
  CreateLaunchConfigurationCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeLaunchConfigurationsCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { marketTestConfig } from '../support/market-config';
import { checkGroupMarket } from '../../src/market/controller';
import type { GroupMarketView } from '../../src/market/observe';
import { initialMarketState, type MarketOriginals, type MarketState } from '../../src/market/state';
import type { GroupObservation } from '../../src/observe';
import { DEFAULT_SETTINGS } from '../../src/settings';

const autoscaling = mockClient(AutoScalingClient);
const dynamo = mockClient(DynamoDBClient);
const sns = mockClient(SNSClient);

const config = marketTestConfig;
const now = new Date('2026-03-02T10:00:00Z');
const ctx = { config, now, dryRun: false, source: 'price-check', eventId: 'evt-1' };

function awsError(name: string, message: string, status: number): Error {
  return Object.assign(new Error(message), { name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });
}

function view(current: MarketOriginals, state: MarketState | undefined, version = state ? 3 : 0): GroupMarketView {
  const group = {
    group: {
      name: 'ml-spot',
      arn: undefined,
      min: 0,
      max: 10,
      desired: 2,
      availabilityZones: ['us-east-1a'],
      instances: [],
      tags: {},
      launch: current.style === 'launch-configuration' ? { style: 'launch-configuration', name: current.name } : { style: 'none' },
      capacityRebalance: false,
      terminationPolicies: [],
      createdTime: undefined,
    },
    farm: 'ml',
    role: 'spot',
    queue: undefined,
    settings: { ...DEFAULT_SETTINGS },
    launch: undefined,
    market: 'spot',
    instanceTypes: ['c5.large'],
    spotPrices: [],
    onDemandPrices: {},
    instanceMarkets: {},
    problems: [],
  } as GroupObservation;
  return {
    group,
    stored: { state, version, others: {} },
    input: {
      asgName: 'ml-spot',
      role: 'spot',
      observed: 'spot',
      current,
      problems: [],
      // Capacity failures at the limit: the decision is a fall-back at once.
      signals: { ratio: 0.3, spotPrice: 0.03, onDemandPrice: 0.1, capacityFailures: 2, shortfall: 1, fallbackRoom: 0, interruptions: 0, instances: 2 },
      state,
    },
    capacityFailureMessages: [],
    onDemandFailureMessages: [],
    breakerPool: undefined,
  };
}

/** Every state and record the controller wrote, decoded. */
function writes(): { sk: string; version?: number; data: Record<string, unknown> }[] {
  return dynamo.commandCalls(PutItemCommand).map((call) => {
    const item = unmarshall(call.args[0].input.Item!) as { sk: string; version?: number; data: string };
    return { sk: item.sk, version: item.version, data: JSON.parse(item.data) as Record<string, unknown> };
  });
}

const mixed: MarketOriginals = { style: 'mixed-instances', onDemandPercentageAboveBaseCapacity: 20 };
const mixedGroup = {
  AutoScalingGroupName: 'ml-spot',
  MixedInstancesPolicy: {
    LaunchTemplate: { LaunchTemplateSpecification: { LaunchTemplateId: 'lt-1', Version: '3' }, Overrides: [{ InstanceType: 'c5.large' }] },
    InstancesDistribution: { OnDemandBaseCapacity: 1, OnDemandPercentageAboveBaseCapacity: 20, SpotAllocationStrategy: 'price-capacity-optimized' },
  },
};

beforeEach(() => {
  autoscaling.reset();
  dynamo.reset();
  sns.reset();
  dynamo.on(PutItemCommand).resolves({});
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
});

describe('checkGroupMarket under injected failures', () => {
  it.each([
    { kind: 'throttling', error: awsError('Throttling', 'Rate exceeded', 400) },
    { kind: '5xx', error: awsError('InternalFailure', 'We encountered an internal error', 500) },
  ])('a swap call failing with $kind after the SDK retries: rethrown, claim kept and marked failed, nothing recorded as done', async ({ error }) => {
    // Prepare
    autoscaling.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [mixedGroup as never] });
    autoscaling.on(UpdateAutoScalingGroupCommand).rejects(error);
    // Act / Assess
    await expect(checkGroupMarket(view(mixed, undefined), ctx)).rejects.toThrow(/setting the on-demand percentage of auto scaling group ml-spot to 100/);
    const written = writes();
    expect(written.map((w) => w.sk)).toEqual(['state', 'state']);
    const [claim, failed] = written.map((w) => w.data.market as MarketState);
    expect(claim).toMatchObject({ market: 'spot', pending: { to: 'on-demand', by: 'price-check:evt-1' } });
    expect(failed).toMatchObject({ market: 'spot', pending: { to: 'on-demand', failed: expect.stringMatching(/Rate exceeded|internal error/) } });
    expect(written.some((w) => (w.data.market as MarketState | undefined)?.market === 'on-demand')).toBe(false);
    expect(sns).not.toHaveReceivedCommand(PublishCommand);
  });

  it('the state table failing too: the swap error is what surfaces, and still nothing says done', async () => {
    // Prepare
    autoscaling.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [mixedGroup as never] });
    autoscaling.on(UpdateAutoScalingGroupCommand).rejects(awsError('ServiceUnavailable', 'Service unavailable', 503));
    dynamo.on(PutItemCommand).resolvesOnce({}).rejects(awsError('ThrottlingException', 'Rate of requests exceeds the allowed throughput', 400));
    // Act / Assess
    await expect(checkGroupMarket(view(mixed, undefined), ctx)).rejects.toThrow(/ServiceUnavailable/);
    expect(sns).not.toHaveReceivedCommand(PublishCommand);
  });

  it('a lost claim re-reads and re-decides: the winner is swapping, so this check stands back', async () => {
    // Prepare: the conditional write fails once; the re-read shows the winner's claim
    dynamo.on(PutItemCommand).rejectsOnce(awsError('ConditionalCheckFailedException', 'The conditional request failed', 400)).resolves({});
    const winner: MarketState = {
      market: 'spot',
      since: '2026-03-02T08:00:00Z',
      highStreak: 0,
      lowStreak: 0,
      backoff: 0,
      lastCheckAt: now.toISOString(),
      pending: { to: 'on-demand', at: now.toISOString(), by: 'price-check:evt-2' },
    };
    const { GetItemCommand } = await import('@aws-sdk/client-dynamodb');
    const { marshall } = await import('@aws-sdk/util-dynamodb');
    dynamo.on(GetItemCommand).resolves({ Item: marshall({ pk: 'group#ml-spot', sk: 'state', version: 1, data: JSON.stringify({ market: winner }) }) });
    // Act
    const result = await checkGroupMarket(view(mixed, undefined), ctx);
    // Assess
    expect(result).toMatchObject({ outcome: 'skipped', action: { reason: expect.stringMatching(/claimed by price-check:evt-2 .* in progress/) } });
    expect(autoscaling).not.toHaveReceivedCommand(UpdateAutoScalingGroupCommand);
  });
});

describe('launch configurations refused for new accounts', () => {
  const lc: MarketOriginals = { style: 'launch-configuration', name: 'ml-spot-lc' };
  const refusal = awsError(
    'ValidationError',
    'The Launch Configuration creation operation is not available in your account. Use launch templates to create configuration templates for your Auto Scaling groups.',
    400,
  );

  beforeEach(() => {
    autoscaling
      .on(DescribeLaunchConfigurationsCommand, { LaunchConfigurationNames: ['ml-spot-lc-on-demand'] })
      .resolves({ LaunchConfigurations: [] })
      .on(DescribeLaunchConfigurationsCommand, { LaunchConfigurationNames: ['ml-spot-lc'] })
      .resolves({
        LaunchConfigurations: [
          { LaunchConfigurationName: 'ml-spot-lc', ImageId: 'ami-1', InstanceType: 'c5.large', SpotPrice: '0.1', KernelId: '', SecurityGroups: [], CreatedTime: new Date() },
        ],
      });
    autoscaling.on(CreateLaunchConfigurationCommand).rejects(refusal);
  });

  it('one clear message per group recommending launch templates, then no retry loop', async () => {
    // Act: the first check tries once
    const first = await checkGroupMarket(view(lc, undefined), ctx);
    // Assess
    expect(first.outcome).toBe('refused');
    expect(autoscaling).toHaveReceivedCommandTimes(CreateLaunchConfigurationCommand, 1);
    expect(autoscaling).toHaveReceivedCommandWith(CreateLaunchConfigurationCommand, {
      LaunchConfigurationName: 'ml-spot-lc-on-demand',
      ImageId: 'ami-1',
      InstanceType: 'c5.large',
    });
    const sent = autoscaling.commandCalls(CreateLaunchConfigurationCommand)[0]!.args[0].input;
    expect(sent).not.toHaveProperty('SpotPrice');
    expect(sent).not.toHaveProperty('KernelId');
    expect(autoscaling).not.toHaveReceivedCommand(UpdateAutoScalingGroupCommand);
    expect(sns).toHaveReceivedCommandTimes(PublishCommand, 1);
    expect(sns).toHaveReceivedCommandWith(PublishCommand, { Subject: expect.stringMatching(/ml-spot cannot fall back: move it to a launch template/) });
    const stored = writes().at(-1)!.data.market as MarketState;
    expect(stored).toMatchObject({ market: 'spot', launchConfigurationRefused: { message: expect.stringMatching(/not available in your account/) } });
    expect(stored.pending).toBeUndefined();

    // Act: the next check, an hour later, with the same signals
    autoscaling.resetHistory();
    sns.resetHistory();
    const later = { ...ctx, now: new Date(now.getTime() + 3600_000), eventId: 'evt-2' };
    const second = await checkGroupMarket(view(lc, stored), later);
    // Assess
    expect(second).toMatchObject({ outcome: 'skipped', action: { reason: expect.stringMatching(/cannot create launch configurations: move the group to a launch template/) } });
    expect(autoscaling).not.toHaveReceivedCommand(CreateLaunchConfigurationCommand);
    expect(sns).not.toHaveReceivedCommand(PublishCommand);
  });
});

describe('a check that changes nothing', () => {
  const calm = (ratio: number) => {
    const stored: MarketState = { ...initialMarketState('spot', new Date('2026-03-01T00:00:00Z')), lastCheckAt: '2026-03-02T09:55:00.000Z' };
    const v = view(mixed, stored);
    v.input.signals = { ...v.input.signals, ratio, spotPrice: ratio * 0.1, capacityFailures: 0, shortfall: 0 };
    return v;
  };

  it('writes no state: the same market, streaks and dwell, only a later check time', async () => {
    // Act
    const result = await checkGroupMarket(calm(0.3), ctx);
    // Assess
    expect(result.outcome).toBe('skipped');
    expect(writes().filter((w) => w.sk === 'state')).toEqual([]);
  });

  it('writes the state when the check moves a streak (and its check time with it)', async () => {
    // Act: spot at on-demand price, above the default swap ratio: the first of the confirming checks.
    const result = await checkGroupMarket(calm(1.5), ctx);
    // Assess
    expect(result.outcome).toBe('skipped');
    expect(JSON.stringify(writes().map((w) => w.data))).toContain('"highStreak":1');
  });
});
