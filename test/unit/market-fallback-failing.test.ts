/**
 * A fall-back to on-demand whose on-demand launches fail did not restore capacity (issue 14): the market
 * controller reads those failures from the group's own scaling activities (AWS's shapes, ../shared/reference/aws.md
 * §2.13 and §3.6: StatusCode Failed, the reason as free text in StatusMessage), says so in every decision and in
 * plan, tells the user once per fall-back (SNS), and neither returns to spot early nor retries the swap: the group
 * stays on on-demand under the usual return rules and the farm's on-demand group covers the shortfall.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { AutoScalingClient, DescribeScalingActivitiesCommand, UpdateAutoScalingGroupCommand, type Activity } from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { SPOT_REQUEST_TAGS_REFUSAL } from '../../sim/cloud/autoscaling';
import { marketTestConfig } from '../support/market-config';
import { checkGroupMarket } from '../../src/market/controller';
import { decideMarket, type MarketInput, type MarketSignals } from '../../src/market/decide';
import { gatherMarket, type GroupMarketView } from '../../src/market/observe';
import type { MarketOriginals, MarketState } from '../../src/market/state';
import type { GroupObservation, Observation } from '../../src/observe';
import { DEFAULT_SETTINGS } from '../../src/settings';

const autoscaling = mockClient(AutoScalingClient);
const dynamo = mockClient(DynamoDBClient);
const sns = mockClient(SNSClient);

const T0 = Date.parse('2026-03-02T10:00:00Z');
const now = new Date(T0);
const min = (m: number) => new Date(T0 + m * 60_000);
const iso = (m: number) => min(m).toISOString();

const config = marketTestConfig;

// AWS's words (../shared/reference/aws.md §3.6; EC2 Auto Scaling user guide, "Troubleshoot ... EC2 instance launch
// failures": a mixed-instances group names the market that failed).
const OD_ICE =
  'Could not launch On-Demand Instances. InsufficientInstanceCapacity - We currently do not have sufficient c5.large capacity in the Availability Zone you requested (us-east-1a). Our system will be working on provisioning additional capacity. Launching EC2 instance failed.';
const SPOT_ICE = 'Could not launch Spot Instances. InsufficientInstanceCapacity - There is no Spot capacity available that matches your request. Launching EC2 instance failed.';
const PLAIN_ICE = 'We currently do not have sufficient c5.large capacity in the Availability Zone you requested (us-east-1a). Launching EC2 instance failed.';

/** A failed launch activity as DescribeScalingActivities returns it. */
const failed = (id: string, at: Date, message: string): Activity =>
  ({
    ActivityId: id,
    AutoScalingGroupName: 'ml-spot',
    Description: 'Launching a new EC2 instance.  Status Reason: ' + message,
    Cause: `At ${at.toISOString()} an instance was started in response to a difference between desired and actual capacity, increasing the capacity from 0 to 2.`,
    StartTime: at,
    EndTime: at,
    StatusCode: 'Failed',
    StatusMessage: message,
    Progress: 100,
    Details: '{"Subnet ID":"subnet-0a1b","Availability Zone":"us-east-1a"}',
  }) as Activity;

const template: MarketOriginals = { style: 'launch-template', templateId: 'lt-1', templateName: undefined, version: '$Latest', resolvedVersion: 3 };
const viaGroup: MarketOriginals = { style: 'mixed-instances', onDemandPercentageAboveBaseCapacity: 0, fallback: 'on-demand-group' };

const onDemandState = (extra: Partial<MarketState> = {}): MarketState => ({
  market: 'on-demand',
  since: iso(-10),
  highStreak: 0,
  lowStreak: 0,
  backoff: 0,
  lastFallbackAt: iso(-10),
  lastFallbackTrigger: 'price',
  lastCheckAt: iso(-5),
  originals: template,
  ...extra,
});

function input(state: MarketState, signals: Partial<MarketSignals> = {}): MarketInput {
  return {
    asgName: 'ml-spot',
    role: 'spot',
    observed: 'on-demand',
    current: template,
    problems: [],
    signals: { ratio: 1.2, spotPrice: 0.12, onDemandPrice: 0.1, capacityFailures: 0, shortfall: 2, fallbackRoom: 4, interruptions: 0, instances: 0, ...signals },
    state,
  };
}
const decide = (i: MarketInput, at = 0) => decideMarket(i, { ...DEFAULT_SETTINGS }, min(at), { checkId: 'price-check:test' });

