/**
 * The worker agent the farm's instances run: long-poll the queue for up to `slots` messages, run
 * each through `process`, extend its visibility while it runs (heartbeat), delete it on success,
 * back it off on failure, and on a spot interruption notice (or `stop()`) stop receiving, let the
 * jobs that can finish in time finish and hand the others back to the queue at once.
 *
 * No message is ever deleted unless `process` resolved while the worker still held it, and every
 * message the worker gives up is made visible again at once, so an interruption never loses work
 * and never waits out a visibility timeout.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
  type Message,
  type MessageAttributeValue,
  type SendMessageCommandInput,
} from '@aws-sdk/client-sqs';
import { WorkerConfigError, awsErrorName, errorMessage, fatalQueueError } from './errors';
import { createImdsClient, MetadataAnswerError, type InstanceAction, type MetadataClient } from './imds';
import { receiveOrder } from './receive-order';
import type { JobEnd } from './job-metrics';
import { jsonLog, type Log } from './log';
import {
  failureBackoffSeconds,
  heartbeatDelaySeconds,
  planDrain,
  planHandBack,
  planReceive,
  type HandBackMode,
  type RunningJob,
} from './policy';
import { ScaleInProtection } from './protection';
import {
  AUTO_SCALING_TIMEOUT_SECONDS,
  FAILURE_BACKOFF_BASE_SECONDS,
  FAILURE_BACKOFF_MAX_SECONDS,
  FINISH_MARGIN_SECONDS,
  HAND_BACK_ATTRIBUTE,
  INTERRUPTION_NOTICE_SECONDS,
  JOB_ID_ATTRIBUTE,
  MAX_JOB_SECONDS,
  METADATA_POLL_SECONDS,
  RECEIVE_WAIT_SECONDS,
} from './rules';

export { WorkerConfigError } from './errors';
export { createImdsClient, MetadataError, MetadataAnswerError, type MetadataClient, type InstanceAction } from './imds';
export { jsonLog, type Log, type Level } from './log';
export type { Message } from '@aws-sdk/client-sqs';

/** What a job gets besides its message. */
export interface JobContext {
  /** Aborted when the worker hands the message back: stop work, the result will be ignored. */
  signal: AbortSignal;
  /** ApproximateReceiveCount of this copy of the message: 1 on its first try (a hand-back re-sends a fresh copy). */
  receiveCount: number;
  /** Times the job was handed back before this run (interruptions, stops): the message's spotfarm.handBacks. */
  handBacks: number;
  /** The id of the message as first sent; stays the same across hand-backs (each re-sent copy has a new id). */
  jobId: string;
}

/** Runs one message. Resolve = success (the message is deleted); reject = failure (backed off). */
export type JobProcessor = (message: Message, context: JobContext) => Promise<void>;

export interface WorkerOptions {
  queueUrl: string;
  /** Jobs run at once (default 1). */
  slots?: number;
  process: JobProcessor;
  /**
   * How long a message's job is expected to take, if known. On an interruption notice only jobs
   * expected to end FINISH_MARGIN_SECONDS before the deadline keep running; without this every
   * running job is handed back.
   */
  expectedSeconds?: (message: Message) => number | undefined;
  /** Clients; by default built from the SDK's usual configuration (AWS_ENDPOINT_URL, AWS_REGION). */
  sqs?: SQSClient;
  autoScaling?: AutoScalingClient;
  /** Instance metadata; false runs without interruption awareness or scale-in protection. */
  metadata?: MetadataClient | false;
  /** Lease per receive; by default the queue's own VisibilityTimeout. */
  visibilityTimeoutSeconds?: number;
  receiveWaitSeconds?: number;
  metadataPollSeconds?: number;
  failureBackoffBaseSeconds?: number;
  failureBackoffMaxSeconds?: number;
  finishMarginSeconds?: number;
  /** Deadline `stop()` and SIGTERM give running jobs, like a notice (default 120 s). */
  stopDeadlineSeconds?: number;
  /**
   * A job still running this long after it started is stopped (its signal aborts) and its message handed back
   * (default MAX_JOB_SECONDS, 12 h: SQS keeps a message hidden at most 12 h after a receive, so a longer job would
   * lose its lease anyway). 0 means no limit.
   */
  maxJobSeconds?: number;
  /** On a rebalance recommendation: 'log' it (default), 'drain' (finish jobs, take no more, exit), or 'ignore'. */
  onRebalance?: 'log' | 'drain' | 'ignore';
  /** Called when a job ends (succeeded, failed or handed back); worker/job-metrics.ts publishes these. Never awaited. */
  onJobEnd?: (job: JobEnd) => void;
  /**
   * How a hand-back returns a message: 'resend' (a copy with receive count 0, then the original deleted: a hand-back
   * does not count toward the queue's maxReceiveCount) or 'visibility' (ChangeMessageVisibility 0: one more
   * receive). Default: 'resend' on a standard queue, 'visibility' on a FIFO queue (a copy would lose its place in
   * its message group). See planHandBack.
   */
  handBack?: HandBackMode;
  /** Re-sent hand-backs of one job before later ones count as receives again (default MAX_RESENT_HAND_BACKS). */
  maxResentHandBacks?: number;
  /**
   * Busy-first receiving (planReceive): an instance running nothing waits this long before each receive, one with
   * free slots a share of it that shrinks as it fills, one with a single free slot not at all (default
   * IDLE_RECEIVE_DELAY_SECONDS; 0 polls all the time, whatever the load).
   */
  idleReceiveDelaySeconds?: number;
  /** Long-poll wait of a delayed receive (default IDLE_RECEIVE_WAIT_SECONDS). */
  idleReceiveWaitSeconds?: number;
  /** Toggle scale-in protection on the instance's group (default true when metadata is available). */
  protectFromScaleIn?: boolean;
  /**
   * Take new work after the farm's other instances (on-demand last, worker/policy.ts planReceive). By default: when
   * the instance's group is the farm's on-demand group (tagged `spotfarm:role=on-demand`; worker/receive-order.ts).
   */
  receiveLast?: boolean;
  log?: Log;
}

