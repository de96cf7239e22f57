/**
 * The worker model: each running instance has `slots` workers pulling jobs from the farm's work queue. Agent
 * workers (worker/) protect their instance from scale-in while busy, drop the protection when idle, and react to
 * interruption notices and SIGTERM by handing back what they cannot finish; plain workers just pull work until
 * the instance dies. Either way, what an instance held when it died comes back when its visibility runs out.
 */
import { FINISH_MARGIN_SECONDS, HEARTBEAT_FRACTION } from '../../worker/rules';
import type { Instance } from './resources';
import type { WorkQueue } from './sqs';
import type { World } from './world';

export class Workers {
  /** Instances with a free slot whose workers are pulling. */
  private readonly available = new Set<Instance>();

  constructor(
    private readonly world: World,
    private readonly queue: WorkQueue,
  ) {}

  /** The instance is up and not warned: its workers start pulling. */
  start(instance: Instance): void {
    instance.accepting = true;
    this.available.add(instance);
    this.dispatch();
  }

  /** Idle slots take visible messages (the workers' long polls, event-driven instead of one event per poll). */
  dispatch(): void {
    const available = this.available;
    const queue = this.queue;
    const now = this.world.now;
    while (queue.visible > 0 && available.size > 0) {
      const instance = available.values().next().value as Instance;
      const job = queue.receive(now);
      if (job < 0) continue;
      const token = queue.attemptOf(job);
      instance.running.add(job);
      instance.free--;
      if (instance.free <= 0) available.delete(instance);
      if (instance.workers === 'agent' && !instance.protected) instance.protected = true;
      this.world.at(now + queue.runtimeOf(job), () => this.jobFinished(job, token, instance));
    }
  }

  private jobFinished(job: number, token: number, instance: Instance): void {
    if (!this.queue.holds(job, token)) return;
    if (instance.ec2State === 'terminated') return;
    this.world.ec2.chargeSlot(instance, this.queue.startOf(job), this.world.now, 'busy');
    this.queue.complete(job);
    instance.running.delete(job);
    instance.free++;
    if (instance.accepting) this.available.add(instance);
    if (instance.workers === 'agent' && instance.running.size === 0 && this.queue.visible === 0) {
      // Idle and nothing to pull: the agent drops its scale-in protection.
      this.unprotect(instance);
    }
    this.dispatch();
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
