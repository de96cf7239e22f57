/**
 * The simulated cloud through the real SDK clients (sim/cloud/sdk.ts routes every send to it): outputs in the
 * SDK's shapes, errors with the SDK's names, loud failures for what it does not emulate.
 */
import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeScalingActivitiesCommand,
  DetachInstancesCommand,
  PutScalingPolicyCommand,
  SetDesiredCapacityCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { type AttributeValue, DeleteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
  ModifyLaunchTemplateCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { GetProductsCommand, PricingClient } from '@aws-sdk/client-pricing';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Tables } from '../../sim/cloud/dynamodb-api';
import { connectSdk, type SdkConnection } from '../../sim/cloud/sdk';
import type { World } from '../../sim/cloud/world';
import { T0, testScenario } from './support/scenario';
import { world } from './support/world';

const asg = new AutoScalingClient({ region: 'us-east-1' });
const ec2 = new EC2Client({ region: 'us-east-1' });
const sqs = new SQSClient({ region: 'us-east-1' });
const ddb = new DynamoDBClient({ region: 'us-east-1' });
const pricing = new PricingClient({ region: 'us-east-1' });

let w: World;
let sdk: SdkConnection;

beforeEach(() => {
  w = world(testScenario({ jobs: [{ at: 0, runtime: 10 }], spot: { 'us-east-1a': [[-60, 0.05]], 'us-east-1b': [[-60, 0.06]] } }));
  const tables = new Tables();
  tables.create('state', 'pk', 'sk');
  sdk = connectSdk({ world: w, tables });
});
afterEach(() => sdk.restore());

async function makeGroup(name: string, tags: Record<string, string> = {}, max = 3) {
  const lt = await ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: `${name}-lt`, LaunchTemplateData: { ImageId: 'ami-1', InstanceType: 'c3.xlarge' } }));
  await asg.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: name,
      MinSize: 0,
      MaxSize: max,
      DesiredCapacity: 0,
      LaunchTemplate: { LaunchTemplateId: lt.LaunchTemplate!.LaunchTemplateId!, Version: '1' },
      Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value, PropagateAtLaunch: true })),
    }),
  );
  return lt.LaunchTemplate!.LaunchTemplateId!;
}

