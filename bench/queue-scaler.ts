/**
 * The `queue-scaler` handler in process, its SDK answered by a small stateful fake behind aws-sdk-client-mock:
 * AWS calls per tick per farm, by operation (target: one queue read and one group read per farm, describe calls
 * by pages not groups, mutations only on change), for 1, 10 and 100 farms, on a first tick that scales out, a
 * quiet tick and a drained tick that scales in; the handler's in-process time per tick; and the pure capacity
 * decision's throughput (decisions per second). Prints figures; asserts nothing.
 * `npx tsx bench/queue-scaler.ts` (BENCH_DECISIONS=N to change the sample).
 */
process.env.AWS_REGION ??= 'us-east-1';
process.env.AWS_ACCESS_KEY_ID ??= 'bench';
process.env.AWS_SECRET_ACCESS_KEY ??= 'bench';
process.env.SPOTFARM_STATE_TABLE = 'spotfarm-bench-state';
process.env.SPOTFARM_FARM = '*';
process.env.SPOTFARM_LOG_LEVEL = 'SILENT';

import { performance } from 'node:perf_hooks';
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  SetDesiredCapacityCommand,
  type AutoScalingGroup,
  type DescribeAutoScalingGroupsCommandInput,
  type SetDesiredCapacityCommandInput,
} from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient, GetItemCommand, PutItemCommand, type GetItemCommandInput, type PutItemCommandInput } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient, type GetQueueAttributesCommandInput, type GetQueueUrlCommandInput } from '@aws-sdk/client-sqs';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import type { Context } from 'aws-lambda';
import { decideCapacity, emptyCapacityState, type CapacityInput } from '../src/capacity/decide';
import { DEFAULT_SETTINGS } from '../src/settings';

const DECISIONS = Number(process.env.BENCH_DECISIONS ?? 200_000);

/** The fake cloud: groups with a desired capacity (instances follow at once), queues, the state table. */
const world = {
  groups: new Map<string, { farm: string; role: string; desired: number }>(),
  visible: new Map<string, number>(),
  items: new Map<string, Record<string, unknown>>(),
};
const calls = new Map<string, number>();
const count = (name: string) => calls.set(name, (calls.get(name) ?? 0) + 1);

function toGroup(name: string): AutoScalingGroup {
  const g = world.groups.get(name)!;
  return {
    AutoScalingGroupName: name,
    MinSize: 0,
    MaxSize: 50,
    DesiredCapacity: g.desired,
    AvailabilityZones: ['us-east-1a', 'us-east-1b'],
    DefaultCooldown: 300,
    HealthCheckType: 'EC2',
    CreatedTime: new Date('2025-01-01T00:00:00Z'),
    LaunchTemplate: { LaunchTemplateName: name, Version: '$Latest' },
    Instances: Array.from({ length: g.desired }, (_, i) => ({
      InstanceId: `i-${name}-${i}`,
      InstanceType: 'c5.large',
      AvailabilityZone: i % 2 ? 'us-east-1b' : 'us-east-1a',
      LifecycleState: 'InService',
      HealthStatus: 'Healthy',
      ProtectedFromScaleIn: false,
    })),
    Tags: [
      { Key: 'spotfarm:farm', Value: g.farm },
      { Key: 'spotfarm:role', Value: g.role },
      { Key: 'spotfarm:queue', Value: `${g.farm}-jobs` },
      { Key: 'spotfarm:backlogPerInstance', Value: '10' },
    ],
  };
}

function install(): void {
  const autoscaling = mockClient(AutoScalingClient);
  const sqs = mockClient(SQSClient);
  const dynamodb = mockClient(DynamoDBClient);
  autoscaling.on(DescribeAutoScalingGroupsCommand).callsFake((input: DescribeAutoScalingGroupsCommandInput) => {
    count('DescribeAutoScalingGroups');
    const names = [...world.groups.keys()].sort();
    const start = Number(input.NextToken ?? 0);
    const page = names.slice(start, start + (input.MaxRecords ?? 50));
    const next = start + page.length;
    return { AutoScalingGroups: page.map(toGroup), NextToken: next < names.length ? String(next) : undefined };
  });
  autoscaling.on(SetDesiredCapacityCommand).callsFake((input: SetDesiredCapacityCommandInput) => {
    count('SetDesiredCapacity');
    world.groups.get(input.AutoScalingGroupName!)!.desired = input.DesiredCapacity!;
    return {};
  });
  sqs.on(GetQueueUrlCommand).callsFake((input: GetQueueUrlCommandInput) => {
    count('GetQueueUrl');
    return { QueueUrl: `https://sqs.us-east-1.amazonaws.com/123456789012/${input.QueueName}` };
  });
  sqs.on(GetQueueAttributesCommand).callsFake((input: GetQueueAttributesCommandInput) => {
    count('GetQueueAttributes');
    const queue = input.QueueUrl!.split('/').at(-1)!;
    return { Attributes: { ApproximateNumberOfMessages: String(world.visible.get(queue) ?? 0), ApproximateNumberOfMessagesNotVisible: '0', ApproximateNumberOfMessagesDelayed: '0' } };
  });
  dynamodb.on(GetItemCommand).callsFake((input: GetItemCommandInput) => {
    count('GetItem');
    const key = unmarshall(input.Key!) as { pk: string; sk: string };
    const item = world.items.get(`${key.pk}|${key.sk}`);
    return { Item: item as never };
  });
  dynamodb.on(PutItemCommand).callsFake((input: PutItemCommandInput) => {
    count('PutItem');
    const item = unmarshall(input.Item!) as { pk: string; sk: string };
    const key = `${item.pk}|${item.sk}`;
    const existing = world.items.get(key);
    const expected = input.ExpressionAttributeValues?.[':expected']?.N;
    const ok = input.ConditionExpression === 'attribute_not_exists(pk)' ? !existing : existing !== undefined && String(unmarshall(existing as never).version) === expected;
    if (input.ConditionExpression && !ok) throw Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException' });
    world.items.set(key, input.Item!);
    return {};
  });
}

