/**
 * The worker's decisions as pure functions of plain values, so the agent (worker/index.ts) and the
 * backtest's worker model can share them and tests can table them without clocks or queues.
 */
import {
  FAILURE_BACKOFF_BASE_SECONDS,
  FAILURE_BACKOFF_MAX_SECONDS,
  FINISH_MARGIN_SECONDS,
  HAND_BACK_ATTRIBUTES,
  HEARTBEAT_FRACTION,
  IDLE_RECEIVE_DELAY_SECONDS,
  IDLE_RECEIVE_WAIT_SECONDS,
  MAX_MESSAGE_ATTRIBUTES,
  MAX_RESENT_HAND_BACKS,
} from './rules';

/**
 * Seconds a failed message stays invisible before another try: base * 2^(receiveCount-1), capped.
 * SQS caps a visibility timeout at 12 h, which the defaults never reach.
 */
export function failureBackoffSeconds(
  receiveCount: number,
  base = FAILURE_BACKOFF_BASE_SECONDS,
  max = FAILURE_BACKOFF_MAX_SECONDS,
): number {
  const tries = Number.isFinite(receiveCount) && receiveCount >= 1 ? Math.floor(receiveCount) : 1;
  // Exponent capped so 2^n stays finite for absurd receive counts.
  return Math.min(max, base * 2 ** Math.min(tries - 1, 30));
}

/**
 * Seconds after a lease starts (receive or last extension) at which the heartbeat extends it: once
 * less than HEARTBEAT_FRACTION of the visibility timeout is left.
 */
export function heartbeatDelaySeconds(visibilityTimeoutSeconds: number, fraction = HEARTBEAT_FRACTION): number {
  return visibilityTimeoutSeconds * (1 - fraction);
}

/** A running job as the drain decision sees it. */
export interface RunningJob {
  id: string;
  /** When it started, epoch ms. */
  startedAt: number;
  /** How long the caller expects it to take, if the caller said. */
  expectedSeconds?: number | undefined;
}

export type DrainDecision =
  | { kind: 'finish'; id: string; reason: string; handBackAt?: number }
  | { kind: 'handBack'; id: string; reason: string };

/**
 * On an interruption notice (or SIGTERM), which running jobs may finish and which go back to the
 * queue at once. A job may finish only if its expected end is at least FINISH_MARGIN_SECONDS before
 * the deadline; it is then handed back at `handBackAt` should it overrun. Without an expected
 * duration the worker cannot know, so the job is handed back: a retry elsewhere costs time, a job
 * cut off by the instance's end costs a whole visibility timeout of waiting.
 *
 * `deadline` undefined means no deadline (a rebalance recommendation): everything may finish.
 */
export function planDrain(
  jobs: readonly RunningJob[],
  deadline: number | undefined,
  now: number,
  marginSeconds = FINISH_MARGIN_SECONDS,
): DrainDecision[] {
  return jobs.map((job): DrainDecision => {
    if (deadline === undefined) return { kind: 'finish', id: job.id, reason: 'no deadline' };
    const cutoff = deadline - marginSeconds * 1000;
    if (job.expectedSeconds === undefined) {
      return { kind: 'handBack', id: job.id, reason: 'expected duration unknown' };
    }
    const expectedEnd = job.startedAt + job.expectedSeconds * 1000;
    if (expectedEnd <= cutoff && now < cutoff) {
      return {
        kind: 'finish',
        id: job.id,
        reason: `expected to end ${Math.round((cutoff - expectedEnd) / 1000)} s before the cutoff`,
        handBackAt: cutoff,
      };
    }
    return {
      kind: 'handBack',
      id: job.id,
      reason: `expected to end ${Math.round((expectedEnd - cutoff) / 1000)} s after the cutoff`,
    };
  });
}

/** How a hand-back returns a message to the queue. */
export type HandBackMode = 'resend' | 'visibility';

export interface HandBackInput {
  /** The configured mode; undefined = the default: re-send on a standard queue, visibility reset on FIFO. */
  mode?: HandBackMode | undefined;
  fifo: boolean;
  /** Hand-backs the message already carries (its HAND_BACK_ATTRIBUTE; 0 if none). */
  handBacks: number;
  /** Names of the message attributes the message carries. */
  attributeNames: readonly string[];
  /** The job itself is to blame (it outran the maximum job time): the hand-back must count as a try. */
  jobAtFault: boolean;
  maxResent?: number;
}

export type HandBackPlan =
  | { kind: 'resend'; handBacks: number }
  | { kind: 'visibility'; handBacks: number; reason: string };

/**
 * Re-send (SendMessage of a copy, then DeleteMessage of the original: the copy starts at receive count 0, so a
 * hand-back does not push the job toward the dead-letter queue) or reset the visibility to 0 (one more receive).
 *
 * - A job that outran the maximum job time is at fault: visibility reset, so a job that always hangs is
 *   dead-lettered.
 * - FIFO by default keeps the visibility reset: a copy joins the end of its message group, behind work sent after
 *   it, which breaks the order a FIFO queue exists for; `resend` can be chosen explicitly when order within a group
 *   does not matter.
 * - After `maxResent` re-sends the job goes back to counting receives, so nothing circulates for ever.
 * - A message with SQS's 10 attributes and not ours cannot carry the count (nor the bound): visibility reset.
 */
