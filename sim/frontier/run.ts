/**
 * Runs a sweep's simulations, in this thread one after another or in worker threads (node:worker_threads), and
 * assembles the plain backtest's result with the frontier. Two rounds: the swept values, then the matched runs
 * their figures call for (plan.ts), through the same runner and the same progress callback.
 *
 * Isolation: spotfarm's real handlers keep module-level state (the stack config read once per cold start, a warm
 * container's prices, template versions, queue URLs; whatever else a handler may come to cache). With threads,
 * every simulation gets a fresh worker: its own module instances, its own process.env, nothing left by an earlier
 * run. In this thread (`threads: 0`) runs follow each other as the plain backtest's policies always have:
 * runBacktest drops the config and container caches before spotfarm runs. test/sim/frontier.test.ts checks
 * that both give the same figures.
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Market, StepSeries } from '../market';
import { missingHandlers, SpotfarmUnavailableError } from '../policies/spotfarm';
import type { BacktestResult, PolicyName } from '../result';
import { progressTotal, runBacktest, type RunOptions } from '../runner';
import type { Scenario } from '../scenario';
import { dominance, frontierPoints, planMatches, planSweep, withMatches, type SweepTask } from './plan';
import { checkSweep, tightTargetNote, type Sweep } from './sweep';

/** A scenario as plain data (the market's step functions as arrays), for workerData. */
export interface PlainScenario extends Omit<Scenario, 'market'> {
  market: {
    region: string;
    instanceTypes: string[];
    availabilityZones: string[];
    spot: [key: string, t: Float64Array, price: Float64Array][];
    onDemand: [type: string, price: number][];
  };
}

export function toPlainScenario(s: Scenario): PlainScenario {
  return {
    ...s,
    market: {
      region: s.market.region,
      instanceTypes: [...s.market.instanceTypes],
      availabilityZones: [...s.market.availabilityZones],
      spot: [...s.market.spot.entries()].map(([key, series]) => [key, series.t, series.price]),
      onDemand: [...s.market.onDemand.entries()],
    },
  };
}

export function fromPlainScenario(p: PlainScenario): Scenario {
  const market = new Market(p.market.region, p.market.instanceTypes, p.market.availabilityZones);
  for (const [key, t, price] of p.market.spot) market.spot.set(key, new StepSeries(t, price));
  for (const [type, price] of p.market.onDemand) market.onDemand.set(type, price);
  return { ...p, market };
}

/** Runs one task of a sweep in this thread. The plain backtest (task 0) keeps its series for the report. */
export async function runTask(
  scenario: Scenario,
  task: SweepTask,
  options: Pick<RunOptions, 'onProgress' | 'handlers'> = {},
): Promise<BacktestResult> {
  const at: Scenario = {
    ...scenario,
    spotfarm: task.spotfarm,
    baselines: { ...scenario.baselines, targetBacklogPerInstance: task.targetBacklogPerInstance },
  };
  const result = await runBacktest(at, { ...options, policies: task.policies, recipeAlarms: task.recipeAlarms });
  if (task.id === 0) return result;
  // The other runs give figures only: no need to copy their series back.
  return { ...result, series: {}, marks: {}, market: { spot: [], on_demand: [] } };
}

/** Messages from a sweep worker (worker.ts). */
export type WorkerMessage =
  | { kind: 'progress'; seconds: number }
  | { kind: 'done'; result: BacktestResult }
  | { kind: 'error'; name: string; message: string; stack?: string; missing?: string[] };

const WORKER_ENTRY = resolve(__dirname, 'worker-entry.cjs');
const REPO = resolve(__dirname, '../..');

function runInWorker(
  scenario: PlainScenario,
  task: SweepTask,
  onProgress: (s: number) => void,
  running: Set<Worker>,
): Promise<BacktestResult> {
  return new Promise((done, fail) => {
    const worker = new Worker(WORKER_ENTRY, { workerData: { root: REPO, scenario, task } });
    running.add(worker);
    worker.once('exit', () => running.delete(worker));
    let settled = false;
    worker.on('message', (m: WorkerMessage) => {
      if (m.kind === 'progress') onProgress(m.seconds);
      else if (m.kind === 'done') {
        settled = true;
        done(m.result);
      } else {
        settled = true;
        const err = m.missing ? new SpotfarmUnavailableError(m.missing) : Object.assign(new Error(m.message), { name: m.name });
        if (m.stack) err.stack = m.stack;
        fail(err);
      }
    });
    worker.on('error', (err) => {
      if (settled) return;
      settled = true;
      fail(new Error(`sweep run ${task.id} (worker thread): ${err.message}`, { cause: err }));
    });
    worker.on('exit', (code) => {
      if (settled) return;
      settled = true;
      fail(new Error(`sweep run ${task.id}: its worker thread exited with code ${code} before finishing`));
    });
  });
}

