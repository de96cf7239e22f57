/** The AWS wrappers against aws-sdk-client-mock, fed real API responses (test/fixtures/aws). */
import { beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeLaunchTemplateVersionsCommand, DescribeSpotPriceHistoryCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetProductsCommand, PricingClient } from '@aws-sdk/client-pricing';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand, DescribeScalingActivitiesCommand } from '@aws-sdk/client-auto-scaling';
import { GetQueueAttributesCommand, GetQueueUrlCommand, QueueDoesNotExist, SQSClient } from '@aws-sdk/client-sqs';
import { describeSpotPrices, describeTemplateVersions, resetTemplateCache, templateVersionKey } from '../../src/aws/ec2';
import { fallbackPrice, onDemandPrice, resetPriceCache, RETRY_AFTER_MS } from '../../src/aws/pricing';
import { describeFailedLaunches, describeManagedGroups } from '../../src/aws/autoscaling';
import { getQueueDepth } from '../../src/aws/sqs';

const fixture = (name: string) => readFileSync(join(__dirname, '../fixtures/aws', name), 'utf8');
const ec2 = mockClient(EC2Client);
const pricing = mockClient(PricingClient);
const autoscaling = mockClient(AutoScalingClient);
const sqs = mockClient(SQSClient);

beforeEach(() => {
  ec2.reset();
  pricing.reset();
  autoscaling.reset();
  sqs.reset();
  resetPriceCache();
});

describe('describeSpotPrices', () => {
  const history = JSON.parse(fixture('DescribeSpotPriceHistory_m5.large.json')).SpotPriceHistory.map(
    (row: { Timestamp: string }) => ({ ...row, Timestamp: new Date(row.Timestamp) }),
  );

  it('keeps the newest price at or before now per pool, across pages, in one query for all pools', async () => {
    // Prepare: the real response split into two pages, in the API's own (newest first) order.
    ec2
      .on(DescribeSpotPriceHistoryCommand)
      .resolvesOnce({ SpotPriceHistory: history.slice(0, 100), NextToken: 'page-2' })
      .resolvesOnce({ SpotPriceHistory: history.slice(100), NextToken: '' });
    const now = new Date('2021-02-09T00:00:00Z');
    // Act
    const prices = await describeSpotPrices(
      [
        { instanceType: 'm5.large', availabilityZone: 'us-east-1a' },
        { instanceType: 'm5.large', availabilityZone: 'us-east-1f' },
        { instanceType: 'm5.large', availabilityZone: 'us-east-1e' },
      ],
      now,
    );
    // Assess: 1f changed at 01:40 on the 9th (after now), so its price is the 2021-02-08T19:30:39 one.
    expect(prices.get('m5.large|us-east-1a')).toBe(0.0423);
    expect(prices.get('m5.large|us-east-1f')).toBe(0.0435);
    expect(prices.has('m5.large|us-east-1e')).toBe(false);
    expect(ec2).toHaveReceivedCommandTimes(DescribeSpotPriceHistoryCommand, 2);
    expect(ec2).toHaveReceivedCommandWith(DescribeSpotPriceHistoryCommand, {
      InstanceTypes: ['m5.large'],
      ProductDescriptions: ['Linux/UNIX'],
      StartTime: now,
      EndTime: now,
    });
  });

  it('makes no call for no pools', async () => {
    expect((await describeSpotPrices([], new Date())).size).toBe(0);
    expect(ec2).toHaveReceivedCommandTimes(DescribeSpotPriceHistoryCommand, 0);
  });

  it('names what it was doing when EC2 fails', async () => {
    ec2.on(DescribeSpotPriceHistoryCommand).rejects(Object.assign(new Error('You are not authorized'), { name: 'UnauthorizedOperation' }));
    await expect(describeSpotPrices([{ instanceType: 'm5.large', availabilityZone: 'us-east-1a' }], new Date())).rejects.toThrow(
      'describing spot price history of m5.large: UnauthorizedOperation: You are not authorized',
    );
  });
});

