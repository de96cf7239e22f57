/**
 * From a sweep to the simulations it needs, and from their results to the frontier: one point per simulated
 * policy and value, and which spotfarm points dominate which baseline points.
 *
 * The plain backtest (the scenario as written, every chosen policy, kept whole for the report) is run 0. Each value
 * adds one run for the policies whose configuration that value changes and no earlier run covered: spotfarm when
 * its parsed settings differ from the scenario's, a baseline when its matching target differs (sweep.ts). A point
 * whose configuration an earlier run covered takes that run's figures.
 *
 * Then cost at equal service (planMatches): once the swept runs are in, every baseline point that no spotfarm point
 * dominates gets a spotfarm run at acceptableWait = the p95 it delivered, and dominance is computed again with
 * those points (withMatches). They are marked `matched` everywhere: spotfarm set after the fact to a wait a
 * baseline happened to deliver, not a setting chosen beforehand (docs/backtest.md).
 */
import type { RecipeAlarms } from '../policies/baselines';
import { POLICY_NAMES, type BacktestJson, type BaselineTargets, type FrontierPoint, type PolicyName, type SweepInfo } from '../result';
import type { Scenario } from '../scenario';
import { baselineTargets, isScenarioValue, plainTargets, recipeAlarms, spotfarmSettingsWith, tightTargetTags, type Sweep } from './sweep';
import { applySettings, DEFAULT_SETTINGS } from '../../src/settings';
import { formatDuration } from '../../src/duration';

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
  /**
   * Of those tags, the ones the sweep set besides the swept setting (sweep.ts tightTargetTags: idleReceiveDelay 0s
   * at a target the workers' idle receive delay outlasts); empty when none. Its spotfarm point says so (`also_set`).
   */
  alsoSet: Record<string, string>;
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
      alsoSet: {},
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
    // At the scenario's own value, its own tags; at a target the workers' idle receive delay outlasts, with what
    // plan advises for it (tightTargetTags), which makes a run of its own.
    const own = isScenarioValue(scenario, sweep, value) ? { ...scenario.spotfarm } : { ...scenario.spotfarm, [sweep.setting]: value };
    const alsoSet = tightTargetTags(scenario, own);
    const tags = { ...own, ...alsoSet };
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
        alsoSet,
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

/**
 * The spotfarm point a baseline point's `dominated_by` names: of those that dominate it, the cheapest, then the one
 * with the shortest p95, then the first in the frontier's order (a swept value before a matched one).
 */
export function dominatorOf(points: readonly FrontierPoint[], b: FrontierPoint): FrontierPoint | undefined {
  let best: FrontierPoint | undefined;
  for (const s of points) {
    if (s.policy !== 'spotfarm' || !dominates(s, b)) continue;
    if (!best || s.cost_usd < best.cost_usd || (s.cost_usd === best.cost_usd && p95(s) < p95(best))) best = s;
  }
  return best;
}

/**
 * The points with what dominates what written on them: every baseline point gets `dominated_by` ({setting, value}
 * of its dominator, or null), every spotfarm point `matched` (kept, or null). Without a spotfarm point (--policies)
 * there is nothing to compare with, and baseline points get no `dominated_by`.
 */
export function markDominance(points: readonly FrontierPoint[]): FrontierPoint[] {
  const hasOurs = points.some((p) => p.policy === 'spotfarm');
  return points.map((p) => {
    if (p.policy === 'spotfarm') return { ...p, matched: p.matched ?? null };
    const { dominated_by: _, ...rest } = p;
    if (!hasOurs) return rest;
    const d = dominatorOf(points, p);
    return { ...rest, dominated_by: d ? { setting: d.setting, value: d.value } : null };
  });
}

/** The setting a matched run moves: the wait a baseline delivered is what spotfarm is asked to keep. */
export const MATCH_SETTING = 'acceptableWait';

/** acceptableWait's range (src/settings.ts): a p95 beyond it is matched at the longest wait the tag takes. */
const MAX_WAIT_SECONDS = 7 * 86_400;

/**
 * The acceptableWait that matches a baseline's p95: floored to whole seconds (so spotfarm is asked for no longer a
 * wait than the baseline gave), at least 1 s (the tag's least; a p95 of 0 asks spotfarm for the shortest wait it
 * can be told to keep), at most 7 days.
 */
export function matchSeconds(p95s: number): number {
  return Math.min(MAX_WAIT_SECONDS, Math.max(1, Math.floor(p95s)));
}

/** One acceptableWait to run spotfarm at, for the baseline points whose p95 it matches. */
export interface MatchRun {
  /** The value as the tag would read (`45m11s`), or the swept value that already has it (`20m`). */
  value: string;
  seconds: number;
  /** The task that runs it; undefined when a swept value is this wait already (its point serves). */
  task: number | undefined;
  for: { policy: PolicyName; value: string }[];
}

export interface MatchPlan {
  tasks: SweepTask[];
  /** In ascending order of the wait. */
  runs: MatchRun[];
  /** Why there is nothing to match (matching off), or null. */
  note: string | null;
  unmatched: SweepInfo['matching']['unmatched'];
}

