/**
 * Worker edge cases that moto cannot stage on cue, with aws-sdk-client-mock clients and an in-memory
 * metadata client: a receive that returns while draining, a lost receipt, a failed protection toggle,
 * a finishing job that overruns its cutoff, and a rebalance drain.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { AutoScalingClient, DescribeAutoScalingInstancesCommand, SetInstanceProtectionCommand } from '@aws-sdk/client-auto-scaling';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { runWorker, type InstanceAction, type MetadataClient } from '../../worker/index';
import { collectLog, until, work } from './farm';

const QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/jobs';
const FAST = { receiveWaitSeconds: 1, metadataPollSeconds: 0.05 };

function message(id: string, receiveCount = 1): Message {
  return { MessageId: id, ReceiptHandle: `rh-${id}`, Body: id, Attributes: { ApproximateReceiveCount: String(receiveCount) } };
}

/** Metadata whose notice and rebalance the test sets directly. */
function fakeMetadata(): MetadataClient & { action?: InstanceAction; rebalance?: boolean } {
  const meta: MetadataClient & { action?: InstanceAction; rebalance?: boolean } = {
    endpoint: 'memory',
    instanceId: async () => 'i-0abc',
    instanceAction: async () => meta.action,
    rebalanceRecommendation: async () => (meta.rebalance ? { noticeTime: new Date().toISOString() } : undefined),
  };
  return meta;
}

/** Hands out `messages` once, then long-polls empty (resolving after a short wait). */
function queueOf(sqsMock: ReturnType<typeof mockClient>, messages: Message[]): void {
  let handedOut = false;
  sqsMock.on(ReceiveMessageCommand).callsFake(async () => {
    if (!handedOut) {
      handedOut = true;
      return { Messages: messages };
    }
    await new Promise((r) => setTimeout(r, 100));
    return { Messages: [] };
  });
}

