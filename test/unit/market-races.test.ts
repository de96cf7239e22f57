/**
 * Deterministic regression tests for the market controller's races (issue 11) and the lost reply to its post-swap
 * write (issue 15 item 6), with aws-sdk-client-mock: each race is replayed step by step, the interleaving fixed.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand, UpdateAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { marketTestConfig } from '../support/market-config';
import { checkGroupMarket } from '../../src/market/controller';
import { decideMarket, type MarketInput } from '../../src/market/decide';
import type { GroupMarketView } from '../../src/market/observe';
import type { MarketOriginals, MarketState } from '../../src/market/state';
import type { GroupObservation } from '../../src/observe';
import { DEFAULT_SETTINGS } from '../../src/settings';

const autoscaling = mockClient(AutoScalingClient);
const dynamo = mockClient(DynamoDBClient);
const sns = mockClient(SNSClient);

const config = marketTestConfig;
const T = new Date('2026-03-02T10:00:00Z');
const iso = (seconds: number) => new Date(T.getTime() + seconds * 1000).toISOString();
const conditionFailed = () => Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException', $fault: 'client', $metadata: { httpStatusCode: 400 } });

const mixed: MarketOriginals = { style: 'mixed-instances', onDemandPercentageAboveBaseCapacity: 20 };
const mixedGroup = (percent: number) => ({
  AutoScalingGroupName: 'ml-spot',
  MixedInstancesPolicy: {
    LaunchTemplate: { LaunchTemplateSpecification: { LaunchTemplateId: 'lt-1', Version: '3' }, Overrides: [{ InstanceType: 'c5.large' }] },
    InstancesDistribution: { OnDemandBaseCapacity: 0, OnDemandPercentageAboveBaseCapacity: percent, SpotAllocationStrategy: 'price-capacity-optimized' },
  },
});

/** The group as one check saw it: its launch market, its stored state, the signals (capacity failing). */
function view(observed: 'spot' | 'on-demand', state: MarketState | undefined, version: number): GroupMarketView {
  const group = {
    group: { name: 'ml-spot', min: 0, max: 10, desired: 2, availabilityZones: ['us-east-1a'], instances: [], tags: {}, launch: { style: 'none' }, capacityRebalance: false },
    farm: 'ml',
    role: 'spot',
    settings: { ...DEFAULT_SETTINGS },
    market: observed,
    instanceTypes: ['c5.large'],
    spotPrices: [],
    onDemandPrices: {},
    instanceMarkets: {},
    problems: [],
  } as unknown as GroupObservation;
  const input: MarketInput = {
    asgName: 'ml-spot',
    role: 'spot',
    observed,
    current: observed === 'spot' ? mixed : { style: 'mixed-instances', onDemandPercentageAboveBaseCapacity: 100 },
    problems: [],
    signals: { ratio: 0.3, spotPrice: 0.03, onDemandPrice: 0.1, capacityFailures: 2, shortfall: 1, fallbackRoom: 0, interruptions: 0, instances: 2 },
    state,
  };
  return { group, stored: { state, version, others: {} }, input, capacityFailureMessages: [], onDemandFailureMessages: [], breakerPool: undefined };
}

const stateWrites = () =>
  dynamo
    .commandCalls(PutItemCommand)
    .map((c) => unmarshall(c.args[0].input.Item!) as { sk: string; version: number; data: string })
    .filter((i) => i.sk === 'state')
    .map((i) => ({ version: i.version, market: (JSON.parse(i.data) as { market: MarketState }).market }));

beforeEach(() => {
  autoscaling.reset();
  dynamo.reset();
  sns.reset();
  dynamo.on(PutItemCommand).resolves({});
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
});

describe('a slow claim racing a retried earlier tick (issue 11, the race measured against moto)', () => {
  it('the slow check loses its claim, re-reads the group as well as the state, and agrees with the winner', async () => {
    // Prepare: the fresh tick read the group on spot (version 3) and decided to fall back; meanwhile a retried
    // tick from two minutes earlier claimed, swapped and committed (version 5: on-demand, group at 100%).
    const onSpot: MarketState = { market: 'spot', since: iso(-86_400), highStreak: 0, lowStreak: 0, backoff: 0, lastCheckAt: iso(-300) };
    const winner: MarketState = { ...onSpot, market: 'on-demand', since: iso(-1), lastFallbackAt: iso(-1), lastFallbackTrigger: 'capacity', originals: mixed, lastCheckAt: iso(-120) };
    dynamo.on(PutItemCommand).rejectsOnce(conditionFailed()).resolves({});
    dynamo.on(GetItemCommand).resolves({ Item: marshall({ pk: 'group#ml-spot', sk: 'state', version: 5, data: JSON.stringify({ market: winner }) }) });
    let reads = 0;
    const reobserve = async () => {
      reads++;
      return view('on-demand', winner, 5);
    };
    // Act
    const result = await checkGroupMarket(view('spot', onSpot, 3), { config, now: T, dryRun: false, source: 'price-check', eventId: 'fresh' }, { eventTime: T, reobserve });
    // Assess: it re-observed the group; it did not "follow" a move back to spot that never happened.
    expect(reads).toBe(1);
    expect(result.outcome).toBe('skipped');
    expect(result.action.reason).not.toMatch(/put back on spot outside spotfarm/);
    // The first write is its lost claim; whatever it writes after re-reading keeps the group on on-demand.
    expect(stateWrites()[0]!.market.pending).toMatchObject({ by: 'price-check:fresh' });
    expect(stateWrites().slice(1).map((w) => w.market.market)).not.toContain('spot');
    expect(autoscaling).not.toHaveReceivedCommand(UpdateAutoScalingGroupCommand);
  });
});