export type ExitReason = 'interruption' | 'rebalance' | 'stopped';

export interface WorkerSummary {
  reason: ExitReason;
  succeeded: number;
  failed: number;
  /** Messages given back to the queue (a drain, a timeout, received while draining). */
  handedBack: number;
  /** Of those, jobs stopped by maxJobSeconds. */
  timedOut: number;
  /** Of those, returned as a re-sent copy (receive count 0) rather than by a visibility reset. */
  resent: number;
  /** Deliveries of a message this worker was already running: taken over (new receipt handle), not started again. */
  redelivered: number;
  instanceId?: string;
}

export interface WorkerHandle {
  /** Resolves on a clean exit; rejects with WorkerConfigError when the worker cannot run. */
  done: Promise<WorkerSummary>;
  /**
   * Drains like an interruption notice with a deadline `stopDeadlineSeconds` away. With
   * `{force: true}` (a second SIGTERM) everything is handed back at once.
   */
  stop(options?: { force?: boolean; reason?: string }): void;
}

/**
 * One run of one message. Keyed by message and attempt (`key`): a message SQS delivers again while its run is
 * still going is the same run (its new receipt handle is taken over), and a message delivered again after this
 * worker handed it back gets a new run under its own key, so the two never overwrite each other's entry.
 */
interface Job {
  key: string;
  /** The message id (what logs and SQS call it). */
  id: string;
  message: Message;
  /** The latest receipt handle: SQS honours only the newest one for delete and visibility changes. */
  receiptHandle: string;
  receiveCount: number;
  handBacks: number;
  jobId: string;
  startedAt: number;
  expectedSeconds?: number | undefined;
  /** running → (finishing on a drain) → ending (process settled, delete or back-off under way), or released (handed back). */
  state: 'running' | 'finishing' | 'ending' | 'released';
  controller: AbortController;
  heartbeat?: NodeJS.Timeout;
  cutoff?: NodeJS.Timeout;
  timeout?: NodeJS.Timeout;
  settled: Promise<void>;
}

/** Starts a worker; see WorkerHandle. */
export function runWorker(options: WorkerOptions): WorkerHandle {
  const worker = new Worker(options);
  return { done: worker.run(), stop: (o) => worker.stop(o) };
}

/** AWS_REGION, else the region in a real SQS URL (https://sqs.eu-west-1.amazonaws.com/...). */
export function regionFor(queueUrl: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const fromEnv = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (fromEnv) return fromEnv;
  return /sqs[.-]([a-z]{2}(?:-[a-z]+)+-\d)\./.exec(queueUrl)?.[1];
}

class Worker {
  private readonly log: Log;
  private readonly sqs: SQSClient;
  private readonly slots: number;
  private readonly jobs = new Map<string, Job>();
  private readonly counts = { succeeded: 0, failed: 0, handedBack: 0, timedOut: 0, resent: 0, redelivered: 0 };
  /** FIFO queue names end in .fifo (SQS requires it). */
  private readonly fifo: boolean;
  private attempts = 0;
  /** Ids of messages completed (deleted) here, newest last. */
  private readonly completed = new Set<string>();
  /** Aborted on drain: wakes the receive loop and the metadata poller. */
  private readonly draining = new AbortController();
  /** Aborted on a forced stop: also cancels an in-flight receive. */
  private readonly forced = new AbortController();
  /** Aborted once every job has settled: ends the metadata poller without waiting out its sleep. */
  private readonly finished = new AbortController();
  private deadline: number | undefined;
  private exitReason: ExitReason = 'stopped';
  private lease = 0;
  private instanceId: string | undefined;
  /** The instance takes new work after the farm's spot instances (planReceive, on-demand last). */
  private receiveLast = false;
  private protection: ScaleInProtection | undefined;
  private slotFreed: () => void = () => {};
  private protecting: Promise<void> | undefined;
  private started = false;
  /** Hand-backs under way (send, delete or visibility reset): the worker exits only once they are done. */
  private readonly givingBack = new Set<Promise<void>>();

  constructor(private readonly options: WorkerOptions) {
    this.log = options.log ?? jsonLog();
    this.slots = options.slots ?? 1;
    this.receiveLast = options.receiveLast ?? false;
    this.fifo = /\.fifo$/.test(options.queueUrl ?? '');
    const region = regionFor(options.queueUrl);
    this.sqs = options.sqs ?? new SQSClient(region ? { region } : {});
  }

