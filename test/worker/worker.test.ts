/**
 * The worker agent against a real moto server (SQS, Auto Scaling) and a fake IMDSv2 server: jobs
 * are deleted, leases extended, interrupted work handed back and finished elsewhere, and scale-in
 * protection follows the work. Waits are shortened through options; nothing asserts on speed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { createImdsClient, runWorker, type JobProcessor, type WorkerOptions } from '../../worker/index';
import { startMoto, type MotoServer } from '../support/moto';
import { startFakeImds, type FakeImds } from '../../worker/fake-imds';
import { clients, collectLog, createGroup, createQueue, isProtected, messagesLeft, stopWhen, until, work } from './farm';

const FAST = { receiveWaitSeconds: 1, metadataPollSeconds: 0.1 } satisfies Partial<WorkerOptions>;

describe('worker agent against moto', () => {
  let moto: MotoServer;
  let imds: FakeImds;
  let sqs: SQSClient;
  let autoScaling: AutoScalingClient;
  let instanceId: string;
  let queueCount = 0;

  beforeAll(async () => {
    moto = await startMoto();
    const c = clients(moto.endpoint);
    sqs = c.sqs;
    autoScaling = c.autoScaling;
    ({ instanceId } = await createGroup(c.autoScaling, c.ec2, 'ml-workers'));
    imds = await startFakeImds({ instanceId });
  });
  afterAll(async () => {
    await imds?.close();
    await moto?.stop();
  });

  /** Each test gets its own queue and a clean metadata state. */
  async function queue(visibility: number, bodies: string[]): Promise<string> {
    imds.setInstanceAction(undefined);
    imds.setRebalance(false);
    queueCount++;
    return createQueue(sqs, `jobs-${queueCount}`, visibility, bodies);
  }

  function metadata() {
    return createImdsClient({ endpoint: imds.endpoint });
  }

  it('runs every job once, deletes it, and protects the instance only while busy', async () => {
    // Prepare
    const bodies = ['a', 'b', 'c', 'd', 'e'];
    const queueUrl = await queue(30, bodies);
    const done: string[] = [];
    const protectedDuringJobs: (boolean | undefined)[] = [];
    const { log, events } = collectLog();
    const process: JobProcessor = async (message, { signal }) => {
      protectedDuringJobs.push(await isProtected(autoScaling, instanceId));
      await work(50, signal);
      done.push(message.Body ?? '');
    };
    // Act
    const handle = runWorker({ queueUrl, slots: 2, process, sqs, autoScaling, metadata: metadata(), log, ...FAST });
    stopWhen(handle, () => done.length === bodies.length);
    const summary = await handle.done;
    // Assess
    expect(done.sort()).toEqual(bodies);
    expect(summary).toMatchObject({ reason: 'stopped', succeeded: 5, failed: 0, handedBack: 0, instanceId });
    expect(await messagesLeft(sqs, queueUrl)).toBe(0);
    expect(protectedDuringJobs.every((p) => p === true)).toBe(true);
    expect(await isProtected(autoScaling, instanceId)).toBe(false);
    expect(events('protected')[0]).toMatchObject({ asgName: 'ml-workers', instanceId });
    expect(events('job_succeeded')).toHaveLength(5);
    expect(events('exit')).toHaveLength(1);
  });

  it("extends a slow job's visibility so it is not redelivered", async () => {
    // Prepare: a 3 s lease and a 7 s job; a second free slot would pick the message up again if the lease lapsed.
    const queueUrl = await queue(3, ['slow']);
    let runs = 0;
    const { log, events } = collectLog();
    const process: JobProcessor = async (_message, { signal }) => {
      runs++;
      await work(7000, signal);
    };
    // Act
    const handle = runWorker({ queueUrl, slots: 2, process, sqs, metadata: false, log, ...FAST });
    stopWhen(handle, () => events('job_succeeded').length === 1);
    const summary = await handle.done;
    // Assess
    expect(runs).toBe(1);
    expect(summary).toMatchObject({ succeeded: 1, handedBack: 0 });
    expect(events('heartbeat').length).toBeGreaterThanOrEqual(3);
    expect(events('heartbeat_failed')).toHaveLength(0);
    expect(await messagesLeft(sqs, queueUrl)).toBe(0);
  });

  it('hands unfinished jobs back on an interruption notice and a second worker completes them once', async () => {
    // Prepare: a 60 s lease, so only a hand-back (not a lapsed lease) lets worker B see the messages in time.
    const bodies = Array.from({ length: 6 }, (_, i) => `job-${i}`);
    const queueUrl = await queue(60, bodies);
    const completions = new Map<string, number>();
    const complete = (body: string): void => {
      completions.set(body, (completions.get(body) ?? 0) + 1);
    };
    const startedOnA: string[] = [];
    const a = collectLog();
    const slowOnA: JobProcessor = async (message, { signal }) => {
      startedOnA.push(message.Body ?? '');
      await work(30_000, signal);
      complete(message.Body ?? '');
    };
    const workerA = runWorker({ queueUrl, slots: 3, process: slowOnA, sqs, autoScaling, metadata: metadata(), log: a.log, ...FAST });
    await until(() => startedOnA.length === 3);
    // Act
    imds.setInstanceAction(120);
    const summaryA = await workerA.done;
    const b = collectLog();
    const fastOnB: JobProcessor = async (message, { signal }) => {
      await work(20, signal);
      complete(message.Body ?? '');
    };
    const workerB = runWorker({ queueUrl, slots: 3, process: fastOnB, sqs, metadata: false, log: b.log, ...FAST });
    stopWhen(workerB, () => b.events('job_succeeded').length === bodies.length);
    const summaryB = await workerB.done;
    // Assess
    expect(summaryA).toMatchObject({ reason: 'interruption', succeeded: 0, handedBack: 3 });
    expect(a.events('interruption_notice')).toHaveLength(1);
    expect(a.events('job_handed_back').map((l) => l.messageId)).toHaveLength(3);
    expect(summaryB).toMatchObject({ succeeded: 6, failed: 0 });
    expect([...completions.keys()].sort()).toEqual(bodies);
    expect([...completions.values()].every((n) => n === 1)).toBe(true);
    expect(await messagesLeft(sqs, queueUrl)).toBe(0);
    expect(await isProtected(autoScaling, instanceId)).toBe(false);
  });

  it('lets a job that can end before the deadline finish and hands back the one that cannot', async () => {
    // Prepare
    const queueUrl = await queue(60, ['short', 'long']);
    const started: string[] = [];
    const finished: string[] = [];
    const process: JobProcessor = async (message, { signal }) => {
      started.push(message.Body ?? '');
      await until(() => started.length === 2);
      await work(message.Body === 'short' ? 1500 : 30_000, signal);
      finished.push(message.Body ?? '');
    };
    const { log, events } = collectLog();
    const handle = runWorker({
      queueUrl,
      slots: 2,
      process,
      expectedSeconds: (message) => (message.Body === 'short' ? 2 : 600),
      sqs,
      metadata: metadata(),
      protectFromScaleIn: false,
      log,
      ...FAST,
    });
    await until(() => started.length === 2);
    // Act
    imds.setInstanceAction(120);
    const summary = await handle.done;
    // Assess
    expect(finished).toEqual(['short']);
    expect(summary).toMatchObject({ reason: 'interruption', succeeded: 1, handedBack: 1 });
    expect(events('job_finishing')).toHaveLength(1);
    expect(await messagesLeft(sqs, queueUrl)).toBe(1);
  });

  it('backs a failed job off and retries it until it succeeds', async () => {
    // Prepare
    const queueUrl = await queue(30, ['flaky']);
    const counts: number[] = [];
    const process: JobProcessor = async (_message, { receiveCount }) => {
      counts.push(receiveCount);
      if (receiveCount < 2) throw new Error('CUDA out of memory');
    };
    const { log, events } = collectLog();
    // Act
    const handle = runWorker({ queueUrl, process, sqs, metadata: false, failureBackoffBaseSeconds: 1, log, ...FAST });
    stopWhen(handle, () => events('job_succeeded').length === 1);
    const summary = await handle.done;
    // Assess
    expect(counts).toEqual([1, 2]);
    expect(summary).toMatchObject({ succeeded: 1, failed: 1 });
    expect(events('job_failed')[0]).toMatchObject({ retryInSeconds: 1, reason: 'CUDA out of memory' });
    expect(await messagesLeft(sqs, queueUrl)).toBe(0);
  });

  it('drains on stop() like a notice: with no expected duration, running work goes back at once', async () => {
    // Prepare
    const queueUrl = await queue(60, ['x']);
    let started = false;
    const handle = runWorker({
      queueUrl,
      process: async (_m, { signal }) => {
        started = true;
        await work(30_000, signal);
      },
      sqs,
      metadata: false,
      log: collectLog().log,
      ...FAST,
    });
    await until(() => started);
    // Act
    handle.stop({ reason: 'SIGTERM' });
    const summary = await handle.done;
    // Assess
    expect(summary).toMatchObject({ reason: 'stopped', handedBack: 1, succeeded: 0 });
    expect(await messagesLeft(sqs, queueUrl)).toBe(1);
  });

  it('runs without interruption awareness when metadata is unreachable, and says so once', async () => {
    // Prepare: a port nothing listens on.
    const queueUrl = await queue(30, ['only']);
    const { log, events } = collectLog();
    const handle = runWorker({
      queueUrl,
      process: async () => {},
      sqs,
      metadata: createImdsClient({ endpoint: 'http://127.0.0.1:9', timeoutMs: 300 }),
      log,
      ...FAST,
    });
    stopWhen(handle, () => events('job_succeeded').length === 1);
    // Act
    const summary = await handle.done;
    // Assess
    expect(summary).toMatchObject({ succeeded: 1 });
    expect(summary.instanceId).toBeUndefined();
    expect(events('metadata_unreachable')).toHaveLength(1);
    expect(String(events('metadata_unreachable')[0]?.reason)).toMatch(
      /instance metadata at http:\/\/127\.0\.0\.1:9 is unreachable.*running without interruption awareness/,
    );
  });

  it('names a queue that does not exist', async () => {
    // Prepare
    const queueUrl = `${moto.endpoint}/123456789012/no-such-queue`;
    // Act
    const handle = runWorker({ queueUrl, process: async () => {}, sqs, metadata: false, log: collectLog().log });
    // Assess
    await expect(handle.done).rejects.toThrow(/queue .*no-such-queue does not exist/);
  });

  it('logs a failed protection toggle and keeps working', async () => {
    // Prepare: an instance id no group knows.
    const stranger = await startFakeImds({ instanceId: 'i-00000000000000000' });
    const queueUrl = await queue(30, ['one']);
    const { log, events } = collectLog();
    const handle = runWorker({
      queueUrl,
      process: async () => {},
      sqs,
      autoScaling,
      metadata: createImdsClient({ endpoint: stranger.endpoint }),
      log,
      ...FAST,
    });
    stopWhen(handle, () => events('job_succeeded').length === 1);
    // Act
    const summary = await handle.done;
    await stranger.close();
    // Assess
    expect(summary).toMatchObject({ succeeded: 1, instanceId: 'i-00000000000000000' });
    expect(events('protection_disabled')[0]).toMatchObject({ reason: 'instance is not in an auto scaling group' });
  });
});