/**
 * Cost at equal service: for every baseline point that no swept spotfarm point dominates, a spotfarm run at
 * acceptableWait = that point's p95 (matchSeconds), one run per distinct wait, none where a swept value already is
 * that wait. Tasks are numbered from `firstId` and run spotfarm alone, with the scenario's other settings.
 */
export function planMatches(
  scenario: Scenario,
  sweep: Sweep,
  points: readonly FrontierPoint[],
  policies: readonly PolicyName[],
  firstId: number,
): MatchPlan {
  const off = (note: string): MatchPlan => ({ tasks: [], runs: [], note, unmatched: [] });
  if (!policies.includes('spotfarm')) return off('spotfarm is not among the policies');
  if (sweep.setting !== MATCH_SETTING) {
    return off(`the sweep is of ${sweep.setting}; matched runs move ${MATCH_SETTING} (sweep ${MATCH_SETTING} to get them)`);
  }
  const own = spotfarmSettingsWith(scenario, {}).settings;
  if (own.backlogPerInstance !== undefined) {
    return off(`the scenario sets spotfarm.backlogPerInstance=${own.backlogPerInstance}, which spotfarm's sizing uses instead of ${MATCH_SETTING}`);
  }
  const ours = points.filter((p) => p.policy === 'spotfarm');
  const swept = new Map(sweep.values.map((v) => [spotfarmSettingsWith(scenario, { [MATCH_SETTING]: v }).settings.acceptableWait, v]));
  const runs = new Map<number, MatchRun>();
  const unmatched: MatchPlan['unmatched'] = [];
  for (const b of points) {
    if (b.policy === 'spotfarm' || ours.some((s) => dominates(s, b))) continue;
    const who = { policy: b.policy, value: b.value };
    if (b.wait_p95_s === null) {
      unmatched.push({ ...who, reason: 'no job started: no p95 wait to match' });
      continue;
    }
    const seconds = matchSeconds(b.wait_p95_s);
    let run = runs.get(seconds);
    if (!run) {
      const value = swept.get(seconds) ?? formatDuration(seconds);
      const { problems } = spotfarmSettingsWith(scenario, { [MATCH_SETTING]: value });
      if (problems.length) {
        unmatched.push({ ...who, reason: `${MATCH_SETTING}=${value} with the scenario's spotfarm settings: ${problems.join('; ')}` });
        continue;
      }
      runs.set(seconds, (run = { value, seconds, task: undefined, for: [] }));
    }
    run.for.push(who);
  }
  const plain = plainTargets(scenario);
  const tasks: SweepTask[] = [];
  const sorted = [...runs.values()].sort((a, b) => a.seconds - b.seconds);
  for (const run of sorted) {
    if (swept.has(run.seconds)) continue;
    run.task = firstId + tasks.length;
    const own = { ...scenario.spotfarm, [sweep.setting]: run.value };
    const alsoSet = tightTargetTags(scenario, own);
    tasks.push({
      id: run.task,
      value: run.value,
      policies: ['spotfarm'],
      spotfarm: { ...own, ...alsoSet },
      alsoSet,
      targetBacklogPerInstance: plain.target_backlog_per_instance,
      recipeAlarms: recipeAlarms(plain),
    });
  }
  return { tasks, runs: sorted, note: null, unmatched };
}

/**
 * The swept points with the matched ones added (after them, in ascending order of the wait) and dominance marked
 * (markDominance). `results(task)`: a matched task's JSON.
 */
export function withMatches(
  sweep: Sweep,
  swept: readonly FrontierPoint[],
  plan: MatchPlan,
  results: (task: number) => Pick<BacktestJson, 'policies'> | undefined,
): FrontierPoint[] {
  const out = swept.map((p) => ({ ...p }));
  for (const run of plan.runs) {
    if (run.task === undefined) {
      const at = out.find((p) => p.policy === 'spotfarm' && p.value === run.value);
      if (!at) throw new Error(`matched run at ${run.value}: the sweep has no spotfarm point there`);
      at.matched = [...(at.matched ?? []), ...run.for];
      continue;
    }
    const s = results(run.task)?.policies.spotfarm;
    if (s === undefined) throw new Error(`matched run ${run.task} (${MATCH_SETTING}=${run.value}) has no figures for spotfarm`);
    const alsoSet = plan.tasks.find((t) => t.id === run.task)?.alsoSet ?? {};
    out.push({
      policy: 'spotfarm',
      setting: sweep.setting,
      value: run.value,
      cost_usd: s.cost_usd,
      wait_p95_s: s.wait_p95_s,
      jobs_lost: s.jobs_lost,
      ...alsoSetOf(alsoSet),
      matched: [...run.for],
    });
  }
  return markDominance(out);
}

/** A point's `also_set`: absent when the run set nothing besides the swept setting. */
function alsoSetOf(alsoSet: Record<string, string>): Pick<FrontierPoint, 'also_set'> {
  return Object.keys(alsoSet).length ? { also_set: { ...alsoSet } } : {};
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
      const alsoSet = policy === 'spotfarm' ? (plan.tasks[task]?.alsoSet ?? {}) : {};
      out.push({ policy, setting: sweep.setting, value, cost_usd: s.cost_usd, wait_p95_s: s.wait_p95_s, jobs_lost: s.jobs_lost, ...alsoSetOf(alsoSet) });
    }
  }
  return out;
}
