/**
 * The `interruption` handler with a mocked SDK (aws-sdk-client-mock), fed the JSON fixtures of every event
 * kind: the registry's mapping, the calls a warning makes (and their order), duplicates, dry run, and malformed
 * events failing the invocation before any AWS call.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DescribeLifecycleHooksCommand,
  DetachInstancesCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  type AutoScalingGroup,
} from '@aws-sdk/client-auto-scaling';
import { CreateTagsCommand, DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DynamoDBClient, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { FutureEventError, resetWallClock, setWallClock } from '../../src/clock';
import { BadInputError } from '../../src/errors';
import { interruptionRegistry, parseInterruptionEvent } from '../../src/interruption/registry';
import { lambdaContext } from '../support/lambda';
import type { InterruptionResult } from '../../src/interruption/summary';

const FIXTURES = join(__dirname, '../fixtures/events');
const fixture = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8'));

const asMock = mockClient(AutoScalingClient);
const ec2Mock = mockClient(EC2Client);
const ddbMock = mockClient(DynamoDBClient);
const snsMock = mockClient(SNSClient);

type Handler = (event: unknown, context: unknown) => Promise<InterruptionResult>;
let handler: Handler;

const spotGroup = (over: Partial<AutoScalingGroup> = {}): AutoScalingGroup => ({
  AutoScalingGroupName: 'ml-spot',
  MinSize: 0,
  MaxSize: 10,
  DesiredCapacity: 2,
  AvailabilityZones: ['us-east-1a', 'us-east-1b'],
  DefaultCooldown: 300,
  HealthCheckType: 'EC2',
  CreatedTime: new Date('2025-01-01T00:00:00Z'),
  LaunchTemplate: { LaunchTemplateName: 'ml-spot', Version: '$Latest' },
  Instances: [
    { InstanceId: 'i-1234567890abcdef0', InstanceType: 'c5.large', AvailabilityZone: 'us-east-1a', LifecycleState: 'InService', HealthStatus: 'Healthy', ProtectedFromScaleIn: false },
    { InstanceId: 'i-0fedcba0987654321', InstanceType: 'c5.large', AvailabilityZone: 'us-east-1b', LifecycleState: 'InService', HealthStatus: 'Healthy', ProtectedFromScaleIn: false },
  ],
  Tags: [
    { Key: 'spotfarm:farm', Value: 'ml' },
    { Key: 'spotfarm:role', Value: 'spot' },
  ],
  ...over,
});

beforeAll(async () => {
  vi.stubEnv('AWS_REGION', 'us-east-1');
  vi.stubEnv('SPOTFARM_STATE_TABLE', 'spotfarm-test-state');
  vi.stubEnv('SPOTFARM_LOG_LEVEL', 'SILENT');
  ({ handler } = (await import('../../functions/interruption')) as unknown as { handler: Handler });
});

afterAll(() => {
  resetWallClock();
  vi.unstubAllEnvs();
  for (const m of [asMock, ec2Mock, ddbMock, snsMock]) m.restore();
});

/** The fixtures' warning is dated 09:26:40; the handler runs five seconds later on its (wall) clock. */
const WARNED_AT = Date.parse('2025-03-14T09:26:40Z');

beforeEach(() => {
  setWallClock(() => WARNED_AT + 5_000);
  for (const m of [asMock, ec2Mock, ddbMock, snsMock]) m.reset();
  asMock.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [spotGroup()] });
  asMock.on(DescribeAutoScalingInstancesCommand).resolves({
    AutoScalingInstances: [
      { InstanceId: 'i-1234567890abcdef0', AutoScalingGroupName: 'ml-spot', AvailabilityZone: 'us-east-1a', LifecycleState: 'InService', HealthStatus: 'Healthy', ProtectedFromScaleIn: false, InstanceType: 'c5.large' },
    ],
  });
  asMock.on(DetachInstancesCommand).resolves({ Activities: [] });
  ec2Mock.on(CreateTagsCommand).resolves({});
  ddbMock.on(QueryCommand).resolves({ Items: [] });
  ddbMock.on(PutItemCommand).resolves({});
});