describe('Auto Scaling through the SDK', () => {
  it('filters groups by tag (ANDed filters, ORed values) and paginates', async () => {
    // Prepare
    await makeGroup('a', { 'spotfarm:farm': 'ml', 'spotfarm:role': 'spot' });
    await makeGroup('b', { 'spotfarm:farm': 'ml', 'spotfarm:role': 'on-demand' });
    await makeGroup('c', { 'spotfarm:farm': 'other' });
    // Act
    const ml = await asg.send(new DescribeAutoScalingGroupsCommand({ Filters: [{ Name: 'tag:spotfarm:farm', Values: ['ml'] }] }));
    const both = await asg.send(
      new DescribeAutoScalingGroupsCommand({
        Filters: [
          { Name: 'tag:spotfarm:farm', Values: ['ml', 'other'] },
          { Name: 'tag-key', Values: ['spotfarm:role'] },
        ],
      }),
    );
    const page1 = await asg.send(new DescribeAutoScalingGroupsCommand({ MaxRecords: 2 }));
    const page2 = await asg.send(new DescribeAutoScalingGroupsCommand({ MaxRecords: 2, NextToken: page1.NextToken }));
    // Assess
    expect(ml.AutoScalingGroups!.map((g) => g.AutoScalingGroupName)).toEqual(['a', 'b']);
    expect(both.AutoScalingGroups!.map((g) => g.AutoScalingGroupName)).toEqual(['a', 'b']);
    expect(page1.AutoScalingGroups).toHaveLength(2);
    expect(page2.AutoScalingGroups!.map((g) => g.AutoScalingGroupName)).toEqual(['c']);
    expect(page2.NextToken).toBeUndefined();
  });

  it('rejects a desired capacity above max with ValidationError, as the SDK shapes it', async () => {
    await makeGroup('a');
    const call = asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'a', DesiredCapacity: 5 }));
    await expect(call).rejects.toMatchObject({
      name: 'ValidationError',
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
      message: 'New SetDesiredCapacity value 5 is above max value 3 for the AutoScalingGroup.',
    });
  });

  it('with HonorCooldown, a change during the cooldown is ScalingActivityInProgressFault; without, it goes through', async () => {
    await makeGroup('a');
    await asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'a', DesiredCapacity: 1 }));
    await w.runUntil(T0 + 10);
    await expect(asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'a', DesiredCapacity: 2, HonorCooldown: true }))).rejects.toMatchObject({
      name: 'ScalingActivityInProgressFault',
      $metadata: { httpStatusCode: 400 },
    });
    await asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'a', DesiredCapacity: 2, HonorCooldown: false }));
    await w.runUntil(T0 + 400);
    // The cooldown (300 s) has passed since the last launch: honoured, the change goes through.
    await asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'a', DesiredCapacity: 3, HonorCooldown: true }));
    const g = await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['a'] }));
    expect(g.AutoScalingGroups![0]!.DesiredCapacity).toBe(3);
  });

  it('launches instances as desired grows; a new MaxSize below desired lowers it', async () => {
    await makeGroup('a', {}, 5);
    await asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'a', DesiredCapacity: 4 }));
    await w.runUntil(T0 + 10);
    const before = await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['a'] }));
    await asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'a', MaxSize: 2 }));
    await w.runUntil(T0 + 20);
    const after = await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['a'] }));
    expect(before.AutoScalingGroups![0]!.Instances).toHaveLength(4);
    expect(after.AutoScalingGroups![0]).toMatchObject({ MaxSize: 2, DesiredCapacity: 2 });
    expect(after.AutoScalingGroups![0]!.Instances).toHaveLength(2);
  });

  it('detaching without decrement launches a replacement; the detached instance keeps running', async () => {
    await makeGroup('a');
    await asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'a', DesiredCapacity: 1 }));
    await w.runUntil(T0 + 100);
    const id = (await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['a'] }))).AutoScalingGroups![0]!.Instances![0]!.InstanceId!;
    await asg.send(new DetachInstancesCommand({ AutoScalingGroupName: 'a', InstanceIds: [id], ShouldDecrementDesiredCapacity: false }));
    await w.runUntil(T0 + 110);
    const g = (await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['a'] }))).AutoScalingGroups![0]!;
    const detached = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
    expect(g.DesiredCapacity).toBe(1);
    expect(g.Instances!.map((i) => i.InstanceId)).not.toContain(id);
    expect(g.Instances).toHaveLength(1);
    expect(detached.Reservations![0]!.Instances![0]!.State!.Name).toBe('running');
    const activities = await asg.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: 'a' }));
    expect(activities.Activities![0]!.Description).toMatch(/^Launching a new EC2 instance: i-/);
  });

  it('DescribeInstances by an instance-id filter (the breaker\'s launch times): LaunchTime, detached and terminated instances listed for an hour, unknown ids left out; by InstanceIds an unknown id fails', async () => {
    // Prepare: two instances launched just after T0; at T0 + 100 one detached, the other terminated.
    await makeGroup('a');
    await asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'a', DesiredCapacity: 2 }));
    await w.runUntil(T0 + 100);
    const [kept, gone] = (await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['a'] }))).AutoScalingGroups![0]!.Instances!.map((i) => i.InstanceId!);
    await asg.send(new DetachInstancesCommand({ AutoScalingGroupName: 'a', InstanceIds: [kept!], ShouldDecrementDesiredCapacity: true }));
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [gone!] }));
    const byFilter = async () =>
      (await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: [kept!, gone!, 'i-0000000000000dead'] }] }))).Reservations!.flatMap((r) => r.Instances!);

    // Act
    const soon = await byFilter();
    const terminatedAt = w.now;
    // The world stops once its work is done, so its clock is moved by hand past the hour.
    w.now = terminatedAt + 3600 + 60;
    const later = await byFilter();

    // Assess: both listed with their launch time (the terminated one too, for about an hour), the unknown id left out.
    expect(soon.map((i) => i.InstanceId).sort()).toEqual([kept, gone].sort());
    for (const i of soon) {
      expect(i.LaunchTime!.getTime()).toBeGreaterThanOrEqual(T0 * 1000);
      expect(i.LaunchTime!.getTime()).toBeLessThan((T0 + 100) * 1000);
    }
    expect(soon.find((i) => i.InstanceId === gone)!.State!.Name).toBe('terminated');
    expect(later.map((i) => i.InstanceId)).toEqual([kept]);
    await expect(ec2.send(new DescribeInstancesCommand({ InstanceIds: [kept!, 'i-0000000000000dead'] }))).rejects.toMatchObject({ name: 'InvalidInstanceID.NotFound' });
  });

  it('lists scaling activities newest first, one group or all, page by page', async () => {
    await makeGroup('a', {}, 5);
    await makeGroup('b', {}, 5);
    for (let step = 1; step <= 4; step++) {
      await asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: step % 2 ? 'a' : 'b', DesiredCapacity: step }));
      await w.runUntil(T0 + step * 100);
    }
    const all = async (group?: string) => {
      const out: { group: string; start: number }[] = [];
      let token: string | undefined;
      do {
        const page = await asg.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: group, MaxRecords: 2, NextToken: token }));
        out.push(...page.Activities!.map((a) => ({ group: a.AutoScalingGroupName!, start: a.StartTime!.getTime() })));
        token = page.NextToken;
      } while (token);
      return out;
    };
    const every = await all();
    const onlyA = await all('a');
    // One activity per launch: a to 1 then 3 (three launches), b to 2 then 4 (four); launches of one step tie.
    expect(every.length).toBe(7);
    expect(every.map((a) => a.start)).toEqual([...every.map((a) => a.start)].sort((x, y) => y - x));
    expect(new Set(every.map((a) => a.group))).toEqual(new Set(['a', 'b']));
    expect(onlyA).toEqual(every.filter((a) => a.group === 'a'));
  });

  it('a command the simulated cloud does not emulate fails loudly', async () => {
    await expect(asg.send(new PutScalingPolicyCommand({ AutoScalingGroupName: 'a', PolicyName: 'p' }))).rejects.toThrow(
      'the simulated cloud does not implement PutScalingPolicyCommand',
    );
  });
});

