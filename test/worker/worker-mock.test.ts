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
  SendMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { HAND_BACK_ATTRIBUTE, JOB_ID_ATTRIBUTE, MAX_RESENT_HAND_BACKS } from '../../worker/rules';
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
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'copy-1' });
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
    expect(summary).toMatchObject({ handedBack: 1, resent: 1, succeeded: 0 });
    expect(sqsMock).toReceiveCommandWith(SendMessageCommand, { MessageBody: 'late' });
    expect(sqsMock).toReceiveCommandWith(DeleteMessageCommand, { ReceiptHandle: 'rh-late' });
    expect(sqsMock).not.toReceiveCommand(ChangeMessageVisibilityCommand);
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
    expect(summary).toEqual({ reason: 'stopped', succeeded: 0, failed: 0, handedBack: 0, timedOut: 0, resent: 0, redelivered: 0 });
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

describe('hand-back by re-sending the message', () => {
  const sqsMock = mockClient(SQSClient);
  const sqs = new SQSClient({ region: 'us-east-1' });

  beforeEach(() => {
    sqsMock.reset();
    sqsMock.on(GetQueueAttributesCommand).resolves({ Attributes: { VisibilityTimeout: '30', RedrivePolicy: '{}' } });
    sqsMock.on(DeleteMessageCommand).resolves({});
    sqsMock.on(ChangeMessageVisibilityCommand).resolves({});
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'copy-1' });
  });

  /** Runs one message until it starts, then stop() hands it back (no expected duration); returns the log. */
  async function handBackOne(m: Message, options: { queueUrl?: string; handBack?: 'resend' | 'visibility'; maxJobSeconds?: number } = {}) {
    queueOf(sqsMock, [m]);
    const { log, events } = collectLog();
    let started = false;
    const handle = runWorker({
      queueUrl: options.queueUrl ?? QUEUE,
      process: async (_m, { signal }) => {
        started = true;
        await work(30_000, signal);
      },
      sqs,
      metadata: false,
      log,
      ...(options.handBack ? { handBack: options.handBack } : {}),
      ...(options.maxJobSeconds ? { maxJobSeconds: options.maxJobSeconds } : {}),
      ...FAST,
    });
    await until(() => started);
    if (options.maxJobSeconds) await until(() => events('job_handed_back').length > 0);
    handle.stop();
    return { summary: await handle.done, events };
  }

  const visibilityResets = () =>
    sqsMock.commandCalls(ChangeMessageVisibilityCommand).filter((c) => c.args[0].input.VisibilityTimeout === 0);

  it('sends a copy (body, attributes, hand-back count, job id) first, then deletes the original: no receive is counted', async () => {
    // Prepare
    const m: Message = { ...message('m-1', 3), MessageAttributes: { trace: { DataType: 'String', StringValue: 't-1' } } };
    // Act
    const { summary, events } = await handBackOne(m);
    // Assess
    expect(summary).toMatchObject({ handedBack: 1, resent: 1 });
    expect(sqsMock).toReceiveCommandWith(SendMessageCommand, {
      QueueUrl: QUEUE,
      MessageBody: 'm-1',
      DelaySeconds: 0,
      MessageAttributes: {
        trace: { DataType: 'String', StringValue: 't-1' },
        [HAND_BACK_ATTRIBUTE]: { DataType: 'Number', StringValue: '1' },
        [JOB_ID_ATTRIBUTE]: { DataType: 'String', StringValue: 'm-1' },
      },
    });
    const order = sqsMock.calls().map((c) => c.args[0].constructor.name);
    expect(order.indexOf('SendMessageCommand')).toBeLessThan(order.indexOf('DeleteMessageCommand'));
    expect(sqsMock).toReceiveCommandWith(DeleteMessageCommand, { ReceiptHandle: 'rh-m-1' });
    expect(visibilityResets()).toHaveLength(0);
    expect(events('hand_back_resent')[0]).toMatchObject({ messageId: 'm-1', copyMessageId: 'copy-1', handBacks: 1, jobId: 'm-1' });
  });

  it('a copy handed back again counts on and keeps the first message id as the job id', async () => {
    // Prepare
    const m: Message = {
      ...message('copy-7'),
      MessageAttributes: {
        [HAND_BACK_ATTRIBUTE]: { DataType: 'Number', StringValue: '2' },
        [JOB_ID_ATTRIBUTE]: { DataType: 'String', StringValue: 'first-id' },
      },
    };
    // Act
    await handBackOne(m);
    // Assess
    expect(sqsMock).toReceiveCommandWith(SendMessageCommand, {
      MessageAttributes: {
        [HAND_BACK_ATTRIBUTE]: { DataType: 'Number', StringValue: '3' },
        [JOB_ID_ATTRIBUTE]: { DataType: 'String', StringValue: 'first-id' },
      },
    });
  });

  it('a refused or throttled SendMessage falls back to a visibility reset, and nothing is deleted', async () => {
    // Prepare
    sqsMock.on(SendMessageCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'RequestThrottled' }));
    // Act
    const { summary, events } = await handBackOne(message('m-2'));
    // Assess
    expect(summary).toMatchObject({ handedBack: 1, resent: 0 });
    expect(visibilityResets().map((c) => c.args[0].input.ReceiptHandle)).toEqual(['rh-m-2']);
    expect(sqsMock).not.toReceiveCommand(DeleteMessageCommand);
    expect(events('hand_back_resend_failed')[0]?.reason).toContain('RequestThrottled');
  });

  it('a DeleteMessage that fails after the send leaves a duplicate, logged, never a loss', async () => {
    // Prepare
    sqsMock.on(DeleteMessageCommand).rejects(Object.assign(new Error('service unavailable'), { name: 'ServiceUnavailable' }));
    // Act
    const { summary, events } = await handBackOne(message('m-3'));
    // Assess: the copy exists; the original was neither deleted nor reset, so it returns after its lease.
    expect(summary).toMatchObject({ handedBack: 1, resent: 1 });
    expect(sqsMock).toReceiveCommandTimes(SendMessageCommand, 1);
    expect(visibilityResets()).toHaveLength(0);
    expect(events('hand_back_delete_failed')[0]).toMatchObject({ messageId: 'm-3', copyMessageId: 'copy-1' });
    expect(events('hand_back_delete_failed')[0]?.reason).toContain('runs twice');
  });

  it('a job that outruns its maximum time is at fault: a visibility reset, so a job that always hangs is dead-lettered', async () => {
    // Act
    const { summary } = await handBackOne(message('hung'), { maxJobSeconds: 0.2 });
    // Assess
    expect(summary).toMatchObject({ timedOut: 1, resent: 0 });
    expect(sqsMock).not.toReceiveCommand(SendMessageCommand);
    expect(visibilityResets()).toHaveLength(1);
  });

  it(`after ${MAX_RESENT_HAND_BACKS} re-sent hand-backs the next one counts as a receive again`, async () => {
    // Prepare
    const m: Message = { ...message('often'), MessageAttributes: { [HAND_BACK_ATTRIBUTE]: { DataType: 'Number', StringValue: String(MAX_RESENT_HAND_BACKS) } } };
    // Act
    await handBackOne(m);
    // Assess
    expect(sqsMock).not.toReceiveCommand(SendMessageCommand);
    expect(visibilityResets()).toHaveLength(1);
  });

  it('a FIFO queue keeps the visibility reset by default: a copy would lose its place in its message group', async () => {
    // Act
    await handBackOne({ ...message('f-1'), Attributes: { ApproximateReceiveCount: '1', MessageGroupId: 'g' } }, { queueUrl: `${QUEUE}.fifo` });
    // Assess
    expect(sqsMock).not.toReceiveCommand(SendMessageCommand);
    expect(visibilityResets()).toHaveLength(1);
  });

  it('a FIFO queue with resend chosen: the copy keeps its group and carries an explicit deduplication id', async () => {
    // Content-based deduplication would hash the copy's body, equal to the original's, and within the 5-minute
    // window SQS would accept the copy without delivering it; the delete that follows would lose the job.
    // Act
    await handBackOne({ ...message('f-2'), Attributes: { ApproximateReceiveCount: '1', MessageGroupId: 'g' } }, { queueUrl: `${QUEUE}.fifo`, handBack: 'resend' });
    // Assess
    const send = sqsMock.commandCalls(SendMessageCommand)[0]?.args[0].input;
    expect(send).toMatchObject({ MessageGroupId: 'g', MessageDeduplicationId: 'spotfarm-hand-back-f-2' });
    expect(send?.DelaySeconds).toBeUndefined();
    expect(sqsMock).toReceiveCommandWith(DeleteMessageCommand, { ReceiptHandle: 'rh-f-2' });
  });

  it('hands a re-sent copy to the job with its hand-back count and job id', async () => {
    // Prepare
    queueOf(sqsMock, [
      {
        ...message('copy-9'),
        MessageAttributes: {
          [HAND_BACK_ATTRIBUTE]: { DataType: 'Number', StringValue: '2' },
          [JOB_ID_ATTRIBUTE]: { DataType: 'String', StringValue: 'first-id' },
        },
      },
    ]);
    const seen: { handBacks: number; jobId: string; receiveCount: number }[] = [];
    const handle = runWorker({
      queueUrl: QUEUE,
      process: async (_m, { handBacks, jobId, receiveCount }) => void seen.push({ handBacks, jobId, receiveCount }),
      sqs,
      metadata: false,
      log: collectLog().log,
      ...FAST,
    });
    await until(() => seen.length === 1);
    handle.stop();
    await handle.done;
    // Assess
    expect(seen).toEqual([{ handBacks: 2, jobId: 'first-id', receiveCount: 1 }]);
  });
});
