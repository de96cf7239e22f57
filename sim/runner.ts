/**
 * Runs a backtest: every policy in its own world built from the same scenario (same market, same arrivals, same
 * interruption draws where the pools match), sampled every `sample_every`, summarised per sim/result.ts.
 */
import { connectSdk, type SdkConnection } from './cloud/sdk';
import { World } from './cloud/world';
import { Tables } from './cloud/dynamodb-api';
import { oracle } from './policies/oracle';
import { clairvoyant } from './policies/clairvoyant';
import { setupAwsNative, setupOnDemandOnly, setupRecipe, type RecipeAlarms } from './policies/baselines';
import {
  connectClocks,
  installSpotfarm,
  loadHandlers,
  resetStackConfig,
  missingHandlers,
  spotfarmEnvironment,
  SpotfarmUnavailableError,
  withEnvironment,
  type SpotfarmStats,
} from './policies/spotfarm';
import {
  COMPUTED_POLICIES,
  POLICY_NAMES,
  type BacktestJson,
  type BacktestResult,
  type PolicyMark,
  type PolicyName,
  type PolicySeries,
  type PolicySummary,
  type RunStats,
} from './result';
import type { Scenario } from './scenario';
import { applySettings, DEFAULT_SETTINGS } from '../src/settings';

export interface RunOptions {
  /** Policies to run (default: all). */
  policies?: readonly PolicyName[];
  /** Variables that override the simulated Lambdas' environment (the cost bench turns INFO logs on). */
  environment?: Record<string, string>;
  /** Told of every SDK call the spotfarm policy's handlers make, with its input and output (undefined if refused). */
  onSdkCall?: (command: string, input: unknown, output: unknown) => void;
  /** Called as simulated time advances, with the simulated seconds since the last call. */
  onProgress?: (simulatedSeconds: number) => void;
  /** The recipe's alarm thresholds (default: STEP_ALARMS, the recipe's 80% / 20%); a sweep moves them. */
  recipeAlarms?: RecipeAlarms;
  /** spotfarm's handlers, instead of importing functions/*.ts (tests of the simulator's own plumbing). */
  handlers?: Awaited<ReturnType<typeof loadHandlers>>;
}

/** Simulated seconds a run may take at most, per policy (for a progress bar's total). */
export function progressTotal(scenario: Scenario, policies: readonly PolicyName[] = POLICY_NAMES): number {
  return policies.filter((p) => !COMPUTED_POLICIES.includes(p)).length * (scenario.duration + scenario.drainLimit);
}

