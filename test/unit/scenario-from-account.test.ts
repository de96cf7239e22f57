/**
 * `spotfarm scenario from-account` without an account: the wrappers on real (DescribeSpotPriceHistory) and
 * real-shaped (GetMetricData, test/fixtures/aws/PROVENANCE.md) responses through aws-sdk-client-mock, the pure
 * builder on hand-made reads, the permission errors, and the worker's job metrics publisher.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Writable } from 'node:stream';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand, DescribeScalingActivitiesCommand } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient, GetMetricDataCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeLaunchTemplateVersionsCommand, DescribeSpotPriceHistoryCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { getMetricData, retentionSegments } from '../../src/aws/cloudwatch';
import { describeLaunchDurations } from '../../src/aws/autoscaling';
import { describeSpotPriceSteps } from '../../src/aws/ec2';
import { regionalClients } from '../../src/aws/regional-clients';
import { AwsCallError } from '../../src/errors';
import { arrivalTimes, buildScenario, FILES, hourlyDurations, spotRows } from '../../cli/scenario/build';
import { scenarioMain } from '../../cli/scenario/command';
import type { AccountData } from '../../cli/scenario/read-account';
import { loadScenario } from '../../sim/scenario';
import { cloudWatchJobMetrics } from '../../worker/job-metrics';

const fixture = (name: string) => JSON.parse(readFileSync(resolve(__dirname, '../fixtures/aws', name), 'utf8'));
const ec2 = mockClient(EC2Client);
const cloudWatch = mockClient(CloudWatchClient);
const autoScaling = mockClient(AutoScalingClient);
const sqs = mockClient(SQSClient);

beforeEach(() => {
  ec2.reset();
  cloudWatch.reset();
  autoScaling.reset();
  sqs.reset();
});

describe('spot price history of the window (the real DescribeSpotPriceHistory response)', () => {
  const history = fixture('DescribeSpotPriceHistory_m5.large.json').SpotPriceHistory.map((r: Record<string, string>) => ({
    ...r,
    Timestamp: new Date(r.Timestamp!),
  }));
  const from = new Date('2021-01-20T00:00:00Z');
  const to = new Date('2021-02-01T00:00:00Z');

  it('follows NextToken and gives each pool the price carried into the window, then its changes inside it', async () => {
    // Prepare: the 250 records over two pages, as AWS pages them (order not guaranteed, so reversed here).
    ec2
      .on(DescribeSpotPriceHistoryCommand)
      .resolvesOnce({ SpotPriceHistory: history.slice(0, 125).reverse(), NextToken: 'page-2' })
      .resolvesOnce({ SpotPriceHistory: history.slice(125), NextToken: '' });
    // Act
    const steps = await describeSpotPriceSteps([{ instanceType: 'm5.large', availabilityZone: 'us-east-1a' }], from, to, new EC2Client({}));
    const rows = spotRows(steps.get('m5.large|us-east-1a')!, from.getTime(), to.getTime());
    // Assess
    expect(ec2).toHaveReceivedCommandTimes(DescribeSpotPriceHistoryCommand, 2);
    expect(ec2).toHaveReceivedNthCommandWith(DescribeSpotPriceHistoryCommand, 2, { NextToken: 'page-2', StartTime: from, EndTime: to });
    const pool = history.filter((r: { AvailabilityZone: string }) => r.AvailabilityZone === 'us-east-1a');
    const before = pool.filter((r: { Timestamp: Date }) => r.Timestamp <= from).sort((a: { Timestamp: Date }, b: { Timestamp: Date }) => b.Timestamp.getTime() - a.Timestamp.getTime())[0];
    const inside = pool.filter((r: { Timestamp: Date }) => r.Timestamp > from && r.Timestamp <= to);
    expect(rows[0]).toEqual({ at: from.getTime(), price: Number(before.SpotPrice) });
    expect(rows.length).toBe(1 + inside.length);
    expect(rows.slice(1).every((r, i) => r.at > from.getTime() && r.at <= to.getTime() && (i === 0 || r.at >= rows[i]!.at))).toBe(true);
  });

  it('carries the first change back to the start when AWS gave nothing before it, and has no rows for an unpriced pool', () => {
    expect(spotRows([{ at: from.getTime() + 60_000, price: 0.04 }], from.getTime(), to.getTime())).toEqual([{ at: from.getTime(), price: 0.04 }]);
    expect(spotRows([], from.getTime(), to.getTime())).toEqual([]);
  });
});

describe('getMetricData (a GetMetricData response in the API reference\'s shape)', () => {
  const pages = fixture('GetMetricData_sqs.json').pages.map((page: { MetricDataResults: { Timestamps: string[] }[] }) => ({
    ...page,
    MetricDataResults: page.MetricDataResults.map((r) => ({ ...r, Timestamps: r.Timestamps.map((t) => new Date(t)) })),
  }));
  const query = (id: string, metricName: string) => ({
    id,
    namespace: 'AWS/SQS',
    metricName,
    dimensions: { QueueName: 'jobs' },
    stat: 'Sum' as const,
    period: 60,
  });

  it('follows NextToken and joins each query\'s points, in time order, empty when CloudWatch has none', async () => {
    cloudWatch.on(GetMetricDataCommand).resolvesOnce(pages[0]).resolvesOnce(pages[1]);
    const from = new Date('2026-11-30T10:00:00Z');
    const out = await getMetricData([query('sent', 'NumberOfMessagesSent'), query('inFlight', 'ApproximateNumberOfMessagesNotVisible')], from, new Date('2026-11-30T11:00:00Z'), new CloudWatchClient({}));
    const t0 = from.getTime() / 1000;
    expect(out.get('sent')).toEqual([
      { t: t0, v: 12 },
      { t: t0 + 60, v: 7 },
      { t: t0 + 180, v: 3 },
      { t: t0 + 240, v: 0 },
      { t: t0 + 300, v: 25 },
    ]);
    expect(out.get('inFlight')).toEqual([]);
    expect(cloudWatch).toHaveReceivedNthCommandWith(GetMetricDataCommand, 2, { NextToken: 'eyJwYWdlIjoyfQ==' });
    expect(cloudWatch).toHaveReceivedNthCommandWith(GetMetricDataCommand, 1, {
      MetricDataQueries: expect.arrayContaining([
        expect.objectContaining({ Id: 'sent', MetricStat: { Metric: { Namespace: 'AWS/SQS', MetricName: 'NumberOfMessagesSent', Dimensions: [{ Name: 'QueueName', Value: 'jobs' }] }, Period: 60, Stat: 'Sum' } }),
      ]),
    });
  });

  it('throws, naming the metric, when CloudWatch marks a result Forbidden', async () => {
    cloudWatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'sent', StatusCode: 'Forbidden', Timestamps: [], Values: [] }] });
    const call = getMetricData([query('sent', 'NumberOfMessagesSent')], new Date(0), new Date(3_600_000), new CloudWatchClient({}));
    await expect(call).rejects.toThrow(AwsCallError);
    await expect(call).rejects.toThrow(/AWS\/SQS NumberOfMessagesSent: Forbidden/);
  });

  it.each([
    // days back, segments: [period, days back at its start]
    [10, [[60, 10]]],
    [30, [[300, 30], [60, 15]]],
    [70, [[3600, 70], [300, 63], [60, 15]]],
  ])('a %i-day window asks each stretch at the finest period CloudWatch keeps for it', (days, expected) => {
    const now = new Date('2026-12-01T00:00:00Z');
    const from = new Date(now.getTime() - (days as number) * 86_400_000);
    const segments = retentionSegments(from, now, now, 60);
    expect(segments.map((s) => s.period)).toEqual((expected as number[][]).map(([p]) => p));
    // Contiguous, whole periods, each starting no later than the cut it names.
    segments.forEach((s, i) => {
      if (i > 0) expect(s.from).toEqual(segments[i - 1]!.to);
      expect((s.from.getTime() - from.getTime()) % 60_000).toBe(0);
      expect(now.getTime() - s.from.getTime()).toBeLessThanOrEqual((expected as number[][])[i]![1]! * 86_400_000);
    });
    expect(segments.at(-1)!.to).toEqual(now);
  });
});

describe('describeLaunchDurations (scaling activities)', () => {
  it('times successful launches in the window, newest first, and stops at the first older one', async () => {
    // Activities as DescribeScalingActivities returns them (Auto Scaling API reference example: "Launching a new
    // EC2 instance: i-4ba0837f", StatusCode Successful, StartTime/EndTime).
    const at = (iso: string) => new Date(iso);
    autoScaling.on(DescribeScalingActivitiesCommand).resolvesOnce({
      Activities: [
        { ActivityId: 'a1', AutoScalingGroupName: 'ml-spot', Description: 'Launching a new EC2 instance: i-0b1', Cause: 'x', StartTime: at('2026-11-30T10:00:00Z'), EndTime: at('2026-11-30T10:01:35Z'), StatusCode: 'Successful', Progress: 100 },
        { ActivityId: 'a2', AutoScalingGroupName: 'ml-spot', Description: 'Terminating EC2 instance: i-0a9', Cause: 'x', StartTime: at('2026-11-30T09:00:00Z'), EndTime: at('2026-11-30T09:03:00Z'), StatusCode: 'Successful', Progress: 100 },
        { ActivityId: 'a3', AutoScalingGroupName: 'ml-spot', Description: 'Launching a new EC2 instance.  Status Reason: We currently do not have sufficient capacity', Cause: 'x', StartTime: at('2026-11-30T08:00:00Z'), StatusCode: 'Failed', Progress: 100 },
      ],
      NextToken: 'more',
    }).resolvesOnce({
      Activities: [
        { ActivityId: 'a4', AutoScalingGroupName: 'ml-spot', Description: 'Launching a new EC2 instance: i-0c3', Cause: 'x', StartTime: at('2026-11-30T07:00:00Z'), EndTime: at('2026-11-30T07:02:00Z'), StatusCode: 'Successful', Progress: 100 },
        { ActivityId: 'a5', AutoScalingGroupName: 'ml-spot', Description: 'Launching a new EC2 instance: i-0d4', Cause: 'x', StartTime: at('2026-11-28T07:00:00Z'), EndTime: at('2026-11-28T07:09:00Z'), StatusCode: 'Successful', Progress: 100 },
      ],
      NextToken: 'never-read',
    });
    const seconds = await describeLaunchDurations('ml-spot', at('2026-11-29T00:00:00Z'), new AutoScalingClient({}));
    expect(seconds).toEqual([95, 120]);
    expect(autoScaling).toHaveReceivedCommandTimes(DescribeScalingActivitiesCommand, 2);
  });
});

function accountData(overrides: Partial<AccountData> = {}): AccountData {
  const from = new Date('2026-11-30T00:00:00Z');
  const to = new Date('2026-11-30T06:00:00Z');
  const t0 = from.getTime() / 1000;
  return {
    farm: 'ml',
    region: 'us-east-1',
    from,
    to,
    groups: [
      {
        name: 'ml-spot',
        role: 'spot',
        style: 'launch-template',
        instanceTypes: ['m5.large'],
        availabilityZones: ['us-east-1a', 'us-east-1b'],
        min: 0,
        max: 20,
        settings: { slotsPerInstance: '4', acceptableWait: '5m' },
        launch: { market: 'spot', instanceType: 'm5.large', spotMaxPrice: undefined, resolvedVersion: 3 },
      },
      {
        name: 'ml-od',
        role: 'on-demand',
        style: 'launch-template',
        instanceTypes: ['m5.large'],
        availabilityZones: ['us-east-1a', 'us-east-1b'],
        min: 0,
        max: 5,
        settings: { slotsPerInstance: '4', acceptableWait: '5m' },
        launch: { market: 'on-demand', instanceType: 'm5.large', spotMaxPrice: undefined, resolvedVersion: 1 },
      },
    ],
    queue: { name: 'jobs', tag: 'jobs', settings: { visibilityTimeout: 600, maxReceiveCount: 4 } },
    spotPrices: new Map([
      ['m5.large|us-east-1a', [{ at: from.getTime() - 3_600_000, price: 0.04 }, { at: from.getTime() + 3_600_000, price: 0.05 }]],
      ['m5.large|us-east-1b', [{ at: from.getTime() - 60_000, price: 0.041 }]],
    ]),
    onDemand: new Map([['m5.large', { usdPerHour: 0.096, source: 'pricing-api' as const }]]),
    arrivals: [
      { t: t0, v: 3, period: 60 },
      { t: t0 + 3600, v: 2, period: 60 },
    ],
    jobDurations: [],
    jobDeciles: new Map(),
    launchSeconds: [],
    deleted: [{ t: t0, v: 0.1 }],
    inFlight: [{ t: t0, v: 5 }],
    notes: [],
    ...overrides,
  };
}

describe('buildScenario (pure)', () => {
  it('spreads each period\'s messages evenly over it', () => {
    expect(arrivalTimes([{ t: 1060, v: 3, period: 60 }, { t: 1120, v: 0, period: 60 }], 1000, 2000)).toEqual([70, 90, 110]);
  });

  it.each([
    ['the worker\'s metric first', { jobDurations: [{ t: Date.parse('2026-11-30T00:00:00Z') / 1000, sum: 300, count: 10 }] }, 'worker-metric', 30],
    ['else Little\'s law: 5 in flight / 0.1 deleted a second = 50 s', {}, 'littles-law', 50],
    ['else secondsPerJob', { deleted: [], inFlight: [] }, 'setting', 600],
  ])('job durations: %s', (_name, overrides, source, seconds) => {
    const built = buildScenario(accountData(overrides as Partial<AccountData>));
    expect(built.summary.durationSource).toBe(source);
    expect(built.summary.meanDuration).toBe(seconds);
    expect(hourlyDurations(accountData(overrides as Partial<AccountData>)).source).toBe(source);
  });

  it('spreads run times over the hour\'s deciles when CloudWatch gave the worker metric\'s percentiles', () => {
    const t0 = Date.parse('2026-11-30T00:00:00Z') / 1000;
    const deciles = [10, 20, 30, 40, 50, 60, 70, 80, 90, 500];
    const built = buildScenario(
      accountData({
        jobDurations: [{ t: t0, sum: 850, count: 10 }],
        jobDeciles: new Map([[t0, deciles]]),
        arrivals: [{ t: t0, v: 20, period: 60 }],
      }),
    );
    const runtimes = gunzipSync(built.files[FILES.jobs] as Buffer).toString('utf8').trim().split('\n').slice(1).map((l) => Number(l.split(',')[1]));
    // Every ten jobs take each decile once, so the long tail (500 s) is there twice in twenty jobs.
    expect([...runtimes].sort((a, b) => a - b)).toEqual([...deciles, ...deciles].sort((a, b) => a - b));
    expect(runtimes.slice(0, 10)).not.toEqual(deciles);
    expect(built.lines.join('\n')).toMatch(/one of the ten deciles/);
  });

  it('writes a scenario the backtest loads: pools, sizes, queue, settings, prices, jobs', () => {
    // Act
    const built = buildScenario(accountData());
    const dir = mkdtempSync(join(tmpdir(), 'spotfarm-unit-scenario-'));
    try {
      for (const [name, content] of Object.entries(built.files)) writeFileSync(join(dir, name), content);
      const scenario = loadScenario(join(dir, FILES.scenario));
      // Assess
      expect(scenario.instanceTypes).toEqual(['m5.large']);
      expect(scenario.availabilityZones).toEqual(['us-east-1a', 'us-east-1b']);
      expect(scenario.farm).toMatchObject({ name: 'ml', marketStyle: 'launch-template', slotsPerInstance: 4, spot: { min: 0, max: 20 }, onDemand: { min: 0, max: 5 }, visibilityTimeout: 600, maxReceiveCount: 4 });
      expect(scenario.spotfarm).toEqual({ acceptableWait: '5m' });
      expect(scenario.duration).toBe(6 * 3600);
      expect(scenario.market.onDemandPrice('m5.large')).toBe(0.096);
      expect(scenario.market.spotPrice('m5.large', 'us-east-1a', scenario.start)).toBe(0.04);
      expect(scenario.market.spotPrice('m5.large', 'us-east-1a', scenario.start + 7200)).toBe(0.05);
      expect([...scenario.workload.arrival].map((t) => t - scenario.start)).toEqual([10, 30, 50, 3615, 3645]);
      expect(scenario.description).toMatch(/Little's law/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['the median launch-to-in-service time of the window\'s launches', [0.002, 300, 95, 100], 100, /boot 100s: the median launch-to-in-service time of 3 launch/],
    ['120 s when no launch was timed (instant activities do not count)', [0, 0.3], 120, /boot 120s: no timed launch/],
  ])('boot_seconds: %s', (_name, launchSeconds, boot, line) => {
    const built = buildScenario(accountData({ launchSeconds: launchSeconds as number[] }));
    expect(String(built.files[FILES.scenario])).toMatch(new RegExp(`boot_seconds: ${boot}\\n`));
    expect(built.lines.join('\n')).toMatch(line);
  });

  it.each([
    ['an AZ without prices for a type is left out, and said', { spotPrices: new Map([['m5.large|us-east-1a', [{ at: 0, price: 0.04 }]]]) }, /us-east-1b left out: no spot price history for m5.large/],
    ['no redrive policy stands for "never"', { queue: { name: 'jobs', tag: 'jobs', settings: { visibilityTimeout: 30, maxReceiveCount: undefined } } }, /no redrive policy: max_receive_count 1000/],
  ])('%s', (_name, overrides, note) => {
    expect(buildScenario(accountData(overrides as Partial<AccountData>)).lines.join('\n')).toMatch(note);
  });

  it.each([
    ['no job arrived', { arrivals: [] }, /no job arrived on queue jobs/],
    ['a type the backtest cannot price', { groups: accountData().groups.map((g) => ({ ...g, instanceTypes: ['zz9.huge'] })) }, /does not know instance type\(s\) zz9.huge/],
    ['no spot prices anywhere', { spotPrices: new Map() }, /no availability zone of farm ml has spot price history/],
    ['no spot group', { groups: accountData().groups.filter((g) => g.role === 'on-demand') }, /has no group with spotfarm:role=spot/],
  ])('refuses %s, saying why', (_name, overrides, message) => {
    expect(() => buildScenario(accountData(overrides as Partial<AccountData>))).toThrow(message);
  });
});

describe('scenario from-account: a missing permission names the IAM action', () => {
  const io = () => {
    const seen = { out: '', err: '' };
    return { seen, io: { out: (t: string) => (seen.out += t), err: (t: string) => (seen.err += t) } };
  };
  const args = ['from-account', '--farm', 'ml', '--days', '1', '--region', 'us-east-1', '--out', join(tmpdir(), 'spotfarm-never-written'), '--quiet'];

  it('autoscaling:DescribeAutoScalingGroups, from AWS\'s own message', async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand).rejects(
      Object.assign(new Error('User: arn:aws:iam::123456789012:user/dev is not authorized to perform: autoscaling:DescribeAutoScalingGroups because no identity-based policy allows the autoscaling:DescribeAutoScalingGroups action'), { name: 'AccessDenied' }),
    );
    const { seen, io: streams } = io();
    const code = await scenarioMain(args, streams, { clients: () => regionalClients('us-east-1') });
    expect(code).toBe(1);
    expect(seen.err).toMatch(/missing permission autoscaling:DescribeAutoScalingGroups: .*grant autoscaling:DescribeAutoScalingGroups/);
  });

  it('ec2:DescribeSpotPriceHistory, when EC2 says only UnauthorizedOperation', async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [
        {
          AutoScalingGroupName: 'ml-spot',
          MinSize: 0,
          MaxSize: 4,
          DesiredCapacity: 0,
          DefaultCooldown: 300,
          HealthCheckType: 'EC2',
          CreatedTime: new Date(),
          AvailabilityZones: ['us-east-1a'],
          LaunchTemplate: { LaunchTemplateName: 'ml', Version: '$Latest' },
          Tags: [
            { Key: 'spotfarm:farm', Value: 'ml' },
            { Key: 'spotfarm:queue', Value: 'jobs' },
          ],
        },
      ],
    });
    autoScaling.on(DescribeScalingActivitiesCommand).resolves({ Activities: [] });
    ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({
      LaunchTemplateVersions: [{ LaunchTemplateName: 'ml', LaunchTemplateId: 'lt-1', VersionNumber: 1, LaunchTemplateData: { InstanceType: 'm5.large' } }],
    });
    sqs.on(GetQueueUrlCommand).resolves({ QueueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/jobs' });
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { VisibilityTimeout: '60' } });
    ec2.on(DescribeSpotPriceHistoryCommand).rejects(Object.assign(new Error('You are not authorized to perform this operation.'), { name: 'UnauthorizedOperation' }));
    const { seen, io: streams } = io();
    const code = await scenarioMain(args, streams, { clients: () => regionalClients('us-east-1') });
    expect(code).toBe(1);
    expect(seen.err).toMatch(/missing permission ec2:DescribeSpotPriceHistory/);
  });

  it('draws a progress bar on a terminal, and clears it before the error', async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDenied' }));
    let drawn = '';
    const stream = Object.assign(new Writable({ write: (chunk, _enc, done) => ((drawn += String(chunk)), done()) }), { isTTY: true, columns: 120, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
    const { seen, io: streams } = io();
    const quietless = args.filter((a) => a !== '--quiet');
    expect(await scenarioMain(quietless, { ...streams, stream }, { clients: () => regionalClients('us-east-1') })).toBe(1);
    expect(drawn).toMatch(/reading the account \[.*\] 0\/8 auto scaling groups/);
    expect(seen.err).toMatch(/missing permission autoscaling:DescribeAutoScalingGroups/);
  });

  it('asks for a Region when the SDK finds none', async () => {
    const { seen, io: streams } = io();
    const clients = regionalClients();
    clients.ec2.config.region = async () => {
      throw new Error('Region is missing');
    };
    expect(await scenarioMain(args.filter((a) => a !== '--region' && a !== 'us-east-1'), streams, { clients: () => clients })).toBe(1);
    expect(seen.err).toMatch(/no Region: pass --region/);
  });

  it.each([
    [['from-account', '--days', '1', '--out', 'x'], /--farm NAME is required/],
    [['from-account', '--farm', 'ml', '--days', '91', '--out', 'x'], /--days must be a whole number from 1 to 90/],
    [['from-account', '--farm', 'ml'], /--out DIR is required/],
    [['to-account', '--farm', 'ml', '--out', 'x'], /unknown scenario command "to-account"/],
  ])('bad usage %j exits 2', async (argv, message) => {
    const { seen, io: streams } = io();
    expect(await scenarioMain(argv, streams)).toBe(2);
    expect(seen.err).toMatch(message);
  });
});

describe('the worker\'s job metrics (worker/job-metrics.ts)', () => {
  let logged: { event: string; fields: Record<string, unknown> | undefined }[];
  beforeEach(() => {
    logged = [];
  });
  afterEach(() => cloudWatch.reset());

  it('sends one PutMetricData per flush: JobDuration by queue and outcome, Values/Counts per minute', async () => {
    cloudWatch.on(PutMetricDataCommand).resolves({});
    const metrics = cloudWatchJobMetrics({ queueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/jobs', client: new CloudWatchClient({}), flushSeconds: 3600 });
    const at = Date.parse('2026-11-30T10:00:30Z');
    metrics.record({ outcome: 'succeeded', seconds: 40.04 }, at);
    metrics.record({ outcome: 'succeeded', seconds: 40 }, at + 1000);
    metrics.record({ outcome: 'succeeded', seconds: 44 }, at + 2000);
    metrics.record({ outcome: 'handed-back', seconds: 12 }, at + 61_000);
    await metrics.stop();
    await metrics.flush();
    expect(cloudWatch).toHaveReceivedCommandTimes(PutMetricDataCommand, 1);
    expect(cloudWatch).toHaveReceivedCommandWith(PutMetricDataCommand, {
      Namespace: 'spotfarm',
      MetricData: [
        {
          MetricName: 'JobDuration',
          Dimensions: [{ Name: 'QueueName', Value: 'jobs' }, { Name: 'Outcome', Value: 'succeeded' }],
          Timestamp: new Date('2026-11-30T10:00:00Z'),
          Unit: 'Seconds',
          Values: [40, 44],
          Counts: [2, 1],
        },
        {
          MetricName: 'JobDuration',
          Dimensions: [{ Name: 'QueueName', Value: 'jobs' }, { Name: 'Outcome', Value: 'handed-back' }],
          Timestamp: new Date('2026-11-30T10:01:00Z'),
          Unit: 'Seconds',
          Values: [12],
          Counts: [1],
        },
      ],
    });
  });

  it('stops publishing after one AccessDenied, saying which permission to grant, and never throws', async () => {
    cloudWatch.on(PutMetricDataCommand).rejects(Object.assign(new Error('not authorized to perform: cloudwatch:PutMetricData'), { name: 'AccessDenied' }));
    const metrics = cloudWatchJobMetrics({
      queueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/jobs',
      client: new CloudWatchClient({}),
      flushSeconds: 3600,
      log: (_level, event, fields) => logged.push({ event, fields }),
    });
    metrics.record({ outcome: 'failed', seconds: 3 });
    await metrics.flush();
    metrics.record({ outcome: 'failed', seconds: 3 });
    await metrics.stop();
    expect(cloudWatch).toHaveReceivedCommandTimes(PutMetricDataCommand, 1);
    expect(logged.map((l) => l.event)).toEqual(['job_metrics_disabled']);
    expect(String(logged[0]!.fields!.reason)).toMatch(/cloudwatch:PutMetricData/);
  });
});
