/**
 * The worker's decisions as pure functions of plain values, so the agent (worker/index.ts) and the
 * backtest's worker model can share them and tests can table them without clocks or queues.
 */
import {
  FAILURE_BACKOFF_BASE_SECONDS,
  FAILURE_BACKOFF_MAX_SECONDS,
  FINISH_MARGIN_SECONDS,
  HEARTBEAT_FRACTION,
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
