/**
 * What one backtest run produces: the contract between the simulator (sim/), the CLI's JSON output
 * (`--json FILE`, promised in CONTRACTS.md) and the HTML report (`--report DIR`).
 */

export const POLICY_NAMES = ['spotfarm', 'on-demand-only', 'recipe', 'aws-native', 'oracle', 'clairvoyant'] as const;
/** The bounds: computed from the scenario, not simulated. */
export const COMPUTED_POLICIES: readonly PolicyName[] = ['oracle', 'clairvoyant'];
export type PolicyName = (typeof POLICY_NAMES)[number];

/** One policy's figures. Field names are the JSON contract: keep them exactly. */
export interface PolicySummary {
  cost_usd: number;
  jobs_submitted: number;
  jobs_completed: number;
  /** submitted - completed at the end of the run; dead-lettered jobs count as lost. */
  jobs_lost: number;
  /** Queue wait (submit to start of the attempt that completed), seconds. Null for the oracle. */
  wait_p50_s: number | null;
  wait_p95_s: number | null;
  wait_max_s: number | null;
  spot_instance_hours: number | null;
  on_demand_instance_hours: number | null;
  swaps: number | null;
  interruptions: number | null;
  max_backlog: number | null;
  /** Where the money went, by what the instances were doing (CostBreakdown). */
  cost_breakdown: CostBreakdown;
  /**
   * Where the money went per pool ("<type>/<az>"): instance-hours by market and their cost. Simulated policies
   * only (the oracle has no pools). `spot_usd_at_or_above_on_demand` is the spot spend while that pool's spot
   * price was at or above on-demand: money a farm could have saved by leaving the pool.
   */
  pools?: Record<string, PoolSummary>;
}

/** One pool's figures in a policy's summary. */
export interface PoolSummary {
  spot_hours: number;
  on_demand_hours: number;
  cost_usd: number;
  spot_usd_at_or_above_on_demand: number;
}

/**
 * Where a policy's money went, per slot of each instance (an instance's price split evenly over its slots):
 * busy_usd + idle_usd + boot_usd + rework_usd = cost_usd.
 * - busy: slots running the attempt of a job that completed (or was still running when the run ended);
 * - rework: slots running an attempt that did not complete (handed back on an interruption or scale-in, or lost
 *   with its instance): that work is run again;
 * - boot: instances booting (launch to in service), and the 60 s billing minimum of short-lived ones;
 * - idle: instances in service with empty slots.
 * on_demand_premium_usd is a view across those four, not a fifth part: what on-demand instance time cost above
 * the cheapest price of its moment (the cheapest spot pool, or on-demand when spot is dearer).
 */
export interface CostBreakdown {
  busy_usd: number;
  idle_usd: number;
  boot_usd: number;
  rework_usd: number;
  on_demand_premium_usd: number;
}

export const emptyBreakdown = (): CostBreakdown => ({ busy_usd: 0, idle_usd: 0, boot_usd: 0, rework_usd: 0, on_demand_premium_usd: 0 });

/** How one simulated policy's run went (diagnostics; not part of the CONTRACTS.md figures). */
export interface RunStats {
  /** Discrete events the simulator processed. */
  events: number;
  /** Wall-clock seconds this policy's simulation took. */
  wall_seconds: number;
  /** When the run stopped: all work done, or the drain limit. */
  end_epoch_s: number;
  /** Jobs moved to the dead-letter queue (counted in jobs_lost). */
  dead_lettered: number;
  /** Jobs still queued or in flight at the end (counted in jobs_lost). */
  still_queued: number;
  /** Launches Auto Scaling could not make (no capacity, or spot price above the max price). */
  launch_failures: number;
  /**
   * Spot instances EC2 interrupted in their first hour, which AWS does not bill (sim/cloud/ec2.ts), and what they
   * would have cost: work done on them is free, so a policy interrupted often can cost less than the oracle.
   */
  free_interrupted_instances?: number;
  free_interrupted_usd?: number;
  /**
   * Hand-backs of the worker agent: re-sent as a new message (receive count 0), by a visibility reset (past the
   * agent's bound: the receive counts), and the most any one job had (docs/worker.md "Hand-back").
   */
  hand_backs_resent?: number;
  hand_backs_by_visibility?: number;
  max_hand_backs_per_job?: number;
  /**
   * Instances Auto Scaling terminated to reach a mixed-instances group's On-Demand/Spot mix after the percentage
   * changed (`mixedFallback=percentage` swaps; sim/cloud/autoscaling.ts, rebalanceMix). Present when any.
   */
  mix_replacements?: number;
  /** Jobs those terminations interrupted (handed back or lost). Present with mix_replacements. */
  mix_replacement_jobs?: number;
  /** spotfarm only: invocations per function, retries, events that failed all 3 attempts, their errors. */
  handler_invocations?: Record<string, number>;
  handler_retries?: number;
  failed_events?: number;
  errors?: { message: string; count: number }[];
  /** SDK calls or expressions the simulated cloud does not emulate (should be empty). */
  not_implemented?: string[];
  /** SNS messages published. */
  notifications?: number;
}

