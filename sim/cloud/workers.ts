/**
 * The worker model: each running instance has `slots` workers pulling jobs from the farm's work queue. Agent
 * workers (worker/) protect their instance from scale-in while busy, drop the protection when idle, and react to
 * interruption notices and SIGTERM by handing back what they cannot finish; plain workers just pull work until
 * the instance dies. Either way, what an instance held when it died comes back when its visibility runs out.
 *
 * Receiving, as SQS does it: a visible message goes to one of the long polls waiting at that moment, about at
 * random (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-short-and-long-polling.html),
 * up to the free slots of that poller (one ReceiveMessage answer). The agent polls busy-first (worker/policy.ts
 * planReceive, the same rule and constants): a new instance and one with a single free slot poll all the time; one
 * with more free slots polls briefly after a delay that grows with its free slots, the whole
 * IDLE_RECEIVE_DELAY_SECONDS when it runs nothing; an instance of the farm's on-demand group (tagged
 * spotfarm:role=on-demand) waits one idle delay more (on-demand last: the agent reads its group's tags at start,
 * worker/receive-order.ts). Approximations: a delayed instance's polls are instants, every
 * `delay + wait` seconds from its last change (a job taken or ended), as if its poll under way then ended at once.
 */
import { mulberry32, hashString } from '../rng';
import { planReceive } from '../../worker/policy';
import {
  FINISH_MARGIN_SECONDS,
  HEARTBEAT_FRACTION,
  IDLE_RECEIVE_DELAY_SECONDS,
  IDLE_RECEIVE_WAIT_SECONDS,
  RECEIVE_WAIT_SECONDS,
} from '../../worker/rules';
import type { Instance } from './resources';
import { ON_DEMAND_ROLE, ROLE_TAG } from '../../worker/receive-order';
import type { WorkQueue } from './sqs';
import type { World } from './world';

export class Workers {
  /** Instances with a free slot whose workers are pulling. */
  private readonly available = new Set<Instance>();
  /** Until when a new instance makes its first long poll. */
  private readonly eagerUntil = new WeakMap<Instance, number>();
  /** When an instance last took or ended a job: its poll schedule starts again from there. */
  private readonly changedAt = new WeakMap<Instance, number>();
  /** Its last receive brought all it asked for: its next poll is a full one at once (a backlog is flowing). */
  private readonly lastReceiveFull = new WeakSet<Instance>();
  /** Which waiting poll SQS answers: seeded, so a run is reproducible. */
  private readonly pick: () => number;
  /** The next idle poll a wake-up is scheduled for. */
  private wakeAt = Infinity;
  /** The agent's idle delay and idle poll wait (worker/rules.ts); a test may set others. */
  readonly idleDelay: number;
  readonly idleWait: number;

  constructor(
    private readonly world: World,
    private readonly queue: WorkQueue,
    options: { idleReceiveDelaySeconds?: number; idleReceiveWaitSeconds?: number } = {},
  ) {
    this.pick = mulberry32(hashString(`${world.scenario.seed}|receive`));
    this.idleDelay = options.idleReceiveDelaySeconds ?? IDLE_RECEIVE_DELAY_SECONDS;
    this.idleWait = options.idleReceiveWaitSeconds ?? IDLE_RECEIVE_WAIT_SECONDS;
  }

  /** The instance is up and not warned: its workers start pulling, with a full long poll first. */
  start(instance: Instance): void {
    instance.accepting = true;
    this.eagerUntil.set(instance, this.world.now + RECEIVE_WAIT_SECONDS);
    this.available.add(instance);
    this.dispatch();
  }

  /**
   * When the instance's next receive reaches SQS: now for one polling all the time; for a delayed agent the next
   * of its polls, every delay + wait seconds (planReceive) from its last change or its first long poll's end.
   */
  nextPoll(instance: Instance, now = this.world.now): number {
    if (instance.workers !== 'agent') return now;
    const eagerUntil = this.eagerUntil.get(instance) ?? -Infinity;
    if (now < eagerUntil) return now;
    const changedAt = this.changedAt.get(instance) ?? -Infinity;
    // After a full receive the next poll is at once and long: it lasts until RECEIVE_WAIT_SECONDS after the last change.
    const full = this.lastReceiveFull.has(instance) && now < changedAt + RECEIVE_WAIT_SECONDS;
    const plan = planReceive({
      running: instance.running.size,
      slots: instance.slots,
      first: false,
      lastReceiveFull: full,
      last: receivesLast(instance),
      waitSeconds: RECEIVE_WAIT_SECONDS,
      idleDelaySeconds: this.idleDelay,
      idleWaitSeconds: this.idleWait,
    });
    if (plan.delaySeconds <= 0) return now;
    const first = Math.max(eagerUntil, changedAt + (this.lastReceiveFull.has(instance) ? RECEIVE_WAIT_SECONDS : 0)) + plan.delaySeconds;
    if (now <= first) return first;
    const period = plan.delaySeconds + plan.waitSeconds;
    return first + Math.ceil((now - first) / period - 1e-9) * period;
  }

