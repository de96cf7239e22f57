/**
 * Hand-back by re-sending, against moto: an interrupted job returns as a new message (receive count 1 again), so a
 * queue's redrive policy counts a job's own failures, not the instance's interruptions; on a FIFO queue the copy
 * keeps its message group and is not swallowed by content-based deduplication. Waits are shortened; nothing asserts
 * on speed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { createImdsClient, runWorker, type JobProcessor, type WorkerOptions } from '../../worker/index';
import { startFakeImds, type FakeImds } from '../../worker/fake-imds';
import { startMoto, type MotoServer } from '../support/moto';
import { clients, collectLog, createGroup, createQueue, messagesLeft, stopWhen, until, work } from './farm';

const FAST = { receiveWaitSeconds: 1, metadataPollSeconds: 0.1 } satisfies Partial<WorkerOptions>;

interface Run {
  body: string;
  messageId: string;
  receiveCount: number;
  handBacks: number;
  jobId: string;
  groupId?: string | undefined;
}

describe('hand-back by re-sending, against moto', () => {
  let moto: MotoServer;
  let imds: FakeImds;
  let sqs: SQSClient;
  let instanceId: string;
  let queues = 0;

  beforeAll(async () => {
    moto = await startMoto();
    const c = clients(moto.endpoint);
    sqs = c.sqs;
    ({ instanceId } = await createGroup(c.autoScaling, c.ec2, 'hand-back-workers'));
    imds = await startFakeImds({ instanceId });
  });
  afterAll(async () => {
    await imds?.close();
    await moto?.stop();
  });

  /** Worker A starts every message, gets a notice and hands them back; worker B then completes what comes back. */
  async function interruptThenFinish(queueUrl: string, expected: number, options: Partial<WorkerOptions> = {}) {
    imds.setInstanceAction(undefined);
    const runs: Run[] = [];
    const record: JobProcessor = async (message, { receiveCount, handBacks, jobId }) => {
      runs.push({ body: message.Body ?? '', messageId: message.MessageId ?? '', receiveCount, handBacks, jobId, groupId: message.Attributes?.MessageGroupId });
    };
    const a = collectLog();
    const workerA = runWorker({
      queueUrl,
      slots: expected,
      process: async (message, context) => {
        await record(message, context);
        await work(30_000, context.signal);
      },
      sqs,
      metadata: createImdsClient({ endpoint: imds.endpoint }),
      protectFromScaleIn: false,
      log: a.log,
      ...FAST,
      ...options,
    });
    await until(() => runs.length === expected);
    imds.setInstanceAction(120);
    const summaryA = await workerA.done;
    imds.setInstanceAction(undefined);
    const b = collectLog();
    const workerB = runWorker({ queueUrl, slots: expected, process: record, sqs, metadata: false, log: b.log, ...FAST, ...options });
    stopWhen(workerB, () => b.events('job_succeeded').length === expected);
    const summaryB = await workerB.done;
    return { runs, summaryA, summaryB, a, b };
  }

  async function deadLettered(queueUrl: string): Promise<number> {
    const name = queueUrl.slice(queueUrl.lastIndexOf('/') + 1);
    const dlqName = name.endsWith('.fifo') ? `${name.slice(0, -5)}-dlq.fifo` : `${name}-dlq`;
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: dlqName }));
    return messagesLeft(sqs, QueueUrl!);
  }

  it('an interrupted job comes back as a new message at receive count 1: maxReceiveCount 1 does not dead-letter it', async () => {
    // Fails on 0ada686: the hand-back reset the visibility, the next receive was the second, and with
    // maxReceiveCount 1 SQS moved the message to the dead-letter queue instead of delivering it to worker B.
    // Prepare
    queues++;
    const queueUrl = await createQueue(sqs, `resend-${queues}`, 60, ['job-a', 'job-b'], { maxReceiveCount: 1 });
    // Act
    const { runs, summaryA, summaryB, a } = await interruptThenFinish(queueUrl, 2);
    // Assess
    expect(summaryA).toMatchObject({ reason: 'interruption', handedBack: 2, resent: 2 });
    expect(summaryB).toMatchObject({ succeeded: 2 });
    const first = runs.slice(0, 2);
    const second = runs.slice(2);
    expect(second.map((r) => r.body).sort()).toEqual(['job-a', 'job-b']);
    for (const run of second) {
      const before = first.find((r) => r.body === run.body)!;
      expect(run).toMatchObject({ receiveCount: 1, handBacks: 1, jobId: before.messageId });
      expect(run.messageId).not.toBe(before.messageId);
    }
    expect(a.events('hand_back_resent')).toHaveLength(2);
    expect(await messagesLeft(sqs, queueUrl)).toBe(0);
    expect(await deadLettered(queueUrl)).toBe(0);
  });

  it('FIFO with content-based deduplication and resend chosen: the copy keeps its group and is delivered', async () => {
    // The copy's body equals the original's: without an explicit deduplication id SQS (and moto) would accept the
    // copy within the 5-minute window without delivering it, and the delete of the original would lose the job.
    // Prepare
    queues++;
    const queueUrl = await createQueue(sqs, `fifo-resend-${queues}`, 60, ['job-f'], {
      maxReceiveCount: 1,
      fifo: { contentBasedDeduplication: true, groupId: 'group-1' },
    });
    // Act
    const { runs, summaryA, summaryB } = await interruptThenFinish(queueUrl, 1, { handBack: 'resend' });
    // Assess
    expect(summaryA).toMatchObject({ handedBack: 1, resent: 1 });
    expect(summaryB).toMatchObject({ succeeded: 1 });
    expect(runs[1]).toMatchObject({ body: 'job-f', receiveCount: 1, handBacks: 1, jobId: runs[0]!.messageId, groupId: 'group-1' });
    expect(await messagesLeft(sqs, queueUrl)).toBe(0);
    expect(await deadLettered(queueUrl)).toBe(0);
  });

  it('FIFO by default resets the visibility: the same message, its receive counted, its place in the group kept', async () => {
    // Prepare
    queues++;
    const queueUrl = await createQueue(sqs, `fifo-default-${queues}`, 60, ['job-g'], {
      maxReceiveCount: 5,
      fifo: { contentBasedDeduplication: true, groupId: 'group-2' },
    });
    // Act
    const { runs, summaryA } = await interruptThenFinish(queueUrl, 1);
    // Assess
    expect(summaryA).toMatchObject({ handedBack: 1, resent: 0 });
    expect(runs[1]).toMatchObject({ body: 'job-g', messageId: runs[0]!.messageId, receiveCount: 2, handBacks: 0, groupId: 'group-2' });
    expect(await messagesLeft(sqs, queueUrl)).toBe(0);
  });
});