/** Runs tasks `threads` at a time in fresh worker threads (0: one after another in this thread); results in the tasks' order. */
export async function runTasks(
  scenario: Scenario,
  tasks: readonly SweepTask[],
  options: { threads: number; onProgress?: (simulatedSeconds: number) => void; handlers?: RunOptions['handlers'] },
): Promise<BacktestResult[]> {
  const tick = options.onProgress ?? (() => undefined);
  const results: BacktestResult[] = new Array(tasks.length);
  const slot = new Map(tasks.map((t, i) => [t.id, i]));
  if (options.threads <= 0) {
    for (const [i, task] of tasks.entries()) results[i] = await runTask(scenario, task, { onProgress: tick, handlers: options.handlers });
    return results;
  }
  const plain = toPlainScenario(scenario);
  // Longest first (spotfarm's runs take most of the time), so the last thread is not left with a long one.
  const queue = [...tasks].sort((a, b) => Number(b.policies.includes('spotfarm')) - Number(a.policies.includes('spotfarm')) || b.policies.length - a.policies.length);
  let failed: unknown;
  const running = new Set<Worker>();
  const lane = async (): Promise<void> => {
    for (let task = queue.shift(); task && failed === undefined; task = queue.shift()) {
      try {
        results[slot.get(task.id)!] = await runInWorker(plain, task, tick, running);
      } catch (err) {
        failed ??= err;
        // The sweep has failed: the other runs' figures would be thrown away, so stop them now.
        for (const w of running) void w.terminate();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.threads, tasks.length) }, lane));
  if (failed !== undefined) throw failed;
  return results;
}

/** Default threads: one per core the process may use, at most the number of runs. */
export function defaultThreads(): number {
  return availableParallelism();
}

export interface SweepOptions {
  policies: readonly PolicyName[];
  /** Worker threads (0: every run in this thread). */
  threads: number;
  onProgress?: (simulatedSeconds: number) => void;
  /** Called once the runs are planned, with the simulated seconds they will take in all (a progress bar's total). */
  onPlanned?: (totalSimulatedSeconds: number, runs: number) => void;
  /** Called when the matched runs are known (after the swept ones), with the simulated seconds they add. */
  onMoreRuns?: (moreSimulatedSeconds: number, runs: number) => void;
  handlers?: RunOptions['handlers'];
}

/**
 * The plain backtest with `frontier` and `sweep` added to its JSON. Throws SweepError for values the scenario's
 * other settings make invalid, SpotfarmUnavailableError when spotfarm's handlers are missing.
 */
export async function runSweep(scenario: Scenario, sweep: Sweep, options: SweepOptions): Promise<BacktestResult> {
  checkSweep(scenario, sweep);
  if (options.policies.includes('spotfarm') && !options.handlers) {
    const missing = missingHandlers();
    if (missing.length) throw new SpotfarmUnavailableError(missing);
  }
  const wallStart = process.hrtime.bigint();
  const plan = planSweep(scenario, sweep, options.policies);
  const threads = Math.max(0, Math.min(options.threads, plan.tasks.length));
  options.onPlanned?.(
    plan.tasks.reduce((sum, t) => sum + progressTotal(scenario, t.policies), 0),
    plan.tasks.length,
  );
  const run = { threads, onProgress: options.onProgress, handlers: options.handlers };
  const results = await runTasks(scenario, plan.tasks, run);
  const plainResult = results[0]!;
  const swept = frontierPoints(sweep, plan, results.map((r) => r.json));
  // Cost at equal service: spotfarm again at the p95 of each baseline point the swept points did not dominate.
  const matches = planMatches(scenario, sweep, swept, options.policies, plan.tasks.length);
  if (matches.tasks.length) {
    options.onMoreRuns?.(
      matches.tasks.reduce((sum, t) => sum + progressTotal(scenario, t.policies), 0),
      matches.tasks.length,
    );
  }
  const matched = matches.tasks.length ? await runTasks(scenario, matches.tasks, { ...run, threads: Math.max(0, Math.min(options.threads, matches.tasks.length)) }) : [];
  const byTask = new Map(matches.tasks.map((t, i) => [t.id, matched[i]!.json]));
  const frontier = withMatches(sweep, swept, matches, (id) => byTask.get(id));
  const allTasks = [...plan.tasks, ...matches.tasks];
  const allResults = [...results, ...matched];
  const json = {
    ...plainResult.json,
    wall_seconds: Number(process.hrtime.bigint() - wallStart) / 1e9,
    frontier,
    sweep: {
      setting: sweep.setting,
      values: [...sweep.values],
      baseline_targets: plan.targets,
      dominance: dominance(frontier),
      threads,
      runs: allTasks.length,
      matching: { runs: matches.tasks.length, note: matches.note, unmatched: matches.unmatched },
      also_set_note: frontier.some((p) => p.also_set) ? tightTargetNote() : null,
      // The other runs' diagnostics (failed events, gaps in the simulated cloud), for the CLI's warnings.
      run_stats: allResults.slice(1).flatMap((r, i) =>
        Object.entries(r.json.stats ?? {}).flatMap(([policy, stats]) =>
          stats ? [{ value: allTasks[i + 1]!.value ?? '', policy: policy as PolicyName, stats }] : [],
        ),
      ),
    },
  };
  return { ...plainResult, json };
}
