/**
 * The real `queue-scaler` handler against moto server through the real SDK: a real queue's messages drive the
 * spot group's desired capacity up, a drained queue brings it down step by step, the step policy reproduces the
 * recipe's +50% / -1 from alarm event fixtures, duplicate alarms and a racing interruption replacement keep
 * desired within [min, max] without oscillating, and bad input fails or no-ops as documented.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  CreateAutoScalingGroupCommand,
  CreateOrUpdateTagsCommand,
  DescribeAutoScalingGroupsCommand,
  DetachInstancesCommand,
  SetDesiredCapacityCommand,
} from '@aws-sdk/client-auto-scaling';
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { startMoto, type MotoServer } from '../support/moto';
import { buildDemoFarm, clientsFor, type DemoFarm } from '../../scripts/lib/demo-farm';
import { clocked, lambdaContext } from '../support/lambda';
import type { QueueScalerResult } from '../../functions/queue-scaler';

type Handler = (event: unknown, context: unknown) => Promise<QueueScalerResult>;

const fixture = (name: string) =>
  JSON.parse(readFileSync(resolve(__dirname, '../fixtures/events', name), 'utf8')) as Record<string, unknown> & {
    id: string;
    time: string;
    detail: Record<string, unknown> & { alarmName: string; state: { timestamp: string } };
  };

/** An alarm fixture moved to another time (and, for the same transition twice, the same id). */
function alarmAt(name: string, time: string, id?: string) {
  const event = fixture(name);
  event.time = time;
  event.detail.state.timestamp = time.replace('Z', '.000+0000');
  if (id) event.id = id;
  return event;
}

const minutes = (base: string, n: number) => new Date(Date.parse(base) + n * 60_000).toISOString();

