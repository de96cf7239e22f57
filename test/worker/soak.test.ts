/**
 * Several workers on one moto queue, two of them interrupted mid-run and replaced, jobs of mixed
 * lengths longer than the lease, and some first tries failing: every message is completed exactly
 * once and the queue ends empty.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createImdsClient, runWorker, type JobProcessor, type WorkerHandle } from '../../worker/index';
import { startFakeImds, type FakeImds } from '../../worker/fake-imds';
import { startMoto, type MotoServer } from '../support/moto';
import { clients, collectLog, createQueue, messagesLeft, until, work } from './farm';

describe('a small farm under interruptions', () => {
  let moto: MotoServer;
  const imdses: FakeImds[] = [];
  beforeAll(async () => {
    moto = await startMoto();
  });
  afterAll(async () => {
    await Promise.all(imdses.map((imds) => imds.close()));
    await moto?.stop();
  });

  it('completes every message exactly once', async () => {
    // Prepare: 30 jobs of 0.1 to 3.1 s on a 3 s lease (so heartbeats matter); every 7th fails once.
    const { sqs } = clients(moto.endpoint);
    const bodies = Array.from({ length: 30 }, (_, i) => `job-${String(i).padStart(2, '0')}`);
    const queueUrl = await createQueue(sqs, 'soak', 3, bodies);
    const completions = new Map<string, number>();
    const process: JobProcessor = async (message, { signal, receiveCount }) => {
      const n = Number(message.Body?.slice(4));
      await work(100 + ((n * 337) % 3000), signal);
      if (n % 7 === 0 && receiveCount === 1) throw new Error('first try fails');
      completions.set(message.Body ?? '', (completions.get(message.Body ?? '') ?? 0) + 1);
    };
    const logs = collectLog();
    const workers: WorkerHandle[] = [];
    async function addWorker(): Promise<FakeImds> {
      const imds = await startFakeImds({ instanceId: `i-5a0c000${imdses.length}` });
      imdses.push(imds);
      workers.push(
        runWorker({
          queueUrl,
          slots: 3,
          process,
          sqs,
          metadata: createImdsClient({ endpoint: imds.endpoint }),
          protectFromScaleIn: false,
          receiveWaitSeconds: 1,
          metadataPollSeconds: 0.1,
          failureBackoffBaseSeconds: 1,
          log: logs.log,
        }),
      );
      return imds;
    }
    const first = await addWorker();
    const second = await addWorker();
    await addWorker();
    // Act: interrupt two workers while they are busy, and bring up replacements.
    await until(() => completions.size >= 5);
    first.setInstanceAction(120);
    await addWorker();
    await until(() => completions.size >= 15);
    second.setInstanceAction(120);
    await addWorker();
    await until(() => completions.size === bodies.length, 60_000);
    for (const worker of workers) worker.stop();
    const summaries = await Promise.all(workers.map((w) => w.done));
    // Assess
    expect([...completions.keys()].sort()).toEqual(bodies);
    expect([...completions.values()].every((count) => count === 1)).toBe(true);
    expect(summaries.filter((s) => s.reason === 'interruption')).toHaveLength(2);
    expect(summaries.reduce((sum, s) => sum + s.succeeded, 0)).toBe(bodies.length);
    expect(logs.events('heartbeat_failed')).toHaveLength(0);
    expect(await messagesLeft(sqs, queueUrl)).toBe(0);
  });
});