describe('the interruption registry', () => {
  it.each([
    ['spot-interruption-warning', { kind: 'spot_interruption', instanceId: 'i-1234567890abcdef0', instanceAction: 'terminate' }],
    ['rebalance-recommendation', { kind: 'rebalance_recommendation', instanceId: 'i-1234567890abcdef0' }],
    ['launch-unsuccessful', { kind: 'launch_unsuccessful', groupName: 'ml-spot', activityId: '9cabb81f-42de-417d-8aa7-ce16bf026590', availabilityZone: 'us-east-1b', startedAt: '2025-03-14T09:31:06.512Z' }],
    ['interruption-sweep-tick', { kind: 'scheduled_tick' }],
    ['ec2-instance-state-change', { kind: 'noop', detailType: 'EC2 Instance State-change Notification' }],
  ])('maps %s to its message', (name, expected) => {
    // Act
    const message = interruptionRegistry.parse(fixture(name));
    // Assess
    expect(message).toMatchObject(expected);
  });

  it('gives a warning its two-minute deadline from the event time', () => {
    const message = interruptionRegistry.parse(fixture('spot-interruption-warning'));
    expect(message).toMatchObject({ time: new Date('2025-03-14T09:26:40Z'), deadline: new Date('2025-03-14T09:28:40Z') });
  });

  it.each([
    ['malformed-spot-interruption-no-instance', /malformed EC2 Spot Instance Interruption Warning event 0badf00d-0000-4000-8000-000000000001: detail.instance-id/],
    ['malformed-rebalance-wrong-type', /event 0badf00d-0000-4000-8000-000000000002: detail.instance-id: expected string \(got 1234567890\)/],
    ['malformed-launch-unsuccessful-bad-time', /event 0badf00d-0000-4000-8000-000000000003: time/],
  ])('rejects %s naming the event id and the field', (name, message) => {
    expect(() => parseInterruptionEvent(fixture(name))).toThrow(BadInputError);
    expect(() => parseInterruptionEvent(fixture(name))).toThrow(message);
  });

  it('takes a manual invoke as a sweep request, strictly', () => {
    expect(parseInterruptionEvent({ dryRun: true })).toEqual({ kind: 'manual_invoke', dryRun: true });
    expect(() => parseInterruptionEvent({ dryRun: 'yes' })).toThrow(/dryRun: expected boolean/);
  });
});

