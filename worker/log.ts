/**
 * One JSON line per worker event (job started, succeeded, failed, handed back, notice, exit), so
 * CloudWatch Logs Insights or jq can count them. SPOTFARM_LOG_LEVEL filters (DEBUG, INFO, WARN,
 * ERROR, SILENT); the default is INFO.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';
export type Log = (level: Level, event: string, fields?: Record<string, unknown>) => void;

const RANK: Record<Level | 'silent', number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** A logger writing JSON lines to a stream (stdout by default). */
export function jsonLog(
  write: (line: string) => void = (line) => process.stdout.write(line),
  levelName = process.env.SPOTFARM_LOG_LEVEL,
): Log {
  const key = (levelName ?? 'info').toLowerCase() as Level | 'silent';
  const threshold = RANK[key] ?? RANK.info;
  return (level, event, fields = {}) => {
    if (RANK[level] < threshold) return;
    const head = { time: new Date().toISOString(), level, event };
    // The head keeps its place first in the line and cannot be overwritten by a field of the same name.
    write(`${JSON.stringify(Object.assign({ ...head }, fields, head))}\n`);
  };
}
