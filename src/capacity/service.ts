/**
 * Sizing for the service level (the default `service` policy), pure: the fewest instances that keep the p95
 * queue wait within `acceptableWait`. docs/scaling.md has the rules with their backtest figures.
 *
 * Need. The farm needs slots for the work in flight, and for the visible jobs it cannot start in time otherwise.
 * A visible job may wait: each busy slot frees within the budget with a chance of about budget / secondsPerJob
 * (a slot's next completion, whatever the spread of durations), and starts one queued job then. It is counted for
 * one start at most: a second start from the same slot needs the job it started to be short too, and jobs queued
 * together are often alike (one user's batch), so the mean says nothing of them. (Counted for budget / W starts, as
 * a first version did, a 20-minute target let 1193-1612 s of p95 through on the bundled scenarios: on calm-2023, 24
 * busy slots were to start 63 jobs in 990 s and took 19 minutes to clear 27.) A queue that the busy slots drain
 * within the budget keeps every slot busy: no idle slot, no boot. The budget is acceptableWait less one scaler tick
 * (a job may wait that long before the scaler looks again) and less a boot (see Budget below).
 *     need = ceil((inFlight + max(0, visible - inFlight x min(1, budget / secondsPerJob)) + headroom) / slotsPerInstance)
 * The age of the queue is not taken off: under a standing queue the time since it was last empty says nothing
 * about its head (a first version did, and bought instances for every visible job once a queue had stood for the
 * budget: 28-31% idle, 1.32-1.75x the clairvoyant, against 21% and 1.18x on calm-2023 without it).
 *
 * Headroom. The farm reacts to a queued job a tick, a boot and the idle receive delay after it shows. When
 * acceptableWait is shorter than that, a job arriving now can only start in time on a slot that is free already:
 * the farm holds free slots for the jobs that arrive in the part of the reaction time acceptableWait does not
 * cover, at the rate the busy slots finish them (Little's law: inFlight / secondsPerJob a second, the rate jobs
 * arrive at while the farm keeps up; a burst beyond it shows as visible jobs, and every visible job then needs a
 * slot since the budget is 0). An empty farm holds none: its first job waits a boot. The mean is not enough for a
 * p95: arrivals in a window come about as a Poisson count, which passes its mean about half the time, and the jobs
 * beyond the free slots wait a boot. So the headroom is the count's 95th percentile (the p95 target's share,
 * LATE_SHARE), mean + 1.645 x sqrt(mean) in the normal approximation. Held for the mean only, the farm missed its own
 * target at 51s on pool-storm (p95 52s) and reached 13s at 1s on storm; with the spread, 28s and 0s (docs/scaling.md).
 *     arrivals = inFlight x max(0, tick + boot + idle receive delay - acceptableWait) / secondsPerJob
 *     headroom = ceil(arrivals + ARRIVALS_Z x sqrt(arrivals))
 *
 * Hold-down. The farm's total is the largest need of the last hold-down, a boot's worth of time (ski rental:
 * keeping an instance through a dip as long as a new one takes to boot costs at most what the new boot would, so
 * the farm never pays more than twice the best choice in hindsight; and instances launched for a need are never
 * withdrawn while they boot).
 *
 * Idle capacity leaves when idle. A total below the instances the farm has is set as the groups' desired
 * capacity at once: Auto Scaling never terminates an instance protected from scale-in, and the worker agent
 * protects its instance while any job runs, so the surplus leaves instance by instance, each the moment its
 * last job ends and before new work lands on it (Amazon EC2 Auto Scaling User Guide, "Use instance scale-in
 * protection": protected instances are not terminated on scale-in; the group reaches the desired capacity as
 * protection is removed). No work is lost and no instance idles.
 *
 * The boot time is learned from the farm: each instance seen pending is timed until it is no longer pending.
 *
 * Budget. A job the busy slots cannot start in time waits for an instance launched now, which serves only after
 * a boot; and the queue keeps growing while it boots. So the wait a queued job may be given is acceptableWait
 * less a tick and less a boot: the farm reacts within the target. (Without the boot, the rule kept p95 within
 * the target only because the default secondsPerJob, 10 minutes, overstated the bundled traces' 7-8-minute
 * jobs: given their real mean it let p95 reach 12-13 minutes.) And less the worker's idle receive delay: with
 * busy-first receiving an instance that runs nothing polls only every IDLE_RECEIVE_DELAY_SECONDS, so the new
 * instance takes its first job up to that much after its boot (without it, pool-storm's p95 went to 10m27s).
 *
 * The job duration is learned from the farm, with secondsPerJob as the fallback: Little's law over the last
 * hour, W = mean messages in flight / messages deleted per second = in-flight message-seconds / deletions, both
 * from the queue's free AWS/SQS metrics (read by the scaler at most every 15 minutes, src/aws/cloudwatch.ts).
 * It is the slot time a finished job took, rework after hand-backs included: what a busy slot gives the queue.
 */

