/**
 * The queue-scaler handler with aws-sdk-client-mock: the AWS calls it makes, the conditional claim of its state
 * before acting, and how it takes a lost race and an Auto Scaling activity in progress.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand, SetDesiredCapacityCommand } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { QueueScalerResult } from '../../functions/queue-scaler';
import { lambdaContext } from '../support/lambda';

const autoscaling = mockClient(AutoScalingClient);
const sqs = mockClient(SQSClient);
const dynamodb = mockClient(DynamoDBClient);
const cloudwatch = mockClient(CloudWatchClient);

const tick = (): Record<string, unknown> => ({
  ...(JSON.parse(readFileSync(resolve(__dirname, '../fixtures/events/queue-scaler-tick.json'), 'utf8')) as object),
});

const group = (name: string, role: string, desired: number) => ({
  AutoScalingGroupName: name,
  MinSize: 0,
  MaxSize: 20,
  DesiredCapacity: desired,
  AvailabilityZones: ['us-east-1a'],
  LaunchTemplate: { LaunchTemplateName: name, Version: '$Latest' },
  Instances: Array.from({ length: desired }, (_, i) => ({
    InstanceId: `i-${name}-${i}`,
    InstanceType: 'c5.large',
    AvailabilityZone: 'us-east-1a',
    LifecycleState: 'InService' as const,
    HealthStatus: 'Healthy',
    ProtectedFromScaleIn: false,
  })),
  Tags: [
    { Key: 'spotfarm:farm', Value: 'ml' },
    { Key: 'spotfarm:role', Value: role },
    { Key: 'spotfarm:queue', Value: 'ml-jobs' },
  ],
  CreatedTime: new Date('2025-01-01T00:00:00Z'),
  HealthCheckType: 'EC2',
  DefaultCooldown: 300,
});

describe('queue-scaler handler (mocked SDK)', () => {
  let handler: (event: unknown, context: unknown) => Promise<QueueScalerResult>;

  beforeAll(async () => {
    vi.stubEnv('SPOTFARM_STATE_TABLE', 'state');
    const { resetConfigCache } = await import('../../src/config');
    resetConfigCache();
    ({ handler } = (await import('../../functions/queue-scaler')) as unknown as { handler: typeof handler });
  });

  afterAll(() => {
    vi.unstubAllEnvs();
  });

  beforeEach(() => {
    // Prepare: a farm at 2 spot instances with 10 messages waiting (1 per instance: wants 10).
    autoscaling.reset();
    sqs.reset();
    dynamodb.reset();
    cloudwatch.reset();
    cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    autoscaling.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [group('ml-spot', 'spot', 2), group('ml-od', 'on-demand', 0)] });
    autoscaling.on(SetDesiredCapacityCommand).resolves({});
    sqs.on(GetQueueUrlCommand).resolves({ QueueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/ml-jobs' });
    sqs.on(GetQueueAttributesCommand).resolves({
      Attributes: { ApproximateNumberOfMessages: '10', ApproximateNumberOfMessagesNotVisible: '0', ApproximateNumberOfMessagesDelayed: '0' },
    });
    dynamodb.on(GetItemCommand).resolves({});
    dynamodb.on(PutItemCommand).resolves({});
  });

  it('reads the farm once, claims its state with a conditional write, then scales out', async () => {
    // Act
    const result = await handler(tick(), lambdaContext('queue-scaler'));
    // Assess
    expect(result.farms?.[0]).toMatchObject({ farm: 'ml', outcome: 'acted', figures: { backlog: 10, total: 10 } });
    expect(autoscaling).toHaveReceivedCommandTimes(DescribeAutoScalingGroupsCommand, 1);
    expect(sqs).toHaveReceivedCommandTimes(GetQueueAttributesCommand, 1);
    expect(autoscaling).toHaveReceivedCommandWith(SetDesiredCapacityCommand, { AutoScalingGroupName: 'ml-spot', DesiredCapacity: 10 });
    expect(autoscaling).toHaveReceivedCommandTimes(SetDesiredCapacityCommand, 1);
    expect(dynamodb).toHaveReceivedCommandWith(PutItemCommand, {
      TableName: 'state',
      ConditionExpression: 'attribute_not_exists(pk)',
      Item: expect.objectContaining({ pk: { S: 'farm#ml' }, sk: { S: 'capacity' } }),
    });
  });

  it('a lost race (another run wrote the state first) changes nothing', async () => {
    // Prepare
    dynamodb
      .on(PutItemCommand)
      .rejects(Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException' }));
    // Act
    const result = await handler(tick(), lambdaContext('queue-scaler'));
    // Assess
    expect(result.farms?.[0]?.outcome).toBe('lost-race');
    expect(autoscaling).not.toHaveReceivedCommand(SetDesiredCapacityCommand);
  });

  it('writes with the version it read', async () => {
    // Prepare
    const stored = { alarms: {}, desired: { 'ml-spot': 2, 'ml-od': 0 }, total: 2 };
    dynamodb.on(GetItemCommand, { Key: marshall({ pk: 'farm#ml', sk: 'capacity' }) }).resolves({
      Item: marshall({ pk: 'farm#ml', sk: 'capacity', version: 7, data: JSON.stringify(stored) }),
    });
    // Act
    await handler(tick(), lambdaContext('queue-scaler'));
    // Assess
    expect(dynamodb).toHaveReceivedCommandWith(PutItemCommand, {
      ConditionExpression: '#version = :expected',
      ExpressionAttributeValues: { ':expected': { N: '7' } },
      Item: expect.objectContaining({ version: { N: '8' } }),
    });
  });

  it('an Auto Scaling activity in progress is left to the next tick, not retried in a loop or failed', async () => {
    // Prepare
    autoscaling
      .on(SetDesiredCapacityCommand)
      .rejects(Object.assign(new Error('Scaling activity 1234 is in progress and blocks this action.'), { name: 'ScalingActivityInProgressFault' }));
    // Act
    const result = await handler(tick(), lambdaContext('queue-scaler'));
    // Assess
    expect(result.farms?.[0]?.outcome).toBe('scaling-in-progress');
    expect(autoscaling).toHaveReceivedCommandTimes(SetDesiredCapacityCommand, 1);
  });

  it('any other Auto Scaling error fails the invocation, naming the group and the value', async () => {
    // Prepare
    autoscaling
      .on(SetDesiredCapacityCommand)
      .rejects(Object.assign(new Error('New SetDesiredCapacity value 10 is above max value 1 for the AutoScalingGroup.'), { name: 'ValidationError' }));
    // Act / Assess
    await expect(handler(tick(), lambdaContext('queue-scaler'))).rejects.toThrow(
      /setting desired capacity of auto scaling group ml-spot to 10: ValidationError: New SetDesiredCapacity value 10 is above max/,
    );
  });

  it('a manual dry run reads and decides, and writes nothing', async () => {
    // Act
    const result = await handler({ dryRun: true, time: '2025-03-01T12:00:00Z' }, lambdaContext('queue-scaler'));
    // Assess
    expect(result).toMatchObject({ dryRun: true, farms: [{ outcome: 'dry-run', figures: { total: 10 } }] });
    expect(autoscaling).not.toHaveReceivedCommand(SetDesiredCapacityCommand);
    expect(dynamodb).not.toHaveReceivedCommand(PutItemCommand);
  });

  it('an alarm transition survives a lost write race: the run re-reads and decides again (issue 11)', async () => {
    // Prepare: the farm's queue is demo-jobs (the alarm fixture's); the first conditional write loses.
    const demo = (name: string, role: string, desired: number) => ({
      ...group(name, role, desired),
      Tags: [
        { Key: 'spotfarm:farm', Value: 'demo' },
        { Key: 'spotfarm:role', Value: role },
        { Key: 'spotfarm:queue', Value: 'demo-jobs' },
        { Key: 'spotfarm:scalingPolicy', Value: 'step' },
      ],
    });
    autoscaling.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [demo('demo-spot', 'spot', 2), demo('demo-od', 'on-demand', 0)] });
    sqs.on(GetQueueUrlCommand).resolves({ QueueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/demo-jobs' });
    dynamodb
      .on(PutItemCommand)
      .rejectsOnce(Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException' }))
      .resolves({});
    const alarm = JSON.parse(readFileSync(resolve(__dirname, '../fixtures/events/alarm-backlog-high.json'), 'utf8')) as object;
    // Act
    const result = await handler(alarm, lambdaContext('queue-scaler'));
    // Assess: the second write records the alarm, and the step policy acts on it.
    expect(result.farms?.[0]?.outcome).toBe('acted');
    const written = dynamodb
      .commandCalls(PutItemCommand)
      .filter((c) => c.args[0].input.Item!.sk!.S === 'capacity')
      .map((c) => JSON.parse(c.args[0].input.Item!.data!.S!) as { alarms: Record<string, { value: string }> });
    expect(written).toHaveLength(2);
    expect(written[1]!.alarms.high).toMatchObject({ value: 'ALARM' });
    expect(autoscaling).toHaveReceivedCommand(SetDesiredCapacityCommand);
  });

  it('one farm refused (AccessDenied on SetDesiredCapacity) does not stop the others; the invocation fails at the end (issue 11)', async () => {
    // Prepare: two farms on one queue name each; the first farm's group refuses the call.
    const farmGroup = (farm: string, name: string, role: string, desired: number) => ({
      ...group(name, role, desired),
      Tags: [
        { Key: 'spotfarm:farm', Value: farm },
        { Key: 'spotfarm:role', Value: role },
        { Key: 'spotfarm:queue', Value: 'ml-jobs' },
      ],
    });
    autoscaling.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [farmGroup('a', 'a-spot', 'spot', 2), farmGroup('b', 'b-spot', 'spot', 2)],
    });
    autoscaling
      .on(SetDesiredCapacityCommand, { AutoScalingGroupName: 'a-spot' })
      .rejects(Object.assign(new Error('User is not authorized to perform: autoscaling:SetDesiredCapacity'), { name: 'AccessDenied' }));
    // Act / Assess
    await expect(handler(tick(), lambdaContext('queue-scaler'))).rejects.toThrow(/1 of 2 farms not scaled \(the others were\): a: .*AccessDenied/);
    expect(autoscaling).toHaveReceivedCommandWith(SetDesiredCapacityCommand, { AutoScalingGroupName: 'b-spot', DesiredCapacity: 10 });
  });

  it('refuses a tick dated beyond the clock-skew allowance and changes nothing (issue 15 item 1)', async () => {
    // Prepare: a tick dated 2099 would store lastScaleInAt/idleSince in 2099 and never scale in again.
    const future = { ...tick(), time: '2099-01-01T00:00:00Z' };
    // Act / Assess
    await expect(handler(future, lambdaContext('queue-scaler'))).rejects.toThrow(/dated 2099-01-01T00:00:00.000Z.*refused and nothing was changed/);
    expect(dynamodb).not.toHaveReceivedCommand(PutItemCommand);
    expect(autoscaling).not.toHaveReceivedCommand(SetDesiredCapacityCommand);
  });

  it('a manual time is for dry runs only', async () => {
    await expect(handler({ time: '2025-03-01T12:00:00Z' }, lambdaContext('queue-scaler'))).rejects.toThrow(/only for dry runs/);
    expect(dynamodb).not.toHaveReceivedCommand(PutItemCommand);
    const dry = await handler({ time: '2025-03-01T12:00:00Z', dryRun: true }, lambdaContext('queue-scaler'));
    expect(dry.dryRun).toBe(true);
  });

  describe('the job duration, learned from the queue\'s AWS/SQS metrics', () => {
    const minutes = (n: number, value: number) => ({
      Timestamps: Array.from({ length: n }, (_, k) => new Date(Date.UTC(2025, 2, 1, 10, k))),
      Values: Array.from({ length: n }, () => value),
      StatusCode: 'Complete' as const,
    });
    const writtenState = () => {
      const put = dynamodb.commandCalls(PutItemCommand).find((c) => c.args[0].input.Item?.sk?.S === 'capacity');
      return JSON.parse(put!.args[0].input.Item!.data!.S!) as Record<string, unknown>;
    };

    it('reads one GetMetricData of two metrics (deletions, messages in flight) and sizes on W = in flight / deletion rate', async () => {
      // Prepare: 180 minutes of 5 deletions and 40 in flight a minute: W = 40 x 60 / 5 = 480 s.
      cloudwatch.on(GetMetricDataCommand).resolves({
        MetricDataResults: [
          { Id: 'deleted', ...minutes(180, 5) },
          { Id: 'inFlight', ...minutes(180, 40) },
        ],
      });
      // Act
      const result = await handler(tick(), lambdaContext('queue-scaler'));
      // Assess
      expect(cloudwatch).toHaveReceivedCommandTimes(GetMetricDataCommand, 1);
      const query = cloudwatch.commandCalls(GetMetricDataCommand)[0]!.args[0].input;
      expect(query.MetricDataQueries?.map((q) => [q.MetricStat?.Metric?.Namespace, q.MetricStat?.Metric?.MetricName, q.MetricStat?.Stat, q.MetricStat?.Period])).toEqual([
        ['AWS/SQS', 'NumberOfMessagesDeleted', 'Sum', 60],
        ['AWS/SQS', 'ApproximateNumberOfMessagesNotVisible', 'Average', 60],
      ]);
      expect(query.MetricDataQueries?.[0]?.MetricStat?.Metric?.Dimensions).toEqual([{ Name: 'QueueName', Value: 'ml-jobs' }]);
      expect((query.EndTime!.getTime() - query.StartTime!.getTime()) / 1000).toBe(3 * 3600);
      expect(result.farms?.[0]?.figures.service).toMatchObject({ secondsPerJob: 480, secondsPerJobSource: 'learned' });
      expect(writtenState()).toMatchObject({ jobSeconds: 480, jobSecondsFrom: 900 });
    });

    it('does not read again within 15 minutes of the last read', async () => {
      // Prepare
      const stored = { alarms: {}, desired: { 'ml-spot': 2, 'ml-od': 0 }, total: 2, jobSeconds: 480, workReadAt: new Date(Date.now() - 14 * 60_000).toISOString() };
      dynamodb.on(GetItemCommand, { Key: marshall({ pk: 'farm#ml', sk: 'capacity' }) }).resolves({
        Item: marshall({ pk: 'farm#ml', sk: 'capacity', version: 3, data: JSON.stringify(stored) }),
      });
      // Act
      const result = await handler(tick(), lambdaContext('queue-scaler'));
      // Assess
      expect(cloudwatch).not.toHaveReceivedCommand(GetMetricDataCommand);
      expect(result.farms?.[0]?.figures.service).toMatchObject({ secondsPerJob: 480, secondsPerJobSource: 'learned' });
    });

    it('a refused read (a stack without cloudwatch:GetMetricData) still scales, on secondsPerJob, and waits its turn to retry', async () => {
      // Prepare
      cloudwatch.on(GetMetricDataCommand).rejects(Object.assign(new Error('not authorized to perform: cloudwatch:GetMetricData'), { name: 'AccessDenied' }));
      // Act
      const result = await handler(tick(), lambdaContext('queue-scaler'));
      // Assess
      expect(result.farms?.[0]).toMatchObject({ outcome: 'acted', figures: { total: 10, service: { secondsPerJob: 600, secondsPerJobSource: 'setting' } } });
      expect(writtenState().workReadAt).toEqual(expect.any(String));
    });
  });
});
