/**
 * SQS in the simulated world. The farm's work queue (WorkQueue) has the full message semantics: jobs arrive on
 * the scenario trace's schedule, are received (counting receives, with redrive to the dead-letter queue), stay
 * in flight under a visibility timeout, and leave when the attempt that holds them completes; a message handed
 * back or whose visibility runs out is visible again. Jobs are indices into typed arrays, so long traces stay
 * cheap. Plain queues (anything a policy creates) only keep names, attributes and a count.
 */
import { planHandBack } from '../../worker/policy';
import type { Scenario } from '../scenario';
import { ACCOUNT_ID, type PlainQueue } from './resources';

const JOB_PENDING = 0;
const JOB_VISIBLE = 1;
const JOB_INFLIGHT = 2;
const JOB_DONE = 3;
const JOB_DEAD = 4;

export const JOB_STATES = { JOB_PENDING, JOB_VISIBLE, JOB_INFLIGHT, JOB_DONE, JOB_DEAD } as const;

export class WorkQueue {
  readonly name: string;
  readonly deadLetterName: string;
  readonly visibilityTimeout: number;
  readonly maxReceiveCount: number;
  private readonly arrival: Float64Array;
  private readonly runtime: Float64Array;
  private readonly state: Uint8Array;
  private readonly receiveCount: Uint16Array;
  /** Hand-backs per job (the agent's spotfarm.handBacks message attribute). */
  private readonly handBacks: Uint16Array;
  /** The current attempt per job: a completion or visibility expiry of an older attempt is stale. */
  private readonly attempt: Int32Array;
  private readonly attemptStart: Float64Array;
  /** Visible messages in the order they became visible. */
  private readonly ring: Int32Array;
  private ringHead = 0;
  private ringSize = 0;
  private nextArrival = 0;
  inflight = 0;

  // Statistics.
  submitted = 0;
  completed = 0;
  deadLettered = 0;
  /** Hand-backs returned as a re-sent copy (receive count 0), and by a visibility reset (the count kept). */
  resent = 0;
  visibilityHandBacks = 0;
  maxBacklog = 0;
  readonly waits: number[] = [];
  /** Waits of attempts started since the last sample (for the series). */
  private intervalWaits: number[] = [];

  constructor(farm: Scenario['farm'], workload: Scenario['workload']) {
    this.name = `${farm.name}-jobs`;
    this.deadLetterName = `${farm.name}-jobs-dlq`;
    this.visibilityTimeout = Math.max(1, farm.visibilityTimeout);
    this.maxReceiveCount = farm.maxReceiveCount;
    const n = workload.arrival.length;
    this.arrival = workload.arrival;
    this.runtime = workload.runtime;
    this.state = new Uint8Array(n);
    this.receiveCount = new Uint16Array(n);
    this.handBacks = new Uint16Array(n);
    this.attempt = new Int32Array(n);
    this.attemptStart = new Float64Array(n);
    this.ring = new Int32Array(Math.max(1, n));
  }

  get visible(): number {
    return this.ringSize;
  }

  get backlog(): number {
    return this.ringSize + this.inflight;
  }

  /** Every job of the trace has been submitted. */
  get allSubmitted(): boolean {
    return this.nextArrival >= this.arrival.length;
  }

  /** When the next job of the trace arrives; undefined once all have. */
  nextArrivalAt(): number | undefined {
    return this.nextArrival < this.arrival.length ? this.arrival[this.nextArrival]! : undefined;
  }

  /** Submits every job that has arrived by `t`. */
  submitDue(t: number): void {
    const arrival = this.arrival;
    while (this.nextArrival < arrival.length && arrival[this.nextArrival]! <= t) {
      this.enqueue(this.nextArrival);
      this.nextArrival++;
      this.submitted++;
    }
    const backlog = this.ringSize + this.inflight;
    if (backlog > this.maxBacklog) this.maxBacklog = backlog;
  }

  /**
   * Receives the oldest visible message at `now` (call only while `visible > 0`) and starts a new attempt on it.
   * Returns the job, or -1 when this receive dead-lettered the message instead.
   */
  receive(now: number): number {
    const job = this.dequeue();
    const count = ++this.receiveCount[job]!;
    if (count > this.maxReceiveCount) {
      // SQS redrive: the receive that would exceed maxReceiveCount moves the message to the dead-letter queue.
      this.state[job] = JOB_DEAD;
      this.deadLettered++;
      return -1;
    }
    this.state[job] = JOB_INFLIGHT;
    this.inflight++;
    ++this.attempt[job]!;
    this.attemptStart[job] = now;
    const wait = now - this.arrival[job]!;
    this.intervalWaits.push(wait);
    return job;
  }