describe('the interruption handler (mocked SDK)', () => {
  it('handles a warning: groups, pool records, record, tag, detach without decrement, audit', async () => {
    // Act
    const result = await handler(fixture('spot-interruption-warning'), lambdaContext('interruption'));
    // Assess
    expect(result.actions.map((a) => [a.kind, a.outcome])).toEqual([
      ['recordInterruption', 'done'],
      ['detachInstance', 'done'],
    ]);
    expect(asMock).toHaveReceivedCommandWith(DetachInstancesCommand, {
      AutoScalingGroupName: 'ml-spot',
      InstanceIds: ['i-1234567890abcdef0'],
      ShouldDecrementDesiredCapacity: false,
    });
    expect(ec2Mock).toHaveReceivedCommandWith(CreateTagsCommand, {
      Resources: ['i-1234567890abcdef0'],
      Tags: [
        { Key: 'spotfarm:detached-from', Value: 'ml-spot' },
        { Key: 'spotfarm:deadline', Value: '2025-03-14T09:28:40.000Z' },
        { Key: 'spotfarm:detached-for', Value: 'interruption' },
      ],
    });
    // The interruption record goes to the pool, keyed by time and instance, written only if new.
    const put = ddbMock.commandCalls(PutItemCommand)[0]!.args[0].input;
    expect(put.Item?.pk).toEqual({ S: 'pool#c5.large|us-east-1a' });
    expect(put.Item?.sk).toEqual({ S: 'interruption#2025-03-14T09:26:40.000Z#i-1234567890abcdef0' });
    expect(put.ConditionExpression).toBe('attribute_not_exists(pk)');
    // Control-plane calls on the common path: the instance's group, its lifecycle hooks (a detach bypasses
    // termination hooks), one tag, one detach.
    const calls = [...asMock.calls(), ...ec2Mock.calls()].map((c) => (c.args[0] as object).constructor.name).sort();
    expect(calls).toEqual([
      'CreateTagsCommand',
      'DescribeAutoScalingGroupsCommand',
      'DescribeAutoScalingInstancesCommand',
      'DescribeLifecycleHooksCommand',
      'DetachInstancesCommand',
    ]);
  });

  it('a group with a termination lifecycle hook: the instance is terminated through the group without decrement (the hook runs), not detached (issue 14 item 11)', async () => {
    // Prepare: the hook as DescribeLifecycleHooks returns it (API reference), plus a launch hook that changes nothing.
    asMock.on(DescribeLifecycleHooksCommand).resolves({
      LifecycleHooks: [
        { LifecycleHookName: 'drain-worker', AutoScalingGroupName: 'ml-spot', LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING', HeartbeatTimeout: 90, GlobalTimeout: 9000, DefaultResult: 'CONTINUE' },
        { LifecycleHookName: 'warm-up', AutoScalingGroupName: 'ml-spot', LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING', HeartbeatTimeout: 300, GlobalTimeout: 30000, DefaultResult: 'ABANDON' },
      ],
    });
    asMock.on(TerminateInstanceInAutoScalingGroupCommand).resolves({ Activity: { ActivityId: 'a-1', AutoScalingGroupName: 'ml-spot', Cause: 'c', StartTime: new Date(), StatusCode: 'InProgress' } });
    // Act
    const result = await handler(fixture('spot-interruption-warning'), lambdaContext('interruption'));
    // Assess
    expect(result.actions.map((a) => [a.kind, a.outcome])).toEqual([
      ['recordInterruption', 'done'],
      ['terminateInstance', 'done'],
    ]);
    expect(asMock).toHaveReceivedCommandWith(DescribeLifecycleHooksCommand, { AutoScalingGroupName: 'ml-spot' });
    expect(asMock).toHaveReceivedCommandWith(TerminateInstanceInAutoScalingGroupCommand, { InstanceId: 'i-1234567890abcdef0', ShouldDecrementDesiredCapacity: false });
    expect(asMock).not.toHaveReceivedCommand(DetachInstancesCommand);
    expect(ec2Mock).not.toHaveReceivedCommand(CreateTagsCommand);
  });

  it('reads only the warned instance\'s group: DescribeAutoScalingInstances, then that group by name (issue 11)', async () => {
    // Act
    await handler(fixture('spot-interruption-warning'), lambdaContext('interruption'));
    // Assess: no tag-filtered listing of every managed group per warning.
    expect(asMock).toHaveReceivedCommandWith(DescribeAutoScalingInstancesCommand, { InstanceIds: ['i-1234567890abcdef0'] });
    const describes = asMock.commandCalls(DescribeAutoScalingGroupsCommand).map((c) => c.args[0].input);
    expect(describes).toEqual([{ AutoScalingGroupNames: ['ml-spot'] }]);
  });

  it('a warning retried after its deadline on the wall clock is late: nothing detached (issue 14 item 7)', async () => {
    // Prepare: Lambda's second retry, three minutes after the warning; EC2 has taken the instance by now.
    setWallClock(() => WARNED_AT + 180_000);
    // Act
    const result = await handler(fixture('spot-interruption-warning'), lambdaContext('interruption'));
    // Assess
    expect(result.actions.find((a) => a.kind === 'skip')?.reason).toMatch(/late interruption warning .* deadline 2025-03-14T09:28:40.000Z has passed/);
    expect(asMock).not.toHaveReceivedCommand(DetachInstancesCommand);
    expect(ec2Mock).not.toHaveReceivedCommand(CreateTagsCommand);
  });

  it('refuses a warning dated beyond the clock-skew allowance, changing nothing (issue 15 item 1)', async () => {
    // Prepare: a warning dated 2099 (its deadline would be 2099, one the sweep never reaches).
    const future = { ...fixture('spot-interruption-warning'), time: '2099-01-01T00:00:00Z' };
    // Act / Assess
    await expect(handler(future, lambdaContext('interruption'))).rejects.toThrow(FutureEventError);
    await expect(handler(future, lambdaContext('interruption'))).rejects.toThrow(/dated 2099-01-01T00:00:00.000Z, .* clock-skew allowance, so it is refused and nothing was changed/);
    expect([...asMock.calls(), ...ec2Mock.calls(), ...ddbMock.calls()]).toEqual([]);
  });

  it('tags before it detaches, so a failed detach still leaves the instance findable by the sweep', async () => {
    // Prepare
    asMock.on(DetachInstancesCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }));
    // Act / Assess
    await expect(handler(fixture('spot-interruption-warning'), lambdaContext('interruption'))).rejects.toThrow(
      /detaching i-1234567890abcdef0 from auto scaling group ml-spot: Throttling: Rate exceeded/,
    );
    expect(ec2Mock).toHaveReceivedCommandTimes(CreateTagsCommand, 1);
  });

  it('treats "not part of the group" on detach as already handled', async () => {
    // Prepare
    asMock.on(DetachInstancesCommand).rejects(
      Object.assign(new Error('The instance i-1234567890abcdef0 is not part of Auto Scaling group ml-spot.'), { name: 'ValidationError' }),
    );
    // Act
    const result = await handler(fixture('spot-interruption-warning'), lambdaContext('interruption'));
    // Assess
    expect(result.actions.find((a) => a.kind === 'detachInstance')?.outcome).toBe('skipped');
  });

  // AWS detaches InService and Standby instances only: a warning for a Pending instance (or one already
  // Detaching) answers this ValidationError (issue 14, item 5). The deadline tag is on; the sweep handles it.
  it.each(['Pending', 'Detaching'])('treats "not in InService or Standby" on detach (a %s instance) as a skip, not a failure', async () => {
    // Prepare
    asMock.on(DetachInstancesCommand).rejects(
      Object.assign(new Error('The instance i-1234567890abcdef0 is not in InService or Standby.'), { name: 'ValidationError' }),
    );
    // Act
    const result = await handler(fixture('spot-interruption-warning'), lambdaContext('interruption'));
    // Assess
    expect(result.actions.find((a) => a.kind === 'detachInstance')?.outcome).toBe('skipped');
    expect(ec2Mock).toHaveReceivedCommandTimes(CreateTagsCommand, 1);
  });

  it('does not detach when Capacity Rebalancing replaces the instance', async () => {
    // Prepare
    asMock.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [spotGroup({ CapacityRebalance: true })] });
    // Act
    const result = await handler(fixture('spot-interruption-warning'), lambdaContext('interruption'));
    // Assess
    expect(result.actions.map((a) => a.kind)).toEqual(['recordInterruption', 'skip']);
    expect(asMock).not.toHaveReceivedCommand(DetachInstancesCommand);
  });

  it('logs an instance of no managed group as a no-op', async () => {
    // Prepare
    asMock.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
    asMock.on(DescribeAutoScalingInstancesCommand).resolves({ AutoScalingInstances: [] });
    ec2Mock.on(DescribeInstancesCommand).rejects(Object.assign(new Error("The instance ID 'i-1234567890abcdef0' does not exist"), { name: 'InvalidInstanceID.NotFound' }));
    // Act
    const result = await handler(fixture('spot-interruption-warning'), lambdaContext('interruption'));
    // Assess
    expect(result.actions).toEqual([expect.objectContaining({ kind: 'skip', reason: expect.stringMatching(/not an instance of a managed group/) })]);
    expect(ddbMock).not.toHaveReceivedCommand(PutItemCommand);
  });

  it.each(['malformed-spot-interruption-no-instance', 'malformed-rebalance-wrong-type', 'malformed-launch-unsuccessful-bad-time'])(
    'fails %s before any AWS call, so it reaches the failure destination',
    async (name) => {
      // Act / Assess
      await expect(handler(fixture(name), lambdaContext('interruption'))).rejects.toThrow(BadInputError);
      expect([...asMock.calls(), ...ec2Mock.calls(), ...ddbMock.calls(), ...snsMock.calls()]).toEqual([]);
    },
  );

  it('answers an unknown event with a noop and no AWS call', async () => {
    const result = await handler(fixture('ec2-instance-state-change'), lambdaContext('interruption'));
    expect(result).toEqual({ event: 'noop', actions: [] });
    expect(asMock.calls()).toEqual([]);
  });

  it('records a capacity failure from a launch-unsuccessful event', async () => {
    // Prepare: the fixture's event is dated 09:31:07.
    setWallClock(() => Date.parse('2025-03-14T09:31:10Z'));
    // Act
    const result = await handler(fixture('launch-unsuccessful'), lambdaContext('interruption'));
    // Assess
    expect(result.actions.map((a) => [a.kind, a.outcome])).toEqual([['recordCapacityFailure', 'done']]);
    const put = ddbMock.commandCalls(PutItemCommand)[0]!.args[0].input;
    expect(put.Item?.pk).toEqual({ S: 'group#ml-spot' });
    expect(put.Item?.sk).toEqual({ S: 'capacity-failure#2025-03-14T09:31:06.512Z#9cabb81f-42de-417d-8aa7-ce16bf026590' });
  });

  it('runs a dry-run sweep without mutating', async () => {
    // Prepare: one detached instance past its deadline.
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [
            {
              InstanceId: 'i-0aaaaaaaaaaaaaaaa',
              InstanceType: 'c5.large',
              Placement: { AvailabilityZone: 'us-east-1a' },
              State: { Name: 'running', Code: 16 },
              Tags: [
                { Key: 'spotfarm:farm', Value: 'ml' },
                { Key: 'spotfarm:detached-from', Value: 'ml-spot' },
                { Key: 'spotfarm:deadline', Value: '2025-03-14T09:28:40.000Z' },
                { Key: 'spotfarm:detached-for', Value: 'interruption' },
              ],
            },
          ],
        },
      ],
    });
    // Act
    const result = await handler({ dryRun: true, time: '2025-03-14T09:35:00Z' }, lambdaContext('interruption'));
    // Assess
    expect(result.actions).toEqual([expect.objectContaining({ kind: 'terminateInstance', outcome: 'dry-run', instanceId: 'i-0aaaaaaaaaaaaaaaa' })]);
    const mutations = [...asMock.calls(), ...ec2Mock.calls(), ...ddbMock.calls()]
      .map((c) => (c.args[0] as object).constructor.name)
      .filter((n) => !/^(Describe|Get|Query)/.test(n));
    expect(mutations).toEqual([]);
  });
});
