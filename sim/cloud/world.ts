/**
 * One simulated world: a virtual clock and event queue, the AWS state a policy acts on (Auto Scaling groups,
 * EC2 instances, launch templates and configurations, SQS queues, DynamoDB tables, SNS), the market and its
 * interruptions, and the farm's workers pulling jobs from the work queue. Each policy of a backtest runs in its
 * own world built from the same scenario, so all policies see the same market, arrivals and interruption draws.
 *
 * World is the coordinator: it owns the clock, the event loop, the AWS state and the run's statistics, and
 * hands the semantics to its parts (autoscaling.ts, ec2.ts, spot-interruptions.ts, sqs.ts, workers.ts,
 * launch-templates.ts). Its methods are the surface the API functions (*-api.ts), policies and tests use.
 *
 * Auto Scaling, EC2 and SQS semantics follow ../shared/reference/aws.md; where the simulator simplifies, the
 * comment says how (and docs/backtest.md lists it).
 */
import type { LaunchTemplateVersion, RequestLaunchTemplateData } from '@aws-sdk/client-ec2';
import { EventQueue } from '../heap';
import type { Market } from '../market';
import type { Scenario } from '../scenario';
import { AutoScaling, type GroupSettings } from './autoscaling';
import { Ec2 } from './ec2';
import * as templates from './launch-templates';
import {
  ACCOUNT_ID,
  type Activity,
  type Group,
  type Instance,
  type LaunchConfiguration,
  type LaunchTemplate,
  type MarketKind,
  type Mark,
  type PlainQueue,
  type WorkerKind,
} from './resources';
import { SpotInterruptions } from './spot-interruptions';
import { WorkQueue, createQueue, queueByUrl, queueCounts } from './sqs';
import { Workers } from './workers';

export * from './resources';
export { ASG_ACTION_DELAY_SECONDS, LAUNCH_RETRY_SECONDS, type GroupSettings } from './autoscaling';
export { TERMINATED_VISIBLE_SECONDS } from './ec2';
export { JOB_STATES } from './sqs';

export interface WorldHooks {
  /** An interruption warning is due (EventBridge's "EC2 Spot Instance Interruption Warning"). */
  onInterruptionWarning?(instance: Instance): void;
  /** "EC2 Instance Rebalance Recommendation". */
  onRebalanceRecommendation?(instance: Instance): void;
  /** "EC2 Instance Launch Unsuccessful". */
  onLaunchFailed?(group: Group, activity: Activity): void;
  /** An event a caller put on the default bus (PutEvents); the policy routes it to the rules that match it. */
  onBusEvent?(event: BusEvent): void;
}

/** One entry PutEvents accepted onto the default bus. */
export interface BusEvent {
  id: string;
  source: string;
  detailType: string;
  detail: Record<string, unknown>;
  /** Epoch seconds (virtual time). */
  time: number;
}

export interface WorldOptions {
  /** Default worker model for instances (a policy may set it per group). */
  workers: WorkerKind;
  /** Stop simulating at this time even if work is left. */
  horizon: number;
  /** The worker agent's idle receive delay (default worker/rules.ts IDLE_RECEIVE_DELAY_SECONDS; 0: every instance polls all the time). */
  idleReceiveDelaySeconds?: number;
}

export class World {
  readonly queue = new EventQueue();
  now: number;
  readonly market: Market;
  readonly hooks: WorldHooks = {};
  readonly marks: Mark[] = [];

  // AWS state.
  readonly groups = new Map<string, Group>();
  readonly instances = new Map<string, Instance>();
  readonly launchTemplates = new Map<string, LaunchTemplate>();
  readonly launchConfigurations = new Map<string, LaunchConfiguration>();
  readonly queues = new Map<string, PlainQueue>();
  readonly published: { t: number; topicArn: string; subject?: string | undefined; message: string }[] = [];
  /** Per-group worker model override. */
  readonly groupWorkers = new Map<string, WorkerKind>();

  // The parts that hold the semantics.
  /** The farm's work queue. */
  readonly work: WorkQueue;
  readonly workers: Workers;
  readonly autoScaling: AutoScaling;
  readonly ec2: Ec2;
  readonly spotInterruptions: SpotInterruptions;