function setupFarms(farms: number): void {
  world.groups.clear();
  world.visible.clear();
  world.items.clear();
  for (let i = 0; i < farms; i++) {
    const farm = `farm${String(i).padStart(3, '0')}`;
    world.groups.set(`${farm}-spot`, { farm, role: 'spot', desired: 1 });
    world.groups.set(`${farm}-od`, { farm, role: 'on-demand', desired: 0 });
  }
}

const context = { awsRequestId: 'bench', functionName: 'queue-scaler', getRemainingTimeInMillis: () => 60_000 } as unknown as Context;
let eventSerial = 0;
const tickEvent = (time: string) => ({
  version: '0',
  id: `bench-${eventSerial++}`,
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '123456789012',
  time,
  region: 'us-east-1',
  resources: ['arn:aws:events:us-east-1:123456789012:rule/bench'],
  detail: {},
});

async function main(): Promise<void> {
  install();
  const { handler } = (await import('../functions/queue-scaler')) as unknown as {
    handler: (event: unknown, context: Context) => Promise<unknown>;
  };

  console.log('AWS calls per tick, per farm (1 spot + 1 on-demand group each; 10 messages per instance):');
  console.log('farms  tick                       ms/tick  calls/farm  by operation (total for the tick)');
  for (const farms of [1, 10, 100]) {
    setupFarms(farms);
    const scenarios: [string, string, () => void][] = [
      ['first: 200 msgs, scale out', '2025-03-01T12:00:00Z', () => [...world.groups.values()].forEach((g) => world.visible.set(`${g.farm}-jobs`, 200))],
      ['quiet: same backlog', '2025-03-01T12:01:00Z', () => undefined],
      ['drained: 10 min later', '2025-03-01T12:10:00Z', () => world.visible.forEach((_, q) => world.visible.set(q, 0))],
      ['quiet: in cooldown', '2025-03-01T12:11:00Z', () => undefined],
    ];
    for (const [label, time, prepare] of scenarios) {
      prepare();
      calls.clear();
      const started = performance.now();
      await handler(tickEvent(time), context);
      const ms = performance.now() - started;
      const total = [...calls.values()].reduce((a, b) => a + b, 0);
      const byOp = [...calls.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([op, n]) => `${op} ${n}`).join(', ');
      console.log(`${String(farms).padStart(5)}  ${label.padEnd(26)} ${ms.toFixed(1).padStart(7)}  ${(total / farms).toFixed(2).padStart(10)}  ${byOp}`);
    }
  }
  console.log('(GetQueueUrl is once per queue per container; DescribeAutoScalingGroups is one call per 100 groups.)');

  // The pure decision: a spread of farms, backlogs, shortfalls and states.
  const inputs: CapacityInput[] = Array.from({ length: 1000 }, (_, i) => ({
    farm: 'bench',
    queue: { visible: (i * 37) % 500, inFlight: (i * 11) % 40, delayed: i % 3 },
    spot: { name: 'bench-spot', min: 0, max: 50, desired: i % 40, inService: Math.max(0, (i % 40) - (i % 5)), pending: i % 3 },
    onDemand: { name: 'bench-od', min: 0, max: 20, desired: i % 4, inService: i % 4, pending: 0 },
    spotMarket: i % 7 === 0 ? 'on-demand' : 'spot',
    settings: { ...DEFAULT_SETTINGS, scalingPolicy: i % 2 ? 'target' : 'step', backlogPerInstance: 5 },
    state: { ...emptyCapacityState(), alarms: i % 3 === 0 ? { high: { value: 'ALARM', since: '2025-03-01T11:59:00Z' } } : {}, shortfall: i % 5 ? [{ since: '2025-03-01T11:50:00Z', amount: i % 5 }] : undefined },
  }));
  const now = new Date('2025-03-01T12:00:00Z');
  for (let i = 0; i < 20_000; i++) decideCapacity(inputs[i % inputs.length]!, now);
  const started = performance.now();
  let actions = 0;
  for (let i = 0; i < DECISIONS; i++) actions += decideCapacity(inputs[i % inputs.length]!, now).actions.length;
  const seconds = (performance.now() - started) / 1000;
  console.log(`\npure capacity decision: ${Math.round(DECISIONS / seconds).toLocaleString('en-US')} decisions/s (${DECISIONS} decisions, ${actions} actions, ${(seconds * 1e6 / DECISIONS).toFixed(2)} µs each)`);
}

void main();