/** The `--json FILE` document. */
export interface BacktestJson {
  scenario: string;
  simulated_hours: number;
  wall_seconds: number;
  policies: Record<PolicyName, PolicySummary>;
  /** Per simulated policy: diagnostics of the run (an addition to the CONTRACTS.md fields). */
  stats?: Partial<Record<PolicyName, RunStats>>;
  /**
   * With `--sweep SETTING=V1,...`: spotfarm at each value and each baseline at its matching target, one point per
   * (policy, value), in the order the values were given (CONTRACTS.md names).
   */
  frontier?: FrontierPoint[];
  /** With `--sweep`: how the baselines were matched, which points dominate which, how it ran (an addition). */
  sweep?: SweepInfo;
}

/** One point of the cost-against-wait frontier. Field names are the JSON contract: keep them exactly. */
export interface FrontierPoint {
  policy: PolicyName;
  /** The swept spotfarm setting, as the tags spell it (`acceptableWait`). */
  setting: string;
  /** The value as given on the command line (`5m`); a baseline point is that baseline at its matching target. */
  value: string;
  cost_usd: number;
  wait_p95_s: number | null;
  jobs_lost: number;
  /**
   * Baseline points (an addition to the CONTRACTS.md fields): the spotfarm point that dominates this one (the
   * cheapest of those that do, then the shortest p95), or null when none does. Absent when the sweep has no spotfarm.
   */
  dominated_by?: { setting: string; value: string } | null;
  /**
   * spotfarm points (an addition): the baseline points whose achieved p95 wait, floored to whole seconds, this
   * run's acceptableWait equals ("cost at equal service", docs/backtest.md), or null for a plain swept point.
   */
  matched?: { policy: PolicyName; value: string }[] | null;
  /**
   * spotfarm points (an addition): settings the run had besides the swept one, as the tags spell them. Present only
   * when there are some: `{idleReceiveDelay: "0s"}` at an acceptableWait the workers' default idle receive delay
   * outlasts (its workers and its scaler at 0 s, as `plan` advises; sweep.also_set_note, docs/backtest.md).
   */
  also_set?: Record<string, string>;
}

/** What a baseline was set to at one value of the sweep (docs/backtest.md, "Frontier"). */
export interface BaselineTargets {
  value: string;
  /** on-demand-only and aws-native: the target of their target tracking on visible messages per instance. */
  target_backlog_per_instance: number;
  /** recipe: its alarms on backlog per slot, scale out at >= high, in at <= low. */
  recipe_alarm_high: number;
  recipe_alarm_low: number;
}

export interface SweepInfo {
  setting: string;
  values: string[];
  baseline_targets: BaselineTargets[];
  /** Each baseline point with the spotfarm values whose point dominates it (cost <=, p95 <=, lost <=). */
  dominance: { policy: PolicyName; value: string; dominated_by: string[] }[];
  /** Worker threads used (0: all runs in the CLI's own thread). */
  threads: number;
  /** Simulations run (a run shared by several points is counted once), matched runs included. */
  runs: number;
  /**
   * Cost at equal service: spotfarm run once more at acceptableWait = the p95 of each baseline point the swept
   * spotfarm points did not dominate. `runs`: those extra runs; `note`: why there were none to make (another
   * setting swept, a pinned backlogPerInstance, no spotfarm); `unmatched`: undominated points left without one.
   */
  matching: { runs: number; note: string | null; unmatched: { policy: PolicyName; value: string; reason: string }[] };
  /** Why some spotfarm points have `also_set` (an addition), or null when none has. */
  also_set_note: string | null;
  /** Diagnostics of the runs besides the plain backtest's (which are in `stats`). */
  run_stats: { value: string; policy: PolicyName; stats: RunStats }[];
}

/** Regularly sampled series of one simulated policy (every `sample_seconds`). */
export interface PolicySeries {
  /** Sample times, epoch seconds. */
  t: number[];
  /** Visible + in-flight messages. */
  backlog: number[];
  /** Running (booting or in service) instances by market. */
  spot_instances: number[];
  on_demand_instances: number[];
  /** Running instances per Auto Scaling group name. */
  by_group: Record<string, number[]>;
  /** Cumulative cost so far, USD. */
  cost_usd: number[];
  /** Waits of jobs that started in each sample interval: p95 of the interval, seconds (null if none). */
  wait_p95_s: (number | null)[];
}

/** Things worth a marker on the charts. */
export interface PolicyMark {
  /** Epoch seconds. */
  t: number;
  kind: 'interruption' | 'swap-to-on-demand' | 'swap-to-spot' | 'storm' | 'capacity-failure';
  detail: string;
}

export interface MarketSeries {
  /** One step function per pool (instance type x AZ): price holds from t[i] until t[i+1]. */
  spot: { instance_type: string; availability_zone: string; t: number[]; price: number[] }[];
  on_demand: { instance_type: string; price: number }[];
}

/** Everything the report needs; the JSON output is its `json` part. */
export interface BacktestResult {
  json: BacktestJson;
  start_epoch_s: number;
  end_epoch_s: number;
  sample_seconds: number;
  market: MarketSeries;
  series: Partial<Record<PolicyName, PolicySeries>>;
  marks: Partial<Record<PolicyName, PolicyMark[]>>;
}