import { IDLE_RECEIVE_DELAY_SECONDS } from '../../worker/rules';
import { formatDuration } from '../duration';

/**
 * One of the farm's two groups, as the decision needs it. Declared here, below decide.ts (which re-exports it), so
 * the two modules form no import circle.
 */
export interface CapacityGroup {
  name: string;
  min: number;
  max: number;
  desired: number;
  inService: number;
  /** Launched, not yet in service. */
  pending: number;
  /** In service and not protected from scale-in: with the worker agent, instances running no job. */
  idle?: number;
  /** Ids of the pending instances (the boot time is learned from them). */
  pendingIds?: string[];
}


/** The queue scaler's schedule (rate(1 minute)): a job may wait this long before the scaler looks again. */
export const TICK_SECONDS = 60;
/**
 * How much later than a busy one an idle instance's worker takes a message (busy-first receiving, worker/rules.ts):
 * a queued job that waits for an instance launched now is taken that much after the boot. The worker agent's
 * default, and the idleReceiveDelay setting's (a farm whose workers run with another `--idle-receive-delay` sets
 * it: the scaler cannot see the flag).
 */
export const RECEIVE_DELAY_SECONDS = IDLE_RECEIVE_DELAY_SECONDS;
/** Boot time (launch to in service) assumed until the farm has shown one: EC2 boot plus a worker's start. */
export const DEFAULT_BOOT_SECONDS = 120;
/** Weight of a new boot sample in the learned boot time (an exponentially weighted mean). */
const BOOT_WEIGHT = 0.2;
/** Instances tracked while pending, at most (a bound on the state item's size). */
const MAX_PENDING_TRACKED = 200;

/** The need from `since` until the next point. */
export interface NeedPoint {
  since: string;
  need: number;
}

export interface ServiceMemory {
  /** Since when the queue has had visible messages without a break (reported: the plan shows it). */
  queuedSince?: string;
  /** Learned boot time, seconds. */
  bootSeconds?: number;
  /** Pending instances by id, with when each was first seen pending. */
  pendingSeen?: Record<string, string>;
  /** The need over the last hold-down, as change points (a point only when it changes). */
  needLog?: NeedPoint[];
  /** Learned job duration, seconds (Little's law on the queue's metrics); secondsPerJob until there is one. */
  jobSeconds?: number;
  /** Jobs finished in the window the learned duration comes from. */
  jobSecondsFrom?: number;
  /** When the queue's metrics were last read (or tried): at most every WORK_READ_EVERY_SECONDS. */
  workReadAt?: string;
  /** Jobs estimated to have waited past acceptableWait, decayed over WORK_WINDOW_SECONDS (the p95's late share). */
  lateJobs?: number;
  /** Queued jobs the farm's slots were not starting within acceptableWait at the last look (`lateAt`). */
  lateQueued?: number;
  lateAt?: string;
}

/**
 * The window the job duration is learned over. Little's law over a window is off by the jobs still running at its
 * end and those already running at its start; with jobs of up to an hour, an hour's window swung between 380 and
 * 675 s around a 471 s mean on calm-2023 and cost 2-10% more than three hours (docs/scaling.md).
 */
