/**
 * Events the functions must refuse whole (issue 15, items 2 and 5), through the real handlers with a mocked SDK:
 * an EventBridge event from another account or region changes nothing, and a malformed or misrouted event is
 * recorded on the failure queue by the function itself (a Lambda destination record) and the invocation returns,
 * so Lambda's async retry does not run it twice more first. Both fail on 369a3a0: the origin was never compared,
 * and a malformed event was thrown (retried twice before the failure destination).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand, DetachInstancesCommand } from '@aws-sdk/client-auto-scaling';
import { CreateTagsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DynamoDBClient, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SNSClient } from '@aws-sdk/client-sns';
import { BadInputError } from '../../src/errors';
import { checkEventOrigin, ownOrigin } from '../../src/events/origin';
import { lambdaContext } from '../support/lambda';

const FIXTURES = join(__dirname, '../fixtures/events');
const fixture = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8'));
const FAILURE_QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/spotfarm-test-failures';

const asMock = mockClient(AutoScalingClient);
const ec2Mock = mockClient(EC2Client);
const ddbMock = mockClient(DynamoDBClient);
const sqsMock = mockClient(SQSClient);
const snsMock = mockClient(SNSClient);
const mocks = [asMock, ec2Mock, ddbMock, sqsMock, snsMock];

type Handler = (event: unknown, context: unknown) => Promise<unknown>;
const handlers: Record<string, Handler> = {};

beforeAll(async () => {
  vi.stubEnv('AWS_REGION', 'us-east-1');
  vi.stubEnv('SPOTFARM_STATE_TABLE', 'spotfarm-test-state');
  vi.stubEnv('SPOTFARM_LOG_LEVEL', 'SILENT');
  vi.stubEnv('SPOTFARM_FAILURE_QUEUE_URL', FAILURE_QUEUE);
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
  const { resetConfigCache } = await import('../../src/config');
  resetConfigCache();
  for (const name of ['interruption', 'price-check', 'queue-scaler']) {
    handlers[name] = ((await import(`../../functions/${name}`)) as { handler: Handler }).handler;
  }
});

afterAll(() => {
  vi.unstubAllEnvs();
  for (const m of mocks) m.restore();
});

beforeEach(() => {
  for (const m of mocks) m.reset();
  asMock.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
  asMock.on(DetachInstancesCommand).resolves({ Activities: [] });
  ec2Mock.on(CreateTagsCommand).resolves({});
  ddbMock.on(QueryCommand).resolves({ Items: [] });
  ddbMock.on(PutItemCommand).resolves({});
  sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
});

/** Every call any client got, except the failure-queue record. */
const mutationsAndReads = () => [...asMock.calls(), ...ec2Mock.calls(), ...ddbMock.calls(), ...snsMock.calls()];

describe('checkEventOrigin', () => {
  const own = { account: '123456789012', region: 'us-east-1' };
  it.each([
    ['same account and region', { 'detail-type': 'x', source: 'aws.ec2', account: '123456789012', region: 'us-east-1' }, undefined],
    ['no account or region in the envelope', { 'detail-type': 'x', source: 'aws.ec2' }, undefined],
    ['a manual invoke (not an EventBridge event)', { account: '999999999999', region: 'eu-west-1' }, undefined],
    ['another account', { 'detail-type': 'x', source: 'aws.ec2', account: '999999999999', region: 'us-east-1', id: 'e-1' }, 'it comes from account 999999999999, this function runs in account 123456789012'],
    ['another region', { 'detail-type': 'x', source: 'aws.ec2', account: '123456789012', region: 'eu-west-1' }, 'region eu-west-1, this function runs in us-east-1'],
  ])('%s', (_label, event, message) => {
    // Act
    const check = () => checkEventOrigin(event, own);
    // Assess
    if (message === undefined) expect(check).not.toThrow();
    else {
      expect(check).toThrow(BadInputError);
      expect(check).toThrow(message);
    }
  });

  it('reads the account from the function ARN, and skips it when unknown (invoke local)', () => {
    // Act
    const deployed = ownOrigin(lambdaContext('interruption'), { AWS_REGION: 'eu-central-1' });
    const local = ownOrigin({ invokedFunctionArn: undefined as unknown as string }, { AWS_REGION: 'eu-central-1' });
    // Assess
    expect(deployed).toEqual({ account: '123456789012', region: 'eu-central-1' });
    expect(local).toEqual({ account: undefined, region: 'eu-central-1' });
  });
});

describe('refused events through the handlers', () => {
  it.each([
    ['interruption', 'spot-interruption-warning', { account: '999999999999' }, 'account 999999999999'],
    ['interruption', 'rebalance-recommendation', { region: 'eu-west-1' }, 'region eu-west-1'],
    ['queue-scaler', 'alarm-backlog-high', { account: '999999999999' }, 'account 999999999999'],
    ['price-check', 'price-check-tick', { region: 'ap-south-1' }, 'region ap-south-1'],
  ])('%s refuses a %s event from elsewhere (%o): nothing read or changed, recorded once', async (fn, name, change, origin) => {
    // Prepare
    const event = { ...fixture(name), ...change };
    // Act
    const result = await handlers[fn]!(event, lambdaContext(fn));
    // Assess
    expect(result).toEqual({ refused: expect.stringContaining(origin) });
    expect(mutationsAndReads()).toEqual([]);
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(1);
  });

  it.each([
    ['interruption', 'malformed-spot-interruption-no-instance'],
    ['interruption', 'malformed-rebalance-wrong-type'],
    ['queue-scaler', 'malformed-alarm-state'],
  ])('%s records the malformed %s on the failure queue as a destination record and returns (no retry)', async (fn, name) => {
    // Prepare
    const event = fixture(name);
    // Act
    const result = await handlers[fn]!(event, lambdaContext(fn));
    // Assess
    expect(result).toEqual({ refused: expect.stringMatching(/^malformed /) });
    expect(mutationsAndReads()).toEqual([]);
    expect(sqsMock).toHaveReceivedCommandTimes(SendMessageCommand, 1);
    const input = sqsMock.commandCalls(SendMessageCommand)[0]!.args[0].input;
    expect(input.QueueUrl).toBe(FAILURE_QUEUE);
    expect(JSON.parse(input.MessageBody ?? '')).toMatchObject({
      version: '1.0',
      requestContext: { condition: 'RefusedEvent', functionArn: `arn:aws:lambda:us-east-1:123456789012:function:${fn}`, approximateInvokeCount: 1 },
      requestPayload: event,
      responsePayload: { errorType: 'BadInputError', errorMessage: expect.stringMatching(/^malformed /) },
    });
  });

  it('fails the invocation after all when the record cannot be written, so the destination still gets it', async () => {
    // Prepare
    sqsMock.on(SendMessageCommand).rejects(Object.assign(new Error('Access denied'), { name: 'AccessDenied' }));
    // Act
    const run = handlers.interruption!(fixture('malformed-spot-interruption-no-instance'), lambdaContext('interruption'));
    // Assess
    await expect(run).rejects.toThrow(BadInputError);
  });

  it('still throws a malformed manual invoke at the caller (a person, not a retrying event source)', async () => {
    // Act
    const run = handlers['price-check']!({ dryRun: 'yes please' }, lambdaContext('price-check'));
    // Assess
    await expect(run).rejects.toThrow(BadInputError);
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
  });
});
