/**
 * The wall clock, and the bound on an event's time. Deadlines, cooldowns, dwell times and leases run on the
 * wall clock; an event's `time` is data (when EC2 or CloudWatch sent it), never a clock to trust: a tick dated
 * 2099 must not move a cooldown or a lease into 2099 (DESIGN.md "Decide purely").
 *
 * The backtest runs the handlers in virtual time and sets the clock here (sim/policies/spotfarm.ts
 * CLOCK_SETTERS); tests may too. Nothing else reads Date.now() for a decision.
 */
import { BadInputError } from './errors';

let clock: () => number = () => Date.now();

/** Now, on the wall clock (or the backtest's virtual clock). */
export function wallClock(): Date {
  return new Date(clock());
}

/** The backtest's (and tests') hook: every handler reads `now` through wallClock(). */
export function setWallClock(next: () => number): void {
  clock = next;
}

export function resetWallClock(): void {
  clock = () => Date.now();
}

/**
 * How far in the future an event's time may be: EventBridge stamps events with the sender's clock (second
 * precision), and AWS's clocks agree within far less than this. Beyond it the event is refused, not trusted.
 */
export const MAX_CLOCK_SKEW_SECONDS = 60;

/** An event dated beyond the clock-skew allowance: refused with nothing changed. */
export class FutureEventError extends BadInputError {}

/**
 * Refuses an event dated more than MAX_CLOCK_SKEW_SECONDS after `now`; returns its time otherwise, never later
 * than `now` (a time within the allowance counts as now, so no stored time runs ahead of the clock).
 */
export function boundedEventTime(eventTime: Date, now: Date, what: string): Date {
  const ahead = (eventTime.getTime() - now.getTime()) / 1000;
  if (ahead > MAX_CLOCK_SKEW_SECONDS) {
    throw new FutureEventError(
      `${what} is dated ${eventTime.toISOString()}, ${Math.round(ahead)} s after this function's clock (${now.toISOString()}); ` +
        `more than the ${MAX_CLOCK_SKEW_SECONDS} s clock-skew allowance, so it is refused and nothing was changed`,
    );
  }
  return ahead > 0 ? now : eventTime;
}

/**
 * The manual invoke's `time` field replays a decision at another time: only in a dry run, where nothing is
 * stored or changed. A real run decides at the wall clock.
 */
export function manualTime(time: string | undefined, dryRun: boolean, now: Date): Date {
  if (time === undefined) return now;
  if (!dryRun) {
    throw new BadInputError(`"time" (${time}) is only for dry runs: add "dryRun": true, or leave "time" out to act now`);
  }
  return new Date(time);
}