  /** Times the job was handed back so far. */
  handBacksOf(job: number): number {
    return this.handBacks[job]!;
  }

  /** Receives of the job's current message (a re-sent copy starts again from 0). */
  receiveCountOf(job: number): number {
    return this.receiveCount[job]!;
  }

  /** The most hand-backs any job had. */
  get maxHandBacks(): number {
    let max = 0;
    for (const n of this.handBacks) if (n > max) max = n;
    return max;
  }

  /** The token of the job's current attempt. */
  attemptOf(job: number): number {
    return this.attempt[job]!;
  }

  /** When the job's current attempt was received. */
  startOf(job: number): number {
    return this.attemptStart[job]!;
  }

  /** How long the job takes to run. */
  runtimeOf(job: number): number {
    return this.runtime[job]!;
  }

  /** The attempt `token` still holds the message (it is in flight and no later attempt has begun). */
  holds(job: number, token: number): boolean {
    return this.attempt[job] === token && this.state[job] === JOB_INFLIGHT;
  }

  /** The holding attempt finished the job: the worker deletes the message. */
  complete(job: number): void {
    this.state[job] = JOB_DONE;
    this.inflight--;
    this.completed++;
    this.waits.push(this.attemptStart[job]! - this.arrival[job]!);
  }

  /**
   * The worker agent hands an in-flight message back: receivable at once. As the agent decides (worker/policy.ts
   * planHandBack; the farm queue is a standard queue and the hand-back is an interruption's): a re-sent copy, a new
   * message whose receives count from 0 again, or past the bound a visibility reset that keeps the count. The job
   * keeps its index, so its wait still counts from its first arrival. False if not in flight.
   */
  handBack(job: number): boolean {
    if (this.state[job] !== JOB_INFLIGHT) return false;
    const plan = planHandBack({ fifo: false, handBacks: this.handBacks[job]!, attributeNames: [], jobAtFault: false });
    this.handBacks[job] = Math.min(plan.handBacks, 0xffff);
    if (plan.kind === 'resend') {
      this.receiveCount[job] = 0;
      this.resent++;
    } else {
      this.visibilityHandBacks++;
    }
    this.attempt[job]!++;
    this.inflight--;
    this.enqueue(job);
    return true;
  }

  /** The visibility of attempt `token` ran out: the message is visible again. False if that attempt was over. */
  expire(job: number, token: number): boolean {
    if (!this.holds(job, token)) return false;
    this.inflight--;
    this.enqueue(job);
    return true;
  }

  /** Waits of the attempts started since the last call. */
  takeIntervalWaits(): number[] {
    const out = this.intervalWaits;
    this.intervalWaits = [];
    return out;
  }

  private enqueue(job: number): void {
    this.state[job] = JOB_VISIBLE;
    const n = this.ring.length;
    this.ring[(this.ringHead + this.ringSize) % n] = job;
    this.ringSize++;
  }

  private dequeue(): number {
    const job = this.ring[this.ringHead]!;
    this.ringHead = (this.ringHead + 1) % this.ring.length;
    this.ringSize--;
    return job;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Plain queues.

/** CreateQueue: an existing queue of that name is returned as it is. */
export function createQueue(queues: Map<string, PlainQueue>, region: string, name: string, attributes: Record<string, string>): PlainQueue {
  const existing = queues.get(name);
  if (existing) return existing;
  const queue: PlainQueue = {
    name,
    url: `https://sqs.${region}.amazonaws.com/${ACCOUNT_ID}/${name}`,
    attributes: { VisibilityTimeout: '30', ...attributes },
    visible: 0,
    farm: false,
  };
  queues.set(name, queue);
  return queue;
}

export function queueByUrl(queues: ReadonlyMap<string, PlainQueue>, url: string): PlainQueue | undefined {
  const name = url.slice(url.lastIndexOf('/') + 1);
  const queue = queues.get(name);
  return queue && queue.url === url ? queue : undefined;
}

/** ApproximateNumberOfMessages / NotVisible / Delayed of a queue; the farm's queues count from `work`. */
export function queueCounts(queue: PlainQueue, work: WorkQueue): { visible: number; notVisible: number; delayed: number } {
  if (queue.farm) return { visible: work.visible, notVisible: work.inflight, delayed: 0 };
  if (queue.name === work.deadLetterName) {
    return { visible: queue.visible + work.deadLettered, notVisible: 0, delayed: 0 };
  }
  return { visible: queue.visible, notVisible: 0, delayed: 0 };
}
