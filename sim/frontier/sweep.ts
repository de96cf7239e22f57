/**
 * `--sweep SETTING=V1,V2,...`: which spotfarm setting, which values, and what each baseline is set to at each
 * value. Values go through the parser that reads the groups' `spotfarm:<setting>` tags (src/settings.ts), so a
 * value means in a sweep what it means on a group, and a bad one is refused the same way.
 *
 * Matching the baselines: spotfarm sizes the farm by a backlog per instance derived from its settings
 * (effectiveBacklogPerInstance: acceptableWait / secondsPerJob x slots, AWS's "acceptable backlog per instance",
 * unless backlogPerInstance is set). At each value a baseline's knob moves by the same factor r = spotfarm's
 * backlog per instance at the value / at the scenario's own settings:
 * - on-demand-only and aws-native: target tracking target = the scenario's `baselines.target_backlog_per_instance`
 *   x r (their metric is AWS's documented one, visible messages per in-service instance);
 * - recipe: its two alarms on backlog per slot, 80% and 20% x r (its capacity reacts at r times the backlog).
 * At the scenario's own settings r = 1, so that point is the plain backtest's. A setting that does not enter the
 * sizing (swapRatio, minDwell, ...) leaves r = 1: the baselines run once and appear at every value.
 */
import { scalingPolicyOf } from '../../src/capacity/decide';
import { receiveDelayOutlastsTarget } from '../../src/capacity/service';
import { formatDuration } from '../../src/duration';
import { applySettings, DEFAULT_SETTINGS, effectiveBacklogPerInstance, SETTING_NAMES, type GroupSettings } from '../../src/settings';
import { STEP_ALARMS, type RecipeAlarms } from '../policies/baselines';
import type { BaselineTargets } from '../result';
import type { Scenario } from '../scenario';

/** A bad `--sweep` argument, or values the scenario's other settings make invalid; the message names it. */
export class SweepError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SweepError';
  }
}

export interface Sweep {
  setting: keyof GroupSettings;
  /** As given, in ascending order of the parsed value (as given for settings that are words). */
  values: string[];
}

/** The farm's own figure, not a setting to try values of: it comes from farm.slots_per_instance. */
const NOT_SWEPT = new Set<string>(['slotsPerInstance']);

export const SWEEPABLE = SETTING_NAMES.filter((name) => !NOT_SWEPT.has(name));

const EXAMPLE = 'acceptableWait=2m,5m,10m,20m';

/** Parses `SETTING=V1,V2,...`. Throws SweepError naming the setting or the value. */
export function parseSweep(arg: string): Sweep {
  const eq = arg.indexOf('=');
  if (eq <= 0) throw new SweepError(`--sweep ${arg}: expected SETTING=V1,V2,... (e.g. ${EXAMPLE})`);
  const setting = arg.slice(0, eq).trim();
  if (NOT_SWEPT.has(setting)) {
    throw new SweepError(`--sweep ${setting}: cannot be swept, it is the farm's (farm.slots_per_instance in the scenario)`);
  }
  if (!(SETTING_NAMES as readonly string[]).includes(setting)) {
    throw new SweepError(`--sweep: unknown setting "${setting}" (known: ${SWEEPABLE.join(', ')})`);
  }
  const raw = arg.slice(eq + 1).split(',').map((v) => v.trim());
  if (raw.length === 0 || raw.some((v) => v === '')) {
    throw new SweepError(`--sweep ${setting}: expected a comma-separated list of values, with none empty (e.g. ${EXAMPLE})`);
  }
  const parsed = new Map<string, unknown>();
  for (const value of raw) {
    const { settings, problems } = applySettings(DEFAULT_SETTINGS, { [setting]: value }, (key) => `--sweep ${key}`);
    // Only the value's own problem: cross-setting checks need the scenario (checkSweep).
    const own = problems.find((p) => p.startsWith(`--sweep ${setting}=`));
    if (own) throw new SweepError(own);
    const v = settings[setting as keyof GroupSettings];
    const twin = [...parsed].find(([, p]) => p === v);
    if (twin) throw new SweepError(`--sweep ${setting}: ${value} is the same value as ${twin[0]}`);
    parsed.set(value, v);
  }
  const values = [...parsed.keys()];
  if ([...parsed.values()].every((v) => typeof v === 'number')) {
    values.sort((a, b) => (parsed.get(a) as number) - (parsed.get(b) as number));
  }
  return { setting: setting as keyof GroupSettings, values };
}

/** The scenario's `spotfarm:` tags with the farm's slots, as buildSpotfarmFarm writes them on the groups. */
function scenarioTags(scenario: Scenario): Record<string, string> {
  return { slotsPerInstance: String(scenario.farm.slotsPerInstance), ...scenario.spotfarm };
}

function settingsOf(scenario: Scenario, overrides: Record<string, string>, describe?: (key: string) => string) {
  return applySettings(DEFAULT_SETTINGS, { ...scenarioTags(scenario), ...overrides }, describe);
}

/**
 * Checks every value together with the scenario's other settings (e.g. a swept hysteresis must stay below the
 * scenario's swapRatio). Throws SweepError naming the value.
 */