/** Nearest-rank percentile of unsorted values; null for none. */
export function percentile(values: readonly number[] | Float64Array, p: number): number | null {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

interface PolicyRun {
  summary: PolicySummary;
  series: PolicySeries;
  marks: PolicyMark[];
  stats: RunStats;
  endT: number;
}

async function simulate(
  name: Exclude<PolicyName, 'oracle' | 'clairvoyant'>,
  scenario: Scenario,
  options: RunOptions,
  spotfarm: { connection: SdkConnection; handlers: Awaited<ReturnType<typeof loadHandlers>> } | undefined,
): Promise<PolicyRun> {
  const wallStart = process.hrtime.bigint();
  const horizon = scenario.start + scenario.duration + scenario.drainLimit;
  // spotfarm's farm starts its workers with the idle receive delay its idleReceiveDelay setting names (the setting
  // tells the scaler what `--idle-receive-delay` the workers run with); the baselines' workers keep the default.
  const idleReceiveDelaySeconds = name === 'spotfarm' ? spotfarmIdleReceiveDelay(scenario) : undefined;
  const world = new World(scenario, { workers: 'agent', horizon, ...(idleReceiveDelaySeconds !== undefined ? { idleReceiveDelaySeconds } : {}) });
  let spotfarmStats: SpotfarmStats | undefined;
  if (name === 'on-demand-only') setupOnDemandOnly(world);
  else if (name === 'recipe') setupRecipe(world, options.recipeAlarms);
  else if (name === 'aws-native') setupAwsNative(world);
  else {
    spotfarmStats = installSpotfarm(world, spotfarm!.handlers, spotfarm!.connection);
    await connectClocks(() => world.now * 1000);
  }

  const series: PolicySeries = {
    t: [],
    backlog: [],
    spot_instances: [],
    on_demand_instances: [],
    by_group: {},
    cost_usd: [],
    wait_p95_s: [],
  };
  const sample = () => {
    const t = world.now;
    series.t.push(t);
    series.backlog.push(world.backlog);
    let spot = 0;
    let onDemand = 0;
    const byGroup = new Map<string, number>();
    for (const g of world.groups.keys()) byGroup.set(g, 0);
    for (const i of world.instances.values()) {
      if (i.ec2State === 'terminated') continue;
      if (i.market === 'spot') spot++;
      else onDemand++;
      if (i.group) byGroup.set(i.group.name, (byGroup.get(i.group.name) ?? 0) + 1);
    }
    series.spot_instances.push(spot);
    series.on_demand_instances.push(onDemand);
    const n = series.t.length;
    for (const [g, count] of byGroup) {
      const column = (series.by_group[g] ??= new Array<number>(n - 1).fill(0));
      column.push(count);
    }
    series.cost_usd.push(world.costSoFar());
    series.wait_p95_s.push(percentile(world.takeIntervalWaits(), 95));
  };

  const step = scenario.sampleSeconds;
  let t = scenario.start;
  sample();
  while (!world.done) {
    const next = Math.min(t + step, horizon);
    await world.runUntil(next);
    options.onProgress?.(Math.min(world.now, next) - t);
    t = next;
    sample();
    world.purgeTerminated();
    if (next >= horizon) break;
  }
  options.onProgress?.(Math.max(0, horizon - t));

  const waits = Float64Array.from(world.waits);
  const summary: PolicySummary = {
    cost_usd: world.costSoFar(),
    jobs_submitted: scenario.workload.arrival.length,
    jobs_completed: world.completed,
    jobs_lost: scenario.workload.arrival.length - world.completed,
    wait_p50_s: percentile(waits, 50),
    wait_p95_s: percentile(waits, 95),
    wait_max_s: waits.length ? waits.reduce((a, b) => Math.max(a, b), 0) : null,
    spot_instance_hours: world.spotSeconds / 3600,
    on_demand_instance_hours: world.onDemandSeconds / 3600,
    swaps: world.swaps,
    interruptions: world.interruptions,
    max_backlog: world.maxBacklog,
    cost_breakdown: { ...world.ec2.breakdown },
    pools: Object.fromEntries(
      [...world.ec2.pools.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([key, p]) => [
          key,
          { spot_hours: p.spotSeconds / 3600, on_demand_hours: p.onDemandSeconds / 3600, cost_usd: p.cost, spot_usd_at_or_above_on_demand: p.spotCostAtOrAboveOnDemand },
        ]),
    ),
  };
  const stats: RunStats = {
    events: world.eventsProcessed,
    wall_seconds: Number(process.hrtime.bigint() - wallStart) / 1e9,
    end_epoch_s: world.endT,
    dead_lettered: world.deadLettered,
    still_queued: scenario.workload.arrival.length - world.completed - world.deadLettered,
    launch_failures: world.launchFailures,
    free_interrupted_instances: world.ec2.freeInterrupted,
    free_interrupted_usd: world.ec2.freeInterruptedUsd,
    hand_backs_resent: world.work.resent,
    hand_backs_by_visibility: world.work.visibilityHandBacks,
    max_hand_backs_per_job: world.work.maxHandBacks,
    ...(world.mixReplacements > 0 ? { mix_replacements: world.mixReplacements, mix_replacement_jobs: world.mixReplacementJobs } : {}),
    ...(spotfarmStats
      ? {
          handler_invocations: { ...spotfarmStats.invocations },
          handler_retries: spotfarmStats.retries,
          failed_events: spotfarmStats.failedEvents,
          errors: [...spotfarmStats.errors].map(([message, count]) => ({ message, count })),
          not_implemented: [...spotfarmStats.notImplemented],
          notifications: world.published.length,
        }
      : {}),
  };
  return { summary, series, marks: world.marks, stats, endT: world.endT };
}

/** The idle receive delay the scenario's spotfarm settings give the farm's workers (undefined: the agent's default). */
export function spotfarmIdleReceiveDelay(scenario: Scenario): number | undefined {
  if (scenario.spotfarm.idleReceiveDelay === undefined) return undefined;
  return applySettings(DEFAULT_SETTINGS, { idleReceiveDelay: scenario.spotfarm.idleReceiveDelay }).settings.idleReceiveDelay;
}

/** Runs the scenario for the chosen policies. Throws SpotfarmUnavailableError if spotfarm's handlers are missing. */
export async function runBacktest(scenario: Scenario, options: RunOptions = {}): Promise<BacktestResult> {
  const wallStart = process.hrtime.bigint();
  const policies = POLICY_NAMES.filter((p) => (options.policies ?? POLICY_NAMES).includes(p));
  let spotfarm: { connection: SdkConnection; handlers: Awaited<ReturnType<typeof loadHandlers>> } | undefined;
  let restoreEnv: (() => void) | undefined;
  if (policies.includes('spotfarm') && !options.handlers) {
    const missing = missingHandlers();
    if (missing.length) throw new SpotfarmUnavailableError(missing);
  }
  const results: Partial<Record<PolicyName, PolicySummary>> = {};
  const series: Partial<Record<PolicyName, PolicySeries>> = {};
  const marks: Partial<Record<PolicyName, PolicyMark[]>> = {};
  const stats: Partial<Record<PolicyName, RunStats>> = {};
  let end = scenario.start + scenario.duration;
  try {
    for (const name of policies) {
      if (name === 'oracle') {
        results.oracle = oracle(scenario);
        continue;
      }
      if (name === 'clairvoyant') {
        const wall = process.hrtime.bigint();
        results.clairvoyant = clairvoyant(scenario);
        stats.clairvoyant = { events: 0, wall_seconds: Number(process.hrtime.bigint() - wall) / 1e9, end_epoch_s: end, dead_lettered: 0, still_queued: 0, launch_failures: 0 };
        continue;
      }
      if (name === 'spotfarm') {
        const placeholder = new World(scenario, { workers: 'agent', horizon: scenario.start });
        restoreEnv = withEnvironment({ ...spotfarmEnvironment(placeholder), ...options.environment });
        const connection = connectSdk({ world: placeholder, tables: new Tables() });
        connection.onCall = options.onSdkCall;
        try {
          spotfarm = { connection, handlers: options.handlers ?? (await loadHandlers()) };
          await resetStackConfig();
        } catch (err) {
          connection.restore();
          throw err;
        }
      }
      try {
        const run = await simulate(name, scenario, options, spotfarm);
        results[name] = run.summary;
        series[name] = run.series;
        marks[name] = run.marks;
        stats[name] = run.stats;
        end = Math.max(end, run.endT);
      } finally {
        if (name === 'spotfarm') {
          await connectClocks(() => Date.now());
          spotfarm?.connection.restore();
          spotfarm = undefined;
          restoreEnv?.();
          restoreEnv = undefined;
        }
      }
    }
  } finally {
    spotfarm?.connection.restore();
    restoreEnv?.();
  }
  const wallSeconds = Number(process.hrtime.bigint() - wallStart) / 1e9;
  const json: BacktestJson = {
    scenario: scenario.name,
    simulated_hours: (end - scenario.start) / 3600,
    wall_seconds: wallSeconds,
    policies: results as Record<PolicyName, PolicySummary>,
    stats,
  };
  return {
    json,
    start_epoch_s: scenario.start,
    end_epoch_s: end,
    sample_seconds: scenario.sampleSeconds,
    market: {
      spot: [...scenario.market.spot.entries()].map(([key, s]) => {
        const [type, az] = key.split('/') as [string, string];
        const window = s.window(scenario.start, end);
        return { instance_type: type, availability_zone: az, t: window.map((p) => Math.max(p.t, scenario.start)), price: window.map((p) => p.price) };
      }),
      on_demand: [...scenario.market.onDemand.entries()].map(([instance_type, price]) => ({ instance_type, price })),
    },
    series,
    marks,
  };
}