describe('queue-scaler against moto server', () => {
  let moto: MotoServer;
  let grow: DemoFarm;
  let steps: DemoFarm;
  let handler: Handler;
  let clients: ReturnType<typeof clientsFor>;
  const sent: string[] = [];

  const desired = async (group: string) => {
    const out = await clients.autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group] }));
    const g = out.AutoScalingGroups![0]!;
    return { desired: g.DesiredCapacity!, instances: g.Instances?.length ?? 0, min: g.MinSize!, max: g.MaxSize! };
  };
  const tag = (group: string, tags: Record<string, string>) =>
    clients.autoscaling.send(
      new CreateOrUpdateTagsCommand({
        Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value, ResourceId: group, ResourceType: 'auto-scaling-group', PropagateAtLaunch: false })),
      }),
    );
  const send = async (queueUrl: string, count: number) => {
    for (let i = 0; i < count; i += 10) {
      const entries = Array.from({ length: Math.min(10, count - i) }, (_, j) => ({ Id: String(i + j), MessageBody: `job ${i + j}` }));
      await clients.sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
    }
  };
  /** Deletes every visible message (PurgeQueue is allowed once a minute) and the given in-flight ones. */
  const drain = async (queueUrl: string, inFlight: { ReceiptHandle?: string }[] = []) => {
    for (const m of inFlight) await clients.sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
    for (;;) {
      const { Messages = [] } = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }));
      if (Messages.length === 0) return;
      for (const m of Messages) await clients.sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
    }
  };
  const tick = (farm: string, time: string, extra: Record<string, unknown> = {}) =>
    handler({ farm, time, ...extra }, lambdaContext('queue-scaler'));

  beforeAll(async () => {
    moto = await startMoto();
    clients = clientsFor(moto.endpoint);
    grow = await buildDemoFarm({ endpoint: moto.endpoint, farm: 'grow', spotDesired: 1 });
    steps = await buildDemoFarm({ endpoint: moto.endpoint, farm: 'demo', spotDesired: 4 });
    await tag(grow.spotGroup, { 'spotfarm:backlogPerInstance': '5', 'spotfarm:scaleInCooldown': '2m', 'spotfarm:idleMinutes': '5' });
    await tag(steps.spotGroup, { 'spotfarm:scalingPolicy': 'step', 'spotfarm:scaleInCooldown': '5m' });
    vi.stubEnv('AWS_ENDPOINT_URL', moto.endpoint);
    vi.stubEnv('SPOTFARM_STATE_TABLE', grow.stateTable);
    ({ handler } = (await import('../../functions/queue-scaler')) as unknown as { handler: Handler });
    handler = clocked(handler, await import('../../src/clock'));
    const { autoScalingClient } = await import('../../src/aws/autoscaling');
    const { sqsClient } = await import('../../src/aws/sqs');
    const { dynamoClient } = await import('../../src/aws/state-store');
    const { ec2Client } = await import('../../src/aws/ec2');
    // Record every command name the handler's clients send (the clients' stacks differ in type, not in shape).
    type Next = (args: unknown) => Promise<unknown>;
    type Stack = { add(mw: (next: Next, context: { commandName?: string }) => Next, options: { step: 'initialize'; name: string }): void };
    for (const client of [autoScalingClient, sqsClient, dynamoClient, ec2Client]) {
      (client.middlewareStack as unknown as Stack).add(
        (next, context) => async (args) => {
          sent.push(String(context.commandName));
          return next(args);
        },
        { step: 'initialize', name: 'recordCommands' },
      );
    }
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await moto.stop();
  });

  describe('target policy on a real queue', () => {
    const T0 = '2025-03-01T12:00:00Z';

    it('messages on the queue drive the spot group up at once', async () => {
      // Prepare
      await send(grow.queueUrl, 23);
      // Act
      const result = await tick('grow', T0);
      // Assess: ceil(23 / 5) = 5, launched by Auto Scaling
      expect(result.farms?.[0]).toMatchObject({ farm: 'grow', outcome: 'acted', figures: { backlog: 23, total: 5 } });
      expect(await desired(grow.spotGroup)).toMatchObject({ desired: 5, instances: 5 });
      expect((await desired(grow.onDemandGroup)).desired).toBe(0);
    });

    it('a quiet tick costs one group read and one queue read, and mutates nothing', async () => {
      // Prepare
      sent.length = 0;
      // Act
      const result = await tick('grow', minutes(T0, 1));
      // Assess
      expect(result.farms?.[0]?.outcome).toBe('unchanged');
      const count = (name: string) => sent.filter((c) => c === name).length;
      expect(count('DescribeAutoScalingGroupsCommand')).toBe(1);
      expect(count('GetQueueAttributesCommand')).toBe(1);
      expect(sent.filter((c) => !/^(Describe|Get|List|Query)/.test(c))).toEqual([]);
    });

    it('a drained queue brings it down one step per cooldown, never below in-flight work, to zero only when idle', async () => {
      // Prepare: three messages are being worked on (in flight), the rest are gone.
      await drain(grow.queueUrl);
      await send(grow.queueUrl, 3);
      const received = await clients.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: grow.queueUrl, MaxNumberOfMessages: 3, VisibilityTimeout: 1200 }),
      );
      expect(received.Messages).toHaveLength(3);
      // Act: one tick a minute for 12 minutes with 3 in flight, then with an empty queue.
      const seen: number[] = [];
      for (let m = 2; m <= 14; m++) {
        await tick('grow', minutes(T0, m));
        seen.push((await desired(grow.spotGroup)).desired);
      }
      // Assess: 5 -> 4 -> 3 (one step per 2-minute cooldown after the scale-out at T0), then held at 3 for the
      // 3 messages in flight (backlog 3 at 5 per instance would need only 1).
      expect(seen).toEqual([4, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3]);

      // Prepare: the work finishes.
      await drain(grow.queueUrl, received.Messages!);
      // Act
      const after: number[] = [];
      for (let m = 15; m <= 26; m++) {
        await tick('grow', minutes(T0, m));
        after.push((await desired(grow.spotGroup)).desired);
      }
      // Assess: down one step per cooldown to one instance, then zero once the queue has been idle 5 minutes
      // (idle from minute 15, so zero at minute 20).
      expect(after).toEqual([2, 2, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
      expect(await desired(grow.spotGroup)).toMatchObject({ desired: 0, instances: 0 });
    });

    it('a dry run decides and reports but changes nothing', async () => {
      // Prepare
      await send(grow.queueUrl, 12);
      sent.length = 0;
      // Act
      const result = await tick('grow', minutes(T0, 30), { dryRun: true });
      // Assess
      expect(result).toMatchObject({ dryRun: true, farms: [{ farm: 'grow', outcome: 'dry-run', figures: { total: 3 } }] });
      expect((await desired(grow.spotGroup)).desired).toBe(0);
      expect(sent.filter((c) => !/^(Describe|Get|List|Query)/.test(c))).toEqual([]);
      await drain(grow.queueUrl);
    });
  });

  describe('step policy from alarm events (the recipe: +50% / -1)', () => {
    it('backlog-high in ALARM adds 50% of the capacity', async () => {
      // Prepare
      await send(steps.queueUrl, 40);
      // Act
      const result = await handler(fixture('alarm-backlog-high.json'), lambdaContext('queue-scaler'));
      // Assess: 4 + 50% = 6
      expect(result.farms?.[0]).toMatchObject({ farm: 'demo', outcome: 'acted', figures: { policy: 'step', total: 6 } });
      expect(await desired(steps.spotGroup)).toMatchObject({ desired: 6, instances: 6 });
    });

    it('the same alarm event delivered twice, even at once, adds 50% only once', async () => {
      // Prepare
      const event = fixture('alarm-backlog-high.json');
      // Act
      const results = await Promise.all([
        handler(structuredClone(event), lambdaContext('queue-scaler')),
        handler(structuredClone(event), lambdaContext('queue-scaler')),
      ]);
      // Assess
      expect(results.map((r) => r.farms?.[0]?.outcome)).not.toContain('acted');
      expect((await desired(steps.spotGroup)).desired).toBe(6);
    });

    it('while the alarm stays in ALARM, the safety-net schedule adds 50% again after the cooldown', async () => {
      // Prepare: the schedule's ticks, 2 and 5 minutes after the alarm.
      const tickAt = (time: string, id: string) => ({ ...fixture('queue-scaler-tick.json'), time, id });
      // Act
      await handler(tickAt('2025-03-01T12:06:40Z', 'a1b2c3d4-0000-4000-8000-000000000001'), lambdaContext('queue-scaler'));
      const early = (await desired(steps.spotGroup)).desired;
      await handler(tickAt('2025-03-01T12:09:40Z', 'a1b2c3d4-0000-4000-8000-000000000002'), lambdaContext('queue-scaler'));
      // Assess: 6 + 50% = 9
      expect(early).toBe(6);
      expect((await desired(steps.spotGroup)).desired).toBe(9);
    });

    it('backlog-low in ALARM removes one instance per cooldown, the on-demand group untouched', async () => {
      // Prepare: the backlog falls; the backlog-high alarm goes back to OK.
      await drain(steps.queueUrl);
      await send(steps.queueUrl, 1);
      const highOk = alarmAt('alarm-backlog-high.json', '2025-03-01T12:20:40Z', '6a0e3b1f-2c4d-4e5f-8a9b-0c1d2e3f4a5b');
      Object.assign(highOk.detail, { previousState: { ...(highOk.detail.state as object), value: 'ALARM' } });
      Object.assign(highOk.detail.state, { value: 'OK' });
      await handler(highOk, lambdaContext('queue-scaler'));
      // Act: the fixture's alarm (12:30:40), then a tick 2 minutes later (inside the cooldown), then 5 minutes later.
      await handler(fixture('alarm-backlog-low.json'), lambdaContext('queue-scaler'));
      const first = (await desired(steps.spotGroup)).desired;
      await tick('demo', '2025-03-01T12:32:40Z');
      const inCooldown = (await desired(steps.spotGroup)).desired;
      await tick('demo', '2025-03-01T12:35:40Z');
      // Assess
      expect([first, inCooldown, (await desired(steps.spotGroup)).desired]).toEqual([8, 8, 7]);
      expect((await desired(steps.onDemandGroup)).desired).toBe(0);
    });
  });

  describe('races with the interruption function', () => {
    it('an interruption replacement (detach without decrement) racing a tick: desired stays in [min, max], no oscillation', async () => {
      // Prepare: the demo farm is at 7 with the backlog-low alarm in ALARM (it would step down after cooldowns).
      const before = await clients.autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [steps.spotGroup] }));
      const victim = before.AutoScalingGroups![0]!.Instances![0]!.InstanceId!;
      // Act: the replacement and a tick at once, then ticks every minute for 10 minutes.
      await Promise.all([
        clients.autoscaling.send(
          new DetachInstancesCommand({ AutoScalingGroupName: steps.spotGroup, InstanceIds: [victim], ShouldDecrementDesiredCapacity: false }),
        ),
        tick('demo', '2025-03-01T12:36:40Z'),
      ]);
      const seen: number[] = [];
      for (let m = 1; m <= 10; m++) {
        await tick('demo', minutes('2025-03-01T12:36:40Z', m));
        const g = await desired(steps.spotGroup);
        expect(g.desired).toBeGreaterThanOrEqual(g.min);
        expect(g.desired).toBeLessThanOrEqual(g.max);
        seen.push(g.desired);
      }
      // Assess: the replacement changes nothing; the backlog-low alarm keeps asking for -1 per 5-minute cooldown
      // (last step 12:35:40), and the group never goes back up.
      for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeLessThanOrEqual(seen[i - 1]!);
      expect(seen).toEqual([7, 7, 7, 6, 6, 6, 6, 6, 5, 5]);
      expect((await desired(steps.spotGroup)).instances).toBe(5);
    });

    it('an on-demand raise by the interruption function is not undone before a full cooldown, then shrinks one by one', async () => {
      // Prepare: the interruption function covers lost capacity on the on-demand group.
      await clients.autoscaling.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: steps.onDemandGroup, DesiredCapacity: 2 }));
      // Act
      const seen: number[] = [];
      for (let m = 11; m <= 22; m++) {
        await tick('demo', minutes('2025-03-01T12:36:40Z', m));
        seen.push((await desired(steps.onDemandGroup)).desired);
      }
      // Assess: held 5 minutes after the change was seen, then one per cooldown, on-demand first (spot holds).
      expect(seen).toEqual([2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 0, 0]);
      expect((await desired(steps.spotGroup)).desired).toBe(5);
    });
  });

  describe('plan', () => {
    it('shows what the queue scaler would do now, its state and its recent decisions, and mutates nothing', async () => {
      // Prepare
      const { handler: plan } = (await import('../../functions/plan')) as unknown as {
        handler: (event: unknown, context: unknown) => Promise<import('../../src/plan').Plan>;
      };
      await send(grow.queueUrl, 9);
      sent.length = 0;
      // Act
      const result = await plan({ farm: 'grow', time: '2025-03-01T14:00:00Z' }, lambdaContext('plan'));
      // Assess
      const capacity = result.farms[0]!.capacity!;
      expect(capacity).toMatchObject({ policy: 'target', now: { backlog: 9, total: 2 }, spotMarket: 'spot' });
      expect(capacity.wouldDo).toContainEqual(expect.objectContaining({ asgName: grow.spotGroup, action: 'setDesiredCapacity', from: 0, to: 2 }));
      expect(capacity.recentDecisions[0]).toMatchObject({ asgName: grow.spotGroup, from: 1, to: 0, reason: expect.stringMatching(/scale in by 1/) });
      expect(capacity.state?.desired).toEqual({ [grow.spotGroup]: 0, [grow.onDemandGroup]: 0 });
      expect(sent.filter((c) => !/^(Describe|Get|List|Query)/.test(c))).toEqual([]);
      expect((await desired(grow.spotGroup)).desired).toBe(0);
      await drain(grow.queueUrl);
    });
  });

  describe('bad input', () => {
    it('an alarm of another farm is a logged no-op', async () => {
      // Prepare
      sent.length = 0;
      // Act
      const result = await handler(fixture('alarm-other-farm.json'), lambdaContext('queue-scaler'));
      // Assess
      expect(result.noop).toMatch(/alarm render-backlog-high \(queue render-jobs\) is not about a farm this stack manages \(\*\)/);
      expect(sent.filter((c) => !/^(Describe|Get|List|Query)/.test(c))).toEqual([]);
    });

    it('an alarm on another metric (the AWS sample) is a logged no-op', async () => {
      const result = await handler(fixture('alarm-cpu-aws-sample.json'), lambdaContext('queue-scaler'));
      expect(result.noop).toMatch(/ServerCpuTooHigh \(no SQS queue\) is not about a farm this stack manages/);
    });

    it('a metric-math alarm on a farm queue, named otherwise, is matched by its queue', async () => {
      const result = await handler(fixture('alarm-metric-math.json'), lambdaContext('queue-scaler'));
      expect(result.farms?.map((f) => f.farm)).toEqual(['demo']);
    });

    it('a malformed alarm event fails the invocation, naming the event and the field', async () => {
      await expect(handler(fixture('malformed-alarm-state.json'), lambdaContext('queue-scaler'))).rejects.toThrow(
        /malformed CloudWatch Alarm State Change event 9d1c2b3a-0000-4000-8000-000000000bad: detail.alarmName: expected string.*detail.state.value: expected one of OK, ALARM, INSUFFICIENT_DATA \(got "FIRING"\)/,
      );
    });

    it('an unknown event kind is a logged no-op', async () => {
      const result = await handler({ ...fixture('queue-scaler-tick.json'), source: 'aws.ec2', 'detail-type': 'EC2 Instance State-change Notification' }, lambdaContext('queue-scaler'));
      expect(result.noop).toMatch(/not an event the queue scaler handles \(aws.ec2 \/ EC2 Instance State-change Notification\)/);
    });

    it('a queue that does not exist is a clear error naming it', async () => {
      // Prepare
      await clients.autoscaling.send(
        new CreateAutoScalingGroupCommand({
          AutoScalingGroupName: 'ghost-spot',
          MinSize: 0,
          MaxSize: 2,
          DesiredCapacity: 0,
          AvailabilityZones: ['us-east-1a'],
          LaunchTemplate: { LaunchTemplateName: grow.spotTemplate, Version: '$Latest' },
          Tags: [
            { Key: 'spotfarm:farm', Value: 'ghost', ResourceId: 'ghost-spot', ResourceType: 'auto-scaling-group', PropagateAtLaunch: false },
            { Key: 'spotfarm:queue', Value: 'ghost-jobs', ResourceId: 'ghost-spot', ResourceType: 'auto-scaling-group', PropagateAtLaunch: false },
          ],
        }),
      );
      // Act / Assess
      await expect(tick('ghost', '2025-03-01T13:00:00Z')).rejects.toThrow(/farm ghost: queue ghost-jobs does not exist/);
    });

    it('a malformed manual payload is refused', async () => {
      await expect(handler({ dryRun: 'yes' }, lambdaContext('queue-scaler'))).rejects.toThrow(/invalid invoke payload: dryRun: expected boolean/);
    });
  });
});