describe('decideMarket: the fall-back\'s on-demand launches fail', () => {
  it('the first sighting is recorded in the state and makes one notice; the group stays on on-demand', () => {
    const d = decide(input(onDemandState(), { onDemandFailures: 2, onDemandFailure: OD_ICE }));
    expect(d.action.kind).toBe('skip');
    expect(d.action.reason).toMatch(/the fall-back did not restore capacity: 2 on-demand launch\(es\) failed in the last 15 min .*Could not launch On-Demand Instances.*the farm's on-demand group covers the shortfall \(room for 4\)/);
    expect(d.state?.fallbackFailing).toEqual({ since: iso(0), message: OD_ICE });
    expect(d.notice).toEqual({ asgName: 'ml-spot', failures: 2, message: OD_ICE, fallenBackAt: iso(-10), fallbackRoom: 4 });
    expect(d.action.figures).toMatchObject({ onDemandFailures: 2 });
  });

  it('a later check still says it, but makes no second notice and does not change the state', () => {
    const seen = onDemandState({ fallbackFailing: { since: iso(-5), message: OD_ICE } });
    const d = decide(input(seen, { onDemandFailures: 3, onDemandFailure: OD_ICE }));
    expect(d.notice).toBeUndefined();
    expect(d.action.reason).toMatch(/did not restore capacity: 3 on-demand/);
    expect(d.state?.fallbackFailing).toEqual({ since: iso(-5), message: OD_ICE });
  });

  it('no early return to spot: inside the dwell the group stays, however many launches fail', () => {
    const d = decide(input(onDemandState(), { ratio: 0.3, spotPrice: 0.03, onDemandFailures: 9, onDemandFailure: SPOT_REQUEST_TAGS_REFUSAL }));
    expect(d.action.kind).toBe('skip');
    expect(d.action.reason).toMatch(/You cannot specify tags for Spot instances requests.*20 min of the 30 min dwell left/);
  });

  it('without room in the farm\'s on-demand group the reason says nothing covers it', () => {
    const d = decide(input(onDemandState(), { onDemandFailures: 1, onDemandFailure: PLAIN_ICE, fallbackRoom: 0 }));
    expect(d.action.reason).toMatch(/on-demand group has no room to cover it/);
  });

  it('the usual return rules still apply, and the return clears the record', () => {
    const state = onDemandState({ since: iso(-60), lowStreak: 1, fallbackFailing: { since: iso(-50), message: PLAIN_ICE } });
    const d = decide(input(state, { ratio: 0.3, spotPrice: 0.03, onDemandFailures: 1, onDemandFailure: PLAIN_ICE }));
    expect(d.action.kind).toBe('swapToSpot');
    expect(d.after?.fallbackFailing).toBeUndefined();
  });

  it('no failure, no record and no notice', () => {
    const d = decide(input(onDemandState()));
    expect(d.notice).toBeUndefined();
    expect(d.state?.fallbackFailing).toBeUndefined();
    expect(d.action.reason).not.toMatch(/did not restore/);
  });
});

// gatherMarket reads the group's own activities (DescribeScalingActivities, newest first).
function group(launch: Record<string, unknown>): GroupObservation {
  return {
    group: {
      name: 'ml-spot',
      arn: undefined,
      min: 0,
      max: 10,
      desired: 2,
      availabilityZones: ['us-east-1a'],
      instances: [],
      tags: {},
      launch,
      capacityRebalance: false,
      terminationPolicies: [],
      createdTime: undefined,
    },
    farm: 'ml',
    role: 'spot',
    queue: undefined,
    settings: { ...DEFAULT_SETTINGS },
    launch: undefined,
    market: 'on-demand',
    instanceTypes: ['c5.large'],
    spotPrices: [],
    onDemandPrices: {},
    instanceMarkets: {},
    problems: [],
  } as unknown as GroupObservation;
}
const observation = (g: GroupObservation): Observation => ({
  at: now,
  region: 'us-east-1',
  farms: [{ farm: 'ml', queueName: undefined, queue: undefined, queueError: undefined, groups: [g] }],
  skipped: [],
});
const storedState = (state: MarketState) =>
  marshall({ pk: 'group#ml-spot', sk: 'state', version: 3, data: JSON.stringify({ market: state }) });

beforeEach(() => {
  autoscaling.reset();
  dynamo.reset();
  sns.reset();
  dynamo.on(QueryCommand).resolves({ Items: [] });
  dynamo.on(GetItemCommand).resolves({});
  dynamo.on(PutItemCommand).resolves({});
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
});

describe('gatherMarket: failed launches since the fall-back', () => {
  it('a group fallen back by its launch source: every failure since then is an on-demand one (a refused template, no capacity)', async () => {
    // Prepare: on on-demand since 10 minutes ago; two failures after it, one before.
    dynamo.on(GetItemCommand).resolves({ Item: storedState(onDemandState()) });
    autoscaling.on(DescribeScalingActivitiesCommand).resolves({
      Activities: [failed('after-1', min(-1), SPOT_REQUEST_TAGS_REFUSAL), failed('after-2', min(-3), PLAIN_ICE), failed('before', min(-12), PLAIN_ICE)],
    });
    // Act
    const [view] = await gatherMarket(observation(group({ style: 'launch-template', template: { id: 'lt-od', name: undefined, version: '1' } })), config, now);
    // Assess
    expect(view!.input.signals.onDemandFailures).toBe(2);
    expect(view!.input.signals.onDemandFailure).toBe(SPOT_REQUEST_TAGS_REFUSAL);
    expect(view!.onDemandFailureMessages).toEqual([SPOT_REQUEST_TAGS_REFUSAL, PLAIN_ICE]);
    // ...and none of them is a spot capacity failure (issue 14 item 6).
    expect(view!.input.signals.capacityFailures).toBe(1);
  });

  it('a mixed-instances group fallen back through the on-demand group still launches spot: only failures it says were on-demand count', async () => {
    dynamo.on(GetItemCommand).resolves({ Item: storedState(onDemandState({ originals: viaGroup })) });
    autoscaling.on(DescribeScalingActivitiesCommand).resolves({
      Activities: [failed('spot', min(-1), SPOT_ICE), failed('od', min(-2), OD_ICE)],
    });
    const [view] = await gatherMarket(
      observation(group({ style: 'mixed-instances', template: { id: 'lt-1', name: undefined, version: '3' }, onDemandPercentageAboveBaseCapacity: 0 })),
      config,
      now,
    );
    expect(view!.input.signals.onDemandFailures).toBe(1);
    expect(view!.onDemandFailureMessages).toEqual([OD_ICE]);
  });

  it('a group on spot has no on-demand failures to read', async () => {
    autoscaling.on(DescribeScalingActivitiesCommand).resolves({ Activities: [failed('a', min(-1), PLAIN_ICE)] });
    const [view] = await gatherMarket(observation(group({ style: 'none' })), config, now);
    expect(view!.input.signals.onDemandFailures).toBeUndefined();
    expect(view!.onDemandFailureMessages).toEqual([]);
  });
});

describe('checkGroupMarket: telling the user', () => {
  function view(state: MarketState, signals: Partial<MarketSignals>): GroupMarketView {
    const g = group({ style: 'launch-template', template: { id: 'lt-od', name: undefined, version: '1' } });
    return { group: g, stored: { state, version: 3, others: {} }, input: input(state, signals), capacityFailureMessages: [], onDemandFailureMessages: [], breakerPool: undefined };
  }
  const ctx = { config, now, dryRun: false, source: 'price-check', eventId: 'evt-1' };

  it('one SNS message after the state that records it is written; no swap, no retry', async () => {
    // Act
    const result = await checkGroupMarket(view(onDemandState(), { onDemandFailures: 2, onDemandFailure: SPOT_REQUEST_TAGS_REFUSAL }), ctx);
    // Assess
    expect(result.outcome).toBe('skipped');
    expect(autoscaling).not.toHaveReceivedCommand(UpdateAutoScalingGroupCommand);
    const puts = dynamo.commandCalls(PutItemCommand).map((c) => unmarshall(c.args[0].input.Item!) as { data: string });
    expect(puts).toHaveLength(1);
    expect((JSON.parse(puts[0]!.data) as { market: MarketState }).market.fallbackFailing).toEqual({ since: now.toISOString(), message: SPOT_REQUEST_TAGS_REFUSAL });
    expect(sns).toHaveReceivedCommandTimes(PublishCommand, 1);
    const publish = sns.commandCalls(PublishCommand)[0]!.args[0].input;
    expect(publish.Subject).toBe('spotfarm: ml-spot fell back to on-demand, but its on-demand launches fail');
    expect(JSON.parse(publish.Message!)).toMatchObject({ group: 'ml-spot', failures: 2, message: SPOT_REQUEST_TAGS_REFUSAL, fallenBackAt: iso(-10) });
  });

  it('a check that loses the state write to a racing one says nothing (the winner does)', async () => {
    dynamo.on(PutItemCommand).rejects(Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException', $metadata: { httpStatusCode: 400 } }));
    const v = view(onDemandState(), { onDemandFailures: 2, onDemandFailure: PLAIN_ICE });
    await checkGroupMarket(v, ctx, { reobserve: async () => view(onDemandState({ fallbackFailing: { since: iso(0), message: PLAIN_ICE } }), { onDemandFailures: 2, onDemandFailure: PLAIN_ICE }) });
    expect(sns).not.toHaveReceivedCommand(PublishCommand);
  });

  it('already told this fall-back: no message, no write', async () => {
    await checkGroupMarket(view(onDemandState({ fallbackFailing: { since: iso(-5), message: PLAIN_ICE } }), { onDemandFailures: 4, onDemandFailure: PLAIN_ICE }), ctx);
    expect(sns).not.toHaveReceivedCommand(PublishCommand);
    expect(dynamo).not.toHaveReceivedCommand(PutItemCommand);
  });
});
