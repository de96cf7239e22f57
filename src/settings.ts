/**
 * Per-group settings. A group opts in with the tag `spotfarm:farm=<farm>`; other `spotfarm:<setting>` tags
 * override the stack's defaults for that group, the setting spelled exactly as below (CONTRACTS.md).
 * The same parser reads the stack defaults (SPOTFARM_DEFAULTS="swapRatio=0.9,minDwell=1h") and the backtest's
 * `spotfarm:` block, so a value means the same thing everywhere.
 */
import { GroupConfigError } from './errors';
import { formatDuration, parseDuration } from './duration';
import { IDLE_RECEIVE_DELAY_SECONDS } from '../worker/rules';

export const TAG_PREFIX = 'spotfarm:';
export const FARM_TAG = 'spotfarm:farm';
export const ROLE_TAG = 'spotfarm:role';
export const QUEUE_TAG = 'spotfarm:queue';

export type GroupRole = 'spot' | 'on-demand';
export type RebalanceMode = 'ignore' | 'record' | 'replace';
export type RevertMode = 'none' | 'gradual';
export type ScalingPolicy = 'service' | 'target' | 'step';
/**
 * How a mixed-instances group falls back: `on-demand-group` (default) leaves the group alone and the farm's
 * on-demand group takes the spot group's share; `percentage` sets its OnDemandPercentageAboveBaseCapacity to
 * 100, which makes Auto Scaling replace the running spot instances with on-demand ones (and back on the return).
 */
export type MixedFallback = 'on-demand-group' | 'percentage';

export interface GroupSettings {
  /** Fall back to on-demand when spot >= on-demand x swapRatio. */
  swapRatio: number;
  /** Consecutive price checks a price signal must hold before a swap either way. */
  confirmChecks: number;
  /** Return to spot only when spot <= on-demand x (swapRatio - hysteresis). */
  hysteresis: number;
  /** Seconds to stay on on-demand before a return to spot (doubled by back-off). */
  minDwell: number;
  /** Capacity failures within capacityWindow that force a fall back at once (short, and no room in the on-demand group). */
  capacityFailures: number;
  /** Seconds of the capacity-failure window. */
  capacityWindow: number;
  /** Interruptions per instance-hour in the group's pools (over breakerWindow) that trip the breaker. */
  breakerInterruptions: number;
  /** Seconds of the interruption window the breaker looks at. */
  breakerWindow: number;
  rebalance: RebalanceMode;
  revert: RevertMode;
  /** Instances replaced per check when revert=gradual. */
  revertBatch: number;
  scalingPolicy: ScalingPolicy;
  /** Messages (visible + in flight) one instance should carry; undefined = derived from the three below. */
  backlogPerInstance: number | undefined;
  slotsPerInstance: number;
  secondsPerJob: number;
  acceptableWait: number;
  scaleOutPercent: number;
  scaleInStep: number;
  /** Seconds between two scale-ins (and between two step scale-outs). */
  scaleInCooldown: number;
  /** Minutes with nothing visible or in flight before scaling to zero. */
  idleMinutes: number;
  /** Seconds a spot shortfall must last before the on-demand group covers it. */
  fallbackDelay: number;
  mixedFallback: MixedFallback;
  /**
   * The farm's workers' `--idle-receive-delay`, seconds: how long after its boot an instance running nothing takes
   * its first job (busy-first receiving). The `service` policy takes it off the wait budget; it cannot see the
   * workers' flag, so a farm that starts them with another value says so here.
   */
  idleReceiveDelay: number;
}

export const DEFAULT_SETTINGS: Readonly<GroupSettings> = Object.freeze({
  swapRatio: 1.0,
  confirmChecks: 2,
  hysteresis: 0.1,
  minDwell: 30 * 60,
  capacityFailures: 2,
  capacityWindow: 15 * 60,
  // 0.25 interruptions per instance-hour over the last hour: a pool losing a quarter of its instances in an
  // hour. The Spot Advisor's worst bucket (>20% a month) is ~0.0003/instance-hour, so this only trips in storms.
  breakerInterruptions: 0.25,
  breakerWindow: 60 * 60,
  rebalance: 'record',
  revert: 'none',
  revertBatch: 1,
  scalingPolicy: 'service',
  backlogPerInstance: undefined,
  slotsPerInstance: 1,
  secondsPerJob: 600,
  acceptableWait: 600,
  scaleOutPercent: 50,
  scaleInStep: 1,
  scaleInCooldown: 5 * 60,
  idleMinutes: 15,
  fallbackDelay: 5 * 60,
  mixedFallback: 'on-demand-group',
  idleReceiveDelay: IDLE_RECEIVE_DELAY_SECONDS,
});

type Parser = (raw: string) => { ok: true; value: unknown } | { ok: false; expected: string };

/**
 * A number as people write one in a tag: plain decimal digits with an optional fraction, at most 16 characters.
 * No sign, exponent, hex, `Infinity` or blank: `Number()` reads `0x10` as 16 and `1e-300` as a number, and a tag
 * typed that way is a mistake, not a setting.
 */