describe('EC2 launch templates through the SDK', () => {
  it('a new version from SourceVersion inherits what it does not set; ModifyLaunchTemplate moves $Default', async () => {
    const lt = await ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: 't',
        LaunchTemplateData: { ImageId: 'ami-1', InstanceType: 'c3.xlarge', InstanceMarketOptions: { MarketType: 'spot' } },
      }),
    );
    const id = lt.LaunchTemplate!.LaunchTemplateId!;
    const v2 = await ec2.send(new CreateLaunchTemplateVersionCommand({ LaunchTemplateId: id, SourceVersion: '1', LaunchTemplateData: { InstanceMarketOptions: {} } }));
    await ec2.send(new ModifyLaunchTemplateCommand({ LaunchTemplateId: id, DefaultVersion: '2' }));
    const versions = await ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: id, Versions: ['$Default', '1'] }));
    expect(v2.LaunchTemplateVersion!.VersionNumber).toBe(2);
    expect(versions.LaunchTemplateVersions!.map((v) => [v.VersionNumber, v.DefaultVersion, v.LaunchTemplateData!.ImageId, v.LaunchTemplateData!.InstanceMarketOptions?.MarketType])).toEqual([
      [2, true, 'ami-1', undefined],
      [1, false, 'ami-1', 'spot'],
    ]);
    await expect(ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: 'lt-nope' }))).rejects.toMatchObject({ name: 'InvalidLaunchTemplateId.NotFound' });
  });

  it('a ClientToken makes CreateLaunchTemplateVersion idempotent', async () => {
    const lt = await ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 't', LaunchTemplateData: { ImageId: 'ami-1' } }));
    const id = lt.LaunchTemplate!.LaunchTemplateId!;
    const create = (image: string) =>
      ec2.send(new CreateLaunchTemplateVersionCommand({ LaunchTemplateId: id, ClientToken: 'swap-1', LaunchTemplateData: { ImageId: image } }));
    const first = await create('ami-2');
    const again = await create('ami-2');
    expect(again.LaunchTemplateVersion!.VersionNumber).toBe(first.LaunchTemplateVersion!.VersionNumber);
    await expect(create('ami-3')).rejects.toMatchObject({ name: 'IdempotentParameterMismatch' });
  });
});

