/**
 * The fault-injecting proxy (test/support/aws-proxy.ts), each fault observed through the real SDK clients against
 * moto server: what the SDK makes of the answer (error name, status, retryability) and what reached moto.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startMoto, type MotoServer } from '../support/moto';
import { createAwsProxy, startAwsProxy, type AwsProxy, type FaultRule } from '../support/aws-proxy';

describe('aws-proxy in front of moto', () => {
  let moto: MotoServer;
  let proxy: AwsProxy;
  let queueUrl: string;
  const table = 'proxy-test';

  /** Clients through the proxy; `maxAttempts: 1` shows the raw answer, more shows the SDK's retry of it. */
  const clients = (maxAttempts = 1) => {
    const common = { endpoint: proxy.endpoint, region: 'us-east-1', maxAttempts, retryMode: 'standard' as const };
    return {
      autoscaling: new AutoScalingClient(common),
      ec2: new EC2Client(common),
      dynamo: new DynamoDBClient(common),
      sqs: new SQSClient(common),
    };
  };
  const errorOf = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error as Record<string, unknown> & { $metadata?: { httpStatusCode?: number } });

  beforeAll(async () => {
    moto = await startMoto();
    proxy = await startAwsProxy({ target: moto.endpoint, seed: 7 });
    const { dynamo, sqs } = clients();
    await dynamo.send(
      new CreateTableCommand({
        TableName: table,
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'proxy-test' }))).QueueUrl!;
  });

  afterAll(async () => {
    await proxy?.stop();
    await moto?.stop();
  });

  beforeEach(() => {
    proxy.setRules([]);
    proxy.resetCounts();
  });

  it('passes calls through untouched and counts them per service and operation', async () => {
    // Act
    const groups = await clients().autoscaling.send(new DescribeAutoScalingGroupsCommand({}));
    await clients().dynamo.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'none' } } }));
    // Assess
    expect(groups.AutoScalingGroups).toEqual([]);
    expect(proxy.counts()).toEqual({
      'autoscaling:DescribeAutoScalingGroups': { requests: 1, forwarded: 1, faults: {} },
      'dynamodb:GetItem': { requests: 1, forwarded: 1, faults: {} },
    });
    expect(proxy.faultsInjected()).toBe(0);
  });

  it.each([
    // EC2 answers RequestLimitExceeded with a 503, which the SDK files as a server fault.
    ['autoscaling (query)', 'DescribeAutoScalingGroups', 'Throttling', 400, 'client'],
    ['ec2 (ec2 query)', 'DescribeInstances', 'RequestLimitExceeded', 503, 'server'],
    ['dynamodb (JSON 1.0)', 'GetItem', 'ThrottlingException', 400, 'client'],
    ['sqs (JSON, query compatible)', 'GetQueueAttributes', 'ThrottlingException', 400, 'client'],
  ])('throttles %s with the service own error, which the SDK retries', async (_label, operation, name, status, fault) => {
    // Prepare
    proxy.setRules([{ operation, times: 1, fault: { kind: 'throttle' } }]);
    const call = (c: ReturnType<typeof clients>) => {
      switch (operation) {
        case 'DescribeAutoScalingGroups':
          return c.autoscaling.send(new DescribeAutoScalingGroupsCommand({}));
        case 'DescribeInstances':
          return c.ec2.send(new DescribeInstancesCommand({}));
        case 'GetItem':
          return c.dynamo.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'x' } } }));
        default:
          return c.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['All'] }));
      }
    };
    // Act: one attempt sees the error
    const error = await errorOf(call(clients(1)));
    // Assess
    expect(error?.name).toBe(name);
    expect(error?.$metadata?.httpStatusCode).toBe(status);
    expect(error?.$fault).toBe(fault);
    // Act: the rule is spent (times: 1); re-armed, the SDK retries through it
    proxy.setRules([{ operation, times: 1, fault: { kind: 'throttle' } }]);
    await expect(call(clients(3))).resolves.toBeDefined();
    const [entry] = Object.values(proxy.counts());
    expect(entry).toEqual({ requests: 3, forwarded: 1, faults: { throttle: 2 } });
  });

  it('answers 5xx in the service shape, retried by the SDK', async () => {
    // Prepare
    proxy.setRules([{ service: 'ec2', times: 1, fault: { kind: 'serverError', status: 503 } }]);
    // Act
    const error = await errorOf(clients(1).ec2.send(new DescribeInstancesCommand({})));
    proxy.setRules([{ service: 'dynamodb', times: 2, fault: { kind: 'serverError', status: 500 } }]);
    const dynamoError = await errorOf(clients(1).dynamo.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'x' } } })));
    const retried = await clients(3).dynamo.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'x' } } }));
    // Assess
    expect(error).toMatchObject({ name: 'ServiceUnavailable', $fault: 'server', $metadata: { httpStatusCode: 503 } });
    expect(dynamoError).toMatchObject({ name: 'InternalServerError', $metadata: { httpStatusCode: 500 } });
    expect(retried.Item).toBeUndefined();
    expect(proxy.counts()['dynamodb:GetItem']).toEqual({ requests: 3, forwarded: 1, faults: { serverError: 2 } });
  });

  it('resets the connection before moto sees the request: nothing happened there', async () => {
    // Prepare
    proxy.setRules([{ operation: 'PutItem', times: 1, fault: { kind: 'resetBefore' } }]);
    // Act
    const error = await errorOf(clients(1).dynamo.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'before' } } })));
    // Assess
    expect(error?.code ?? error?.name).toBe('ECONNRESET');
    expect(proxy.forwarded('PutItem')).toBe(0);
    const item = await clients().dynamo.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'before' } } }));
    expect(item.Item).toBeUndefined();
  });

  it('resets the connection after moto handled the request: a lost reply, the write happened', async () => {
    // Prepare
    proxy.setRules([{ operation: 'SendMessage', times: 1, fault: { kind: 'resetAfter' } }]);
    // Act
    const error = await errorOf(clients(1).sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'lost reply' })));
    // Assess: the caller saw a network error, moto has the message
    expect(error?.code ?? error?.name).toBe('ECONNRESET');
    expect(proxy.forwarded('SendMessage')).toBe(1);
    const attributes = await clients().sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
    expect(attributes.Attributes?.ApproximateNumberOfMessages).toBe('1');
  });

  it('a lost reply retried by the SDK does the write twice (what idempotency must survive)', async () => {
    // Prepare
    proxy.setRules([{ operation: 'SendMessage', times: 1, fault: { kind: 'resetAfter' } }]);
    const before = Number((await clients().sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }))).Attributes?.ApproximateNumberOfMessages);
    // Act
    await clients(3).sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'sent twice' }));
    // Assess
    const after = Number((await clients().sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }))).Attributes?.ApproximateNumberOfMessages);
    expect(after - before).toBe(2);
    expect(proxy.counts()['sqs:SendMessage']).toEqual({ requests: 2, forwarded: 2, faults: { resetAfter: 1 } });
  });

  it.each([
    ['autoscaling', 'AccessDenied', 403],
    ['ec2', 'UnauthorizedOperation', 403],
    ['dynamodb', 'AccessDeniedException', 400],
    ['sqs', 'AccessDeniedException', 400],
  ])('refuses one %s call with its access-denied error, not retried', async (service, name, status) => {
    // Prepare
    proxy.setRules([{ service, times: 1, fault: { kind: 'refuse' } }]);
    const c = clients(3);
    // Act
    const error = await errorOf(
      service === 'autoscaling'
        ? c.autoscaling.send(new DescribeAutoScalingGroupsCommand({}))
        : service === 'ec2'
          ? c.ec2.send(new DescribeInstancesCommand({}))
          : service === 'dynamodb'
            ? c.dynamo.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'x' } } }))
            : c.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl })),
    );
    // Assess: the SDK did not retry a refusal (one request, none reached moto)
    expect(error).toMatchObject({ name, $fault: 'client', $metadata: { httpStatusCode: status, attempts: 1 } });
    const [entry] = Object.values(proxy.counts());
    expect(entry).toMatchObject({ requests: 1, forwarded: 0, faults: { refuse: 1 } });
  });

  it('delays before forwarding and delays the reply', async () => {
    // Prepare
    proxy.setRules([
      { operation: 'DescribeInstances', fault: { kind: 'delay', ms: 300 } },
      { operation: 'DescribeAutoScalingGroups', fault: { kind: 'delayReply', ms: 300 } },
    ]);
    // Act
    let start = Date.now();
    await clients().ec2.send(new DescribeInstancesCommand({}));
    const delayed = Date.now() - start;
    start = Date.now();
    await clients().autoscaling.send(new DescribeAutoScalingGroupsCommand({}));
    const replyDelayed = Date.now() - start;
    // Assess
    expect(delayed).toBeGreaterThanOrEqual(290);
    expect(replyDelayed).toBeGreaterThanOrEqual(290);
    expect(proxy.faultsInjected('delay')).toBe(1);
    expect(proxy.faultsInjected('delayReply')).toBe(1);
  });

  it('a delayed reply outlived by the client timeout: the write still happened', async () => {
    // Prepare
    proxy.setRules([{ operation: 'PutItem', fault: { kind: 'delayReply', ms: 1500 } }]);
    const impatient = new DynamoDBClient({
      endpoint: proxy.endpoint,
      region: 'us-east-1',
      maxAttempts: 1,
      // This SDK only warns on a request timeout unless told to throw.
      requestHandler: { requestTimeout: 200, throwOnRequestTimeout: true },
    });
    // Act
    const error = await errorOf(impatient.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'slow' } } })));
    // Assess
    expect(error?.name).toBe('TimeoutError');
    const item = await clients().dynamo.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'slow' } } }));
    expect(item.Item?.pk).toEqual({ S: 'slow' });
  });

  it('matches on the body, skips and counts', async () => {
    // Prepare: refuse the second write of key "b" only
    proxy.setRules([{ operation: 'PutItem', when: (call) => call.body.includes('"b"'), skip: 1, times: 1, fault: { kind: 'refuse' } }]);
    const c = clients(1);
    const put = (pk: string) => c.dynamo.send(new PutItemCommand({ TableName: table, Item: { pk: { S: pk } } }));
    // Act
    await put('a');
    await put('b');
    const error = await errorOf(put('b'));
    await put('b');
    await put('a');
    // Assess
    expect(error?.name).toBe('AccessDeniedException');
    expect(proxy.counts()['dynamodb:PutItem']).toEqual({ requests: 5, forwarded: 4, faults: { refuse: 1 } });
  });

  it('fires by probability from a seeded RNG: the same seed gives the same faults', async () => {
    // Prepare: two proxies with one seed, a random fault kind per call
    const rule: FaultRule = {
      probability: 0.2,
      fault: (_call, random) => (random() < 0.5 ? { kind: 'throttle' } : { kind: 'serverError' }),
    };
    const runs: string[][] = [];
    for (let run = 0; run < 2; run++) {
      const seeded = createAwsProxy({ target: moto.endpoint, seed: 42, rules: [rule] });
      await seeded.start();
      const client = new DynamoDBClient({ endpoint: seeded.endpoint, region: 'us-east-1', maxAttempts: 1 });
      const outcomes: string[] = [];
      for (let i = 0; i < 60; i++) {
        const error = await errorOf(client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'x' } } })));
        outcomes.push(error ? String(error.name) : 'ok');
      }
      await seeded.stop();
      runs.push(outcomes);
      // Assess: the proxy's own count agrees with what the client saw
      expect(seeded.faultsInjected()).toBe(outcomes.filter((o) => o !== 'ok').length);
    }
    // Assess
    expect(runs[0]).toEqual(runs[1]);
    const faults = runs[0]!.filter((o) => o !== 'ok').length;
    expect(faults).toBeGreaterThan(3);
    expect(faults).toBeLessThan(25);
    expect(new Set(runs[0])).toEqual(new Set(['ok', 'ThrottlingException', 'ServiceUnavailable']));
  });
});
