/**
 * One simulated world: a virtual clock and event queue, the AWS state a policy acts on (Auto Scaling groups,
 * EC2 instances, launch templates and configurations, SQS queues, DynamoDB tables, SNS), the market and its
 * interruptions, and the farm's workers pulling jobs from the work queue. Each policy of a backtest runs in its
 * own world built from the same scenario, so all policies see the same market, arrivals and interruption draws.
 *
 * Auto Scaling, EC2 and SQS semantics follow ../shared/reference/aws.md; where the simulator simplifies, the
 * comment says how (and docs/backtest.md lists it).
 */
import type { LaunchTemplateVersion, RequestLaunchTemplateData } from '@aws-sdk/client-ec2';
import type { MixedInstancesPolicy, Tag } from '@aws-sdk/client-auto-scaling';
import { FINISH_MARGIN_SECONDS, HEARTBEAT_FRACTION, INTERRUPTION_NOTICE_SECONDS, METADATA_POLL_SECONDS } from '../../worker/rules';
import { EventQueue } from '../heap';
import { poolKey, type Market } from '../market';
import { exponential, keyedUniform } from '../rng';
import type { Scenario } from '../scenario';
import { awsError } from './errors';

export const ACCOUNT_ID = '123456789012';
/** How long Auto Scaling takes to act on a change of desired capacity. */
export const ASG_ACTION_DELAY_SECONDS = 2;
/** How long Auto Scaling waits before retrying launches that failed for capacity. */
export const LAUNCH_RETRY_SECONDS = 60;
/** Terminated instances stay visible in DescribeInstances this long. */
export const TERMINATED_VISIBLE_SECONDS = 3600;
/** Scaling activities kept per group (AWS keeps six weeks; the handlers read the recent ones). */
const MAX_ACTIVITIES = 500;

export type MarketKind = 'spot' | 'on-demand';
export type WorkerKind = 'agent' | 'plain';
export type LifecycleState = 'Pending' | 'InService' | 'Terminating' | 'Terminated' | 'Detached';
export type Ec2State = 'pending' | 'running' | 'shutting-down' | 'terminated';

export interface Activity {
  ActivityId: string;
  AutoScalingGroupName: string;
  Description: string;
  Cause: string;
  StartTime: number;
  EndTime: number;
  StatusCode: 'Successful' | 'Failed' | 'InProgress' | 'Cancelled';
  StatusMessage?: string;
  Progress: number;
  Details: string;
}

export interface LaunchTemplateRef {
  LaunchTemplateId?: string;
  LaunchTemplateName?: string;
  Version?: string;
}

export interface Group {
  name: string;
  arn: string;
  minSize: number;
  maxSize: number;
  desired: number;
  launchConfigurationName?: string | undefined;
  launchTemplate?: LaunchTemplateRef | undefined;
  mixedInstancesPolicy?: MixedInstancesPolicy | undefined;
  availabilityZones: string[];
  tags: Tag[];
  capacityRebalance: boolean;
  terminationPolicies: string[];
  defaultCooldown: number;
  healthCheckGracePeriod: number;
  newInstancesProtectedFromScaleIn: boolean;
  createdTime: number;
  members: Set<Instance>;
  activities: Activity[];
  reconcileAt: number;
  retryAfter: number;
  /** When the last launch or termination by the group itself started (for HonorCooldown). */
  lastScalingAt: number;
  /** Market new instances get; tracked to count swaps. */
  market: MarketKind;
}

export interface Instance {
  id: string;
  type: string;
  az: string;
  market: MarketKind;
  maxPrice: number;
  groupName: string;
  group: Group | null;
  launchTemplate?: LaunchTemplateRef | undefined;
  launchConfigurationName?: string | undefined;
  launchT: number;
  readyT: number;
  endT: number;
  ec2State: Ec2State;
  lifecycle: LifecycleState;
  protected: boolean;
  /** Pool launch ordinal: the key of its interruption draws. */
  ordinal: number;
  warnedAt: number;
  interruptAt: number;
  /** Auto Scaling already replaced it (Capacity Rebalancing): it no longer counts toward desired. */
  replaced: boolean;
  workers: WorkerKind;
  slots: number;
  free: number;
  accepting: boolean;
  running: Set<number>;
  cost: number;
  /** Tags set with CreateTags (the group's propagated tags and aws:autoscaling:groupName come on top). */
  tags: Map<string, string>;
}

export interface LaunchTemplate {
  id: string;
  name: string;
  defaultVersion: number;
  latestVersion: number;
  versions: Map<number, { data: RequestLaunchTemplateData; description?: string | undefined; created: number }>;
  created: number;
  /** ClientToken of CreateLaunchTemplateVersion -> the version it created (idempotent retries). */
  clientTokens: Map<string, { version: number; request: string }>;
}

export interface LaunchConfiguration {
  LaunchConfigurationName: string;
  LaunchConfigurationARN: string;
  ImageId?: string | undefined;
  InstanceType?: string | undefined;
  SpotPrice?: string | undefined;
  KeyName?: string | undefined;
  SecurityGroups?: string[] | undefined;
  UserData?: string | undefined;
  IamInstanceProfile?: string | undefined;
  InstanceMonitoring?: { Enabled?: boolean } | undefined;
  EbsOptimized?: boolean | undefined;
  AssociatePublicIpAddress?: boolean | undefined;
  CreatedTime: number;
}

