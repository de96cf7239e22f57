/**
 * The `interruption` handler in process, its SDK mocked (aws-sdk-client-mock): AWS calls per event by path
 * (target on the common path, an interruption warning for an instance of a managed group: <= 5 Auto Scaling /
 * EC2 calls, none of them proportional to the farm's size) and the handler's in-process latency, p50 / p99, over many warnings. Prints figures; asserts
 * nothing. `npx tsx bench/interruption.ts` (BENCH_WARNINGS=N to change the sample).
 */
process.env.AWS_REGION ??= 'us-east-1';
process.env.AWS_ACCESS_KEY_ID ??= 'bench';
process.env.AWS_SECRET_ACCESS_KEY ??= 'bench';
process.env.SPOTFARM_STATE_TABLE = 'spotfarm-bench-state';
process.env.SPOTFARM_LOG_LEVEL = 'SILENT';

import { performance } from 'node:perf_hooks';
import { mockClient } from 'aws-sdk-client-mock';
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DetachInstancesCommand,
  type AutoScalingGroup,
} from '@aws-sdk/client-auto-scaling';
import { CreateTagsCommand, DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';

const WARNINGS = Number(process.env.BENCH_WARNINGS ?? 2000);
const GROUP_SIZE = 50;

const mocks = { autoscaling: mockClient(AutoScalingClient), ec2: mockClient(EC2Client), dynamodb: mockClient(DynamoDBClient), sns: mockClient(SNSClient) };
let serial = 0;
const instanceId = (n: number) => `i-${n.toString(16).padStart(17, '0')}`;
/** A group of GROUP_SIZE instances spread over 3 AZs; each warning interrupts a fresh one. */
function group(first: number, capacityRebalance = false): AutoScalingGroup {
  return {
    AutoScalingGroupName: 'bench-spot',
    MinSize: 0,
    MaxSize: 100,
    DesiredCapacity: GROUP_SIZE,
    AvailabilityZones: ['us-east-1a', 'us-east-1b', 'us-east-1c'],
    DefaultCooldown: 300,
    HealthCheckType: 'EC2',
    CreatedTime: new Date('2025-01-01T00:00:00Z'),
    CapacityRebalance: capacityRebalance,
    LaunchTemplate: { LaunchTemplateName: 'bench-spot', Version: '$Latest' },
    Instances: Array.from({ length: GROUP_SIZE }, (_, i) => ({
      InstanceId: instanceId(first + i),
      InstanceType: 'c5.large',
      AvailabilityZone: ['us-east-1a', 'us-east-1b', 'us-east-1c'][i % 3]!,
      LifecycleState: 'InService',
      HealthStatus: 'Healthy',
      ProtectedFromScaleIn: false,
    })),
    Tags: [
      { Key: 'spotfarm:farm', Value: 'bench' },
      { Key: 'spotfarm:role', Value: 'spot' },
      // No breaker in the latency run: every warning takes the common path.
      { Key: 'spotfarm:breakerInterruptions', Value: '1000' },
    ],
  };
}

function route(options: { capacityRebalance?: boolean; member?: boolean } = {}): void {
  for (const mock of Object.values(mocks)) mock.reset();
  mocks.autoscaling
    .on(DescribeAutoScalingGroupsCommand)
    .callsFake(() => ({ AutoScalingGroups: [group(options.member === false ? 1_000_000 : serial, options.capacityRebalance)] }));
  // A warning reads only its instance's group: DescribeAutoScalingInstances first, then that group.
  mocks.autoscaling.on(DescribeAutoScalingInstancesCommand).callsFake((input: { InstanceIds?: string[] }) => {
    const g = group(options.member === false ? 1_000_000 : serial, options.capacityRebalance);
    const ids = new Set(input.InstanceIds ?? []);
    return {
      AutoScalingInstances: (g.Instances ?? [])
        .filter((i) => ids.has(i.InstanceId!))
        .map((i) => ({ ...i, AutoScalingGroupName: g.AutoScalingGroupName, LaunchTemplate: g.LaunchTemplate })),
    };
  });
  mocks.autoscaling.on(DetachInstancesCommand).resolves({ Activities: [] });
  mocks.ec2.on(CreateTagsCommand).resolves({});
  mocks.ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
  mocks.dynamodb.on(QueryCommand).resolves({ Items: [] });
  mocks.dynamodb.on(PutItemCommand).resolves({});
  mocks.dynamodb.on(GetItemCommand).resolves({});
}

function warning(id: string, kind: 'EC2 Spot Instance Interruption Warning' | 'EC2 Instance Rebalance Recommendation' = 'EC2 Spot Instance Interruption Warning') {
  return {
    version: '0',
    id: `bench-${serial}`,
    'detail-type': kind,
    source: 'aws.ec2',
    account: '123456789012',
    // Sent now: a warning older than its two minutes is late and replaces nothing (the guard reads the wall clock).
    time: new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
    region: 'us-east-1',
    resources: [`arn:aws:ec2:us-east-1:123456789012:instance/${id}`],
    detail: kind === 'EC2 Spot Instance Interruption Warning' ? { 'instance-id': id, 'instance-action': 'terminate' } : { 'instance-id': id },
  };
}

function sentCommands(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [service, mock] of Object.entries(mocks)) {
    for (const call of mock.calls()) {
      const name = `${service}:${(call.args[0] as object).constructor.name.replace(/Command$/, '')}`;
      out[name] = (out[name] ?? 0) + 1;
    }
  }
  return out;
}