describe('worker edge cases with mocked clients', () => {
  const sqsMock = mockClient(SQSClient);
  const asgMock = mockClient(AutoScalingClient);
  const sqs = new SQSClient({ region: 'us-east-1' });
  const autoScaling = new AutoScalingClient({ region: 'us-east-1' });

  beforeEach(() => {
    sqsMock.reset();
    asgMock.reset();
    sqsMock.on(GetQueueAttributesCommand).resolves({ Attributes: { VisibilityTimeout: '30', RedrivePolicy: '{}' } });
    sqsMock.on(DeleteMessageCommand).resolves({});
    sqsMock.on(ChangeMessageVisibilityCommand).resolves({});
  });

  it('hands back, unstarted, what a long poll brings in after the drain began', async () => {
    // Prepare: the first receive is still open when stop() is called, then returns a message.
    let release: () => void = () => {};
    sqsMock.on(ReceiveMessageCommand).callsFake(
      () => new Promise((resolve) => (release = () => resolve({ Messages: [message('late')] }))),
    );
    let ran = false;
    const handle = runWorker({ queueUrl: QUEUE, process: async () => void (ran = true), sqs, metadata: false, log: collectLog().log, ...FAST });
    await until(() => sqsMock.commandCalls(ReceiveMessageCommand).length === 1);
    // Act
    handle.stop();
    release();
    const summary = await handle.done;
    // Assess
    expect(ran).toBe(false);
    expect(summary).toMatchObject({ handedBack: 1, succeeded: 0 });
    expect(sqsMock).toReceiveCommandWith(ChangeMessageVisibilityCommand, { ReceiptHandle: 'rh-late', VisibilityTimeout: 0 });
    expect(sqsMock).not.toReceiveCommand(DeleteMessageCommand);
  });

  it('stops heartbeating a receipt SQS no longer honours, and lets the job finish', async () => {
    // Prepare: a 1 s lease, so the heartbeat fires after 0.5 s, and a receipt that has gone stale.
    sqsMock.on(GetQueueAttributesCommand).resolves({ Attributes: { VisibilityTimeout: '1', RedrivePolicy: '{}' } });
    sqsMock
      .on(ChangeMessageVisibilityCommand)
      .rejects(Object.assign(new Error('The receipt handle has expired.'), { name: 'ReceiptHandleIsInvalid' }));
    queueOf(sqsMock, [message('m1')]);
    const { log, events } = collectLog();
    const handle = runWorker({
      queueUrl: QUEUE,
      process: async (_m, { signal }) => work(1800, signal),
      sqs,
      metadata: false,
      log,
      ...FAST,
    });
    await until(() => events('job_succeeded').length === 1);
    // Act
    handle.stop();
    await handle.done;
    // Assess
    expect(events('heartbeat_failed')).toHaveLength(1);
    expect(String(events('heartbeat_failed')[0]?.reason)).toContain('ReceiptHandleIsInvalid');
  });

  it('logs a denied protection toggle and runs the job anyway', async () => {
    // Prepare
    asgMock.on(DescribeAutoScalingInstancesCommand).resolves({
      AutoScalingInstances: [{ InstanceId: 'i-0abc', AutoScalingGroupName: 'ml-spot', ProtectedFromScaleIn: false } as never],
    });
    asgMock
      .on(SetInstanceProtectionCommand)
      .rejects(Object.assign(new Error('not authorized to perform: autoscaling:SetInstanceProtection'), { name: 'AccessDenied' }));
    queueOf(sqsMock, [message('m1')]);
    const { log, events } = collectLog();
    const handle = runWorker({ queueUrl: QUEUE, process: async () => {}, sqs, autoScaling, metadata: fakeMetadata(), log, ...FAST });
    await until(() => events('job_succeeded').length === 1);
    // Act
    handle.stop();
    const summary = await handle.done;
    // Assess
    expect(summary).toMatchObject({ succeeded: 1 });
    expect(events('protection_failed')[0]).toMatchObject({ asgName: 'ml-spot', instanceId: 'i-0abc', protect: true });
    expect(String(events('protection_failed')[0]?.reason)).toContain(
      'setting scale-in protection on auto scaling group ml-spot: AccessDenied',
    );
    expect(asgMock).toReceiveCommandWith(SetInstanceProtectionCommand, {
      AutoScalingGroupName: 'ml-spot',
      InstanceIds: ['i-0abc'],
      ProtectedFromScaleIn: true,
    });
  });

  it('hands back a finishing job that overruns its cutoff', async () => {
    // Prepare: a notice 16 s out leaves a 1 s cutoff (15 s margin); the job said 0.5 s but takes 30 s.
    queueOf(sqsMock, [message('overrun')]);
    const metadata = fakeMetadata();
    const { log, events } = collectLog();
    let started = false;
    const handle = runWorker({
      queueUrl: QUEUE,
      process: async (_m, { signal }) => {
        started = true;
        await work(30_000, signal);
      },
      expectedSeconds: () => 0.5,
      sqs,
      metadata,
      protectFromScaleIn: false,
      log,
      ...FAST,
    });
    await until(() => started);
    // Act
    metadata.action = { action: 'terminate', time: new Date(Date.now() + 16_000).toISOString() };
    const summary = await handle.done;
    // Assess
    expect(events('job_finishing')).toHaveLength(1);
    expect(events('job_handed_back')[0]).toMatchObject({ messageId: 'overrun', reason: 'still running at the cutoff' });
    expect(summary).toMatchObject({ reason: 'interruption', handedBack: 1, succeeded: 0 });
  });

  it('on a rebalance recommendation with drain, finishes running jobs, takes no more, and exits', async () => {
    // Prepare
    queueOf(sqsMock, [message('a'), message('b')]);
    const metadata = fakeMetadata();
    const { log, events } = collectLog();
    let started = 0;
    const handle = runWorker({
      queueUrl: QUEUE,
      slots: 2,
      process: async (_m, { signal }) => {
        started++;
        await work(300, signal);
      },
      onRebalance: 'drain',
      sqs,
      metadata,
      protectFromScaleIn: false,
      log,
      ...FAST,
    });
    await until(() => started === 2);
    // Act
    metadata.rebalance = true;
    const summary = await handle.done;
    // Assess
    expect(summary).toMatchObject({ reason: 'rebalance', succeeded: 2, handedBack: 0 });
    expect(events('rebalance_recommendation')).toHaveLength(1);
  });

  it('a notice after SIGTERM brings the deadline closer and re-decides', async () => {
    // Prepare: SIGTERM gives 120 s, enough for a 60 s job; the notice then leaves 20 s, which is not.
    queueOf(sqsMock, [message('long')]);
    const metadata = fakeMetadata();
    const { log, events } = collectLog();
    let started = false;
    const handle = runWorker({
      queueUrl: QUEUE,
      process: async (_m, { signal }) => {
        started = true;
        await work(60_000, signal);
      },
      expectedSeconds: () => 60,
      sqs,
      metadata,
      protectFromScaleIn: false,
      log,
      ...FAST,
    });
    await until(() => started);
    handle.stop({ reason: 'SIGTERM' });
    await until(() => events('job_finishing').length === 1);
    // Act
    metadata.action = { action: 'terminate', time: new Date(Date.now() + 20_000).toISOString() };
    const summary = await handle.done;
    // Assess
    expect(summary).toMatchObject({ reason: 'interruption', handedBack: 1 });
    expect(String(events('job_handed_back')[0]?.reason)).toMatch(/after the cutoff/);
  });

  it('retries a queue it cannot reach yet (network not up at boot) instead of giving up', async () => {
    // Prepare
    const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), { code: 'ECONNREFUSED' });
    sqsMock
      .on(GetQueueAttributesCommand)
      .rejectsOnce(refused)
      .rejectsOnce(refused)
      .resolves({ Attributes: { VisibilityTimeout: '30', RedrivePolicy: '{}' } });
    queueOf(sqsMock, [message('m1')]);
    const { log, events } = collectLog();
    const handle = runWorker({ queueUrl: QUEUE, process: async () => {}, sqs, metadata: false, log, ...FAST });
    // Act
    await until(() => events('job_succeeded').length === 1);
    handle.stop();
    const summary = await handle.done;
    // Assess
    expect(summary).toMatchObject({ succeeded: 1 });
    expect(events('queue_unreachable').map((e) => e.retryInMs)).toEqual([1000, 2000]);
    expect(String(events('queue_unreachable')[0]?.reason)).toContain('ECONNREFUSED');
  });

  it('exits cleanly when stopped while the queue is still unreachable', async () => {
    // Prepare
    sqsMock.on(GetQueueAttributesCommand).rejects(Object.assign(new Error('getaddrinfo EAI_AGAIN'), { code: 'EAI_AGAIN' }));
    const { log, events } = collectLog();
    const handle = runWorker({ queueUrl: QUEUE, process: async () => {}, sqs, metadata: false, log, ...FAST });
    await until(() => events('queue_unreachable').length === 1);
    // Act
    handle.stop({ reason: 'SIGTERM' });
    const summary = await handle.done;
    // Assess
    expect(summary).toEqual({ reason: 'stopped', succeeded: 0, failed: 0, handedBack: 0, timedOut: 0, redelivered: 0 });
    expect(sqsMock).not.toReceiveCommand(ReceiveMessageCommand);
  });

  it('rejects bad options before calling AWS', async () => {
    // Act
    const handle = runWorker({ queueUrl: QUEUE, slots: 0, process: async () => {}, sqs, metadata: false, log: collectLog().log });
    // Assess
    await expect(handle.done).rejects.toThrow('slots must be a whole number from 1 to 1000, got 0');
    expect(sqsMock.calls()).toHaveLength(0);
  });
});
