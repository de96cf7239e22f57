/**
 * Virtual-time helpers. The simulator counts time in epoch seconds (numbers), never reads the wall clock, and
 * formats event times the way EventBridge does (second precision, `Z`).
 */

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** `90s`, `30m`, `2h`, `1.5h`, `3d`, `1w`, or a bare number of seconds. Returns seconds, or null if malformed. */
export function parseDuration(value: string | number): number | null {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : null;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([smhdw])?\s*$/.exec(value);
  if (!match) return null;
  const amount = Number(match[1]);
  return amount * UNIT_SECONDS[match[2] ?? 's']!;
}

/** ISO-8601 (any offset) to epoch seconds; NaN when malformed. */
export function isoToEpoch(value: string): number {
  return Date.parse(value) / 1000;
}

/** EventBridge's `time`: UTC, second precision, `Z`. */
export function eventTime(epochSeconds: number): string {
  return new Date(Math.floor(epochSeconds) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** CloudWatch alarm timestamps use `+0000` instead of `Z` and keep milliseconds. */
export function alarmTimestamp(epochSeconds: number): string {
  return new Date(Math.floor(epochSeconds * 1000)).toISOString().replace('Z', '+0000');
}

export function toDate(epochSeconds: number): Date {
  return new Date(Math.round(epochSeconds * 1000));
}

/** Epoch seconds of a Date, a string or a number the SDK might hand us. */
export function fromSdkTime(value: Date | string | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (value instanceof Date) return value.getTime() / 1000;
  if (typeof value === 'number') return value > 1e11 ? value / 1000 : value;
  return Date.parse(value) / 1000;
}

/** `3h 20m` style, for tables and messages. */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)}s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)}m`;
  const h = Math.floor(seconds / 3600);
  const m = Math.round((seconds - h * 3600) / 60);
  return m ? `${h}h ${m}m` : `${h}h`;
}
