/**
 * The `spotfarm` command line. Today one command: `spotfarm backtest <scenario.yaml> [--json FILE] [--report DIR]
 * [--quiet] [--sweep SETTING=V1,V2,...] [--threads N]` replays a scenario through the real handlers and the baselines and prints the summary table.
 *
 * Exit codes: 0 done; 1 the run failed (e.g. spotfarm's handlers are missing); 2 bad usage or a bad scenario
 * (nothing is written then).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { POLICY_NAMES, type BacktestResult, type PolicyName } from '../sim/result';
import { writeReport } from '../sim/report/index';
import { createProgress, formatSummaryTable, type Progress } from '../sim/report/summary';
import { formatFrontierTable } from '../sim/report/frontier';
import { defaultThreads, runSweep } from '../sim/frontier/run';
import { parseSweep, sweepNotes, SweepError, SWEEPABLE, type Sweep } from '../sim/frontier/sweep';
import { progressTotal, runBacktest } from '../sim/runner';
import { loadScenario, ScenarioError, type Scenario } from '../sim/scenario';
import { SpotfarmUnavailableError } from '../sim/policies/spotfarm';

export const USAGE = `Usage:
  spotfarm backtest <scenario.yaml> [--json FILE] [--report DIR] [--quiet] [--policies LIST]
                    [--sweep SETTING=V1,V2,...] [--threads N]
  spotfarm scenario from-account --farm NAME [--days N] [--region R] --out DIR   (spotfarm scenario --help)
  spotfarm --help

Replays a scenario (real spot prices, a real job trace) through spotfarm's Lambda handlers and through the
baselines (on-demand-only, recipe, aws-native) and the two bounds (the oracle, and the clairvoyant farm), then prints a summary table.

Options:
  --json FILE       write the figures as JSON (fields: docs/backtest.md, "Output")
  --report DIR      write a self-contained HTML report to DIR/index.html
  --quiet           no progress bar (it is also off when stdout is not a terminal)
  --policies LIST   comma-separated subset of ${POLICY_NAMES.join(',')} (default: all)
  --sweep SETTING=V1,V2,...
                    also run spotfarm with the setting at each value, and each baseline at its matching
                    target; adds the cost-against-p95 frontier to the table, the JSON and the report
                    (e.g. acceptableWait=2m,5m,10m,20m; settings: ${SWEEPABLE.join(', ')}); with
                    acceptableWait, spotfarm also runs at the p95 of each baseline point it did not
                    dominate ("matched" points: cost at equal service)
  --threads N       a sweep's runs in N worker threads at a time (default: the cores, here ${defaultThreads()};
                    0: all in this thread)
  -h, --help        this text

Bundled scenarios: scenarios/default.yaml (npm start), scenarios/calm-2023.yaml, scenarios/storm.yaml.
Scenario fields: docs/backtest.md.
`;

class UsageError extends Error {}

interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

const defaultIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

function parsePolicies(value: string | undefined): PolicyName[] | undefined {
  if (value === undefined) return undefined;
  const names = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const name of names) {
    if (!(POLICY_NAMES as readonly string[]).includes(name)) {
      throw new UsageError(`--policies: unknown policy "${name}" (known: ${POLICY_NAMES.join(', ')})`);
    }
  }
  if (names.length === 0) throw new UsageError('--policies: name at least one policy');
  return names as PolicyName[];
}

function warnings(result: BacktestResult): string[] {
  const out: string[] = [];
  for (const [policy, stats] of Object.entries(result.json.stats ?? {})) {
    if (!stats) continue;
    for (const gap of stats.not_implemented ?? []) out.push(`${policy}: ${gap}`);
    if (stats.failed_events) {
      out.push(`${policy}: ${stats.failed_events} event(s) failed after Lambda's retries:`);
      for (const e of (stats.errors ?? []).slice(0, 5)) out.push(`  ${e.count}x ${e.message}`);
    }
  }
  for (const run of result.json.sweep?.run_stats ?? []) {
    const who = `${run.policy} at ${result.json.sweep?.setting}=${run.value}`;
    for (const gap of run.stats.not_implemented ?? []) out.push(`${who}: ${gap}`);
    if (run.stats.failed_events) {
      out.push(`${who}: ${run.stats.failed_events} event(s) failed after Lambda's retries:`);
      for (const e of (run.stats.errors ?? []).slice(0, 5)) out.push(`  ${e.count}x ${e.message}`);
    }
  }
  return out;
}

/** Runs the CLI with `argv` (without node and the script); returns the exit code. */
export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  // `scenario ...` has its own options (cli/scenario/command.ts). Loaded only when asked for: it reads an account
  // through src/aws, and loading that (with src/log.ts) before a backtest silences its handlers would let every
  // simulated decision through to the terminal.
  if (argv[0] === 'scenario') {
    const { scenarioMain } = await import('./scenario/command');
    return scenarioMain(argv.slice(1), { ...io, stream: io === defaultIo ? process.stdout : undefined });
  }
  let scenario: Scenario;
  let values: { json?: string; report?: string; quiet?: boolean; help?: boolean; policies?: string; sweep?: string; threads?: string };
  let policies: PolicyName[] | undefined;
  let sweep: Sweep | undefined;
  let threads = defaultThreads();
  try {
    const parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        json: { type: 'string' },
        report: { type: 'string' },
        quiet: { type: 'boolean' },
        policies: { type: 'string' },
        sweep: { type: 'string' },
        threads: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    values = parsed.values;
    if (values.help || parsed.positionals.length === 0) {
      io.out(USAGE);
      return values.help ? 0 : 2;
    }
    const [command, file, ...rest] = parsed.positionals;
    if (command !== 'backtest') throw new UsageError(`unknown command "${command}"`);
    if (!file) throw new UsageError('backtest needs a scenario file, e.g. scenarios/default.yaml');
    if (rest.length) throw new UsageError(`unexpected argument "${rest[0]}"`);
    policies = parsePolicies(values.policies);
    if (values.sweep !== undefined) sweep = parseSweep(values.sweep);
    if (values.threads !== undefined) {
      if (!sweep) throw new UsageError('--threads applies to a sweep: add --sweep SETTING=V1,V2,...');
      if (!/^\d+$/.test(values.threads.trim())) throw new UsageError(`--threads ${values.threads}: expected a whole number >= 0`);
      threads = Number(values.threads);
    }
    scenario = loadScenario(resolve(file));
  } catch (err) {
    if (err instanceof ScenarioError) {
      io.err(`spotfarm backtest: bad scenario\n${err.message}\n`);
      return 2;
    }
    if (err instanceof SweepError) {
      io.err(`spotfarm: ${err.message}\n`);
      return 2;
    }
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`spotfarm: ${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }

  const chosen = policies ?? [...POLICY_NAMES];
  const quiet = values.quiet === true;
  let progress: Progress = createProgress(sweep ? 0 : progressTotal(scenario, chosen), { quiet });
  let result: BacktestResult;
  try {
    if (sweep) {
      for (const note of sweepNotes(scenario, sweep)) io.err(`spotfarm backtest: note: ${note}\n`);
      result = await runSweep(scenario, sweep, {
        policies: chosen,
        threads,
        onPlanned: (total) => {
          progress = createProgress(total, { quiet });
        },
        onMoreRuns: (more) => progress.grow(more),
        onProgress: (s) => progress.tick(s),
      });
    } else {
      result = await runBacktest(scenario, { policies: chosen, onProgress: (s) => progress.tick(s) });
    }
  } catch (err) {
    progress.stop();
    if (err instanceof SweepError) {
      io.err(`spotfarm backtest: ${err.message}\n`);
      return 2;
    }
    if (err instanceof SpotfarmUnavailableError) {
      io.err(`spotfarm backtest: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  progress.stop();

  io.out(formatSummaryTable(result.json));
  io.out(formatFrontierTable(result.json));
  if (!values.quiet) io.out(`interruption rate: ${scenario.interruptions.rateSource}\n`);
  const warn = warnings(result);
  if (warn.length) io.err(`warnings:\n${warn.join('\n')}\n`);

  if (values.json) {
    const file = resolve(values.json);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(result.json, null, 2) + '\n');
    if (!values.quiet) io.out(`json: ${values.json}\n`);
  }
  if (values.report) {
    const file = await writeReport(result, resolve(values.report));
    if (!values.quiet) io.out(`report: ${file}\n`);
  }
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`spotfarm: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