const DECIMAL = /^\d{1,10}(\.\d{1,6})?$/;
const WHOLE = /^\d{1,10}$/;

/** The documented range of each numeric setting (docs/market.md, docs/scaling.md show the same table). */
export type SettingRange =
  | { kind: 'decimal' | 'whole'; min: number; max: number }
  | { kind: 'duration'; min: number; max: number };

const decimal = (min: number, max: number): SettingRange => ({ kind: 'decimal', min, max });
const whole = (min: number, max: number): SettingRange => ({ kind: 'whole', min, max });
const span = (min: number, max: number): SettingRange => ({ kind: 'duration', min, max });
const DAY = 86_400;

export const SETTING_RANGES: Readonly<Partial<Record<keyof GroupSettings, SettingRange>>> = Object.freeze({
  swapRatio: decimal(0.0001, 100),
  confirmChecks: whole(1, 100),
  hysteresis: decimal(0, 100),
  minDwell: span(1, 30 * DAY),
  capacityFailures: whole(1, 1000),
  capacityWindow: span(60, DAY),
  breakerInterruptions: decimal(0.0001, 1000),
  breakerWindow: span(60, 7 * DAY),
  revertBatch: whole(1, 1000),
  backlogPerInstance: decimal(0.01, 1_000_000),
  slotsPerInstance: whole(1, 1000),
  secondsPerJob: span(1, 7 * DAY),
  acceptableWait: span(1, 7 * DAY),
  scaleOutPercent: decimal(1, 10_000),
  scaleInStep: whole(1, 10_000),
  scaleInCooldown: span(0, DAY),
  idleMinutes: whole(0, 7 * 24 * 60),
  fallbackDelay: span(0, DAY),
  // The worker agent refuses an --idle-receive-delay above 600 s (worker/index.ts).
  idleReceiveDelay: span(0, 600),
});

/** `from 0.0001 to 100`, `from 1s to 30d`: the range as the error and the docs say it. */
export function describeRange(range: SettingRange): string {
  const show = (n: number) => (range.kind === 'duration' ? formatDuration(n) : String(n));
  const what = range.kind === 'decimal' ? 'a decimal number' : range.kind === 'whole' ? 'a whole number' : 'a duration (90s, 30m, 2h, 1d)';
  return `${what} from ${show(range.min)} to ${show(range.max)}`;
}

const ranged =
  (range: SettingRange): Parser =>
  (raw) => {
    const text = raw.trim();
    const value =
      range.kind === 'duration'
        ? text.length <= 24
          ? parseDuration(text)
          : undefined
        : (range.kind === 'decimal' ? DECIMAL : WHOLE).test(text)
          ? Number(text)
          : undefined;
    return value !== undefined && Number.isFinite(value) && value >= range.min && value <= range.max
      ? { ok: true, value }
      : { ok: false, expected: describeRange(range) };
  };

const oneOf =
  (...values: string[]): Parser =>
  (raw) =>
    values.includes(raw.trim()) ? { ok: true, value: raw.trim() } : { ok: false, expected: `one of ${values.join(', ')}` };

const numeric = (name: keyof GroupSettings): Parser => ranged(SETTING_RANGES[name] as SettingRange);

const PARSERS: Record<keyof GroupSettings, Parser> = {
  swapRatio: numeric('swapRatio'),
  confirmChecks: numeric('confirmChecks'),
  hysteresis: numeric('hysteresis'),
  minDwell: numeric('minDwell'),
  capacityFailures: numeric('capacityFailures'),
  capacityWindow: numeric('capacityWindow'),
  breakerInterruptions: numeric('breakerInterruptions'),
  breakerWindow: numeric('breakerWindow'),
  rebalance: oneOf('ignore', 'record', 'replace'),
  // `gradual` (replace on-demand instances with spot ones after a return, a bounded number per check) is not built
  // yet; refusing it names the tag, where accepting it would silently do nothing.
  revert: (raw) =>
    raw.trim() === 'gradual'
      ? { ok: false, expected: 'none (revert=gradual is not available yet: after a return to spot, on-demand instances leave first on scale-in, by the termination policy)' }
      : oneOf('none')(raw),
  revertBatch: numeric('revertBatch'),
  scalingPolicy: oneOf('service', 'target', 'step'),
  backlogPerInstance: numeric('backlogPerInstance'),
  slotsPerInstance: numeric('slotsPerInstance'),
  secondsPerJob: numeric('secondsPerJob'),
  acceptableWait: numeric('acceptableWait'),
  scaleOutPercent: numeric('scaleOutPercent'),
  scaleInStep: numeric('scaleInStep'),
  scaleInCooldown: numeric('scaleInCooldown'),
  idleMinutes: numeric('idleMinutes'),
  fallbackDelay: numeric('fallbackDelay'),
  mixedFallback: oneOf('on-demand-group', 'percentage'),
  idleReceiveDelay: numeric('idleReceiveDelay'),
};

export const SETTING_NAMES = Object.keys(PARSERS) as (keyof GroupSettings)[];

/** Tags that are not settings but are spotfarm's own. */
const RESERVED_TAGS = new Set([FARM_TAG, ROLE_TAG, QUEUE_TAG]);