export const WORK_WINDOW_SECONDS = 10800;
/**
 * How often the queue's metrics are read: 4 GetMetricData calls of 2 metrics an hour, 5,760 metrics a month, at
 * $0.01 per 1,000 metrics requested $0.06 a month per farm.
 */
export const WORK_READ_EVERY_SECONDS = 900;
/** Fewer finished jobs than this in the window say too little about the mean: the last value stays. */
export const MIN_COMPLETIONS = 20;

/** What the queue's metrics say about the last window (src/aws/cloudwatch.ts, QueueWork). */
export interface WorkSample {
  minutes: number;
  deleted: number;
  inFlightSeconds: number;
}

/** Whether the queue's metrics are due to be read at `at` (epoch ms). */
export function workReadDue(memory: ServiceMemory, at: number): boolean {
  return memory.workReadAt === undefined || at - ms(memory.workReadAt) >= WORK_READ_EVERY_SECONDS * 1000;
}

/**
 * The learned job duration after a read of the queue's metrics (`unavailable`: the read failed; the last value
 * stays and the next read waits its turn). Little's law: W = L / lambda = in-flight message-seconds / deletions.
 */
export function learnJobSeconds(memory: ServiceMemory, sample: WorkSample | 'unavailable', iso: string): Pick<ServiceMemory, 'jobSeconds' | 'jobSecondsFrom' | 'workReadAt'> {
  const kept = { jobSeconds: memory.jobSeconds, jobSecondsFrom: memory.jobSecondsFrom, workReadAt: iso };
  if (sample === 'unavailable' || sample.deleted < MIN_COMPLETIONS || sample.inFlightSeconds <= 0) return kept;
  return { jobSeconds: Math.max(1, Math.round(sample.inFlightSeconds / sample.deleted)), jobSecondsFrom: Math.round(sample.deleted), workReadAt: iso };
}

const ms = (iso: string) => Date.parse(iso);

/** The learned boot time after this observation, and the pending instances still timed. */
export function learnBoot(memory: ServiceMemory, groups: readonly CapacityGroup[], at: number, iso: string): Pick<ServiceMemory, 'bootSeconds' | 'pendingSeen'> {
  const pendingNow = groups.flatMap((g) => g.pendingIds ?? []);
  if (pendingNow.length === 0 && memory.pendingSeen === undefined) return { bootSeconds: memory.bootSeconds };
  const now = new Set(pendingNow);
  let boot = memory.bootSeconds;
  const seen: Record<string, string> = {};
  let tracked = 0;
  for (const [id, since] of Object.entries(memory.pendingSeen ?? {})) {
    if (now.has(id)) {
      seen[id] = since;
      tracked++;
      continue;
    }
    // No longer pending: in service (or gone while booting, rare): one boot sample, within a tick.
    const sample = Math.max(0, (at - ms(since)) / 1000);
    boot = boot === undefined ? sample : boot + BOOT_WEIGHT * (sample - boot);
  }
  for (const id of pendingNow) {
    if (seen[id] !== undefined) continue;
    if (tracked >= MAX_PENDING_TRACKED) break;
    seen[id] = iso;
    tracked++;
  }
  return {
    bootSeconds: boot === undefined ? undefined : Math.round(boot),
    pendingSeen: tracked > 0 ? seen : undefined,
  };
}

/**
 * How long the farm keeps capacity through a dip in need: a boot's worth (see the header), and a tick more so
 * that an instance launched for a need is in service before that need can lapse.
 */
export function holdDownSeconds(bootSeconds: number): number {
  return bootSeconds + TICK_SECONDS;
}

/** The need log after this observation (a point when the need changed, points before the window dropped). */
export function trackNeed(log: readonly NeedPoint[] | undefined, need: number, at: number, iso: string, windowSeconds: number): NeedPoint[] {
  const points = [...(log ?? [])];
  if (points[points.length - 1]?.need !== need) points.push({ since: iso, need });
  // Keep the point in force at the window's start and every later one.
  const start = at - windowSeconds * 1000;
  let first = 0;
  while (first + 1 < points.length && ms(points[first + 1]!.since) <= start) first++;
  return points.slice(first);
}