const context = {
  callbackWaitsForEmptyEventLoop: false,
  functionName: 'interruption',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:interruption',
  memoryLimitInMB: '256',
  awsRequestId: 'bench',
  logGroupName: '/aws/lambda/interruption',
  logStreamName: 'bench',
  getRemainingTimeInMillis: () => 30_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
};

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

async function main(): Promise<void> {
  const { handler } = (await import('../functions/interruption')) as unknown as {
    handler: (event: unknown, context: unknown) => Promise<{ actions: { kind: string; outcome: string }[] }>;
  };

  const paths: [string, () => unknown, Parameters<typeof route>[0]][] = [
    ['warning, managed instance (common path)', () => warning(instanceId(serial)), {}],
    ['warning, Capacity Rebalancing on', () => warning(instanceId(serial), 'EC2 Spot Instance Interruption Warning'), { capacityRebalance: true }],
    ['warning, instance in no managed group', () => warning(instanceId(serial)), { member: false }],
    ['rebalance recommendation (rebalance=record)', () => warning(instanceId(serial), 'EC2 Instance Rebalance Recommendation'), {}],
    ['sweep tick, nothing detached', () => ({ version: '0', id: 'tick', 'detail-type': 'Scheduled Event', source: 'aws.events', account: '123456789012', time: '2025-03-14T09:00:00Z', region: 'us-east-1', resources: [], detail: {} }), {}],
  ];
  console.log('interruption: AWS calls per event (mocked SDK)');
  for (const [label, event, options] of paths) {
    serial += GROUP_SIZE;
    route(options);
    const result = await handler(event(), context);
    const sent = sentCommands();
    const controlPlane = Object.entries(sent).filter(([k]) => /^(autoscaling|ec2):/.test(k)).reduce((n, [, v]) => n + v, 0);
    const total = Object.values(sent).reduce((n, v) => n + v, 0);
    console.log(
      `  ${label.padEnd(46)} ${String(controlPlane).padStart(2)} Auto Scaling/EC2, ${String(total).padStart(2)} in all  ` +
        `[${Object.entries(sent).map(([k, v]) => (v > 1 ? `${k} x${v}` : k)).join(', ')}]  -> ${result.actions.map((a) => `${a.kind}:${a.outcome}`).join(', ')}`,
    );
  }
  console.log(
    '  target: <= 5 Auto Scaling/EC2 calls on the common path, none per managed group: the instance\'s group (2 reads),' +
      ' its termination hooks (1), the tag and the detach (2); DynamoDB: the pool query, the record, the audit record',
  );

  // Latency: many warnings, each for a fresh instance of the group (the common path), after a warm-up.
  route({});
  const times: number[] = [];
  for (let i = 0; i < WARNINGS + 200; i++) {
    serial += 1;
    const event = warning(instanceId(serial));
    const start = performance.now();
    await handler(event, context);
    if (i >= 200) times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  console.log(
    `interruption: handler in process, ${WARNINGS} warnings (common path, mocked SDK, group of ${GROUP_SIZE}): ` +
      `p50 ${percentile(times, 50).toFixed(2)} ms, p99 ${percentile(times, 99).toFixed(2)} ms, max ${times[times.length - 1]!.toFixed(2)} ms`,
  );
  for (const mock of Object.values(mocks)) mock.restore();
}

void main();