  // Statistics (the work queue keeps the job counts; see the getters below).
  interruptions = 0;
  swaps = 0;
  spotSeconds = 0;
  onDemandSeconds = 0;
  eventsProcessed = 0;
  launchFailures = 0;
  /** Instances terminated to reach a mixed-instances group's mix, and the jobs they were running. */
  mixReplacements = 0;
  mixReplacementJobs = 0;

  private idCounter = 0;
  private stopped = false;
  endT: number;

  constructor(
    readonly scenario: Scenario,
    readonly options: WorldOptions,
  ) {
    this.now = scenario.start;
    this.endT = options.horizon;
    this.market = scenario.market;
    this.work = new WorkQueue(scenario.farm, scenario.workload);
    this.workers = new Workers(this, this.work, options.idleReceiveDelaySeconds !== undefined ? { idleReceiveDelaySeconds: options.idleReceiveDelaySeconds } : {});
    this.autoScaling = new AutoScaling(this);
    this.ec2 = new Ec2(this);
    this.spotInterruptions = new SpotInterruptions(this);
    this.createQueue(this.work.deadLetterName, {});
    this.createQueue(this.farmQueueName, {
      VisibilityTimeout: String(this.visibilityTimeout),
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: `arn:aws:sqs:${scenario.region}:${ACCOUNT_ID}:${this.work.deadLetterName}`,
        maxReceiveCount: this.maxReceiveCount,
      }),
    }).farm = true;
    const first = this.work.nextArrivalAt();
    if (first !== undefined) this.at(first, () => this.arrive());
    // The arrival window closes: from now on the run ends as soon as the work is done.
    this.at(scenario.start + scenario.duration, () => undefined);
    for (const storm of scenario.interruptions.storms) this.at(storm.at, () => this.spotInterruptions.storm(storm));
  }

  // ---------------------------------------------------------------------------------------------------------
  // Clock.

  /** Schedules `run` at virtual time `t` (never in the past). */
  at(t: number, run: () => void | Promise<void>): void {
    this.queue.push(Math.max(t, this.now), run as () => void);
  }

  /** True once the work is done (or the horizon is reached): the run loop stops. */
  get done(): boolean {
    return this.stopped;
  }

  /** Runs events up to `until` (exclusive of later ones); awaits handler invocations. */
  async runUntil(until: number): Promise<void> {
    const q = this.queue;
    while (!this.stopped && q.size > 0 && q.peekTime() <= until) {
      const event = q.pop()!;
      if (event.t > this.endT) {
        this.finish(this.endT);
        break;
      }
      this.now = event.t;
      this.eventsProcessed++;
      const result = event.run() as unknown;
      if (result instanceof Promise) await result;
      if (this.workDone()) this.finish(this.now);
    }
    if (!this.stopped && until >= this.endT) this.finish(this.endT);
    if (!this.stopped) this.now = Math.max(this.now, Math.min(until, this.endT));
  }

  /** Arrivals are over (the window has passed) and nothing is queued or in flight. */
  private workDone(): boolean {
    return (
      this.now >= this.scenario.start + this.scenario.duration &&
      this.work.allSubmitted &&
      this.work.visible === 0 &&
      this.work.inflight === 0
    );
  }

  private finish(t: number): void {
    this.stopped = true;
    this.now = t;
    this.endT = t;
    this.ec2.closeAllBilling(t);
  }

  newId(prefix: string, width = 17): string {
    this.idCounter++;
    return `${prefix}${this.idCounter.toString(16).padStart(width, '0')}`;
  }

  /** How many ids newId has handed out (activity ids carry it in base 36 too). */
  get idCount(): number {
    return this.idCounter;
  }

  // ---------------------------------------------------------------------------------------------------------
  // The work queue.

  /** The trace's jobs arrive; idle workers pick them up. */
  private arrive(): void {
    this.work.submitDue(this.now);
    const next = this.work.nextArrivalAt();
    if (next !== undefined) this.at(next, () => this.arrive());
    this.workers.dispatch();
  }

  get farmQueueName(): string {
    return this.work.name;
  }

  get visibilityTimeout(): number {
    return this.work.visibilityTimeout;
  }

  get maxReceiveCount(): number {
    return this.work.maxReceiveCount;
  }

  get visible(): number {
    return this.work.visible;
  }

  get inflight(): number {
    return this.work.inflight;
  }

  get backlog(): number {
    return this.work.backlog;
  }

  /** Jobs not yet submitted at the end plus jobs still queued or in flight. */
  get stillQueued(): number {
    return this.work.backlog;
  }

  get submitted(): number {
    return this.work.submitted;
  }

  get completed(): number {
    return this.work.completed;
  }

  get deadLettered(): number {
    return this.work.deadLettered;
  }

  get maxBacklog(): number {
    return this.work.maxBacklog;
  }

  get waits(): number[] {
    return this.work.waits;
  }

  /** Waits of the attempts started since the last call. */
  takeIntervalWaits(): number[] {
    return this.work.takeIntervalWaits();
  }

  // ---------------------------------------------------------------------------------------------------------
  // Plain SQS queues.

  createQueue(name: string, attributes: Record<string, string>): PlainQueue {
    return createQueue(this.queues, this.scenario.region, name, attributes);
  }

  queueByUrl(url: string): PlainQueue | undefined {
    return queueByUrl(this.queues, url);
  }

  /** ApproximateNumberOfMessages / NotVisible / Delayed of a queue. */
  queueCounts(queue: PlainQueue): { visible: number; notVisible: number; delayed: number } {
    return queueCounts(queue, this.work);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Launch templates.

  createLaunchTemplate(name: string, data: RequestLaunchTemplateData, description?: string, tags?: Map<string, string>): LaunchTemplate {
    return templates.createLaunchTemplate(this, name, data, description, tags);
  }

  findLaunchTemplate(ref: { LaunchTemplateId?: string | undefined; LaunchTemplateName?: string | undefined }): LaunchTemplate {
    return templates.findLaunchTemplate(this.launchTemplates, ref);
  }

  /** A version reference (`$Latest`, `$Default`, a number, or absent = `$Default`) to its number. */
  resolveVersion(lt: LaunchTemplate, version: string | undefined): number {
    return templates.resolveVersion(lt, version);
  }

  describeVersion(lt: LaunchTemplate, n: number): LaunchTemplateVersion {
    return templates.describeVersion(lt, n);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Auto Scaling groups.

  groupOrThrow(name: string | undefined): Group {
    return this.autoScaling.groupOrThrow(name);
  }

  createGroup(g: GroupSettings): Group {
    return this.autoScaling.createGroup(g);
  }

  /** The market the group's launch source asks for now. */
  groupMarket(group: Group): MarketKind {
    return this.autoScaling.groupMarket(group);
  }

  /** Called after any change to a launch source: counts a swap when the group's market flips. */
  noteLaunchSourceChange(): void {
    this.autoScaling.noteLaunchSourceChange();
  }

  /** Instances that count toward the group's desired capacity. */
  countToward(group: Group): number {
    return this.autoScaling.countToward(group);
  }

  /** Auto Scaling acts on the group after `delay` (default ASG_ACTION_DELAY_SECONDS). */
  requestReconcile(group: Group, delay?: number): void {
    this.autoScaling.requestReconcile(group, delay);
  }

  /** Auto Scaling's own loop: launch or terminate to match desired capacity. */
  reconcile(group: Group): void {
    this.autoScaling.reconcile(group);
  }

  /** Auto Scaling terminates a member (scale-in, TerminateInstanceInAutoScalingGroup, rebalancing). */
  terminateByGroup(instance: Instance, reason: string, cause: string): void {
    this.autoScaling.terminateByGroup(instance, reason, cause);
  }

  // ---------------------------------------------------------------------------------------------------------
  // EC2 instances and billing.

  /** EC2 takes the instance away now. */
  terminateEc2(instance: Instance, reason: string): void {
    this.ec2.terminate(instance, reason);
  }

  /** Per-second billing with a 60 s minimum, at the instance's market price at each moment. */
  costOf(instance: Instance, until: number): number {
    return this.ec2.costOf(instance, until);
  }

  /** Cost so far: closed instances plus running ones up to now. */
  costSoFar(): number {
    return this.ec2.costSoFar();
  }

  /** Drops terminated instances that DescribeInstances no longer shows (keeps memory flat on long runs). */
  purgeTerminated(): void {
    this.ec2.purgeTerminated();
  }

  runningInstances(): Instance[] {
    return this.ec2.runningInstances();
  }
}