/** The largest need in the log (the log holds the window). */
export function heldNeed(log: readonly NeedPoint[]): number {
  return log.reduce((max, p) => Math.max(max, p.need), 0);
}

export interface ServiceSizing {
  /** Seconds a queued job may still wait for an instance launched now. */
  budget: number;
  /** Queued jobs the busy slots start within the budget. */
  startable: number;
  /** Seconds of arrivals the farm cannot react to in time: tick + boot + idle receive delay - acceptableWait, at least 0. */
  unreactive: number;
  /** Free slots held for the jobs that arrive within `unreactive` (0 while the farm can react in time). */
  headroom: number;
  /** Instances the work in flight, the visible jobs that cannot wait and the headroom need. */
  need: number;
}

/** The instances the farm needs now (see the header). */
export function serviceNeed(o: {
  visible: number;
  inFlight: number;
  slotsPerInstance: number;
  secondsPerJob: number;
  acceptableWait: number;
  /** Launch to in service (learned): how late an instance launched now starts a queued job. */
  bootSeconds: number;
  /** The workers' idle receive delay (the idleReceiveDelay setting; RECEIVE_DELAY_SECONDS, the agent's default). */
  idleReceiveDelay?: number;
}): ServiceSizing {
  const reaction = TICK_SECONDS + o.bootSeconds + (o.idleReceiveDelay ?? RECEIVE_DELAY_SECONDS);
  const budget = Math.max(0, o.acceptableWait - reaction);
  // Each busy slot starts at most one queued job within the budget (see the header: Need).
  const startable = o.inFlight * Math.min(1, budget / o.secondsPerJob);
  const waitingTooLong = Math.max(0, o.visible - startable);
  // Headroom (see the header): the jobs that arrive while capacity asked for now comes up, at the rate the busy
  // slots finish them (Little's law: inFlight / secondsPerJob a second).
  const unreactive = Math.max(0, reaction - o.acceptableWait);
  const arrivals = (o.inFlight * unreactive) / o.secondsPerJob;
  const headroom = Math.ceil(arrivals + ARRIVALS_Z * Math.sqrt(arrivals));
  return {
    budget,
    startable: Math.floor(startable),
    unreactive,
    headroom,
    need: Math.ceil((o.inFlight + waitingTooLong + headroom) / o.slotsPerInstance),
  };
}

/**
 * Whether the workers' idle receive delay outlasts the wait target: acceptableWait < idleReceiveDelay. With
 * busy-first receiving an instance that runs nothing takes a job only up to idleReceiveDelay after it is queued,
 * however many free slots it has. The headroom above holds free slots for the jobs that arrive within the reaction
 * time (tick + boot + idle receive delay) the target does not cover; but every instance it adds runs nothing, so
 * a job that lands on one still waits for its receive. More headroom shortens the tick and the boot, never the
 * receive delay: at acceptableWait >= idleReceiveDelay the delay fits within the target and the rest is the
 * headroom's; below it no sizing keeps the target. (Measured: calm-2023 at acceptableWait=1s delivered p95 16s
 * with the default 30 s delay, 0s with --idle-receive-delay 0 and idleReceiveDelay=0s; docs/scaling.md.)
 */
export function receiveDelayOutlastsTarget(s: { acceptableWait: number; idleReceiveDelay: number }): boolean {
  return s.acceptableWait < s.idleReceiveDelay;
}

/**
 * What to do about it, in the words `plan` shows per farm (receiveDelayOutlastsTarget). The cure makes every free
 * slot take a job at once; it does not promise the target (bursts beyond the headroom still wait for a boot:
 * measured at acceptableWait=1s, p95 16 s -> 0 s on calm-2023 but 17 s -> 26 s on pool-at-on-demand; docs/scaling.md).
 */