/**
 * Reads `name=value` overrides (from tags or the stack defaults) onto `base`.
 * Returns the problems instead of throwing so the caller can name the group.
 */
export function applySettings(
  base: Readonly<GroupSettings>,
  overrides: Record<string, string>,
  describe: (key: string) => string = (key) => `tag ${TAG_PREFIX}${key}`,
): { settings: GroupSettings; problems: string[] } {
  const settings: GroupSettings = { ...base };
  const problems: string[] = [];
  for (const [key, raw] of Object.entries(overrides)) {
    const parser = PARSERS[key as keyof GroupSettings];
    if (!parser) {
      problems.push(`unknown setting ${describe(key)}=${raw} (known: ${SETTING_NAMES.join(', ')})`);
      continue;
    }
    const parsed = parser(raw);
    if (parsed.ok) {
      (settings as unknown as Record<string, unknown>)[key] = parsed.value;
    } else {
      problems.push(`${describe(key)}=${raw}: expected ${parsed.expected}`);
    }
  }
  if (settings.hysteresis >= settings.swapRatio) {
    problems.push(
      `hysteresis ${settings.hysteresis} must be below swapRatio ${settings.swapRatio} (spot could never be cheap enough to return)`,
    );
  }
  return { settings, problems };
}

/**
 * `swapRatio=0.9, minDwell=1h` (the stack's `defaults` param, SPOTFARM_DEFAULTS) onto DEFAULT_SETTINGS, with every
 * problem named by `describe` (the stack check names the param, the function names the variable).
 */
export function parseDefaults(
  text: string,
  describe: (key: string) => string,
): { settings: GroupSettings; problems: string[] } {
  const overrides: Record<string, string> = {};
  const problems: string[] = [];
  for (const part of text.split(',')) {
    const trimmed = part.trim();
    if (trimmed === '') continue;
    const eq = trimmed.indexOf('=');
    if (eq <= 0) {
      problems.push(`${describe(trimmed)}: expected name=value`);
      continue;
    }
    overrides[trimmed.slice(0, eq).trim()] = trimmed.slice(eq + 1).trim();
  }
  const applied = applySettings(DEFAULT_SETTINGS, overrides, describe);
  return { settings: applied.settings, problems: [...problems, ...applied.problems] };
}

/** The opt-in and role read from a group's tags, with its settings. */
export interface GroupTags {
  farm: string;
  role: GroupRole;
  queue: string | undefined;
  settings: GroupSettings;
}

/**
 * Reads a managed group's spotfarm tags. Throws GroupConfigError naming the group, the tag and the value for an
 * unknown or malformed setting, so the caller skips that group whole and goes on with the others.
 */
export function readGroupTags(
  groupName: string,
  tags: Record<string, string>,
  defaults: Readonly<GroupSettings>,
): GroupTags {
  const problems: string[] = [];
  const farm = tags[FARM_TAG]?.trim() ?? '';
  if (farm === '') problems.push(`tag ${FARM_TAG} is empty`);
  const roleRaw = tags[ROLE_TAG]?.trim() ?? 'spot';
  if (roleRaw !== 'spot' && roleRaw !== 'on-demand') {
    problems.push(`tag ${ROLE_TAG}=${roleRaw}: expected spot or on-demand`);
  }
  const queue = tags[QUEUE_TAG]?.trim() || undefined;
  const overrides: Record<string, string> = {};
  for (const [key, value] of Object.entries(tags)) {
    if (key.startsWith(TAG_PREFIX) && !RESERVED_TAGS.has(key)) overrides[key.slice(TAG_PREFIX.length)] = value;
  }
  const { settings, problems: settingProblems } = applySettings(defaults, overrides);
  problems.push(...settingProblems);
  if (problems.length > 0) throw new GroupConfigError(groupName, problems);
  return { farm, role: roleRaw as GroupRole, queue, settings };
}

/** Backlog one instance should carry: set directly, or the AWS "backlog per instance" method. */
export function effectiveBacklogPerInstance(settings: GroupSettings): number {
  if (settings.backlogPerInstance !== undefined) return settings.backlogPerInstance;
  // Acceptable backlog per instance = acceptable queue time / time one instance needs per message,
  // and an instance with N slots works through N messages at once.
  return Math.max(1, (settings.acceptableWait / settings.secondsPerJob) * settings.slotsPerInstance);
}

/** Settings as a user would write them back as tags (durations readable), for plans and logs. */
export function describeSettings(settings: GroupSettings): Record<string, string | number> {
  const durations = new Set<keyof GroupSettings>([
    'minDwell', 'capacityWindow', 'breakerWindow', 'secondsPerJob', 'acceptableWait', 'scaleInCooldown', 'fallbackDelay', 'idleReceiveDelay',
  ]);
  const out: Record<string, string | number> = {};
  for (const name of SETTING_NAMES) {
    const value = settings[name];
    if (value === undefined) continue;
    out[name] = durations.has(name) ? formatDuration(value as number) : (value as string | number);
  }
  return out;
}