  async run(): Promise<WorkerSummary> {
    this.validate();
    if (!(await this.readQueue())) return this.summarise();
    await this.readMetadata();
    this.started = true;
    this.log('info', 'worker_started', {
      queueUrl: this.options.queueUrl,
      slots: this.slots,
      visibilityTimeoutSeconds: this.lease,
      instanceId: this.instanceId,
      asgName: this.protection?.asgName,
      interruptionAware: this.metadata !== undefined,
    });
    const poller = this.pollMetadata();
    try {
      await this.receiveLoop();
    } finally {
      // Whatever ended the loop, nothing may be left running or held.
      if (!this.draining.signal.aborted) this.drain(Date.now(), 'stopped', 'receive loop ended');
      while (this.jobs.size > 0) await Promise.all([...this.jobs.values()].map((job) => job.settled));
      // A re-send whose delete has not happened yet would leave the original to come back after its lease.
      while (this.givingBack.size > 0) await Promise.all([...this.givingBack]);
      this.finished.abort();
      await poller;
      if (this.protection !== undefined) {
        await this.protection.set(false);
        await this.protection.settled();
      }
    }
    return this.summarise();
  }

  private summarise(): WorkerSummary {
    const summary: WorkerSummary = { reason: this.exitReason, ...this.counts };
    if (this.instanceId !== undefined) summary.instanceId = this.instanceId;
    this.log('info', 'exit', { ...summary });
    return summary;
  }

  stop(options: { force?: boolean; reason?: string } = {}): void {
    const reason = options.reason ?? 'stop requested';
    if (options.force) {
      this.log('warn', 'forced_stop', { reason });
      this.drain(Date.now(), 'stopped', reason);
      this.forced.abort();
      return;
    }
    const seconds = this.options.stopDeadlineSeconds ?? INTERRUPTION_NOTICE_SECONDS;
    this.drain(Date.now() + seconds * 1000, 'stopped', reason);
  }

  private validate(): void {
    const { queueUrl, slots = 1, visibilityTimeoutSeconds } = this.options;
    if (typeof queueUrl !== 'string' || !/^https?:\/\/[^/]+\/.+/.test(queueUrl)) {
      throw new WorkerConfigError(
        `queue URL must look like https://sqs.<region>.amazonaws.com/<account>/<name>, got ${JSON.stringify(queueUrl)}`,
      );
    }
    if (!Number.isInteger(slots) || slots < 1 || slots > 1000) {
      throw new WorkerConfigError(`slots must be a whole number from 1 to 1000, got ${slots}`);
    }
    if (
      visibilityTimeoutSeconds !== undefined &&
      (!Number.isInteger(visibilityTimeoutSeconds) || visibilityTimeoutSeconds < 1 || visibilityTimeoutSeconds > 43_200)
    ) {
      throw new WorkerConfigError(
        `visibility timeout must be a whole number of seconds from 1 to 43200, got ${visibilityTimeoutSeconds}`,
      );
    }
    const { maxJobSeconds } = this.options;
    if (maxJobSeconds !== undefined && (!Number.isFinite(maxJobSeconds) || maxJobSeconds < 0)) {
      throw new WorkerConfigError(`max job time must be a number of seconds, 0 for none, got ${maxJobSeconds}`);
    }
    const { handBack, maxResentHandBacks, idleReceiveDelaySeconds, idleReceiveWaitSeconds } = this.options;
    if (handBack !== undefined && handBack !== 'resend' && handBack !== 'visibility') {
      throw new WorkerConfigError(`hand-back must be resend or visibility, got ${String(handBack)}`);
    }
    if (maxResentHandBacks !== undefined && (!Number.isInteger(maxResentHandBacks) || maxResentHandBacks < 0)) {
      throw new WorkerConfigError(`maximum re-sent hand-backs must be a whole number >= 0, got ${maxResentHandBacks}`);
    }
    for (const [name, value, max] of [
      ['idle receive delay', idleReceiveDelaySeconds, 600],
      ['idle receive wait', idleReceiveWaitSeconds, 20],
    ] as const) {
      if (value !== undefined && (!Number.isFinite(value) || value < 0 || value > max)) {
        throw new WorkerConfigError(`${name} must be from 0 to ${max} seconds, got ${value}`);
      }
    }
    if (typeof this.options.process !== 'function') throw new WorkerConfigError('process must be a function');
  }

