/**
 * Busy-first receiving, the real agent against moto and the backtest's worker model on the same script, so the
 * simulated farm receives as the real one does (worker/policy.ts planReceive is the rule both use):
 *  1. an idle instance (after its first long poll) and a busy one with a free slot: a small backlog, one message at
 *     a time, all goes to the busy one; the idle one stays idle and unprotected;
 *  2. the busy one full: a backlog goes to the idle one at its next delayed poll, within the idle delay.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { runWorker, type JobProcessor, type WorkerOptions } from '../../worker/index';
import { IDLE_RECEIVE_WAIT_SECONDS, RECEIVE_WAIT_SECONDS } from '../../worker/rules';
import { World } from '../../sim/cloud/world';
import { startMoto, type MotoServer } from '../support/moto';
import { T0, testScenario } from '../sim/support/scenario';
import { alive, group } from '../sim/support/world';
import { clients, collectLog, createQueue, until, work } from './farm';

describe('busy-first receiving: the agent on moto', () => {
  let moto: MotoServer;
  let sqs: SQSClient;

  beforeAll(async () => {
    moto = await startMoto();
    sqs = clients(moto.endpoint).sqs;
  });
  afterAll(async () => {
    await moto?.stop();
  });

  it('a small backlog goes to the busy instance; with the busy one full, the idle one takes the backlog at its delayed poll', async () => {
    // Prepare: I (idle) starts first and makes its first long poll (1 s) on an empty queue; then it waits 8 s.
    const idleDelay = 8;
    const queueUrl = await createQueue(sqs, 'busy-first', 60, []);
    const ranOn = new Map<string, string>();
    const processOn =
      (name: string): JobProcessor =>
      async (message, { signal }) => {
        ranOn.set(message.Body ?? '', name);
        await work(message.Body?.startsWith('long') ? 60_000 : 50, signal);
      };
    const options = { queueUrl, slots: 2, sqs, metadata: false, receiveWaitSeconds: 1, metadataPollSeconds: 0.1, idleReceiveDelaySeconds: idleDelay } satisfies Partial<WorkerOptions>;
    const send = (body: string) => sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
    const idle = collectLog();
    const workerI = runWorker({ ...options, process: processOn('I'), log: idle.log });
    await new Promise((r) => setTimeout(r, 1500));
    await send('long-1');
    const busy = collectLog();
    const workerB = runWorker({ ...options, process: processOn('B'), log: busy.log });
    await until(() => ranOn.has('long-1'));
    // Act 1: three short jobs, one at a time, while B runs one job (one free slot: it polls all the time).
    for (const body of ['short-1', 'short-2', 'short-3']) {
      await send(body);
      await until(() => ranOn.has(body));
    }
    // Act 2: B full (two long jobs, no poll), then a backlog of two.
    await send('long-2');
    await until(() => ranOn.has('long-2'));
    await send('backlog-1');
    await send('backlog-2');
    await until(() => ranOn.has('backlog-1') && ranOn.has('backlog-2'), 30_000);
    workerI.stop();
    workerB.stop();
    await Promise.all([workerI.done, workerB.done]);
    // Assess
    expect(ranOn.get('long-1')).toBe('B');
    expect(['short-1', 'short-2', 'short-3', 'long-2'].map((b) => ranOn.get(b))).toEqual(['B', 'B', 'B', 'B']);
    expect([ranOn.get('backlog-1'), ranOn.get('backlog-2')]).toEqual(['I', 'I']);
  });
});

describe('busy-first receiving: the backtest model on the same script', () => {
  it('a small backlog goes to the busy instance; with the busy one full, the idle one takes the backlog within the delay', async () => {
    // Prepare: two 2-slot instances up at 62 s; a long job at 100 s, short ones at 200, 300, 400 s, a second long
    // one at 500 s (the busy instance is then full), a backlog of two at 1000 s.
    const idleDelay = 30;
    const jobs = [
      { at: 100, runtime: 5000 },
      { at: 200, runtime: 10 },
      { at: 300, runtime: 10 },
      { at: 400, runtime: 10 },
      { at: 500, runtime: 5000 },
      { at: 1000, runtime: 100 },
      { at: 1000, runtime: 100 },
    ];
    const s = testScenario({ jobs, duration: 1200, drainLimit: 10_000 });
    const w = new World(s, { workers: 'agent', horizon: s.start + s.duration + s.drainLimit, idleReceiveDelaySeconds: idleDelay });
    const name = group(w, { spot: false, desired: 2 });
    // Act 1
    await w.runUntil(T0 + 450);
    const [a, b] = alive(w, name);
    const busy = a!.running.size > 0 ? a! : b!;
    const idle = busy === a ? b! : a!;
    // Assess 1: every short job started the moment it arrived, on the busy instance; the idle one never ran one.
    expect(busy.running.size).toBe(1);
    expect([...w.waits].slice(-3)).toEqual([0, 0, 0]);
    expect(idle.busyUsd).toBe(0);
    expect(idle.protected).toBe(false);
    expect(busy.protected).toBe(true);
    // Act 2
    await w.runUntil(T0 + 1200);
    // Assess 2: the backlog waited for the idle instance's next poll, never longer than one delay and poll.
    const backlogWaits = [...w.waits].slice(-2);
    expect(backlogWaits.every((wait) => wait > 0 && wait <= idleDelay + IDLE_RECEIVE_WAIT_SECONDS)).toBe(true);
    expect(idle.busyUsd).toBeGreaterThan(0);
    expect(RECEIVE_WAIT_SECONDS).toBeGreaterThan(IDLE_RECEIVE_WAIT_SECONDS);
  });
});