  /**
   * Visible messages go to the polls waiting now, one ReceiveMessage answer (up to the poller's free slots) at a
   * time to a poller picked at random; what is left waits for the next idle poll (event-driven, no event per poll).
   */
  dispatch(): void {
    const queue = this.queue;
    const now = this.world.now;
    while (queue.visible > 0 && this.available.size > 0) {
      const polling: Instance[] = [];
      for (const instance of this.available) if (this.nextPoll(instance, now) <= now + 1e-6) polling.push(instance);
      if (polling.length === 0) break;
      const instance = polling[Math.floor(this.pick() * polling.length)]!;
      const asked = Math.min(instance.free, 10);
      let n = asked;
      while (n > 0 && queue.visible > 0) {
        const job = queue.receive(now);
        if (job < 0) continue;
        n--;
        this.take(instance, job, now);
      }
      if (n === 0 && asked > 1) this.lastReceiveFull.add(instance);
      else this.lastReceiveFull.delete(instance);
    }
    if (queue.visible > 0) this.wakeForIdlePoll(now);
  }

  private take(instance: Instance, job: number, now: number): void {
    const queue = this.queue;
    const token = queue.attemptOf(job);
    instance.running.add(job);
    this.changedAt.set(instance, now);
    instance.free--;
    if (instance.free <= 0) this.available.delete(instance);
    if (instance.workers === 'agent' && !instance.protected) instance.protected = true;
    this.world.at(now + queue.runtimeOf(job), () => this.jobFinished(job, token, instance));
  }

  /** Messages are left and only idle instances have room: wake up at the first of their polls. */
  private wakeForIdlePoll(now: number): void {
    let next = Infinity;
    for (const instance of this.available) next = Math.min(next, this.nextPoll(instance, now));
    if (next === Infinity || next >= this.wakeAt) return;
    this.wakeAt = next;
    this.world.at(next, () => {
      if (this.wakeAt === next) this.wakeAt = Infinity;
      this.dispatch();
    });
  }

  private jobFinished(job: number, token: number, instance: Instance): void {
    if (!this.queue.holds(job, token)) return;
    if (instance.ec2State === 'terminated') return;
    this.world.ec2.chargeSlot(instance, this.queue.startOf(job), this.world.now, 'busy');
    this.queue.complete(job);
    instance.running.delete(job);
    instance.free++;
    this.changedAt.set(instance, this.world.now);
    if (instance.accepting) this.available.add(instance);
    this.dispatch();
    if (instance.workers === 'agent' && instance.running.size === 0) {
      // Idle and nothing taken: the agent drops its scale-in protection.
      this.unprotect(instance);
    }
  }

  private unprotect(instance: Instance): void {
    if (!instance.protected) return;
    instance.protected = false;
    const group = instance.group;
    // Above desired, the group can now scale this one in; a mixed-instances group off its mix can now replace it.
    if (group && (this.world.countToward(group) > group.desired || this.world.autoScaling.mixOff(group))) this.world.requestReconcile(group);
  }

  /** The worker agent's reaction to a notice (interruption warning or SIGTERM) with `deadline` to go. */
  drain(instance: Instance, deadline: number): void {
    // Plain workers know nothing of notices: they keep pulling work until the instance dies.
    if (instance.workers !== 'agent') return;
    instance.accepting = false;
    this.available.delete(instance);
    for (const job of [...instance.running]) {
      const finishAt = this.queue.startOf(job) + this.queue.runtimeOf(job);
      if (finishAt > deadline - FINISH_MARGIN_SECONDS) this.handBack(job, instance);
    }
    this.dispatch();
  }

  /** The instance is gone: its workers die with it, holding their messages. */
  kill(instance: Instance): void {
    instance.accepting = false;
    this.available.delete(instance);
    for (const job of [...instance.running]) this.orphan(job, instance);
  }

  /** A worker hands a message back at visibility 0: it is receivable at once. */
  private handBack(job: number, instance: Instance): void {
    const start = this.queue.startOf(job);
    if (!this.queue.handBack(job)) return;
    this.world.ec2.chargeSlot(instance, start, this.world.now, 'rework');
    instance.running.delete(job);
  }

  /**
   * The instance stops without handing its messages back: each comes back when its visibility expires. The
   * heartbeat extended it by one timeout whenever less than HEARTBEAT_FRACTION of it was left, so at death the
   * deadline is start + V + k * (1 - HEARTBEAT_FRACTION) * V for the k extensions made so far.
   */
  private orphan(job: number, instance: Instance): void {
    instance.running.delete(job);
    this.world.ec2.chargeSlot(instance, this.queue.startOf(job), this.world.now, 'rework');
    const v = this.queue.visibilityTimeout;
    const step = (1 - HEARTBEAT_FRACTION) * v;
    const start = this.queue.startOf(job);
    const k = Math.max(0, Math.floor((this.world.now - start) / step));
    const deadline = start + v + k * step;
    const token = this.queue.attemptOf(job);
    this.world.at(deadline, () => {
      if (this.queue.expire(job, token)) this.dispatch();
    });
  }
}

/** The agent on this instance takes new work last: its group is the farm's on-demand group (worker/receive-order.ts). */
function receivesLast(instance: Instance): boolean {
  return instance.group?.tags.some((t) => t.Key === ROLE_TAG && t.Value === ON_DEMAND_ROLE) ?? false;
}
