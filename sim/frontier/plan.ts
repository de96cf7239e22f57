/**
 * From a sweep to the simulations it needs, and from their results to the frontier: one point per simulated
 * policy and value, and which spotfarm points dominate which baseline points.
 *
 * The plain backtest (the scenario as written, every chosen policy, kept whole for the report) is run 0. Each value
 * adds one run for the policies whose configuration that value changes and no earlier run covered: spotfarm when
 * its parsed settings differ from the scenario's, a baseline when its matching target differs (sweep.ts). A point
 * whose configuration an earlier run covered takes that run's figures.
 */
import type { RecipeAlarms } from '../policies/baselines';
import { POLICY_NAMES, type BacktestJson, type BaselineTargets, type FrontierPoint, type PolicyName, type SweepInfo } from '../result';
import type { Scenario } from '../scenario';
import { baselineTargets, isScenarioValue, plainTargets, recipeAlarms, spotfarmTagsAt, type Sweep } from './sweep';
import { applySettings, DEFAULT_SETTINGS } from '../../src/settings';

/** The policies a frontier has points for: the simulated ones (the bounds have no setting to move). */
export const FRONTIER_POLICIES: readonly PolicyName[] = ['spotfarm', 'on-demand-only', 'recipe', 'aws-native'];

/** One simulation of a sweep: plain data, so it can be posted to a worker thread. */
export interface SweepTask {
  id: number;
  /** The value it serves first (undefined: the plain backtest). */
  value: string | undefined;
  policies: PolicyName[];
  /** spotfarm's `spotfarm:<setting>` tags for this run. */
  spotfarm: Record<string, string>;
  /** on-demand-only and aws-native: their target tracking target. */
  targetBacklogPerInstance: number;
  recipeAlarms: RecipeAlarms;
}

export interface SweepPlan {
  tasks: SweepTask[];
  targets: BaselineTargets[];
  /** For each value, which task's figures each frontier policy takes. */
  sources: { value: string; from: Partial<Record<PolicyName, number>> }[];
}

function configKey(scenario: Scenario, policy: PolicyName, spotfarm: Record<string, string>, targets: BaselineTargets): string {
  if (policy === 'spotfarm') {
    const tags = { slotsPerInstance: String(scenario.farm.slotsPerInstance), ...spotfarm };
    return JSON.stringify(applySettings(DEFAULT_SETTINGS, tags).settings);
  }
  if (policy === 'recipe') return `${targets.recipe_alarm_high}/${targets.recipe_alarm_low}`;
  return String(targets.target_backlog_per_instance);
}

/** The runs a sweep needs (module comment). `policies`: the chosen ones, bounds included. */
export function planSweep(scenario: Scenario, sweep: Sweep, policies: readonly PolicyName[]): SweepPlan {
  const plain = plainTargets(scenario);
  const tasks: SweepTask[] = [
    {
      id: 0,
      value: undefined,
      policies: [...policies],
      spotfarm: { ...scenario.spotfarm },
      targetBacklogPerInstance: plain.target_backlog_per_instance,
      recipeAlarms: recipeAlarms(plain),
    },
  ];
  const frontier = FRONTIER_POLICIES.filter((p) => policies.includes(p));
  const covered = new Map<string, number>();
  for (const p of frontier) covered.set(`${p}|${configKey(scenario, p, scenario.spotfarm, plain)}`, 0);

  const targets: BaselineTargets[] = [];
  const sources: SweepPlan['sources'] = [];
  for (const value of sweep.values) {
    const at = baselineTargets(scenario, sweep, value);
    targets.push(at);
    const tags = isScenarioValue(scenario, sweep, value) ? { ...scenario.spotfarm } : spotfarmTagsAt(scenario, sweep, value);
    const from: Partial<Record<PolicyName, number>> = {};
    const fresh: PolicyName[] = [];
    for (const p of frontier) {
      const key = `${p}|${configKey(scenario, p, tags, at)}`;
      const known = covered.get(key);
      if (known !== undefined) from[p] = known;
      else {
        fresh.push(p);
        covered.set(key, tasks.length);
        from[p] = tasks.length;
      }
    }
    if (fresh.length) {
      tasks.push({
        id: tasks.length,
        value,
        policies: fresh,
        spotfarm: tags,
        targetBacklogPerInstance: at.target_backlog_per_instance,
        recipeAlarms: recipeAlarms(at),
      });
    }
    sources.push({ value, from });
  }
  return { tasks, targets, sources };
}

/** p95 of a point for comparisons: a run in which no job started has none, and is worse than any that has. */
const p95 = (p: FrontierPoint) => p.wait_p95_s ?? Infinity;

/** `a` dominates `b`: it costs no more, makes jobs wait no longer at p95, and loses no more jobs. */
export function dominates(a: FrontierPoint, b: FrontierPoint): boolean {
  return a.cost_usd <= b.cost_usd && p95(a) <= p95(b) && a.jobs_lost <= b.jobs_lost;
}

/** Each baseline point with the spotfarm values whose points dominate it (empty: none does). */
export function dominance(points: readonly FrontierPoint[]): SweepInfo['dominance'] {
  const ours = points.filter((p) => p.policy === 'spotfarm');
  // Without spotfarm in the sweep (--policies) there is nothing to compare the baselines with.
  if (ours.length === 0) return [];
  return points
    .filter((p) => p.policy !== 'spotfarm')
    .map((b) => ({ policy: b.policy, value: b.value, dominated_by: ours.filter((s) => dominates(s, b)).map((s) => s.value) }));
}

/** The frontier's points, value by value, each policy in the report's order, from the runs' JSON. */
export function frontierPoints(sweep: Sweep, plan: SweepPlan, results: readonly Pick<BacktestJson, 'policies'>[]): FrontierPoint[] {
  const out: FrontierPoint[] = [];
  for (const { value, from } of plan.sources) {
    for (const policy of POLICY_NAMES) {
      const task = from[policy];
      if (task === undefined) continue;
      const s = results[task]?.policies[policy];
      if (s === undefined) throw new Error(`sweep run ${task} has no figures for ${policy}`);
      out.push({ policy, setting: sweep.setting, value, cost_usd: s.cost_usd, wait_p95_s: s.wait_p95_s, jobs_lost: s.jobs_lost });
    }
  }
  return out;
}