describe('a claim is a lease on the wall clock (issue 11)', () => {
  const claimed = (at: string, until: string | undefined, by = 'price-check:other'): MarketState => ({
    market: 'spot',
    since: iso(-86_400),
    highStreak: 0,
    lowStreak: 0,
    backoff: 0,
    lastCheckAt: iso(-300),
    pending: { to: 'on-demand', at, by, ...(until ? { until } : {}) },
  });

  it('a live claim made after this check\'s event time is not taken for abandoned (a retried earlier tick stands back)', () => {
    // The claim was made 30 s ago on the wall clock; this check's event is from two minutes ago.
    const decision = decideMarket(view('spot', claimed(iso(-30), iso(150)), 4).input, { ...DEFAULT_SETTINGS }, T, {
      checkId: 'price-check:retry',
      eventTime: new Date(T.getTime() - 120_000),
    });
    expect(decision.action.kind).toBe('skip');
    expect(decision.action.reason).toMatch(/claimed by price-check:other .* in progress/);
  });

  it('nor a claim dated ahead of the event (the old event-time age was negative, and the claim was taken over)', () => {
    const decision = decideMarket(view('spot', claimed(iso(30), iso(210)), 4).input, { ...DEFAULT_SETTINGS }, T, { checkId: 'price-check:retry' });
    expect(decision.action.kind).toBe('skip');
  });

  it('a retry of the claimant\'s own event does not take over its live lease (changes nothing twice)', () => {
    const decision = decideMarket(view('spot', claimed(iso(-10), iso(170), 'price-check:evt-1'), 4).input, { ...DEFAULT_SETTINGS }, T, { checkId: 'price-check:evt-1' });
    expect(decision.action.kind).toBe('skip');
  });

  it('an expired lease is abandoned: the next check finishes the swap', () => {
    const decision = decideMarket(view('spot', claimed(iso(-400), iso(-220)), 4).input, { ...DEFAULT_SETTINGS }, T, { checkId: 'price-check:next' });
    expect(decision.action.kind).toBe('swapToOnDemand');
    expect(decision.state?.pending).toMatchObject({ by: 'price-check:next', at: T.toISOString(), until: iso(180) });
  });

  it('a tick older than the last check that counted changes nothing (a retry judged for what it still means)', () => {
    const state: MarketState = { market: 'spot', since: iso(-86_400), highStreak: 0, lowStreak: 0, backoff: 0, lastCheckAt: iso(-60) };
    const decision = decideMarket(view('spot', state, 4).input, { ...DEFAULT_SETTINGS }, T, { checkId: 'price-check:old', eventTime: new Date(T.getTime() - 300_000) });
    expect(decision.action.reason).toMatch(/duplicate or late check/);
    expect(decision.state).toBeUndefined();
  });

  it('stored times are the wall clock, never a future event time', () => {
    const decision = decideMarket(view('spot', undefined, 0).input, { ...DEFAULT_SETTINGS }, T, { checkId: 'price-check:x', eventTime: new Date('2099-01-01T00:00:00Z') });
    expect(decision.after).toMatchObject({ since: T.toISOString(), lastFallbackAt: T.toISOString(), lastCheckAt: T.toISOString() });
  });
});

describe('the reply to the post-swap state write is lost (issue 15 item 6)', () => {
  it('the write went through: the swap stands, the SNS message and the metric go out, no "changed since version" error', async () => {
    // Prepare: the claim (v0 -> v1) succeeds; the commit (v1 -> v2) reaches DynamoDB but its reply is lost, so
    // the SDK's retry of the same conditional put fails its condition. Reading back shows the post-swap state.
    autoscaling.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [mixedGroup(20) as never] });
    autoscaling.on(UpdateAutoScalingGroupCommand).resolves({});
    let committed: MarketState | undefined;
    dynamo.on(GetItemCommand).callsFake(() => ({ Item: marshall({ pk: 'group#ml-spot', sk: 'state', version: 2, data: JSON.stringify({ market: committed }) }) }));
    // The state the commit carried is what DynamoDB holds now.
    dynamo.on(PutItemCommand).callsFake((input: { Item: Record<string, unknown> }) => {
      const item = unmarshall(input.Item as never) as { sk: string; version: number; data: string };
      if (item.sk !== 'state') return {};
      if (item.version === 1) return {};
      committed = (JSON.parse(item.data) as { market: MarketState }).market;
      throw conditionFailed();
    });
    // Act
    const result = await checkGroupMarket(view('spot', undefined, 0), { config, now: T, dryRun: false, source: 'price-check', eventId: 'evt-1' });
    // Assess
    expect(result.outcome).toBe('swapped');
    expect(sns).toHaveReceivedCommandTimes(PublishCommand, 1);
    expect(committed).toMatchObject({ market: 'on-demand', since: T.toISOString() });
  });

  it('the write really failed: the message still goes out, and the error says the swap is done but not recorded', async () => {
    autoscaling.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [mixedGroup(20) as never] });
    autoscaling.on(UpdateAutoScalingGroupCommand).resolves({});
    dynamo.on(PutItemCommand).resolvesOnce({}).rejects(conditionFailed());
    dynamo.on(GetItemCommand).resolves({});
    await expect(
      checkGroupMarket(view('spot', undefined, 0), { config, now: T, dryRun: false, source: 'price-check', eventId: 'evt-1' }),
    ).rejects.toThrow(/ml-spot now launches on-demand, but recording that in the state table failed/);
    expect(sns).toHaveReceivedCommandTimes(PublishCommand, 1);
  });
});