  /**
   * Checks the queue exists and is ours to read, and learns its visibility timeout. False when the
   * worker was stopped before the queue answered.
   */
  private async readQueue(): Promise<boolean> {
    const { queueUrl, visibilityTimeoutSeconds } = this.options;
    let attributes: Record<string, string> = {};
    // Errors no retry can fix stop the worker; anything else (the network not up yet at boot,
    // throttling, a 5xx) is retried with back-off until it answers or the worker is stopped.
    for (let failures = 0; ; failures++) {
      try {
        const out = await this.sqs.send(
          new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['VisibilityTimeout', 'RedrivePolicy'] }),
        );
        attributes = out.Attributes ?? {};
        break;
      } catch (error) {
        const fatal = fatalQueueError(error, queueUrl, 'GetQueueAttributes');
        const denied = fatal !== undefined && /^no permission/.test(fatal.message);
        // A lease given up front makes the attributes optional: a role without GetQueueAttributes still works.
        if (denied && visibilityTimeoutSeconds !== undefined) break;
        if (fatal !== undefined) throw fatal;
        if (this.draining.signal.aborted) return false;
        const wait = Math.min(20_000, 1000 * 2 ** Math.min(failures, 5));
        this.log('warn', 'queue_unreachable', {
          queueUrl,
          reason: `reading queue ${queueUrl}: ${awsErrorName(error) || 'error'}: ${errorMessage(error)}`,
          retryInMs: wait,
        });
        await sleep(wait, this.draining.signal);
      }
    }
    const queueLease = Number(attributes.VisibilityTimeout);
    this.lease = visibilityTimeoutSeconds ?? queueLease;
    if (!Number.isFinite(this.lease) || this.lease < 1) {
      throw new WorkerConfigError(
        `queue ${queueUrl} has visibility timeout ${attributes.VisibilityTimeout ?? 'unknown'}: ` +
          'give the worker a lease of at least 1 s (--visibility-timeout)',
      );
    }
    if (Object.keys(attributes).length > 0 && attributes.RedrivePolicy === undefined) {
      this.log('warn', 'no_dead_letter_queue', {
        queueUrl,
        reason: 'the queue has no redrive policy, so a message that always fails is retried forever',
      });
    }
    return true;
  }

  private metadata: MetadataClient | undefined;

  /** Learns the instance id and its group; unreachable metadata is logged once and the worker runs without it. */
  private async readMetadata(): Promise<void> {
    if (this.options.metadata === false) return;
    const metadata = this.options.metadata ?? createImdsClient();
    try {
      this.instanceId = await metadata.instanceId();
      this.metadata = metadata;
    } catch (error) {
      this.log('warn', 'metadata_unreachable', {
        endpoint: metadata.endpoint,
        reason: `${errorMessage(error)}; running without interruption awareness or scale-in protection`,
      });
      return;
    }
    if (this.options.protectFromScaleIn === false) return;
    const region = regionFor(this.options.queueUrl);
    const timeout = AUTO_SCALING_TIMEOUT_SECONDS * 1000;
    const client =
      this.options.autoScaling ??
      new AutoScalingClient({
        ...(region ? { region } : {}),
        // throwOnRequestTimeout: without it this version of @smithy/node-http-handler only logs a warning when the
        // request timeout passes, and the call keeps waiting.
        requestHandler: { requestTimeout: timeout, connectionTimeout: timeout, throwOnRequestTimeout: true },
      });
    const protection = new ScaleInProtection(client, this.instanceId, this.log);
    if (await protection.init()) this.protection = protection;
    if (this.options.receiveLast === undefined && protection.asgName !== undefined) {
      const order = await receiveOrder(client, protection.asgName);
      this.receiveLast = order.last;
      this.log(order.failed ? 'warn' : 'info', 'receive_order', { group: protection.asgName, last: order.last, reason: order.reason });
    }
  }

  /** Polls spot/instance-action (and the rebalance recommendation) until the worker drains. */
  private async pollMetadata(): Promise<void> {
    const metadata = this.metadata;
    if (metadata === undefined) return;
    const every = (this.options.metadataPollSeconds ?? METADATA_POLL_SECONDS) * 1000;
    const rebalance = this.options.onRebalance ?? 'log';
    let reachable = true;
    let rebalanceSeen = false;
    let refused: string | undefined;
    // Keeps polling while draining: a notice after SIGTERM or a rebalance can bring the deadline closer.
    const stop = AbortSignal.any([this.forced.signal, this.finished.signal]);
    while (!stop.aborted) {
      try {
        const action = await metadata.instanceAction();
        if (action !== undefined) this.onNotice(action);
        if (rebalance !== 'ignore' && !rebalanceSeen) {
          const recommendation = await metadata.rebalanceRecommendation();
          if (recommendation !== undefined) {
            rebalanceSeen = true;
            this.log('warn', 'rebalance_recommendation', {
              instanceId: this.instanceId,
              noticeTime: recommendation.noticeTime,
              action: rebalance === 'drain' ? 'drain' : 'none',
            });
            if (rebalance === 'drain') this.drain(undefined, 'rebalance', 'rebalance recommendation');
          }
        }
        if (!reachable) this.log('info', 'metadata_reachable', { endpoint: metadata.endpoint });
        reachable = true;
      } catch (error) {
        if (error instanceof MetadataAnswerError) {
          // An answer not in the documented form is not a notice: say so once per distinct answer, keep working.
          if (error.message !== refused) {
            refused = error.message;
            this.log('warn', 'metadata_invalid', { endpoint: metadata.endpoint, reason: `${error.message}; ignored` });
          }
          await sleep(every, stop);
          continue;
        }
        // Log an outage once, not every 5 s.
        if (reachable) {
          this.log('warn', 'metadata_unreachable', {
            endpoint: metadata.endpoint,
            reason: `${errorMessage(error)}; interruption notices are missed until it answers again`,
          });
        }
        reachable = false;
      }
      await sleep(every, stop);
    }
  }

  private onNotice(action: InstanceAction): void {
    const deadline = Date.parse(action.time);
    if (this.deadline !== undefined && this.deadline <= deadline) return;
    this.log('warn', 'interruption_notice', {
      instanceId: this.instanceId,
      action: action.action,
      deadline: action.time,
      secondsLeft: Math.round((deadline - Date.now()) / 1000),
    });
    this.drain(deadline, 'interruption', `spot instance-action ${action.action} at ${action.time}`);
  }

  /**
   * Stops receiving and decides each running job's fate against the deadline. Called again with an
   * earlier deadline (a notice after SIGTERM), it decides again.
   */
  private drain(deadline: number | undefined, reason: ExitReason, detail: string): void {
    const first = !this.draining.signal.aborted;
    if (!first && deadline === undefined) return;
    if (!first && this.deadline !== undefined && deadline !== undefined && this.deadline <= deadline) return;
    if (first || reason === 'interruption') this.exitReason = reason;
    this.deadline = deadline;
    if (first) {
      this.log('info', 'draining', { reason: detail, running: this.jobs.size, instanceId: this.instanceId });
      this.draining.abort();
      this.slotFreed();
    }
    const now = Date.now();
    const running = [...this.jobs.values()].filter((job) => job.state === 'running' || job.state === 'finishing');
    const plan = planDrain(
      running.map((job): RunningJob => ({ id: job.key, startedAt: job.startedAt, expectedSeconds: job.expectedSeconds })),
      deadline,
      now,
      this.options.finishMarginSeconds ?? FINISH_MARGIN_SECONDS,
    );
    for (const decision of plan) {
      const job = this.jobs.get(decision.id);
      if (job === undefined) continue;
      if (decision.kind === 'handBack') {
        void this.handBack(job, decision.reason);
        continue;
      }
      job.state = 'finishing';
      if (job.cutoff !== undefined) clearTimeout(job.cutoff);
      if (decision.handBackAt !== undefined) {
        job.cutoff = setTimeout(() => void this.handBack(job, 'still running at the cutoff'), decision.handBackAt - now);
      }
      this.log('info', 'job_finishing', { messageId: job.id, attempt: job.receiveCount, reason: decision.reason });
    }
  }

  private async receiveLoop(): Promise<void> {
    const { queueUrl } = this.options;
    let failures = 0;
    let first = true;
    let lastReceiveFull = false;
    while (!this.draining.signal.aborted) {
      const free = this.slots - this.jobs.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => (this.slotFreed = resolve));
        continue;
      }
      const plan = planReceive({
        running: this.jobs.size,
        slots: this.slots,
        first,
        lastReceiveFull,
        waitSeconds: this.options.receiveWaitSeconds ?? RECEIVE_WAIT_SECONDS,
        last: this.receiveLast,
        idleDelaySeconds: this.options.idleReceiveDelaySeconds,
        idleWaitSeconds: this.options.idleReceiveWaitSeconds,
      });
      if (plan.delaySeconds > 0) {
        // Emptier than others may be: leave new messages to fuller instances' waiting polls for a while (busy-first).
        await sleep(plan.delaySeconds * 1000, this.draining.signal);
        if (this.draining.signal.aborted) break;
      }
      first = false;
      let messages: Message[];
      const asked = Math.min(this.slots - this.jobs.size, 10);
      try {
        const out = await this.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: asked,
            WaitTimeSeconds: plan.waitSeconds,
            // MessageGroupId: a re-sent copy keeps its group (FIFO, and fair standard queues).
            MessageSystemAttributeNames: ['ApproximateReceiveCount', 'MessageGroupId'],
            MessageAttributeNames: ['All'],
            ...(this.options.visibilityTimeoutSeconds !== undefined ? { VisibilityTimeout: this.lease } : {}),
          }),
          // Only a forced stop cuts a long poll short: messages SQS hands out as the connection closes
          // would stay invisible for a whole lease. A normal drain waits for the poll and hands back.
          { abortSignal: this.forced.signal },
        );
        messages = out.Messages ?? [];
        // Asked for one (one free slot) it polls at once anyway: only a batch filled says a backlog is flowing.
        lastReceiveFull = asked > 1 && messages.length >= asked;
        failures = 0;
      } catch (error) {
        if (this.forced.signal.aborted) return;
        const fatal = fatalQueueError(error, queueUrl, 'ReceiveMessage');
        if (fatal !== undefined) throw fatal;
        failures++;
        const wait = Math.min(20_000, 500 * 2 ** Math.min(failures - 1, 6));
        this.log('warn', 'receive_failed', {
          queueUrl,
          reason: `${awsErrorName(error) || 'error'}: ${errorMessage(error)}`,
          retryInMs: wait,
        });
        await sleep(wait, this.draining.signal);
        continue;
      }
      for (const message of messages) this.receive(message);
    }
  }

  /**
   * One received message. SQS delivers at least once, and again when a lease lapses (heartbeats refused, a
   * network outage): a message this worker is still running is not started a second time; its newest receipt
   * handle, the only one SQS honours, is taken over for the heartbeats and the delete. A message this worker
   * already completed (its delete raced the redelivery) is deleted again, not run again.
   */
  private receive(message: Message): void {
    const id = message.MessageId ?? '';
    const receiveCount = Number(message.Attributes?.ApproximateReceiveCount ?? '1') || 1;
    const current = [...this.jobs.values()].find((job) => job.id === id && job.state !== 'released');
    if (id !== '' && current !== undefined) {
      this.takeOver(current, message, receiveCount);
    } else if (id !== '' && this.completed.has(id)) {
      void this.deleteDuplicate(message, receiveCount);
    } else if (this.draining.signal.aborted) {
      void this.handBackUnstarted(message);
    } else {
      this.start(message, receiveCount);
    }
  }

  private start(message: Message, receiveCount: number): void {
    const id = message.MessageId ?? message.ReceiptHandle ?? `unknown-${this.attempts}`;
    // A message handed back by this worker whose command is still being stopped: the new run waits for the old
    // one to be gone (it keeps its slot meanwhile), so the two never run at once.
    const previous = [...this.jobs.values()].filter((job) => job.id === id).map((job) => job.settled);
    this.attempts++;
    const key = `${id}#${receiveCount}#${this.attempts}`;
    const job: Job = {
      key,
      id,
      message,
      receiptHandle: message.ReceiptHandle ?? '',
      receiveCount,
      handBacks: handBacksOf(message),
      jobId: jobIdOf(message),
      startedAt: Date.now(),
      expectedSeconds: this.expectedSeconds(message),
      state: 'running',
      controller: new AbortController(),
      settled: Promise.resolve(),
    };
    this.jobs.set(key, job);
    this.scheduleHeartbeat(job);
    // Jobs wait for protection, so scale-in cannot pick this instance once work is under way; a
    // failed toggle is logged and the jobs run anyway.
    if (this.jobs.size === 1) this.protecting = this.protection?.set(true);
    job.settled = Promise.all([this.protecting, ...previous]).then(() => {
      if (job.state === 'released') {
        // Handed back (a drain) before it could start: nothing ran, nothing to report but the hand-back.
        this.finish(job);
        return;
      }
      job.startedAt = Date.now();
      this.log('info', 'job_started', {
        messageId: id,
        attempt: receiveCount,
        receiveCount,
        ...(job.handBacks > 0 ? { handBacks: job.handBacks, jobId: job.jobId } : {}),
        running: this.jobs.size,
      });
      this.scheduleTimeout(job);
      return this.execute(job);
    });
  }

  /** A new delivery of a message this worker still runs (or is deleting): keep the run, use the new receipt. */
  private takeOver(job: Job, message: Message, receiveCount: number): void {
    this.counts.redelivered++;
    job.receiptHandle = message.ReceiptHandle ?? job.receiptHandle;
    this.log('warn', 'redelivery_taken_over', {
      messageId: job.id,
      attempt: job.receiveCount,
      receiveCount,
      reason: 'SQS delivered a message this worker is still running (its lease lapsed): not started again',
    });
    if (this.holds(job)) {
      // The new receipt starts a fresh lease now: extend it on the usual schedule from here.
      clearTimeout(job.heartbeat);
      this.scheduleHeartbeat(job);
    }
  }

  /** A message completed here comes back (the delete lost a race with a redelivery): delete it, do not rerun it. */
  private async deleteDuplicate(message: Message, receiveCount: number): Promise<void> {
    this.counts.redelivered++;
    this.log('warn', 'redelivery_of_completed', {
      messageId: message.MessageId,
      receiveCount,
      reason: 'SQS delivered a message this worker already completed: deleted, not run again',
    });
    try {
      await this.sqs.send(new DeleteMessageCommand({ QueueUrl: this.options.queueUrl, ReceiptHandle: message.ReceiptHandle }));
    } catch (error) {
      this.log('error', 'delete_failed', {
        messageId: message.MessageId,
        reason: `deleting completed message ${message.MessageId}: ${awsErrorName(error)}: ${errorMessage(error)}`,
      });
    }
  }

  /** Remembers a completed message for a while, so a late redelivery is recognised. */
  private remember(messageId: string): void {
    this.completed.delete(messageId);
    this.completed.add(messageId);
    // Insertion order is completion order: drop the oldest past the bound.
    while (this.completed.size > COMPLETED_MEMORY) this.completed.delete(this.completed.values().next().value as string);
  }

  /** Stops a job that outlives maxJobSeconds and hands its message back. */
  private scheduleTimeout(job: Job): void {
    const limit = this.options.maxJobSeconds ?? MAX_JOB_SECONDS;
    if (limit <= 0) return;
    job.timeout = setTimeout(() => {
      if (!this.holds(job)) return;
      this.counts.timedOut++;
      this.log('warn', 'job_timed_out', { messageId: job.id, attempt: job.receiveCount, maxJobSeconds: limit });
      void this.handBack(job, `still running after the maximum job time (${limit} s)`, true);
    }, limit * 1000);
  }

  private expectedSeconds(message: Message): number | undefined {
    try {
      const seconds = this.options.expectedSeconds?.(message);
      return typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
    } catch (error) {
      this.log('warn', 'expected_seconds_failed', { messageId: message.MessageId, reason: errorMessage(error) });
      return undefined;
    }
  }

  private async execute(job: Job): Promise<void> {
    let outcome: { ok: true } | { ok: false; error: unknown };
    try {
      await this.options.process(job.message, {
        signal: job.controller.signal,
        receiveCount: job.receiveCount,
        handBacks: job.handBacks,
        jobId: job.jobId,
      });
      outcome = { ok: true };
    } catch (error) {
      outcome = { ok: false, error };
    }
    clearTimeout(job.heartbeat);
    clearTimeout(job.cutoff);
    clearTimeout(job.timeout);
    const seconds = round((Date.now() - job.startedAt) / 1000);
    const released = job.state === 'released';
    // From here a drain leaves the job alone: its outcome is known and only the queue call remains.
    job.state = 'ending';
    if (released) {
      // Handed back while running: another worker owns it now, so its result here must not count.
      this.log('debug', 'job_ended_after_hand_back', { messageId: job.id, seconds });
    } else if (outcome.ok) {
      await this.succeed(job, seconds);
    } else {
      await this.fail(job, seconds, outcome.error);
    }
    this.finish(job);
  }

  private async succeed(job: Job, seconds: number): Promise<void> {
    try {
      // A redelivery taken over while the delete was under way brings a newer receipt: SQS answers a delete
      // with an old one with success but keeps the message, so delete again with the newest.
      for (let handle = ''; handle !== job.receiptHandle; ) {
        handle = job.receiptHandle;
        await this.sqs.send(new DeleteMessageCommand({ QueueUrl: this.options.queueUrl, ReceiptHandle: handle }));
      }
      this.counts.succeeded++;
      this.remember(job.id);
      this.log('info', 'job_succeeded', { messageId: job.id, seconds });
      this.jobEnded({ outcome: 'succeeded', seconds });
    } catch (error) {
      this.counts.failed++;
      this.log('error', 'delete_failed', {
        messageId: job.id,
        seconds,
        reason: `deleting message ${job.id}: ${awsErrorName(error)}: ${errorMessage(error)}; it will run again`,
      });
    }
  }

  private async fail(job: Job, seconds: number, error: unknown): Promise<void> {
    this.counts.failed++;
    this.jobEnded({ outcome: 'failed', seconds });
    const backoff = failureBackoffSeconds(
      job.receiveCount,
      this.options.failureBackoffBaseSeconds ?? FAILURE_BACKOFF_BASE_SECONDS,
      this.options.failureBackoffMaxSeconds ?? FAILURE_BACKOFF_MAX_SECONDS,
    );
    this.log('warn', 'job_failed', {
      messageId: job.id,
      seconds,
      receiveCount: job.receiveCount,
      retryInSeconds: backoff,
      reason: errorMessage(error),
    });
    await this.changeVisibility(job.id, () => job.receiptHandle, backoff, 'backing off');
  }

  /** The job-end hook: a failing hook must not touch the job's queue calls. */
  private jobEnded(end: JobEnd): void {
    try {
      this.options.onJobEnd?.(end);
    } catch (error) {
      this.log('warn', 'job_end_hook_failed', { reason: errorMessage(error) });
    }
  }

  /** Gives a job's message back to the queue now (giveBack) and tells the job to stop. */
  private async handBack(job: Job, reason: string, jobAtFault = false): Promise<void> {
    if (!this.holds(job)) return;
    job.state = 'released';
    clearTimeout(job.heartbeat);
    clearTimeout(job.cutoff);
    clearTimeout(job.timeout);
    job.controller.abort(new Error(`handed back: ${reason}`));
    this.counts.handedBack++;
    this.log('info', 'job_handed_back', { messageId: job.id, attempt: job.receiveCount, reason, instanceId: this.instanceId });
    this.jobEnded({ outcome: 'handed-back', seconds: round((Date.now() - job.startedAt) / 1000) });
    await this.giveBack(job.message, () => job.receiptHandle, jobAtFault);
  }

  private async handBackUnstarted(message: Message): Promise<void> {
    this.counts.handedBack++;
    this.log('info', 'job_handed_back', { messageId: message.MessageId, reason: 'received while draining' });
    const receipt = message.ReceiptHandle ?? '';
    await this.giveBack(message, () => receipt, false);
  }

  /**
   * Returns a message to the queue at once, as planHandBack says. A re-send is SendMessage of a copy first, then
   * DeleteMessage of the original: a failure between the two leaves a duplicate (logged), never a loss, and a
   * refused or throttled send falls back to the visibility reset. The copy is a new message, so SQS counts its
   * receives from 0 and the redrive policy's maxReceiveCount no longer counts interruptions
   * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html).
   */
  private giveBack(message: Message, receipt: () => string, jobAtFault: boolean): Promise<void> {
    const pending = this.returnMessage(message, receipt, jobAtFault);
    this.givingBack.add(pending);
    return pending.finally(() => this.givingBack.delete(pending));
  }

  private async returnMessage(message: Message, receipt: () => string, jobAtFault: boolean): Promise<void> {
    const plan = planHandBack({
      mode: this.options.handBack,
      fifo: this.fifo,
      handBacks: handBacksOf(message),
      attributeNames: Object.keys(message.MessageAttributes ?? {}),
      jobAtFault,
      maxResent: this.options.maxResentHandBacks,
    });
    const messageId = message.MessageId;
    if (plan.kind === 'resend') {
      let copyId: string | undefined;
      try {
        copyId = (await this.sqs.send(new SendMessageCommand(this.copyOf(message, plan.handBacks)))).MessageId ?? '';
      } catch (error) {
        this.log('warn', 'hand_back_resend_failed', {
          messageId,
          reason: `re-sending: ${awsErrorName(error) || 'error'}: ${errorMessage(error)}; resetting its visibility instead (counts as a receive)`,
        });
      }
      if (copyId !== undefined) {
        this.counts.resent++;
        this.log('info', 'hand_back_resent', { messageId, copyMessageId: copyId, handBacks: plan.handBacks, jobId: jobIdOf(message) });
        try {
          await this.deleteNewest(receipt);
        } catch (error) {
          this.log('error', 'hand_back_delete_failed', {
            messageId,
            copyMessageId: copyId,
            reason:
              `deleting the original after re-sending it: ${awsErrorName(error) || 'error'}: ${errorMessage(error)}; ` +
              'both remain: the original returns after its lease and the job runs twice',
          });
        }
        return;
      }
    } else {
      this.log('debug', 'hand_back_by_visibility', { messageId, handBacks: plan.handBacks, reason: plan.reason });
    }
    await this.changeVisibility(messageId ?? '', receipt, 0, 'handing back');
  }

  /** The re-sent copy: same body, attributes and message group, with the hand-back count and the job's first id. */
  private copyOf(message: Message, handBacks: number): SendMessageCommandInput {
    const attributes: Record<string, MessageAttributeValue> = {};
    for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
      // StringListValues and BinaryListValues are reserved by SQS and never set: copy only what a message carries.
      attributes[name] = {
        DataType: value.DataType,
        ...(value.StringValue !== undefined ? { StringValue: value.StringValue } : {}),
        ...(value.BinaryValue !== undefined ? { BinaryValue: value.BinaryValue } : {}),
      };
    }
    attributes[HAND_BACK_ATTRIBUTE] = { DataType: 'Number', StringValue: String(handBacks) };
    attributes[JOB_ID_ATTRIBUTE] = { DataType: 'String', StringValue: jobIdOf(message) };
    const input: SendMessageCommandInput = { QueueUrl: this.options.queueUrl, MessageBody: message.Body ?? '', MessageAttributes: attributes };
    const group = message.Attributes?.MessageGroupId;
    if (group !== undefined && group !== '') input.MessageGroupId = group;
    if (this.fifo) {
      // Never content-based deduplication: the copy has the original's body, so within SQS's 5-minute window it
      // would be "accepted successfully but not delivered" and the delete that follows would lose the job. One id
      // per original message: an SDK retry of a send whose reply was lost cannot make a second copy.
      // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html
      input.MessageDeduplicationId = `spotfarm-hand-back-${message.MessageId ?? ''}`;
    } else {
      // A per-message delay of 0 overrides a delay queue's default: a hand-back is receivable at once. (FIFO queues
      // take no per-message delay.)
      input.DelaySeconds = 0;
    }
    return input;
  }

  /** DeleteMessage with the newest receipt (one taken over meanwhile is the one SQS honours). */
  private async deleteNewest(receipt: () => string): Promise<void> {
    for (let handle = ''; handle !== receipt(); ) {
      handle = receipt();
      await this.sqs.send(new DeleteMessageCommand({ QueueUrl: this.options.queueUrl, ReceiptHandle: handle }));
    }
  }

  private async changeVisibility(messageId: string, receipt: () => string, seconds: number, why: string): Promise<boolean> {
    try {
      // As for the delete: a receipt taken over meanwhile is the one SQS honours.
      for (let handle = ''; handle !== receipt(); ) {
        handle = receipt();
        await this.sqs.send(
          new ChangeMessageVisibilityCommand({ QueueUrl: this.options.queueUrl, ReceiptHandle: handle, VisibilityTimeout: seconds }),
        );
      }
      return true;
    } catch (error) {
      this.log('error', 'visibility_change_failed', {
        messageId,
        reason: `${why}: ${awsErrorName(error)}: ${errorMessage(error)}; it returns after its lease`,
      });
      return false;
    }
  }

  /** Extends the lease once less than HEARTBEAT_FRACTION of it is left, for as long as the job runs. */
  private scheduleHeartbeat(job: Job, delayMs = heartbeatDelaySeconds(this.lease) * 1000): void {
    job.heartbeat = setTimeout(async () => {
      if (!this.holds(job)) return;
      try {
        await this.sqs.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: this.options.queueUrl,
            ReceiptHandle: job.receiptHandle,
            VisibilityTimeout: this.lease,
          }),
        );
        this.log('debug', 'heartbeat', { messageId: job.id, visibilityTimeoutSeconds: this.lease });
        if (this.holds(job)) this.scheduleHeartbeat(job);
      } catch (error) {
        this.log('warn', 'heartbeat_failed', {
          messageId: job.id,
          reason: `extending visibility: ${awsErrorName(error)}: ${errorMessage(error)}`,
        });
        // A receipt SQS no longer honours (the lease ran out and the message went elsewhere) cannot be
        // extended again; anything else (network, throttling) is worth another try soon.
        const lost = LOST_RECEIPT.has(awsErrorName(error));
        if (!lost && this.holds(job)) this.scheduleHeartbeat(job, 1000);
      }
    }, delayMs);
  }

  /** Whether the worker still holds the job's message (it has not ended or been handed back). */
  private holds(job: Job): boolean {
    return (job.state === 'running' || job.state === 'finishing') && this.jobs.get(job.key) === job;
  }

  private finish(job: Job): void {
    this.jobs.delete(job.key);
    if (this.jobs.size === 0 && this.started) void this.protection?.set(false);
    this.slotFreed();
  }
}

/** The hand-backs a message carries (its spotfarm.handBacks attribute; 0 for a message never handed back). */
function handBacksOf(message: Message): number {
  const value = Number(message.MessageAttributes?.[HAND_BACK_ATTRIBUTE]?.StringValue);
  return Number.isInteger(value) && value > 0 ? value : 0;
}

/** The job's id: the message id it was first sent under. */
function jobIdOf(message: Message): string {
  return message.MessageAttributes?.[JOB_ID_ATTRIBUTE]?.StringValue || (message.MessageId ?? '');
}

/** Completed message ids remembered to recognise a late redelivery (a few hundred KiB at most). */
const COMPLETED_MEMORY = 10_000;

const LOST_RECEIPT = new Set(['ReceiptHandleIsInvalid', 'MessageNotInflight', 'InvalidParameterValue']);

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