describe('onDemandPrice', () => {
  it('reads the hourly on-demand price from a real GetProducts product and caches it', async () => {
    pricing.on(GetProductsCommand).resolves({ PriceList: [fixture('GetProducts_m5.large.json')] });
    const first = await onDemandPrice('m5.large', 'us-east-1');
    const second = await onDemandPrice('m5.large', 'us-east-1');
    expect(first).toEqual({ usdPerHour: 0.096, source: 'pricing-api' });
    expect(second).toEqual(first);
    expect(pricing).toHaveReceivedCommandTimes(GetProductsCommand, 1);
    expect(pricing).toHaveReceivedCommandWith(GetProductsCommand, {
      ServiceCode: 'AmazonEC2',
      Filters: expect.arrayContaining([
        { Type: 'TERM_MATCH', Field: 'instanceType', Value: 'm5.large' },
        { Type: 'TERM_MATCH', Field: 'regionCode', Value: 'us-east-1' },
        { Type: 'TERM_MATCH', Field: 'operatingSystem', Value: 'Linux' },
        { Type: 'TERM_MATCH', Field: 'tenancy', Value: 'Shared' },
        { Type: 'TERM_MATCH', Field: 'preInstalledSw', Value: 'NA' },
        { Type: 'TERM_MATCH', Field: 'capacitystatus', Value: 'Used' },
      ]),
    });
  });

  it('falls back to the bundled table, with its date, when the API fails, and does not ask again at once', async () => {
    pricing.on(GetProductsCommand).rejects(Object.assign(new Error('connect ECONNREFUSED'), { name: 'Error' }));
    const t0 = Date.parse('2026-03-02T10:00:00Z');
    const price = await onDemandPrice('c5.xlarge', 'us-east-1', undefined, t0);
    await onDemandPrice('m5.large', 'us-east-1', undefined, t0 + 60_000);
    expect(price).toEqual({ usdPerHour: 0.17, source: 'fallback-table', asOf: '2026-07-20T13:44:30Z' });
    expect(pricing).toHaveReceivedCommandTimes(GetProductsCommand, 1);
  });

  it('asks the API again once the retry delay has passed (one failure is not for the container\'s life)', async () => {
    // Prepare: a throttle, then the API answers.
    pricing
      .on(GetProductsCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }))
      .resolves({ PriceList: [fixture('GetProducts_m5.large.json')] });
    const t0 = Date.parse('2026-03-02T10:00:00Z');
    // Act
    const during = await onDemandPrice('m5.large', 'us-east-1', undefined, t0);
    const after = await onDemandPrice('m5.large', 'us-east-1', undefined, t0 + RETRY_AFTER_MS + 1);
    const later = await onDemandPrice('m5.large', 'us-east-1', undefined, t0 + 10 * RETRY_AFTER_MS);
    // Assess
    expect(during?.source).toBe('fallback-table');
    expect(after).toEqual({ usdPerHour: 0.096, source: 'pricing-api' });
    expect(later).toEqual(after);
    expect(pricing).toHaveReceivedCommandTimes(GetProductsCommand, 2);
  });

  it('follows every page of GetProducts (the plain product may be on a later page)', async () => {
    // Prepare: a first page with no hourly price, the product on the second.
    pricing
      .on(GetProductsCommand)
      .resolvesOnce({ PriceList: [], NextToken: 'page-2' })
      .resolvesOnce({ PriceList: [fixture('GetProducts_m5.large.json')] });
    // Act
    const price = await onDemandPrice('m5.large', 'us-east-1');
    // Assess
    expect(price).toEqual({ usdPerHour: 0.096, source: 'pricing-api' });
    expect(pricing).toHaveReceivedCommandTimes(GetProductsCommand, 2);
    expect(pricing).toHaveReceivedNthCommandWith(GetProductsCommand, 2, { NextToken: 'page-2', MaxResults: 100 });
  });

  it('knows other regions for the common types, and nothing for unknown types', () => {
    expect(fallbackPrice('m5.large', 'eu-west-1')).toMatchObject({ source: 'fallback-table', asOf: '2024-04-04' });
    expect(fallbackPrice('m5.large', 'eu-west-1')!.usdPerHour).toBeGreaterThan(0.096);
    expect(fallbackPrice('z9.nonexistent', 'us-east-1')).toBeUndefined();
  });
});

describe('describeFailedLaunches', () => {
  const since = new Date('2026-03-02T09:30:00Z');
  const activity = (id: string, at: string, StatusCode: string, StatusMessage?: string) => ({
    ActivityId: id,
    AutoScalingGroupName: 'ml-spot',
    StartTime: new Date(at),
    StatusCode,
    ...(StatusMessage ? { StatusMessage, Description: `Launching a new EC2 instance.  Status Reason: ${StatusMessage}` } : { Description: 'Launching a new EC2 instance: i-1' }),
    Cause: 'c',
    Progress: 100,
  });

  it('reads past an old activity still in progress (listed first) and stops at the first finished older one', async () => {
    // Prepare: "Activities still in progress are described first" (DescribeScalingActivities API reference).
    autoscaling.on(DescribeScalingActivitiesCommand).resolves({
      Activities: [
        activity('old-running', '2026-03-02T08:00:00Z', 'MidLifecycleAction'),
        activity('new-failed', '2026-03-02T09:50:00Z', 'Failed', 'We currently do not have sufficient c5.large capacity. Launching EC2 instance failed.'),
        activity('old-failed', '2026-03-02T09:00:00Z', 'Failed', 'too old'),
      ] as never,
    });
    // Act
    const failures = await describeFailedLaunches('ml-spot', since);
    // Assess: the reason once, not StatusMessage followed by a Description that repeats it.
    expect(failures).toEqual([
      { activityId: 'new-failed', time: '2026-03-02T09:50:00.000Z', statusCode: 'Failed', message: 'We currently do not have sufficient c5.large capacity. Launching EC2 instance failed.' },
    ]);
    expect(autoscaling).toHaveReceivedCommandWith(DescribeScalingActivitiesCommand, { AutoScalingGroupName: 'ml-spot' });
  });
});