export function planHandBack(input: HandBackInput, maxResent = input.maxResent ?? MAX_RESENT_HAND_BACKS): HandBackPlan {
  const handBacks = input.handBacks + 1;
  const mode = input.mode ?? (input.fifo ? 'visibility' : 'resend');
  if (mode === 'visibility') {
    return { kind: 'visibility', handBacks, reason: input.fifo && input.mode === undefined ? 'FIFO queue: a copy would lose its place in its group' : 'hand-back mode visibility' };
  }
  if (input.jobAtFault) return { kind: 'visibility', handBacks, reason: 'the job outran its maximum time: this try counts' };
  if (input.handBacks >= maxResent) {
    return { kind: 'visibility', handBacks, reason: `handed back ${input.handBacks} times already: receives count again` };
  }
  const ours = new Set<string>(HAND_BACK_ATTRIBUTES);
  const kept = input.attributeNames.filter((name) => !ours.has(name)).length;
  if (kept + HAND_BACK_ATTRIBUTES.length > MAX_MESSAGE_ATTRIBUTES) {
    return { kind: 'visibility', handBacks, reason: `the message has ${kept} attributes: no room for the hand-back count` };
  }
  return { kind: 'resend', handBacks };
}

/** When and how long the next receive polls. */
export interface ReceiveInput {
  /** Jobs the instance runs now. */
  running: number;
  slots: number;
  /** No receive has been made yet (the worker just started). */
  first: boolean;
  /** The last receive asked for several messages and got them all: the queue may hold more (a backlog is flowing). */
  lastReceiveFull?: boolean | undefined;
  waitSeconds: number;
  /**
   * The instance is in the farm's on-demand group: it takes new work after every spot instance that could, so it is
   * the one that drains and leaves when the farm shrinks (on-demand last).
   */
  last?: boolean | undefined;
  idleDelaySeconds?: number | undefined;
  idleWaitSeconds?: number | undefined;
}

/**
 * Busy-first receiving (IDLE_RECEIVE_DELAY_SECONDS). SQS hands a message to one of the long polls waiting when it
 * becomes visible, so an instance takes a share of new work in proportion to the time it spends polling. The fuller
 * an instance, the more it polls: with one free slot it long-polls all the time; with more free slots it waits
 * `idleDelaySeconds * (free - 1) / (slots - 1)` before each brief poll, the whole delay when it runs nothing. New
 * work then lands on the busiest instances, the emptiest drain, go idle, lose their scale-in protection and can be
 * scaled in. Each poll takes up to all free slots, so a large backlog still fills every instance within one delay.
 *
 * Polls at once: the first receive (a new instance launched for a backlog takes it at once); the receive after
 * one that brought all it asked for (a backlog is flowing: an instance whose jobs are short keeps taking work at
 * its own pace, not one batch per delay); and any instance of one slot outside the on-demand group (idle or full, it cannot hold work that
 * another instance could have taken).
 *
 * On-demand last. An instance of the farm's on-demand group waits one whole idle delay more than any other instance
 * with the same free slots would (`idleDelaySeconds` with one free slot, twice that running nothing): a message that any spot
 * instance with room could take goes to it first. Busy-first alone fed the fullest instances, on-demand ones
 * included, and with two slots an instance with one job polls all the time: the on-demand instances the farm
 * launched for a burst beyond the spot group's max kept taking work for hours after it, while idle spot instances
 * were scaled in (pool-storm: 7 on-demand instances for 11.8 on-demand hours, $1.87 of a $28.17 bill; docs/worker.md
 * "On-demand last" has the figures). The first receive and a flowing backlog still poll at once: on-demand
 * capacity launched for a shortfall serves it without delay. The group, not the instance's purchasing option,
 * says who is last: in a farm that is all on-demand (a spot group swapped to on-demand, a farm of on-demand
 * groups) the extra delay would only slow every receive (an on-demand-only farm so marked cost 5% more in the
 * backtest, its p95 7 minutes longer).
 */
export function planReceive(input: ReceiveInput): { delaySeconds: number; waitSeconds: number } {
  const delay = input.idleDelaySeconds ?? IDLE_RECEIVE_DELAY_SECONDS;
  const free = input.slots - input.running;
  if (input.first || input.lastReceiveFull === true || delay <= 0) return { delaySeconds: 0, waitSeconds: input.waitSeconds };
  const busyFirst = input.slots <= 1 || free <= 1 ? 0 : (delay * (free - 1)) / (input.slots - 1);
  const delaySeconds = busyFirst + (input.last === true ? delay : 0);
  if (delaySeconds <= 0) return { delaySeconds: 0, waitSeconds: input.waitSeconds };
  return { delaySeconds, waitSeconds: Math.min(input.waitSeconds, input.idleWaitSeconds ?? IDLE_RECEIVE_WAIT_SECONDS) };
}
