/**
 * The worker's job-end hook (WorkerOptions.onJobEnd), which worker/job-metrics.ts publishes from: one call per
 * job with its outcome and run time, and a hook that throws changes nothing about the job's queue calls.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { runWorker } from '../../worker/index';
import type { JobEnd } from '../../worker/job-metrics';
import { collectLog, until } from './farm';

const QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/jobs';
const FAST = { receiveWaitSeconds: 1, metadataPollSeconds: 0.05 };
const message = (id: string): Message => ({ MessageId: id, ReceiptHandle: `rh-${id}`, Body: id, Attributes: { ApproximateReceiveCount: '1' } });

describe('the job-end hook', () => {
  const sqsMock = mockClient(SQSClient);
  const sqs = new SQSClient({ region: 'us-east-1' });

  beforeEach(() => {
    sqsMock.reset();
    sqsMock.on(GetQueueAttributesCommand).resolves({ Attributes: { VisibilityTimeout: '30', RedrivePolicy: '{}' } });
    sqsMock.on(DeleteMessageCommand).resolves({});
    sqsMock.on(ChangeMessageVisibilityCommand).resolves({});
    let handedOut = false;
    sqsMock.on(ReceiveMessageCommand).callsFake(async () => {
      if (!handedOut) {
        handedOut = true;
        return { Messages: [message('ok'), message('bad'), message('long')] };
      }
      await new Promise((r) => setTimeout(r, 100));
      return { Messages: [] };
    });
  });

  it('reports each job once: succeeded, failed, handed back, with how long it ran', async () => {
    // Prepare
    const ends: (JobEnd & { id?: string })[] = [];
    const handle = runWorker({
      queueUrl: QUEUE,
      slots: 3,
      sqs,
      metadata: false,
      log: collectLog().log,
      ...FAST,
      process: async (m, { signal }) => {
        if (m.Body === 'bad') throw new Error('exit 1');
        if (m.Body === 'long') await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
      },
      onJobEnd: (end) => ends.push(end),
    });
    await until(() => ends.length === 2);
    // Act
    handle.stop({ force: true });
    await handle.done;
    // Assess
    expect(ends.map((e) => e.outcome).sort()).toEqual(['failed', 'handed-back', 'succeeded']);
    expect(ends.every((e) => Number.isFinite(e.seconds) && e.seconds >= 0)).toBe(true);
  });

  it('a hook that throws is logged and the job is still deleted', async () => {
    const log = collectLog();
    const handle = runWorker({
      queueUrl: QUEUE,
      slots: 3,
      sqs,
      metadata: false,
      log: log.log,
      ...FAST,
      process: async () => undefined,
      onJobEnd: () => {
        throw new Error('metrics broke');
      },
    });
    await until(() => sqsMock.commandCalls(DeleteMessageCommand).length === 3);
    handle.stop();
    const summary = await handle.done;
    expect(summary).toMatchObject({ succeeded: 3 });
    expect(log.events('job_end_hook_failed')).toHaveLength(3);
  });
});