export function tightTargetAdvice(s: { acceptableWait: number; idleReceiveDelay: number }): string {
  const delay = formatDuration(s.idleReceiveDelay);
  return (
    `acceptableWait ${formatDuration(s.acceptableWait)} is shorter than the workers' idle receive delay (idleReceiveDelay ${delay}), ` +
    `which busy-first receiving cannot keep: an instance running no job takes a queued job up to ${delay} late, however many ` +
    'free slots the farm holds. For a shorter wait, start the workers with --idle-receive-delay 0 and tag the farm\'s groups ' +
    'spotfarm:idleReceiveDelay=0s (every free slot then takes a job at once, at the idle share busy-first receiving saves; ' +
    `docs/scaling.md); or set acceptableWait to at least ${delay}`
  );
}

/** The share of jobs the p95 target lets wait past acceptableWait. */
export const LATE_SHARE = 0.05;
/**
 * The standard normal quantile of 1 - LATE_SHARE (0.95): the headroom covers the arrivals of the unreactive window
 * up to their 95th percentile, mean + ARRIVALS_Z x sqrt(mean) for a Poisson count (see the header: Headroom).
 */
export const ARRIVALS_Z = 1.645;
/**
 * The period the p95 is kept over: a day, the period a service level is reported on. (Kept over the learning
 * window of 3 hours, or 6, a single storm's burst used the allowance within minutes and the cover came as before;
 * docs/scaling.md.)
 */
export const LATE_WINDOW_SECONDS = 86400;

/** The late jobs of the last LATE_WINDOW_SECONDS at `at` (the count decays from `lateAt`). */
export function lateJobsAt(memory: ServiceMemory, at: number): number {
  if (memory.lateJobs === undefined || memory.lateAt === undefined) return 0;
  return memory.lateJobs * Math.exp(-Math.max(0, at - ms(memory.lateAt)) / 1000 / LATE_WINDOW_SECONDS);
}

/**
 * The late jobs after this look. Jobs queued beyond what the farm's slots start within acceptableWait (less a
 * tick) will wait past it; each is counted once, when it first shows: the late queue now, less what was late at the
 * last look and has not started since (the slots start slots x elapsed / W jobs a second). The count decays over
 * LATE_WINDOW_SECONDS. The state changes only while jobs are late (no write a tick for the decay alone).
 */
export function trackLate(
  memory: ServiceMemory,
  o: { visible: number; inFlight: number; slots: number; secondsPerJob: number; acceptableWait: number },
  at: number,
  iso: string,
): Pick<ServiceMemory, 'lateJobs' | 'lateQueued' | 'lateAt'> {
  const busy = Math.max(o.inFlight, o.slots);
  const queuedLate = Math.max(0, o.visible - (busy * Math.max(0, o.acceptableWait - TICK_SECONDS)) / o.secondsPerJob);
  const kept = { lateJobs: memory.lateJobs, lateAt: memory.lateAt };
  if (queuedLate === 0 && memory.lateQueued === undefined) return kept;
  const elapsed = memory.lateAt === undefined ? 0 : Math.max(0, (at - ms(memory.lateAt)) / 1000);
  const stillQueued = Math.max(0, (memory.lateQueued ?? 0) - (busy * elapsed) / o.secondsPerJob);
  const late = lateJobsAt(memory, at) + Math.max(0, queuedLate - stillQueued);
  const round = (n: number) => Math.round(n * 100) / 100;
  return { lateJobs: round(late), lateAt: iso, ...(queuedLate > 0 ? { lateQueued: round(queuedLate) } : {}) };
}

/**
 * How many late jobs the p95 target allows over LATE_WINDOW_SECONDS: LATE_SHARE of the jobs finished in it, at the
 * rate the learning window finished them. The on-demand cover for a spot shortfall waits while the late jobs are
 * within it: a spot shortfall delays jobs, but until more than the p95's share of them is late the target holds
 * without paying on-demand (aws-native waits every storm out). Nothing learned yet: none allowed, the cover comes
 * after fallbackDelay.
 */
export function lateAllowance(memory: ServiceMemory): number {
  return memory.jobSecondsFrom === undefined ? 0 : (LATE_SHARE * memory.jobSecondsFrom * LATE_WINDOW_SECONDS) / WORK_WINDOW_SECONDS;
}