export function checkSweep(scenario: Scenario, sweep: Sweep): void {
  for (const value of sweep.values) {
    const { problems } = settingsOf(scenario, { [sweep.setting]: value });
    if (problems.length) {
      throw new SweepError(`--sweep ${sweep.setting}=${value}: with the scenario's spotfarm settings, ${problems.join('; ')}`);
    }
  }
}

/** What a run at a target the workers' idle receive delay outlasts sets besides the swept setting. */
export const TIGHT_TARGET_TAGS: Readonly<Record<string, string>> = Object.freeze({ idleReceiveDelay: '0s' });

/**
 * The tags a spotfarm run adds to `tags` (the scenario's with the swept value) to run as a user following `plan`'s
 * advice would: a service-policy target shorter than the workers' idle receive delay cannot be kept with busy-first
 * receiving (src/capacity/service.ts, receiveDelayOutlastsTarget), and plan says to start the workers with
 * `--idle-receive-delay 0` and tag `idleReceiveDelay=0s`. The tag does both here: the scaler reads it and the
 * backtest starts spotfarm's simulated workers with it (sim/runner.ts). Nothing when the scenario or the sweep sets
 * idleReceiveDelay itself: that is the user's choice, and the run keeps it. Empty otherwise.
 */
export function tightTargetTags(scenario: Scenario, tags: Record<string, string>): Record<string, string> {
  if (tags.idleReceiveDelay !== undefined) return {};
  const { settings, problems } = applySettings(DEFAULT_SETTINGS, { slotsPerInstance: String(scenario.farm.slotsPerInstance), ...tags });
  if (problems.length || scalingPolicyOf(settings) !== 'service' || !receiveDelayOutlastsTarget(settings)) return {};
  return { ...TIGHT_TARGET_TAGS };
}

/** Why a point has `also_set` (the JSON's sweep.also_set_note, the table's and the report's note). */
export function tightTargetNote(): string {
  return (
    `an acceptableWait shorter than the workers' idle receive delay (${formatDuration(DEFAULT_SETTINGS.idleReceiveDelay)} by default) cannot be kept ` +
    'with busy-first receiving, and spotfarm plan says to start the workers with --idle-receive-delay 0 and tag ' +
    `idleReceiveDelay=0s: spotfarm's runs at such a target (when the scenario does not set idleReceiveDelay) do so, ` +
    'its simulated workers and its scaler both; their points say idleReceiveDelay 0s'
  );
}

/** True when the value changes none of spotfarm's settings (it is the scenario's own): the plain run serves it. */
export function isScenarioValue(scenario: Scenario, sweep: Sweep, value: string): boolean {
  const at = settingsOf(scenario, { [sweep.setting]: value }).settings;
  const own = settingsOf(scenario, {}).settings;
  return JSON.stringify(at) === JSON.stringify(own);
}

const round = (v: number) => Math.round(v * 1e6) / 1e6;

function scaled(scenario: Scenario, r: number, value: string): BaselineTargets {
  return {
    value,
    target_backlog_per_instance: round(scenario.baselines.targetBacklogPerInstance * r),
    recipe_alarm_high: round(STEP_ALARMS.high * r),
    recipe_alarm_low: round(STEP_ALARMS.low * r),
  };
}

/** What each baseline is set to in the plain backtest (the scenario as written). */
export function plainTargets(scenario: Scenario): BaselineTargets {
  return scaled(scenario, 1, '');
}

/** What each baseline is set to at `value` (module comment: the factor r). */
export function baselineTargets(scenario: Scenario, sweep: Sweep, value: string): BaselineTargets {
  const own = effectiveBacklogPerInstance(settingsOf(scenario, {}).settings);
  const at = effectiveBacklogPerInstance(settingsOf(scenario, { [sweep.setting]: value }).settings);
  return scaled(scenario, at / own, value);
}

export function recipeAlarms(targets: BaselineTargets): RecipeAlarms {
  return { high: targets.recipe_alarm_high, low: targets.recipe_alarm_low };
}

/** spotfarm's settings with `overrides` on the scenario's, and what the parser found wrong with them. */
export function spotfarmSettingsWith(scenario: Scenario, overrides: Record<string, string>) {
  return settingsOf(scenario, overrides);
}

/**
 * A sweep of a sizing setting does nothing while the scenario sets backlogPerInstance, which spotfarm's sizing
 * takes over acceptableWait and secondsPerJob: said before the runs rather than found in a flat frontier.
 */
export function sweepNotes(scenario: Scenario, sweep: Sweep): string[] {
  const own = settingsOf(scenario, {}).settings;
  const notes: string[] = [];
  if ((sweep.setting === 'acceptableWait' || sweep.setting === 'secondsPerJob') && own.backlogPerInstance !== undefined) {
    notes.push(
      `the scenario sets spotfarm.backlogPerInstance=${own.backlogPerInstance}, which spotfarm's sizing uses instead of ` +
        `${sweep.setting}: the baselines' targets do not move with it (remove backlogPerInstance from the scenario to sweep ${sweep.setting})`,
    );
  }
  return notes;
}
