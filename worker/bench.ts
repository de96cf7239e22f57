/**
 * Worker benchmark against a local moto server (prints figures, asserts nothing):
 *
 * 1. hand-back: a worker holding `slots` long jobs gets a spot notice; how long until another
 *    worker has started every one of them, against the lease a worker without hand-back would
 *    leave them hidden for;
 * 2. overhead: messages per second through the agent with an empty job, slots 1 and 10 (bounded by
 *    moto, so a floor for real SQS, not a ceiling).
 *
 *   npx tsx worker/bench.ts
 */
import { CreateQueueCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startMoto } from '../test/support/moto';
import { startFakeImds } from './fake-imds';
import { createImdsClient, runWorker, type JobProcessor } from './index';

const LEASE_SECONDS = 30;
const SLOTS = 6;
const silent = () => {};

async function queue(sqs: SQSClient, name: string, count: number): Promise<string> {
  const { QueueUrl } = await sqs.send(
    new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: String(LEASE_SECONDS) } }),
  );
  for (let i = 0; i < count; i += 10) {
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl,
        Entries: Array.from({ length: Math.min(10, count - i) }, (_, j) => ({ Id: String(j), MessageBody: `m${i + j}` })),
      }),
    );
  }
  return QueueUrl!;
}

async function handBack(sqs: SQSClient): Promise<void> {
  const queueUrl = await queue(sqs, 'bench-hand-back', SLOTS);
  const imds = await startFakeImds({ instanceId: 'i-0bec4000000000001' });
  let startedOnA = 0;
  const long: JobProcessor = (_m, { signal }) =>
    new Promise((_resolve, reject) => {
      startedOnA++;
      signal.addEventListener('abort', () => reject(new Error('handed back')), { once: true });
    });
  const a = runWorker({
    queueUrl,
    slots: SLOTS,
    process: long,
    sqs,
    metadata: createImdsClient({ endpoint: imds.endpoint }),
    protectFromScaleIn: false,
    metadataPollSeconds: 0.1,
    receiveWaitSeconds: 1,
    log: silent,
  });
  while (startedOnA < SLOTS) await new Promise((r) => setTimeout(r, 20));
  let startedOnB = 0;
  let allStartedAt = 0;
  const b = runWorker({
    queueUrl,
    slots: SLOTS,
    process: async () => {
      startedOnB++;
      if (startedOnB === SLOTS) allStartedAt = performance.now();
    },
    sqs,
    metadata: false,
    receiveWaitSeconds: 1,
    log: silent,
  });
  const noticeAt = performance.now();
  imds.setInstanceAction(120);
  const summaryA = await a.done;
  const exitedAt = performance.now();
  while (allStartedAt === 0) await new Promise((r) => setTimeout(r, 5));
  b.stop();
  await b.done;
  await imds.close();
  const restart = (allStartedAt - noticeAt) / 1000;
  console.log(`hand-back (${SLOTS} running jobs, ${LEASE_SECONDS} s lease, metadata polled every 0.1 s here, 5 s in production):`);
  console.log(`  notice -> interrupted worker exited       ${((exitedAt - noticeAt) / 1000).toFixed(2)} s (handed back ${summaryA.handedBack})`);
  console.log(`  notice -> all ${SLOTS} restarted elsewhere     ${restart.toFixed(2)} s (moto answers a waiting long poll only at its end: 1 s here)`);
  console.log(`  without hand-back they stay hidden        ${LEASE_SECONDS} s after their last heartbeat (up to ${LEASE_SECONDS} s)`);
  console.log(`  ratio lease / measured restart            ${(LEASE_SECONDS / restart).toFixed(0)}x`);
}

async function overhead(sqs: SQSClient, slots: number, count: number): Promise<void> {
  const queueUrl = await queue(sqs, `bench-overhead-${slots}`, count);
  let done = 0;
  const started = performance.now();
  const handle = runWorker({
    queueUrl,
    slots,
    process: async () => {
      done++;
      // After this job has ended (a stop while it runs would hand it back).
      if (done === count) setTimeout(() => handle.stop(), 0);
    },
    sqs,
    metadata: false,
    receiveWaitSeconds: 1,
    log: silent,
  });
  await handle.done;
  const seconds = (performance.now() - started) / 1000;
  console.log(`  slots ${String(slots).padStart(2)}: ${count} empty jobs in ${seconds.toFixed(2)} s = ${(count / seconds).toFixed(0)} jobs/s`);
}

async function main(): Promise<void> {
  const moto = await startMoto();
  try {
    const sqs = new SQSClient({
      endpoint: moto.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    await handBack(sqs);
    console.log('overhead through the agent (receive, run, delete) against moto:');
    await overhead(sqs, 1, 100);
    await overhead(sqs, 10, 300);
  } finally {
    await moto.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
