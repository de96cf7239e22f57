/**
 * Busy-first receiving, the real agent against moto and the backtest's worker model on the same script, so the
 * simulated farm receives as the real one does (worker/policy.ts planReceive is the rule both use):
 *  1. an idle instance (after its first long poll) and a busy one with a free slot: a small backlog, one message at
 *     a time, all goes to the busy one; the idle one stays idle and unprotected;
 *  2. the busy one full: a backlog goes to the idle one at its next delayed poll, within the idle delay.
 * And on-demand last: a spot instance and one of the farm's on-demand group, one slot each, both idle: new work goes to the spot one
 * (it polls all the time) while it has room; with it full, the on-demand one takes the next job at its delayed poll.
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

/** A job processor per worker name that records which worker ran each body; bodies starting "long" run a minute. */
function recordingProcess(ranOn: Map<string, string>): (name: string) => JobProcessor {
  return (name) => async (message, { signal }) => {
    ranOn.set(message.Body ?? '', name);
    await work(message.Body?.startsWith('long') ? 60_000 : 50, signal);
  };
}

describe('busy-first receiving and on-demand last: the agent on moto', () => {
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
    const processOn = recordingProcess(ranOn);
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

  it('on-demand last, one-slot instances: new work goes to the spot instance while it has room; with it full, the on-demand one takes the next job at its delayed poll', async () => {
    // Prepare: S (spot) and O (on-demand), one slot each, both idle after their first long poll.
    const idleDelay = 8;
    const queueUrl = await createQueue(sqs, 'on-demand-last', 60, []);
    const ranOn = new Map<string, string>();
    const processOn = recordingProcess(ranOn);
    const options = { queueUrl, slots: 1, sqs, metadata: false, receiveWaitSeconds: 1, metadataPollSeconds: 0.1, idleReceiveDelaySeconds: idleDelay } satisfies Partial<WorkerOptions>;
    const send = (body: string) => sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
    // (receiveLast is what the agent sets itself from its group's spotfarm:role tag: test/worker/receive-order.test.ts.)
    const workerO = runWorker({ ...options, receiveLast: true, process: processOn('O'), log: collectLog().log });
    const workerS = runWorker({ ...options, process: processOn('S'), log: collectLog().log });
    await new Promise((r) => setTimeout(r, 1500));
    // Act 1: three short jobs, one at a time, then a long one that fills S.
    for (const body of ['short-1', 'short-2', 'short-3', 'long-1']) {
      await send(body);
      await until(() => ranOn.has(body));
    }
    // Act 2: S is full: the next job waits for O's delayed poll.
    const sent = Date.now();
    await send('short-4');
    await until(() => ranOn.has('short-4'), 30_000);
    const waited = (Date.now() - sent) / 1000;
    workerO.stop();
    workerS.stop();
    await Promise.all([workerO.done, workerS.done]);
    // Assess
    expect(['short-1', 'short-2', 'short-3', 'long-1'].map((b) => ranOn.get(b))).toEqual(['S', 'S', 'S', 'S']);
    expect(ranOn.get('short-4')).toBe('O');
    expect(waited).toBeLessThanOrEqual(2 * idleDelay + 2);
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
    const name = group(w, { desired: 2 });
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

describe('on-demand last: the backtest model on the same script', () => {
  it('one-slot instances: new work goes to the spot instance while it has room; with it full, the on-demand one takes the next job within its delay', async () => {
    // Prepare: a spot and an on-demand instance of one slot, up at 62 s; short jobs at 200, 300, 400 s, a long one
    // at 500 s (the spot instance is then full), a short one at 700 s.
    const idleDelay = 30;
    const jobs = [
      { at: 200, runtime: 10 },
      { at: 300, runtime: 10 },
      { at: 400, runtime: 10 },
      { at: 500, runtime: 5000 },
      { at: 700, runtime: 10 },
    ];
    const s = testScenario({ jobs, duration: 1200, drainLimit: 10_000, farm: { slotsPerInstance: 1 } });
    const w = new World(s, { workers: 'agent', horizon: s.start + s.duration + s.drainLimit, idleReceiveDelaySeconds: idleDelay });
    const spotName = group(w, { name: 'sp', desired: 1 });
    const onDemandName = group(w, { name: 'od', spot: false, desired: 1 });
    w.groups.get(onDemandName)!.tags.push({ Key: 'spotfarm:role', Value: 'on-demand', PropagateAtLaunch: true, ResourceId: onDemandName, ResourceType: 'auto-scaling-group' });
    // Act 1
    await w.runUntil(T0 + 600);
    const [spot] = alive(w, spotName);
    const [onDemand] = alive(w, onDemandName);
    // Assess 1: every job started the moment it arrived, on the spot instance (the short ones finished, the long
    // one runs there); the on-demand one never ran one.
    expect(spot!.market).toBe('spot');
    expect(onDemand!.market).toBe('on-demand');
    expect([...w.waits]).toEqual([0, 0, 0]);
    expect(onDemand!.busyUsd).toBe(0);
    expect(spot!.running.size).toBe(1);
    // Act 2
    await w.runUntil(T0 + 1200);
    // Assess 2: the last job waited for the on-demand instance's delayed poll (twice the idle delay at most, as it
    // runs nothing) and ran there.
    const last = [...w.waits].at(-1)!;
    expect(last).toBeGreaterThan(0);
    expect(last).toBeLessThanOrEqual(2 * idleDelay + IDLE_RECEIVE_WAIT_SECONDS);
    expect(onDemand!.busyUsd).toBeGreaterThan(0);
  });
});