describe('describeManagedGroups', () => {
  it('filters on the opt-in tag server-side and follows pages', async () => {
    autoscaling
      .on(DescribeAutoScalingGroupsCommand)
      .resolvesOnce({ AutoScalingGroups: [{ AutoScalingGroupName: 'a', MinSize: 0, MaxSize: 1, DesiredCapacity: 0, AvailabilityZones: [], CreatedTime: new Date(), HealthCheckType: 'EC2', DefaultCooldown: 300 }], NextToken: 't' })
      .resolvesOnce({ AutoScalingGroups: [{ AutoScalingGroupName: 'b', MinSize: 0, MaxSize: 1, DesiredCapacity: 0, AvailabilityZones: [], CreatedTime: new Date(), HealthCheckType: 'EC2', DefaultCooldown: 300, LaunchConfigurationName: 'lc' }] });
    const groups = await describeManagedGroups('ml');
    expect(groups.map((g) => g.name)).toEqual(['a', 'b']);
    expect(groups[1]!.launch).toEqual({ style: 'launch-configuration', name: 'lc' });
    expect(autoscaling).toHaveReceivedCommandWith(DescribeAutoScalingGroupsCommand, {
      Filters: [{ Name: 'tag:spotfarm:farm', Values: ['ml'] }],
      MaxRecords: 100,
    });
    expect(autoscaling).toHaveReceivedCommandTimes(DescribeAutoScalingGroupsCommand, 2);
  });
});

describe('getQueueDepth', () => {
  it('resolves a queue name and reads visible, in-flight and delayed counts', async () => {
    sqs.on(GetQueueUrlCommand).resolves({ QueueUrl: 'https://sqs.us-east-1.amazonaws.com/1/jobs' });
    sqs.on(GetQueueAttributesCommand).resolves({
      Attributes: { ApproximateNumberOfMessages: '12', ApproximateNumberOfMessagesNotVisible: '3', ApproximateNumberOfMessagesDelayed: '1' },
    });
    expect(await getQueueDepth('jobs')).toEqual({ visible: 12, inFlight: 3, delayed: 1 });
  });

  it('says clearly when the queue does not exist', async () => {
    sqs.on(GetQueueUrlCommand).rejects(new QueueDoesNotExist({ message: 'The specified queue does not exist.', $metadata: {} }));
    await expect(getQueueDepth('missing-jobs')).rejects.toThrow('queue missing-jobs does not exist');
  });
});

describe('describeTemplateVersions', () => {
  const version = (id: string, name: string, n: number, spot: boolean) => ({
    LaunchTemplateId: id,
    LaunchTemplateName: name,
    VersionNumber: n,
    LaunchTemplateData: { InstanceType: 'c5.large' as const, ...(spot ? { InstanceMarketOptions: { MarketType: 'spot' as const } } : {}) },
  });

  beforeEach(() => resetTemplateCache());

  it('reads $Latest of every template in one account-wide call, and a numbered version once per container', async () => {
    // Prepare
    ec2.on(DescribeLaunchTemplateVersionsCommand, { Versions: ['$Latest'] }).resolves({
      LaunchTemplateVersions: [version('lt-1', 'a', 3, true), version('lt-2', 'b', 1, false)],
    });
    ec2.on(DescribeLaunchTemplateVersionsCommand, { LaunchTemplateId: 'lt-3' }).resolves({ LaunchTemplateVersions: [version('lt-3', 'c', 2, false)] });
    const refs = [
      { id: 'lt-1', name: 'a', version: '$Latest' },
      { id: undefined, name: 'b', version: '$Latest' },
      { id: 'lt-3', name: 'c', version: '2' },
    ];
    // Act
    const first = await describeTemplateVersions(refs);
    const second = await describeTemplateVersions(refs);
    // Assess
    expect(first.get(templateVersionKey(refs[0]!))).toMatchObject({ market: 'spot', resolvedVersion: 3 });
    expect(first.get(templateVersionKey(refs[1]!))).toMatchObject({ market: 'on-demand', resolvedVersion: 1 });
    expect(second.get(templateVersionKey(refs[2]!))).toMatchObject({ market: 'on-demand', resolvedVersion: 2 });
    // $Latest can change, so it is read every time; version 2 of lt-3 cannot, so only once.
    expect(ec2).toHaveReceivedCommandTimes(DescribeLaunchTemplateVersionsCommand, 3);
  });

  it('reports a template that is gone as that reference problem, not a failure of the whole read', async () => {
    ec2.on(DescribeLaunchTemplateVersionsCommand).rejects(
      Object.assign(new Error('The specified launch template, with template ID lt-9, does not exist.'), { name: 'InvalidLaunchTemplateId.NotFound' }),
    );
    const ref = { id: 'lt-9', name: undefined, version: '4' };
    const result = await describeTemplateVersions([ref]);
    expect(result.get(templateVersionKey(ref))).toBeInstanceOf(Error);
    expect(String(result.get(templateVersionKey(ref)))).toMatch(/launch template lt-9 version 4 cannot be read: .*does not exist/);
  });
});
