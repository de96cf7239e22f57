/**
 * Terminal output of a backtest: the summary table of all policies, and the progress bar shown while it runs.
 */
import { SingleBar } from 'cli-progress';
import { COMPUTED_POLICIES, type BacktestJson } from '../result';
import { NONE, SUMMARY_COLUMNS, formatDuration, policiesIn } from './format';
import { poolNote } from './pools';

/**
 * The policies side by side, one row each, columns aligned (numbers right, names left), plain ASCII so it
 * survives pipes and CI logs. Ends with a newline.
 *
 * @example
 * ```
 * c3-spiky-2015: 84.0 simulated hours in 12.3 s
 * policy              cost  vs oracle  jobs  lost  wait p50  wait p95  wait max  spot h  od h  swaps  interrupts  max backlog
 * spotfarm          $41.20      1.14x  5200     0       12s     2m10s    14m02s   610.2  12.0      3          41          180
 * ```
 */
export function formatSummaryTable(json: BacktestJson): string {
  const names = policiesIn(json);
  const header = ['policy', ...SUMMARY_COLUMNS.map((c) => c.header)];
  const rows = names.map((name) => {
    const p = json.policies[name];
    return [name, ...SUMMARY_COLUMNS.map((c) => c.value(p, json, name))];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const title = `${json.scenario}: ${json.simulated_hours.toFixed(1)} simulated hours in ${json.wall_seconds.toFixed(1)} s`;
  const notes: string[] = [];
  if (json.policies.oracle !== undefined) {
    notes.push(`oracle: the lower bound (each job at the cheapest price of its moment, no boot or idle time); ${NONE} = not applicable`);
  }
  if (json.policies.clairvoyant !== undefined) {
    notes.push('clairvoyant: the cheapest farm knowing the future (no wait, every launch pays its boot, instances keep their pool, at most the spot group\'s max on spot)');
  }
  const lost = names.filter((n) => !COMPUTED_POLICIES.includes(n) && json.policies[n].jobs_lost > 0);
  if (lost.length > 0) notes.push(`jobs lost by: ${lost.join(', ')}`);
  const pools = poolNote(json);
  if (pools) notes.push(pools);
  return [title, line(header), ...rows.map(line), ...notes].join('\n') + '\n';
}

export interface Progress {
  /** Advance by `n` units (default 1). */
  tick(n?: number): void;
  /** Add `n` units to the total (work found to do once some is done: a sweep's matched runs). */
  grow(n: number): void;
  /** Finish and clear the bar; safe to call twice. */
  stop(): void;
}

export interface ProgressOptions {
  quiet: boolean;
  /** Where to draw; defaults to stdout. The bar is off unless this is a TTY. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
}

/**
 * A progress bar over `total` units (the CLI decides the unit, e.g. simulated seconds), drawn with cli-progress
 * (the common, maintained choice for Node CLIs). Off (every call a no-op) with `quiet`, when the stream is not a
 * TTY (CI logs, pipes: a bar there is only noise), or when there is nothing to count.
 */
export function createProgress(total: number, opts: ProgressOptions): Progress {
  const stream = opts.stream ?? process.stdout;
  if (opts.quiet || stream.isTTY !== true || !(total > 0)) return { tick: () => undefined, grow: () => undefined, stop: () => undefined };
  const started = Date.now();
  const bar = new SingleBar({
    stream,
    format: 'backtest [{bar}] {percentage}% | ETA {eta_formatted} | {elapsed}',
    barsize: 30,
    hideCursor: true,
    clearOnComplete: true,
    stopOnComplete: false,
    etaBuffer: 50,
    fps: 10,
  });
  bar.start(total, 0, { elapsed: formatDuration(0) });
  let value = 0;
  let stopped = false;
  return {
    tick(n = 1) {
      if (stopped) return;
      value = Math.min(total, value + n);
      bar.update(value, { elapsed: formatDuration((Date.now() - started) / 1000) });
    },
    grow(n) {
      if (stopped || !(n > 0)) return;
      total += n;
      bar.setTotal(total);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}