describe('SQS and Pricing through the SDK', () => {
  it('answers queue depths as strings and QueueDoesNotExist for an unknown queue', async () => {
    await w.runUntil(T0 + 1);
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'farm-jobs' }));
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] }),
    );
    expect(Attributes).toEqual({ ApproximateNumberOfMessages: '1', ApproximateNumberOfMessagesNotVisible: '0', ApproximateNumberOfMessagesDelayed: '0' });
    await expect(sqs.send(new GetQueueUrlCommand({ QueueName: 'nope' }))).rejects.toMatchObject({ name: 'QueueDoesNotExist' });
  });

  it('answers GetProducts in the Price List shape: JSON strings with the on-demand price', async () => {
    const out = await pricing.send(
      new GetProductsCommand({
        ServiceCode: 'AmazonEC2',
        Filters: [
          { Type: 'TERM_MATCH', Field: 'instanceType', Value: 'c3.xlarge' },
          { Type: 'TERM_MATCH', Field: 'regionCode', Value: 'us-east-1' },
          { Type: 'TERM_MATCH', Field: 'operatingSystem', Value: 'Linux' },
          { Type: 'TERM_MATCH', Field: 'tenancy', Value: 'Shared' },
          { Type: 'TERM_MATCH', Field: 'preInstalledSw', Value: 'NA' },
          { Type: 'TERM_MATCH', Field: 'capacitystatus', Value: 'Used' },
        ],
      }),
    );
    expect(out.PriceList).toHaveLength(1);
    const product = JSON.parse(String(out.PriceList![0]));
    const dims = Object.values(Object.values(product.terms.OnDemand as Record<string, { priceDimensions: Record<string, { unit: string; pricePerUnit: { USD: string } }> }>)[0]!.priceDimensions);
    expect(dims[0]).toMatchObject({ unit: 'Hrs' });
    expect(Number(dims[0]!.pricePerUnit.USD)).toBe(0.21);
    const none = await pricing.send(new GetProductsCommand({ ServiceCode: 'AmazonEC2', Filters: [{ Type: 'TERM_MATCH', Field: 'instanceType', Value: 'm5.large' }] }));
    expect(none.PriceList).toEqual([]);
  });
});