/** A plain SQS queue (the farm's work queue is modelled by the world's job arrays instead). */
export interface PlainQueue {
  name: string;
  url: string;
  attributes: Record<string, string>;
  visible: number;
  farm: boolean;
}

export interface Mark {
  t: number;
  kind: 'interruption' | 'swap-to-on-demand' | 'swap-to-spot' | 'storm' | 'capacity-failure';
  detail: string;
}

export interface WorldHooks {
  /** An interruption warning is due (EventBridge's "EC2 Spot Instance Interruption Warning"). */
  onInterruptionWarning?(instance: Instance): void;
  /** "EC2 Instance Rebalance Recommendation". */
  onRebalanceRecommendation?(instance: Instance): void;
  /** "EC2 Instance Launch Unsuccessful". */
  onLaunchFailed?(group: Group, activity: Activity): void;
}

export interface WorldOptions {
  /** Default worker model for instances (a policy may set it per group). */
  workers: WorkerKind;
  /** Stop simulating at this time even if work is left. */
  horizon: number;
}

const JOB_PENDING = 0;
const JOB_VISIBLE = 1;
const JOB_INFLIGHT = 2;
const JOB_DONE = 3;
const JOB_DEAD = 4;

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

  // The farm's work queue.
  readonly farmQueueName: string;
  readonly visibilityTimeout: number;
  readonly maxReceiveCount: number;
  private readonly arrival: Float64Array;
  private readonly runtime: Float64Array;
  private readonly state: Uint8Array;
  private readonly receiveCount: Uint16Array;
  private readonly attempt: Int32Array;
  private readonly attemptStart: Float64Array;
  private readonly ring: Int32Array;
  private ringHead = 0;
  private ringSize = 0;
  private nextArrival = 0;
  inflight = 0;
  private readonly available = new Set<Instance>();

  // Statistics.
  submitted = 0;
  completed = 0;
  deadLettered = 0;
  readonly waits: number[] = [];
  /** Waits of attempts started since the last sample (for the series). */
  private intervalWaits: number[] = [];
  interruptions = 0;
  swaps = 0;
  maxBacklog = 0;
  private closedCost = 0;
  spotSeconds = 0;
  onDemandSeconds = 0;
  eventsProcessed = 0;
  launchFailures = 0;

  private readonly poolOrdinals = new Map<string, number>();
  private readonly poolUnavailableUntil = new Map<string, number>();
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
    this.farmQueueName = `${scenario.farm.name}-jobs`;
    this.visibilityTimeout = Math.max(1, scenario.farm.visibilityTimeout);
    this.maxReceiveCount = scenario.farm.maxReceiveCount;
    const n = scenario.workload.arrival.length;
    this.arrival = scenario.workload.arrival;
    this.runtime = scenario.workload.runtime;
    this.state = new Uint8Array(n);
    this.receiveCount = new Uint16Array(n);
    this.attempt = new Int32Array(n);
    this.attemptStart = new Float64Array(n);
    this.ring = new Int32Array(Math.max(1, n));
    this.createQueue(`${scenario.farm.name}-jobs-dlq`, {});
    this.createQueue(this.farmQueueName, {
      VisibilityTimeout: String(this.visibilityTimeout),
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: `arn:aws:sqs:${scenario.region}:${ACCOUNT_ID}:${scenario.farm.name}-jobs-dlq`,
        maxReceiveCount: this.maxReceiveCount,
      }),
    }).farm = true;
    if (n > 0) this.at(this.arrival[0]!, () => this.arrive());
    // The arrival window closes: from now on the run ends as soon as the work is done.
    this.at(scenario.start + scenario.duration, () => undefined);
    for (const storm of scenario.interruptions.storms) this.at(storm.at, () => this.storm(storm));
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
      this.nextArrival >= this.arrival.length &&
      this.ringSize === 0 &&
      this.inflight === 0
    );
  }

  private finish(t: number): void {
    this.stopped = true;
    this.now = t;
    this.endT = t;
    for (const instance of this.instances.values()) {
      if (instance.ec2State !== 'terminated') this.closeBilling(instance, t);
    }
  }

  newId(prefix: string, width = 17): string {
    this.idCounter++;
    return `${prefix}${this.idCounter.toString(16).padStart(width, '0')}`;
  }

  // ---------------------------------------------------------------------------------------------------------
  // The work queue and the workers.

  get visible(): number {
    return this.ringSize;
  }

  get backlog(): number {
    return this.ringSize + this.inflight;
  }

  /** Jobs not yet submitted at the end plus jobs still queued or in flight. */
  get stillQueued(): number {
    return this.ringSize + this.inflight;
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

  private arrive(): void {
    const t = this.now;
    const arrival = this.arrival;
    while (this.nextArrival < arrival.length && arrival[this.nextArrival]! <= t) {
      this.enqueue(this.nextArrival);
      this.nextArrival++;
      this.submitted++;
    }
    const backlog = this.ringSize + this.inflight;
    if (backlog > this.maxBacklog) this.maxBacklog = backlog;
    if (this.nextArrival < arrival.length) this.at(arrival[this.nextArrival]!, () => this.arrive());
    this.dispatch();
  }

  /** Idle slots take visible messages (the workers' long polls, event-driven instead of one event per poll). */
  private dispatch(): void {
    const available = this.available;
    while (this.ringSize > 0 && available.size > 0) {
      const instance = available.values().next().value as Instance;
      const job = this.dequeue();
      const count = ++this.receiveCount[job]!;
      if (count > this.maxReceiveCount) {
        // SQS redrive: the receive that would exceed maxReceiveCount moves the message to the dead-letter queue.
        this.state[job] = JOB_DEAD;
        this.deadLettered++;
        continue;
      }
      this.state[job] = JOB_INFLIGHT;
      this.inflight++;
      const token = ++this.attempt[job]!;
      this.attemptStart[job] = this.now;
      const wait = this.now - this.arrival[job]!;
      this.intervalWaits.push(wait);
      instance.running.add(job);
      instance.free--;
      if (instance.free <= 0) available.delete(instance);
      if (instance.workers === 'agent' && !instance.protected) instance.protected = true;
      this.at(this.now + this.runtime[job]!, () => this.jobFinished(job, token, instance));
    }
  }

  private jobFinished(job: number, token: number, instance: Instance): void {
    if (this.attempt[job] !== token || this.state[job] !== JOB_INFLIGHT) return;
    if (instance.ec2State === 'terminated') return;
    this.state[job] = JOB_DONE;
    this.inflight--;
    this.completed++;
    this.waits.push(this.attemptStart[job]! - this.arrival[job]!);
    instance.running.delete(job);
    instance.free++;
    if (instance.accepting) this.available.add(instance);
    if (instance.workers === 'agent' && instance.running.size === 0 && this.ringSize === 0) {
      // Idle and nothing to pull: the agent drops its scale-in protection.
      this.unprotect(instance);
    }
    this.dispatch();
  }

  private unprotect(instance: Instance): void {
    if (!instance.protected) return;
    instance.protected = false;
    const group = instance.group;
    if (group && this.countToward(group) > group.desired) this.requestReconcile(group);
  }

  /** A worker hands a message back at visibility 0: it is receivable at once. */
  private handBack(job: number, instance: Instance): void {
    if (this.state[job] !== JOB_INFLIGHT) return;
    instance.running.delete(job);
    this.attempt[job]!++;
    this.inflight--;
    this.enqueue(job);
  }

  /**
   * The instance stops without handing its messages back: each comes back when its visibility expires. The
   * heartbeat extended it by one timeout whenever less than HEARTBEAT_FRACTION of it was left, so at death the
   * deadline is start + V + k * (1 - HEARTBEAT_FRACTION) * V for the k extensions made so far.
   */
  private orphan(job: number, instance: Instance): void {
    instance.running.delete(job);
    const v = this.visibilityTimeout;
    const step = (1 - HEARTBEAT_FRACTION) * v;
    const start = this.attemptStart[job]!;
    const k = Math.max(0, Math.floor((this.now - start) / step));
    const deadline = start + v + k * step;
    const token = this.attempt[job]!;
    this.at(deadline, () => {
      if (this.attempt[job] !== token || this.state[job] !== JOB_INFLIGHT) return;
      this.inflight--;
      this.enqueue(job);
      this.dispatch();
    });
  }

  /** The worker agent's reaction to a notice (interruption warning or SIGTERM) with `deadline` to go. */
  private drain(instance: Instance, deadline: number): void {
    // Plain workers know nothing of notices: they keep pulling work until the instance dies.
    if (instance.workers !== 'agent') return;
    instance.accepting = false;
    this.available.delete(instance);
    for (const job of [...instance.running]) {
      const finishAt = this.attemptStart[job]! + this.runtime[job]!;
      if (finishAt > deadline - FINISH_MARGIN_SECONDS) this.handBack(job, instance);
    }
    this.dispatch();
  }

  // ---------------------------------------------------------------------------------------------------------
  // Plain SQS queues.

  createQueue(name: string, attributes: Record<string, string>): PlainQueue {
    const existing = this.queues.get(name);
    if (existing) return existing;
    const queue: PlainQueue = {
      name,
      url: `https://sqs.${this.scenario.region}.amazonaws.com/${ACCOUNT_ID}/${name}`,
      attributes: { VisibilityTimeout: '30', ...attributes },
      visible: 0,
      farm: false,
    };
    this.queues.set(name, queue);
    return queue;
  }

  queueByUrl(url: string): PlainQueue | undefined {
    const name = url.slice(url.lastIndexOf('/') + 1);
    const queue = this.queues.get(name);
    return queue && queue.url === url ? queue : undefined;
  }

  /** ApproximateNumberOfMessages / NotVisible / Delayed of a queue. */
  queueCounts(queue: PlainQueue): { visible: number; notVisible: number; delayed: number } {
    if (queue.farm) return { visible: this.ringSize, notVisible: this.inflight, delayed: 0 };
    if (queue.name === `${this.scenario.farm.name}-jobs-dlq`) {
      return { visible: queue.visible + this.deadLettered, notVisible: 0, delayed: 0 };
    }
    return { visible: queue.visible, notVisible: 0, delayed: 0 };
  }

  // ---------------------------------------------------------------------------------------------------------
  // Launch templates and configurations.

  createLaunchTemplate(name: string, data: RequestLaunchTemplateData, description?: string): LaunchTemplate {
    for (const lt of this.launchTemplates.values()) {
      if (lt.name === name) {
        throw awsError('ec2', 'InvalidLaunchTemplateName.AlreadyExistsException', `Launch template name already in use.`);
      }
    }
    const lt: LaunchTemplate = {
      id: this.newId('lt-'),
      name,
      defaultVersion: 1,
      latestVersion: 1,
      versions: new Map([[1, { data: structuredClone(data), description, created: this.now }]]),
      created: this.now,
      clientTokens: new Map(),
    };
    this.launchTemplates.set(lt.id, lt);
    return lt;
  }

  findLaunchTemplate(ref: { LaunchTemplateId?: string | undefined; LaunchTemplateName?: string | undefined }): LaunchTemplate {
    if (ref.LaunchTemplateId) {
      const lt = this.launchTemplates.get(ref.LaunchTemplateId);
      if (!lt) {
        throw awsError('ec2', 'InvalidLaunchTemplateId.NotFound', `The specified launch template, with template ID ${ref.LaunchTemplateId}, does not exist.`);
      }
      return lt;
    }
    if (ref.LaunchTemplateName) {
      for (const lt of this.launchTemplates.values()) if (lt.name === ref.LaunchTemplateName) return lt;
      throw awsError('ec2', 'InvalidLaunchTemplateName.NotFoundException', `The specified launch template, with template name ${ref.LaunchTemplateName}, does not exist.`);
    }
    throw awsError('ec2', 'MissingParameter', 'The request must contain the parameter LaunchTemplateId or LaunchTemplateName');
  }

  /** A version reference (`$Latest`, `$Default`, a number, or absent = `$Default`) to its number. */
  resolveVersion(lt: LaunchTemplate, version: string | undefined): number {
    if (version === undefined || version === '$Default') return lt.defaultVersion;
    if (version === '$Latest') return lt.latestVersion;
    const n = Number(version);
    if (!Number.isInteger(n) || !lt.versions.has(n)) {
      throw awsError('ec2', 'InvalidLaunchTemplateId.VersionNotFound', `Could not find launch template version ${version} for template ${lt.id}.`);
    }
    return n;
  }

  describeVersion(lt: LaunchTemplate, n: number): LaunchTemplateVersion {
    const v = lt.versions.get(n)!;
    return {
      LaunchTemplateId: lt.id,
      LaunchTemplateName: lt.name,
      VersionNumber: n,
      VersionDescription: v.description,
      DefaultVersion: n === lt.defaultVersion,
      CreateTime: new Date(v.created * 1000),
      CreatedBy: `arn:aws:iam::${ACCOUNT_ID}:user/spotfarm-sim`,
      LaunchTemplateData: structuredClone(v.data) as LaunchTemplateVersion['LaunchTemplateData'],
    };
  }

  // ---------------------------------------------------------------------------------------------------------
  // Auto Scaling groups.

  groupOrThrow(name: string | undefined): Group {
    const group = name ? this.groups.get(name) : undefined;
    if (!group) throw awsError('autoscaling', 'ValidationError', `AutoScalingGroup name not found - AutoScalingGroup ${name} not found`);
    return group;
  }

  createGroup(g: Omit<Group, 'arn' | 'members' | 'activities' | 'reconcileAt' | 'retryAfter' | 'lastScalingAt' | 'market' | 'createdTime'>): Group {
    if (this.groups.has(g.name)) {
      throw awsError('autoscaling', 'AlreadyExistsFault', `AutoScalingGroup by this name already exists - A group with the name ${g.name} already exists`);
    }
    const group: Group = {
      ...g,
      arn: `arn:aws:autoscaling:${this.scenario.region}:${ACCOUNT_ID}:autoScalingGroup:${this.newId('', 8)}-sim:autoScalingGroupName/${g.name}`,
      members: new Set(),
      activities: [],
      reconcileAt: Infinity,
      retryAfter: -Infinity,
      lastScalingAt: -Infinity,
      market: 'spot',
      createdTime: this.now,
    };
    group.market = this.groupMarket(group);
    this.groups.set(group.name, group);
    this.requestReconcile(group);
    return group;
  }

  /** The market the group's launch source asks for now. */
  groupMarket(group: Group): MarketKind {
    if (group.launchConfigurationName !== undefined) {
      const lc = this.launchConfigurations.get(group.launchConfigurationName);
      return lc?.SpotPrice ? 'spot' : 'on-demand';
    }
    if (group.launchTemplate) {
      const data = this.templateData(group.launchTemplate);
      return data?.InstanceMarketOptions?.MarketType === 'spot' ? 'spot' : 'on-demand';
    }
    if (group.mixedInstancesPolicy) {
      const d = group.mixedInstancesPolicy.InstancesDistribution ?? {};
      return (d.OnDemandPercentageAboveBaseCapacity ?? 100) >= 100 ? 'on-demand' : 'spot';
    }
    return 'on-demand';
  }

  private templateData(ref: LaunchTemplateRef): RequestLaunchTemplateData | undefined {
    try {
      const lt = this.findLaunchTemplate(ref);
      return lt.versions.get(this.resolveVersion(lt, ref.Version))?.data;
    } catch {
      return undefined;
    }
  }

  /** Called after any change to a launch source: counts a swap when the group's market flips. */
  noteLaunchSourceChange(): void {
    for (const group of this.groups.values()) {
      const market = this.groupMarket(group);
      if (market !== group.market) {
        group.market = market;
        this.swaps++;
        this.marks.push({
          t: this.now,
          kind: market === 'on-demand' ? 'swap-to-on-demand' : 'swap-to-spot',
          detail: `${group.name} now launches ${market} instances`,
        });
      }
    }
  }

  /** Instances that count toward the group's desired capacity. */
  countToward(group: Group): number {
    let n = 0;
    for (const m of group.members) if ((m.lifecycle === 'Pending' || m.lifecycle === 'InService') && !m.replaced) n++;
    return n;
  }

  requestReconcile(group: Group, delay = ASG_ACTION_DELAY_SECONDS): void {
    const at = Math.max(this.now + delay, group.retryAfter);
    if (at >= group.reconcileAt) return;
    group.reconcileAt = at;
    this.at(at, () => {
      if (group.reconcileAt !== at) return;
      group.reconcileAt = Infinity;
      this.reconcile(group);
    });
  }

  private activity(group: Group, a: Partial<Activity> & { Description: string; Cause: string; StatusCode: Activity['StatusCode'] }): Activity {
    const activity: Activity = {
      ActivityId: `${this.newId('', 8)}-sim-${this.idCounter.toString(36)}`,
      AutoScalingGroupName: group.name,
      StartTime: this.now,
      EndTime: this.now,
      Progress: 100,
      ...a,
      Details: JSON.stringify({ 'Subnet ID': 'subnet-0sim', 'Availability Zone': a.Details ?? '' }),
    } as Activity;
    group.activities.push(activity);
    if (group.activities.length > MAX_ACTIVITIES) group.activities.splice(0, group.activities.length - MAX_ACTIVITIES);
    return activity;
  }

  /** Auto Scaling's own loop: launch or terminate to match desired capacity. */
  reconcile(group: Group): void {
    if (!this.groups.has(group.name)) return;
    const have = this.countToward(group);
    if (have !== group.desired) group.lastScalingAt = this.now;
    if (have < group.desired) this.launch(group, group.desired - have);
    else if (have > group.desired) this.scaleIn(group, have - group.desired);
  }

  private launch(group: Group, count: number): void {
    const failedAz = new Set<string>();
    for (let i = 0; i < count; i++) {
      const placement = this.choosePlacement(group, failedAz);
      if (!placement) {
        // Every AZ failed: Auto Scaling keeps retrying on its own.
        group.retryAfter = this.now + LAUNCH_RETRY_SECONDS;
        this.requestReconcile(group, LAUNCH_RETRY_SECONDS);
        return;
      }
      this.startInstance(group, placement);
    }
  }

  /** Where the next instance goes: the AZ with fewest instances that has capacity (balance across AZs). */
  private choosePlacement(group: Group, failedAz: Set<string>): { type: string; az: string; market: MarketKind; maxPrice: number; ref: Partial<Instance> } | null {
    const source = this.launchSource(group);
    if (!source) return null;
    const perAz = new Map<string, number>();
    for (const az of group.availabilityZones) perAz.set(az, 0);
    for (const m of group.members) {
      if (m.lifecycle === 'Pending' || m.lifecycle === 'InService') perAz.set(m.az, (perAz.get(m.az) ?? 0) + 1);
    }
    const azs = group.availabilityZones.filter((az) => !failedAz.has(az)).sort((a, b) => perAz.get(a)! - perAz.get(b)!);
    for (const az of azs) {
      if (source.market === 'on-demand') {
        return { type: source.types[0]!, az, market: 'on-demand', maxPrice: Infinity, ref: source.ref };
      }
      // Spot: the cheapest of the group's types that has capacity and a price at or under the max price
      // (price-capacity-optimized, simplified to price among available pools).
      const candidates = source.types
        .map((type) => ({ type, price: this.market.spotPrice(type, az, this.now), max: source.maxPrice ?? this.market.onDemandPrice(type) }))
        .sort((a, b) => a.price - b.price);
      const failures: string[] = [];
      for (const c of candidates) {
        const reason = this.spotLaunchProblem(c.type, az, c.price, c.max);
        if (!reason) return { type: c.type, az, market: 'spot', maxPrice: c.max, ref: source.ref };
        failures.push(reason);
      }
      failedAz.add(az);
      this.launchFailed(group, az, failures[0]!);
    }
    return null;
  }

  private spotLaunchProblem(type: string, az: string, price: number, maxPrice: number): string | null {
    const until = this.poolUnavailableUntil.get(poolKey(type, az)) ?? -Infinity;
    if (this.now < until) {
      const others = this.scenario.availabilityZones.filter((z) => z !== az && this.now >= (this.poolUnavailableUntil.get(poolKey(type, z)) ?? -Infinity));
      return (
        `We currently do not have sufficient ${type} capacity in the Availability Zone you requested (${az}). ` +
        `Our system will be working on provisioning additional capacity. You can currently get ${type} capacity by not ` +
        `specifying an Availability Zone in your request or choosing ${others.join(', ') || 'another Availability Zone'}. ` +
        `Launching EC2 instance failed.`
      );
    }
    if (this.scenario.interruptions.priceAboveMax && price > maxPrice) {
      return (
        `Your Spot request price of ${maxPrice} is lower than the minimum required Spot request fulfillment price of ` +
        `${price.toFixed(4)}. Launching EC2 instance failed.`
      );
    }
    return null;
  }

  private launchFailed(group: Group, az: string, message: string): void {
    this.launchFailures++;
    const activity = this.activity(group, {
      Description: `Launching a new EC2 instance.  Status Reason: ${message}`,
      Cause: `At ${new Date(this.now * 1000).toISOString()} an instance was started in response to a difference between desired and actual capacity, increasing the capacity from ${this.countToward(group)} to ${group.desired}.`,
      StatusCode: 'Failed',
      StatusMessage: message,
      Progress: 100,
      Details: az,
    });
    this.marks.push({ t: this.now, kind: 'capacity-failure', detail: `${group.name} in ${az}: ${message.slice(0, 80)}` });
    this.hooks.onLaunchFailed?.(group, activity);
  }

  /** The group's launch source, resolved: instance types, market, max price, and what instances record. */
  private launchSource(group: Group): { types: string[]; market: MarketKind; maxPrice?: number; ref: Partial<Instance> } | null {
    if (group.launchConfigurationName !== undefined) {
      const lc = this.launchConfigurations.get(group.launchConfigurationName);
      if (!lc?.InstanceType) return null;
      return {
        types: [lc.InstanceType],
        market: lc.SpotPrice ? 'spot' : 'on-demand',
        ...(lc.SpotPrice ? { maxPrice: Number(lc.SpotPrice) } : {}),
        ref: { launchConfigurationName: lc.LaunchConfigurationName },
      };
    }
    if (group.launchTemplate) {
      const data = this.templateData(group.launchTemplate);
      if (!data?.InstanceType) return null;
      const spot = data.InstanceMarketOptions?.MarketType === 'spot';
      const max = data.InstanceMarketOptions?.SpotOptions?.MaxPrice;
      return {
        types: [data.InstanceType],
        market: spot ? 'spot' : 'on-demand',
        ...(spot && max ? { maxPrice: Number(max) } : {}),
        ref: { launchTemplate: { ...group.launchTemplate } },
      };
    }
    const policy = group.mixedInstancesPolicy;
    if (policy) {
      const spec = policy.LaunchTemplate?.LaunchTemplateSpecification ?? {};
      const data = this.templateData(spec as LaunchTemplateRef);
      const overrides = (policy.LaunchTemplate?.Overrides ?? []).map((o) => o.InstanceType).filter((t): t is string => !!t);
      const types = overrides.length ? overrides : data?.InstanceType ? [data.InstanceType] : [];
      if (!types.length) return null;
      const d = policy.InstancesDistribution ?? {};
      const base = d.OnDemandBaseCapacity ?? 0;
      const pct = d.OnDemandPercentageAboveBaseCapacity ?? 100;
      let onDemand = 0;
      for (const m of group.members) if ((m.lifecycle === 'Pending' || m.lifecycle === 'InService') && !m.replaced && m.market === 'on-demand') onDemand++;
      const n = group.desired;
      const wantOnDemand = Math.min(n, base) + Math.ceil((Math.max(0, n - base) * pct) / 100);
      const market: MarketKind = onDemand < wantOnDemand ? 'on-demand' : 'spot';
      return {
        types,
        market,
        ...(d.SpotMaxPrice ? { maxPrice: Number(d.SpotMaxPrice) } : {}),
        ref: { launchTemplate: { ...(spec as LaunchTemplateRef) } },
      };
    }
    return null;
  }

  private startInstance(group: Group, p: { type: string; az: string; market: MarketKind; maxPrice: number; ref: Partial<Instance> }): Instance {
    const workers = this.groupWorkers.get(group.name) ?? this.options.workers;
    const slots = this.scenario.farm.slotsPerInstance;
    const instance: Instance = {
      id: this.newId('i-'),
      type: p.type,
      az: p.az,
      market: p.market,
      maxPrice: p.maxPrice,
      groupName: group.name,
      group,
      ...p.ref,
      launchT: this.now,
      readyT: this.now + this.scenario.farm.bootSeconds,
      endT: Infinity,
      ec2State: 'pending',
      lifecycle: 'Pending',
      protected: group.newInstancesProtectedFromScaleIn,
      ordinal: 0,
      warnedAt: Infinity,
      interruptAt: Infinity,
      replaced: false,
      workers,
      slots,
      free: slots,
      accepting: false,
      running: new Set(),
      cost: 0,
      tags: new Map(),
    };
    this.instances.set(instance.id, instance);
    group.members.add(instance);
    this.activity(group, {
      Description: `Launching a new EC2 instance: ${instance.id}`,
      Cause: `At ${new Date(this.now * 1000).toISOString()} an instance was started in response to a difference between desired and actual capacity, increasing the capacity from ${this.countToward(group) - 1} to ${group.desired}.`,
      StatusCode: 'Successful',
      Details: instance.az,
    });
    this.at(instance.readyT, () => this.instanceReady(instance));
    if (instance.market === 'spot') this.planInterruption(instance);
    return instance;
  }

  private instanceReady(instance: Instance): void {
    if (instance.ec2State !== 'pending') return;
    instance.ec2State = 'running';
    if (instance.lifecycle === 'Pending') instance.lifecycle = 'InService';
    if (instance.warnedAt === Infinity) {
      instance.accepting = true;
      this.available.add(instance);
      this.dispatch();
    }
  }

  /** Scale in `count` instances under the termination policy; protected instances are never chosen. */
  private scaleIn(group: Group, count: number): void {
    const target = group.market;
    const candidates = [...group.members].filter(
      (m) => (m.lifecycle === 'Pending' || m.lifecycle === 'InService') && !m.replaced && !m.protected,
    );
    for (let i = 0; i < count && candidates.length > 0; i++) {
      // Default termination policy, simplified: instances on a launch source other than the current one first
      // (after a return to spot, on-demand instances leave first), then the AZ with the most instances, then
      // a deterministic pseudo-random pick (AWS: closest to the next billing hour, then random).
      const perAz = new Map<string, number>();
      for (const m of group.members) {
        if (m.lifecycle === 'Pending' || m.lifecycle === 'InService') perAz.set(m.az, (perAz.get(m.az) ?? 0) + 1);
      }
      candidates.sort((a, b) => {
        const am = a.market === target ? 1 : 0;
        const bm = b.market === target ? 1 : 0;
        if (am !== bm) return am - bm;
        const az = perAz.get(b.az)! - perAz.get(a.az)!;
        if (az !== 0) return az;
        return tieBreak(a.id) - tieBreak(b.id);
      });
      const victim = candidates.shift()!;
      this.terminateByGroup(victim, 'scale-in', `an instance was taken out of service in response to a difference between desired and actual capacity, shrinking the capacity from ${this.countToward(group)} to ${group.desired}.`);
    }
  }

  /** Auto Scaling terminates a member (scale-in, TerminateInstanceInAutoScalingGroup, rebalancing). */
  terminateByGroup(instance: Instance, reason: string, cause: string): void {
    const group = instance.group;
    if (group) {
      this.activity(group, {
        Description: `Terminating EC2 instance: ${instance.id}`,
        Cause: `At ${new Date(this.now * 1000).toISOString()} ${cause}`,
        StatusCode: 'Successful',
        Details: instance.az,
      });
      group.members.delete(instance);
      instance.group = null;
    }
    instance.lifecycle = 'Terminated';
    // The OS shuts down: the agent gets SIGTERM and hands back what it holds.
    this.drain(instance, this.now);
    this.terminateEc2(instance, reason);
  }

  /** EC2 takes the instance away now. */
  terminateEc2(instance: Instance, _reason: string): void {
    if (instance.ec2State === 'terminated') return;
    instance.accepting = false;
    this.available.delete(instance);
    for (const job of [...instance.running]) this.orphan(job, instance);
    this.closeBilling(instance, this.now);
    instance.ec2State = 'terminated';
    const group = instance.group;
    if (group && instance.lifecycle !== 'Terminated') {
      if (instance.replaced || instance.lifecycle === 'Terminating') {
        group.members.delete(instance);
        instance.group = null;
        instance.lifecycle = 'Terminated';
      } else {
        // The group notices a dead member on its next health check and replaces it.
        this.at(this.now + this.scenario.farm.healthCheckDelay, () => {
          if (instance.group !== group) return;
          this.activity(group, {
            Description: `Terminating EC2 instance: ${instance.id}`,
            Cause: `At ${new Date(this.now * 1000).toISOString()} an instance was taken out of service in response to an EC2 health check indicating it has been terminated or stopped.`,
            StatusCode: 'Successful',
            Details: instance.az,
          });
          group.members.delete(instance);
          instance.group = null;
          instance.lifecycle = 'Terminated';
          this.requestReconcile(group);
        });
      }
    }
  }

  private closeBilling(instance: Instance, t: number): void {
    if (instance.endT !== Infinity) return;
    instance.endT = t;
    instance.cost = this.costOf(instance, t);
    this.closedCost += instance.cost;
    const seconds = Math.max(60, t - instance.launchT);
    if (instance.market === 'spot') this.spotSeconds += seconds;
    else this.onDemandSeconds += seconds;
  }

  /** Per-second billing with a 60 s minimum, at the instance's market price at each moment. */
  costOf(instance: Instance, until: number): number {
    const from = instance.launchT;
    const to = Math.max(until, from + 60);
    if (instance.market === 'spot') return this.market.spotSeries(instance.type, instance.az).integral(from, to);
    return (this.market.onDemandPrice(instance.type) * (to - from)) / 3600;
  }

  /** Cost so far: closed instances plus running ones up to now. */
  costSoFar(): number {
    let cost = this.closedCost;
    for (const instance of this.instances.values()) {
      if (instance.endT === Infinity) cost += this.costOf(instance, this.now);
    }
    return cost;
  }

  /** Drops terminated instances that DescribeInstances no longer shows (keeps memory flat on long runs). */
  purgeTerminated(): void {
    for (const [id, instance] of this.instances) {
      if (instance.ec2State === 'terminated' && instance.endT + TERMINATED_VISIBLE_SECONDS < this.now && !instance.group) {
        this.instances.delete(id);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Interruptions.

  /**
   * Draws when the market takes a new spot instance back: a rate per instance-hour (exponential lifetime keyed
   * by the pool's launch ordinal, so policies share draws), or the first time the pool's price rises above the
   * instance's max price (the old market). Storms are applied when they happen.
   */
  private planInterruption(instance: Instance): void {
    const pool = poolKey(instance.type, instance.az);
    const ordinal = (this.poolOrdinals.get(pool) ?? 0) + 1;
    this.poolOrdinals.set(pool, ordinal);
    instance.ordinal = ordinal;
    const seed = this.scenario.seed;
    let warnAt = Infinity;
    let cause = '';
    let rebalance = false;
    const rate = this.scenario.interruptions.rate.get(instance.type) ?? 0;
    if (rate > 0) {
      const t = instance.launchT + (exponential(keyedUniform(seed, 'rate', pool, ordinal)) / rate) * 3600;
      if (t < warnAt) {
        warnAt = t;
        cause = 'interruption rate';
        rebalance = keyedUniform(seed, 'rebalance', pool, ordinal) < this.scenario.interruptions.rebalanceFraction;
      }
    }
    if (this.scenario.interruptions.priceAboveMax) {
      const t = this.market.spotSeries(instance.type, instance.az).firstAbove(instance.maxPrice, instance.launchT, Math.min(warnAt, this.endT));
      if (t !== null && t < warnAt) {
        warnAt = t;
        cause = `spot price above the max price ${instance.maxPrice}`;
        rebalance = false;
      }
    }
    if (warnAt < this.endT) {
      this.at(warnAt, () => this.warn(instance, cause));
      if (rebalance) {
        const lead = this.scenario.interruptions.rebalanceLead * (0.5 + keyedUniform(seed, 'rebalance-lead', pool, ordinal));
        const at = Math.max(instance.launchT, warnAt - lead);
        this.at(at, () => this.recommendRebalance(instance));
      }
    }
  }

  private recommendRebalance(instance: Instance): void {
    if (instance.ec2State === 'terminated' || instance.warnedAt !== Infinity) return;
    this.hooks.onRebalanceRecommendation?.(instance);
    const group = instance.group;
    if (group?.capacityRebalance && !instance.replaced && (instance.lifecycle === 'InService' || instance.lifecycle === 'Pending')) {
      // Capacity Rebalancing: launch a replacement now, terminate the at-risk instance once it is in service.
      instance.replaced = true;
      this.reconcile(group);
      this.at(this.now + this.scenario.farm.bootSeconds, () => {
        if (instance.ec2State !== 'terminated' && instance.group === group) {
          this.terminateByGroup(instance, 'rebalance', 'an instance was taken out of service in response to an EC2 instance rebalance recommendation.');
        }
      });
    }
  }

  /** The two-minute warning; EC2 takes the instance at warnedAt + 120 s. */
  private warn(instance: Instance, cause: string): void {
    if (instance.ec2State === 'terminated' || instance.warnedAt !== Infinity) return;
    instance.warnedAt = this.now;
    instance.interruptAt = this.now + INTERRUPTION_NOTICE_SECONDS;
    this.interruptions++;
    this.marks.push({ t: this.now, kind: 'interruption', detail: `${instance.id} (${instance.type} ${instance.az}): ${cause}` });
    // The agent sees the notice on its next metadata poll (every METADATA_POLL_SECONDS, at its own phase).
    const seen = this.now + keyedUniform(this.scenario.seed, 'imds-phase', instance.id) * METADATA_POLL_SECONDS;
    const deadline = instance.interruptAt;
    this.at(seen, () => {
      if (instance.ec2State !== 'terminated') this.drain(instance, deadline);
    });
    const group = instance.group;
    if (group?.capacityRebalance && !instance.replaced && instance.lifecycle !== 'Terminated') {
      // With Capacity Rebalancing, the final notice also makes the group launch a replacement at once.
      instance.replaced = true;
      this.reconcile(group);
    }
    this.hooks.onInterruptionWarning?.(instance);
    this.at(instance.interruptAt, () => this.terminateEc2(instance, 'spot interruption'));
  }

  private storm(storm: Scenario['interruptions']['storms'][number]): void {
    const pool = poolKey(storm.instanceType, storm.availabilityZone);
    this.poolUnavailableUntil.set(pool, storm.at + storm.unavailableFor);
    const victims = [...this.instances.values()]
      .filter((i) => i.market === 'spot' && i.type === storm.instanceType && i.az === storm.availabilityZone && i.ec2State !== 'terminated' && i.warnedAt === Infinity)
      .map((i) => ({ i, key: keyedUniform(this.scenario.seed, 'storm', storm.at, pool, i.ordinal) }))
      .sort((a, b) => a.key - b.key);
    const n = Math.round(storm.fraction * victims.length);
    this.marks.push({
      t: this.now,
      kind: 'storm',
      detail: `${pool}: ${n} of ${victims.length} spot instances interrupted, no capacity for ${Math.round(storm.unavailableFor / 60)} min`,
    });
    for (const { i } of victims.slice(0, n)) {
      this.hooks.onRebalanceRecommendation?.(i);
      this.warn(i, 'storm');
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Sampling.

  /** Waits of the attempts started since the last call. */
  takeIntervalWaits(): number[] {
    const out = this.intervalWaits;
    this.intervalWaits = [];
    return out;
  }

  runningInstances(): Instance[] {
    return [...this.instances.values()].filter((i) => i.ec2State !== 'terminated');
  }
}

function tieBreak(id: string): number {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (Math.imul(h, 31) + id.charCodeAt(i)) >>> 0;
  return h;
}

export const JOB_STATES = { JOB_PENDING, JOB_VISIBLE, JOB_INFLIGHT, JOB_DONE, JOB_DEAD } as const;
