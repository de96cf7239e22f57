/**
 * The simulated CloudWatch: the farm queue's AWS/SQS metrics and GetMetricData over them, as AWS documents them.
 * - Amazon SQS Developer Guide, "Available CloudWatch metrics for Amazon SQS": namespace AWS/SQS, dimension
 *   QueueName; NumberOfMessagesDeleted (messages deleted), ApproximateNumberOfMessagesNotVisible (in flight);
 *   published to CloudWatch at one-minute intervals.
 * - CloudWatch API Reference, GetMetricData: data points per Period with the query's Stat; periods without data
 *   left out; a metric without data returns no values with StatusCode Complete; Period a multiple of 60 for
 *   standard-resolution metrics; Ids unique, starting with a lower-case letter.
 */
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { afterEach, describe, expect, it } from 'vitest';
import { getQueueWork } from '../../src/aws/cloudwatch';
import { startQueueMetrics } from '../../sim/cloud/cloudwatch';
import { Tables } from '../../sim/cloud/dynamodb-api';
import { connectSdk, type SdkConnection } from '../../sim/cloud/sdk';
import { T0, testScenario } from './support/scenario';
import { group, world } from './support/world';

const metric = (id: string, name: string, stat: string, period = 60, queue = 'farm-jobs') => ({
  Id: id,
  MetricStat: { Metric: { Namespace: 'AWS/SQS', MetricName: name, Dimensions: [{ Name: 'QueueName', Value: queue }] }, Period: period, Stat: stat },
});

describe('simulated CloudWatch: the farm queue\'s AWS/SQS metrics', () => {
  let connection: SdkConnection | undefined;
  afterEach(() => connection?.restore());

  async function farmWorld() {
    // One on-demand instance, 2 slots, boot 60 s: four 100 s jobs at t=0 run two at a time (t=62-162, 162-262).
    const w = world(testScenario({ jobs: [0, 0, 0, 0].map((at) => ({ at, runtime: 100 })) }));
    startQueueMetrics(w);
    group(w, { spot: false, desired: 1 });
    connection = connectSdk({ world: w, tables: new Tables() });
    await w.runUntil(T0 + 600);
    return w;
  }

  it('one data point a minute: deletions within the minute, messages in flight at its end', async () => {
    const w = await farmWorld();
    const client = new CloudWatchClient({ region: 'us-east-1' });
    // Act
    const out = await client.send(
      new GetMetricDataCommand({
        MetricDataQueries: [metric('deleted', 'NumberOfMessagesDeleted', 'Sum'), metric('inFlight', 'ApproximateNumberOfMessagesNotVisible', 'Average')],
        StartTime: new Date(T0 * 1000),
        EndTime: new Date((T0 + 600) * 1000),
        ScanBy: 'TimestampAscending',
      }),
    );
    // Assess: the queue name is the farm's (`<farm>-jobs`).
    expect(w.farmQueueName).toBe('farm-jobs');
    const [deleted, inFlight] = out.MetricDataResults!;
    expect(deleted!.StatusCode).toBe('Complete');
    expect(deleted!.Timestamps!.map((t) => (t.getTime() / 1000 - T0) / 60)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Two deletions in minute 2 (t=162), two in minute 4 (t=262).
    expect(deleted!.Values).toEqual([0, 0, 2, 0, 2, 0, 0, 0, 0, 0]);
    // In flight at each minute's end (t=60: none yet; 120, 180, 240: two; 300 on: none).
    expect(inFlight!.Values).toEqual([0, 2, 2, 2, 0, 0, 0, 0, 0, 0]);
    expect(w.completed).toBe(4);
  });

  it('aggregates per Period with the Stat, leaves out periods without data, answers unknown metrics empty', async () => {
    await farmWorld();
    const client = new CloudWatchClient({ region: 'us-east-1' });
    const out = await client.send(
      new GetMetricDataCommand({
        MetricDataQueries: [
          metric('sum', 'NumberOfMessagesDeleted', 'Sum', 300),
          metric('count', 'NumberOfMessagesDeleted', 'SampleCount', 300),
          metric('max', 'ApproximateNumberOfMessagesNotVisible', 'Maximum', 300),
          metric('other', 'NumberOfMessagesDeleted', 'Sum', 60, 'another-queue'),
        ],
        // The world ran to T0 + 600: the last data point is the minute starting at T0 + 540, published at its end.
        // The periods from T0 + 600 on have none and are left out.
        StartTime: new Date(T0 * 1000),
        EndTime: new Date((T0 + 1200) * 1000),
        ScanBy: 'TimestampAscending',
      }),
    );
    const byId = Object.fromEntries(out.MetricDataResults!.map((r) => [r.Id, r]));
    expect(byId.sum!.Values).toEqual([4, 0]);
    expect(byId.count!.Values).toEqual([5, 5]);
    expect(byId.max!.Values).toEqual([2, 0]);
    expect(byId.sum!.Timestamps!.map((t: Date) => t.getTime() / 1000 - T0)).toEqual([0, 300]);
    expect(byId.other).toMatchObject({ StatusCode: 'Complete', Values: [], Timestamps: [] });
  });

  it('refuses what CloudWatch refuses: a Period not a multiple of 60, an Id not starting lower-case', async () => {
    await farmWorld();
    const client = new CloudWatchClient({ region: 'us-east-1' });
    const send = (q: ReturnType<typeof metric>) =>
      client.send(new GetMetricDataCommand({ MetricDataQueries: [q], StartTime: new Date(T0 * 1000), EndTime: new Date((T0 + 600) * 1000) }));
    await expect(send(metric('a', 'NumberOfMessagesDeleted', 'Sum', 90))).rejects.toMatchObject({ name: 'ValidationError' });
    await expect(send(metric('Upper', 'NumberOfMessagesDeleted', 'Sum'))).rejects.toMatchObject({ name: 'ValidationError' });
  });

  it('getQueueWork (src/aws/cloudwatch.ts) gives Little\'s law its figures: W = in-flight message-seconds / deletions', async () => {
    await farmWorld();
    // Act
    const work = await getQueueWork('https://sqs.us-east-1.amazonaws.com/123456789012/farm-jobs', new Date(T0 * 1000), new Date((T0 + 600) * 1000));
    // Assess: 10 published minutes, 4 deleted, 3 minutes of 2 in flight = 360 message-seconds: W = 90 s (the jobs
    // ran 100 s; one-minute samples of in flight are approximate, as SQS's are).
    expect(work).toEqual({ minutes: 10, deleted: 4, inFlightSeconds: 360 });
  });
});