describe('DynamoDB state table through the SDK', () => {
  const key = marshall({ pk: 'group#a', sk: 'state' });

  it('puts with attribute_not_exists once, then only with the expected version (optimistic concurrency)', async () => {
    const create = () =>
      ddb.send(new PutItemCommand({ TableName: 'state', Item: marshall({ pk: 'group#a', sk: 'state', version: 1 }), ConditionExpression: 'attribute_not_exists(pk)' }));
    await create();
    await expect(create()).rejects.toMatchObject({ name: 'ConditionalCheckFailedException', $metadata: { httpStatusCode: 400 } });
    const update = (expected: number) =>
      ddb.send(
        new PutItemCommand({
          TableName: 'state',
          Item: marshall({ pk: 'group#a', sk: 'state', version: expected + 1 }),
          ConditionExpression: 'attribute_not_exists(pk) OR #version = :expected',
          ExpressionAttributeNames: { '#version': 'version' },
          ExpressionAttributeValues: marshall({ ':expected': expected }),
        }),
      );
    await update(1);
    await expect(update(1)).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
    const item = await ddb.send(new GetItemCommand({ TableName: 'state', Key: key, ConsistentRead: true }));
    expect(unmarshall(item.Item!)).toEqual({ pk: 'group#a', sk: 'state', version: 2 });
  });

  it('queries a time window with BETWEEN and a kind with begins_with, in sort-key order', async () => {
    for (const sk of ['decision#2015-05-05T00:10:00Z#1', 'decision#2015-05-05T00:20:00Z#2', 'interruption#2015-05-05T00:15:00Z#3']) {
      await ddb.send(new PutItemCommand({ TableName: 'state', Item: marshall({ pk: 'pool#c3.xlarge|us-east-1a', sk }) }));
    }
    const between = await ddb.send(
      new QueryCommand({
        TableName: 'state',
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
        ExpressionAttributeValues: marshall({ ':pk': 'pool#c3.xlarge|us-east-1a', ':from': 'decision#2015-05-05T00:15', ':to': 'decision#2015-05-05T01' }),
      }),
    );
    const prefix = await ddb.send(
      new QueryCommand({
        TableName: 'state',
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: marshall({ ':pk': 'pool#c3.xlarge|us-east-1a', ':prefix': 'decision#' }),
        ScanIndexForward: false,
      }),
    );
    expect(between.Items!.map((i) => unmarshall(i).sk)).toEqual(['decision#2015-05-05T00:20:00Z#2']);
    expect(prefix.Items!.map((i) => unmarshall(i).sk)).toEqual(['decision#2015-05-05T00:20:00Z#2', 'decision#2015-05-05T00:10:00Z#1']);
  });

  it('keeps a partition in sort-key order whatever the write order: pages with Limit and ExclusiveStartKey, both directions, after deletes and overwrites', async () => {
    // DynamoDB: "Query results are always sorted by the sort key value"; a page ends at Limit with
    // LastEvaluatedKey, and the next starts after it (Query.KeyConditionExpressions.html, Query.Pagination.html).
    const pk = 'group#g';
    const sks = ['rec#05', 'rec#01', 'rec#09', 'rec#03', 'rec#07', 'other#1', 'state', 'rec#02'];
    for (const sk of sks) await ddb.send(new PutItemCommand({ TableName: 'state', Item: marshall({ pk, sk, v: 1 }) }));
    await ddb.send(new PutItemCommand({ TableName: 'state', Item: marshall({ pk, sk: 'rec#03', v: 2 }) }));
    await ddb.send(new DeleteItemCommand({ TableName: 'state', Key: marshall({ pk, sk: 'rec#07' }) }));
    await ddb.send(new PutItemCommand({ TableName: 'state', Item: marshall({ pk: 'group#h', sk: 'rec#04' }) }));
    const pages = async (forward: boolean, expression: string, values: Record<string, string>) => {
      const seen: string[] = [];
      let start: Record<string, AttributeValue> | undefined;
      do {
        const page = await ddb.send(
          new QueryCommand({ TableName: 'state', KeyConditionExpression: expression, ExpressionAttributeValues: marshall({ ':pk': pk, ...values }), Limit: 2, ScanIndexForward: forward, ExclusiveStartKey: start }),
        );
        seen.push(...page.Items!.map((i) => `${unmarshall(i).sk}=${unmarshall(i).v}`));
        start = page.LastEvaluatedKey;
      } while (start);
      return seen;
    };
    const records = ['rec#01=1', 'rec#02=1', 'rec#03=2', 'rec#05=1', 'rec#09=1'];
    expect(await pages(true, 'pk = :pk AND begins_with(sk, :p)', { ':p': 'rec#' })).toEqual(records);
    expect(await pages(false, 'pk = :pk AND begins_with(sk, :p)', { ':p': 'rec#' })).toEqual([...records].reverse());
    expect(await pages(true, 'pk = :pk AND sk BETWEEN :a AND :b', { ':a': 'rec#02', ':b': 'rec#06' })).toEqual(['rec#02=1', 'rec#03=2', 'rec#05=1']);
    expect(await pages(true, 'pk = :pk AND sk > :a', { ':a': 'rec#05' })).toEqual(['rec#09=1', 'state=1']);
    expect(await pages(true, 'pk = :pk AND sk <= :a', { ':a': 'other#1' })).toEqual(['other#1=1']);
    expect(await pages(true, 'pk = :pk', {})).toEqual(['other#1=1', ...records, 'state=1']);
  });

  it('fails loudly on anything else', async () => {
    await expect(ddb.send(new UpdateItemCommand({ TableName: 'state', Key: key }))).rejects.toThrow('does not implement UpdateItemCommand');
    await expect(
      ddb.send(new PutItemCommand({ TableName: 'state', Item: marshall({ pk: 'x', sk: 'y' }), ConditionExpression: 'size(#a) > :n', ExpressionAttributeNames: { '#a': 'a' }, ExpressionAttributeValues: marshall({ ':n': 1 }) })),
    ).rejects.toThrow(/does not implement DynamoDB condition expression/);
    await expect(ddb.send(new GetItemCommand({ TableName: 'nope', Key: key }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});
