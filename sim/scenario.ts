/**
 * Scenario files: YAML, validated strictly (unknown field, wrong type, missing file, unknown instance type are
 * errors naming the field's path), paths relative to the file. `loadScenario` reads everything the run needs,
 * so a bad scenario fails before anything is simulated or written.
 */
import { existsSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { applySettings, DEFAULT_SETTINGS } from '../src/settings';
import { valueAt } from '../src/validation';
import { ADVISOR_SNAPSHOTS, advisorRate, knownInstanceTypes } from './advisor';
import { Market, StepSeries } from './market';
import { isoToEpoch, parseDuration } from './time';
import { buildWorkload, parseTrace, readText, type Workload } from './workload';

/** A scenario that cannot run; `message` names the file and the field. */
export class ScenarioError extends Error {
  constructor(
    message: string,
    readonly issues: string[] = [message],
  ) {
    super(message);
    this.name = 'ScenarioError';
  }
}

const duration = z.union([z.string(), z.number()], { error: 'expected a duration such as 30m, 2h or 3d' }).refine(
  (v) => parseDuration(v) !== null,
  { message: 'expected a duration such as 30m, 2h or 3d' },
);
const num = z.number({ error: 'expected a number' });
const nonNegative = num.min(0, { error: 'expected a number >= 0' });
const positive = num.positive({ error: 'expected a number > 0' });
const count = z.number({ error: 'expected a whole number' }).int({ error: 'expected a whole number' });
const text = z.string({ error: 'expected a string' }).min(1, { error: 'expected a non-empty string' });
const sizes = z
  .strictObject({ min: count.min(0, { error: 'expected a whole number >= 0' }), max: count.min(0) })
  .refine((s) => s.max >= s.min, { message: 'max must be >= min' });

const schema = z.strictObject({
  name: text,
  description: z.string({ error: 'expected a string' }).optional(),
  start: z
    .string({ error: 'expected an ISO-8601 time such as 2015-05-05T00:00:00Z' })
    .refine((v) => Number.isFinite(isoToEpoch(v)), { message: 'expected an ISO-8601 time such as 2015-05-05T00:00:00Z' }),
  duration,
  drain_limit: duration.optional(),
  region: text,
  seed: count.optional(),
  sample_every: duration.optional(),
  instance_types: z.array(text, { error: 'expected a list of instance types' }).min(1, { error: 'expected at least one instance type' }),
  availability_zones: z.array(text, { error: 'expected a list of availability zones' }).min(1, { error: 'expected at least one availability zone' }),
  prices: z.strictObject({
    spot: text,
    on_demand: z.union([positive, text], { error: 'expected a price in USD/h or a CSV path' }),
  }),
  workload: z.strictObject({
    trace: text,
    from: duration.optional(),
    time_scale: positive.optional(),
    runtime_scale: positive.optional(),
    max_runtime: duration.optional(),
  }),
  interruptions: z
    .strictObject({
      price_above_max: z.boolean({ error: 'expected true or false' }).optional(),
      rate: z.union([z.literal('advisor'), nonNegative], { error: 'expected "advisor" or a number per instance-hour' }).optional(),
      advisor_snapshot: z.enum(ADVISOR_SNAPSHOTS, { error: `expected one of ${ADVISOR_SNAPSHOTS.join(', ')}` }).optional(),
      rebalance: z
        .strictObject({
          fraction: nonNegative.max(1, { error: 'expected a number between 0 and 1' }).optional(),
          lead: duration.optional(),
        })
        .optional(),
      storms: z
        .array(
          z.strictObject({
            at: duration,
            availability_zone: text,
            instance_type: text,
            fraction: nonNegative.max(1, { error: 'expected a number between 0 and 1' }),
            unavailable_for: duration,
            market: z.enum(['spot', 'on-demand'], { error: 'expected spot or on-demand' }).optional(),
          }),
          { error: 'expected a list of storms' },
        )
        .optional(),
    })
    .optional(),
  farm: z.strictObject({
    name: text.optional(),
    market_style: z.enum(['launch-template', 'launch-configuration', 'mixed-instances'], {
      error: 'expected launch-template, launch-configuration or mixed-instances',
    }),
    slots_per_instance: count.min(1, { error: 'expected a whole number >= 1' }),
    boot_seconds: nonNegative,
    spot: sizes,
    on_demand: sizes,
    visibility_timeout_s: count.min(0).max(43_200, { error: 'expected at most 43200 (12 h)' }),
    max_receive_count: count.min(1, { error: 'expected a whole number >= 1' }),
    health_check_delay: duration.optional(),
  }),
  schedules: z.strictObject({ price_check: duration.optional(), queue_scaler: duration.optional() }).optional(),
  alarms: z
    .strictObject({
      backlog_high: z.strictObject({ threshold: nonNegative, evaluation_periods: count.min(1) }).optional(),
      backlog_low: z.strictObject({ threshold: nonNegative, evaluation_periods: count.min(1) }).optional(),
    })
    .optional(),
  baselines: z
    .strictObject({
      target_backlog_per_instance: positive.optional(),
      min_instances: count.min(0).optional(),
    })
    .optional(),
  spotfarm: z
    .record(z.string(), z.union([z.string(), z.number(), z.boolean()], { error: 'expected a string, number or boolean' }))
    .optional()
    .superRefine((value, ctx) => {
      // The same parser that reads the groups' spotfarm:<setting> tags (src/settings.ts).
      const raw: Record<string, string> = {};
      for (const [key, v] of Object.entries(value ?? {})) raw[key] = String(v);
      const { problems } = applySettings(DEFAULT_SETTINGS, raw, (key) => key);
      for (const problem of problems) {
        const key = Object.keys(raw).find((k) => problem.startsWith(`${k}=`) || problem.startsWith(`unknown setting ${k}=`));
        let message = problem;
        if (key && problem.startsWith('unknown setting')) message = `unknown setting${problem.slice(problem.indexOf(' (known'))}`;
        else if (key) message = `${problem.slice(`${key}=${raw[key]}: `.length)} (got "${raw[key]}")`;
        ctx.addIssue({ code: 'custom', path: key ? [key] : [], message });
      }
    }),
});

export type ScenarioFile = z.infer<typeof schema>;

export interface Storm {
  at: number;
  availabilityZone: string;
  instanceType: string;
  fraction: number;
  unavailableFor: number;
  /**
   * The market left without capacity (default spot). An on-demand storm interrupts nothing (on-demand instances
   * are not taken back); on-demand launches in the pool fail with InsufficientInstanceCapacity while it lasts.
   */
  market?: 'spot' | 'on-demand';
}

/** A scenario with every default applied, durations in seconds, times in epoch seconds, data loaded. */
export interface Scenario {
  name: string;
  description: string;
  /** The file it came from, as given. */
  path: string;
  start: number;
  duration: number;
  drainLimit: number;
  region: string;
  seed: number;
  sampleSeconds: number;
  instanceTypes: string[];
  availabilityZones: string[];
  market: Market;
  workload: Workload;
  interruptions: {
    priceAboveMax: boolean;
    /** Per instance-hour, per instance type. */
    rate: Map<string, number>;
    rateSource: string;
    rebalanceFraction: number;
    rebalanceLead: number;
    storms: Storm[];
  };
  farm: {
    name: string;
    marketStyle: 'launch-template' | 'launch-configuration' | 'mixed-instances';
    slotsPerInstance: number;
    bootSeconds: number;
    spot: { min: number; max: number };
    onDemand: { min: number; max: number };
    visibilityTimeout: number;
    maxReceiveCount: number;
    healthCheckDelay: number;
  };
  schedules: { priceCheck: number; queueScaler: number };
  alarms: {
    backlogHigh: { threshold: number; evaluationPeriods: number };
    backlogLow: { threshold: number; evaluationPeriods: number };
  };
  baselines: { targetBacklogPerInstance: number; minInstances: number };
  /** `spotfarm:<setting>` tag values. */
  spotfarm: Record<string, string>;
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(top level)';
}

function issueMessages(error: z.ZodError, raw: unknown): string[] {
  const out: string[] = [];
  for (const issue of error.issues) {
    if (issue.code !== 'unrecognized_keys' && issue.code !== 'custom' && valueAt(raw, issue.path) === undefined) {
      out.push(`${formatPath(issue.path)}: required field is missing`);
      continue;
    }
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push(`${formatPath([...issue.path, key])}: unknown field`);
      continue;
    }
    let message = issue.message;
    if (issue.code === 'invalid_type') {
      const received = /received (\w+)/.exec(issue.message)?.[1];
      if (received === 'undefined') message = 'required field is missing';
      else if (/^Invalid input/.test(message)) message = `expected ${article(issue.expected)}`;
    }
    out.push(`${formatPath(issue.path)}: ${message}`);
  }
  return out;
}

function article(expected: string): string {
  if (expected === 'object') return 'a mapping';
  if (expected === 'array') return 'a list';
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

/** A path as the user should see it: relative to the working directory when inside it. */
function display(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : path;
}

function seconds(value: string | number | undefined, fallback: number): number {
  return value === undefined ? fallback : parseDuration(value)!;
}

/** Reads, validates and loads a scenario. Throws ScenarioError with every problem found, each with its path. */
export function loadScenario(path: string): Scenario {
  const shown = display(path);
  const fail = (issues: string[]): never => {
    throw new ScenarioError(issues.map((i) => `${shown}: ${i}`).join('\n'), issues.map((i) => `${shown}: ${i}`));
  };
  if (!existsSync(path)) fail(['file not found']);
  let raw: unknown;
  try {
    raw = parseYaml(readText(path));
  } catch (err) {
    const detail = err instanceof YAMLParseError ? err.message.split('\n')[0] : String(err);
    fail([`not valid YAML: ${detail}`]);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(['expected a mapping of scenario fields']);
  const parsed = schema.safeParse(raw);
  if (!parsed.success) fail(issueMessages(parsed.error, raw));
  const file = parsed.data!;
  const dir = dirname(path);
  const issues: string[] = [];

  const known = knownInstanceTypes();
  file.instance_types.forEach((type, i) => {
    if (!known.has(type)) issues.push(`instance_types[${i}]: unknown instance type "${type}"`);
  });
  const storms = file.interruptions?.storms ?? [];
  storms.forEach((storm, i) => {
    if (!file.instance_types.includes(storm.instance_type)) {
      issues.push(`interruptions.storms[${i}].instance_type: "${storm.instance_type}" is not in instance_types`);
    }
    if (!file.availability_zones.includes(storm.availability_zone)) {
      issues.push(`interruptions.storms[${i}].availability_zone: "${storm.availability_zone}" is not in availability_zones`);
    }
  });
  const files: [string, string][] = [
    ['prices.spot', file.prices.spot],
    ['workload.trace', file.workload.trace],
  ];
  if (typeof file.prices.on_demand === 'string') files.push(['prices.on_demand', file.prices.on_demand]);
  for (const [field, rel] of files) {
    const full = resolve(dir, rel);
    if (!existsSync(full)) issues.push(`${field}: file not found: ${display(full)}`);
  }
  if (issues.length) fail(issues);

  const start = isoToEpoch(file.start);
  const durationS = parseDuration(file.duration)!;
  const drainLimit = seconds(file.drain_limit, 12 * 3600);
  const end = start + durationS + drainLimit;
  const market = new Market(file.region, file.instance_types, file.availability_zones);

  // On-demand prices.
  if (typeof file.prices.on_demand === 'number') {
    for (const type of file.instance_types) market.onDemand.set(type, file.prices.on_demand);
  } else {
    const csv = readText(resolve(dir, file.prices.on_demand)).trim().split('\n');
    const header = csv[0]!.split(',');
    const [ri, ti, pi] = ['region', 'instance_type', 'price'].map((c) => header.indexOf(c)) as [number, number, number];
    if (ri < 0 || ti < 0 || pi < 0) fail(['prices.on_demand: the CSV needs the header region,instance_type,price']);
    for (const line of csv.slice(1)) {
      const f = line.split(',');
      if (f[ri] === file.region && file.instance_types.includes(f[ti]!)) market.onDemand.set(f[ti]!, Number(f[pi]));
    }
    for (const type of file.instance_types) {
      if (!market.onDemand.has(type)) issues.push(`prices.on_demand: no price for ${type} in ${file.region}`);
    }
  }

  // Spot prices: one step function per pool, the price carried into the window included.
  const spotText = readText(resolve(dir, file.prices.spot)).trim().split('\n');
  const header = spotText[0]!.split(',');
  const cols = ['timestamp', 'instance_type', 'availability_zone', 'spot_price'].map((c) => header.indexOf(c));
  if (cols.some((c) => c < 0)) {
    fail([`prices.spot: the CSV needs the header timestamp,instance_type,availability_zone,spot_price`]);
  }
  const [tc, yc, zc, pc] = cols as [number, number, number, number];
  const points = new Map<string, { t: number; p: number }[]>();
  for (let i = 1; i < spotText.length; i++) {
    const f = spotText[i]!.split(',');
    const type = f[yc]!;
    const az = f[zc]!;
    if (!file.instance_types.includes(type) || !file.availability_zones.includes(az)) continue;
    const t = isoToEpoch(f[tc]!);
    const p = Number(f[pc]);
    if (!Number.isFinite(t) || !Number.isFinite(p)) {
      fail([`prices.spot: line ${i + 1}: expected a time and a price, found "${spotText[i]}"`]);
    }
    if (t > end) continue;
    const key = `${type}|${az}`;
    let list = points.get(key);
    if (!list) points.set(key, (list = []));
    list.push({ t, p });
  }
  for (const type of file.instance_types) {
    for (const az of file.availability_zones) {
      const list = points.get(`${type}|${az}`);
      if (!list || list.length === 0) {
        issues.push(`prices.spot: no prices for ${type} in ${az}`);
        continue;
      }
      list.sort((a, b) => a.t - b.t);
      if (list[0]!.t > start) {
        issues.push(`prices.spot: prices for ${type} in ${az} start at ${new Date(list[0]!.t * 1000).toISOString()}, after the scenario's start`);
        continue;
      }
      // Keep only the last point at or before the start, then everything after it.
      let first = 0;
      while (first + 1 < list.length && list[first + 1]!.t <= start) first++;
      const kept = list.slice(first);
      market.setSpot(type, az, new StepSeries(kept.map((x) => x.t), kept.map((x) => x.p)));
    }
  }

  // Interruption rates.
  const rateSetting = file.interruptions?.rate ?? 0;
  const rate = new Map<string, number>();
  let rateSource = 'none';
  if (rateSetting === 'advisor') {
    const sources: string[] = [];
    for (const type of file.instance_types) {
      const found = advisorRate(file.region, type, file.interruptions?.advisor_snapshot);
      if (!found) {
        issues.push(`interruptions.rate: the Spot Instance Advisor data has no ${type} in ${file.region}; give a number per instance-hour`);
        continue;
      }
      rate.set(type, found.perInstanceHour);
      sources.push(`${type}: advisor ${found.snapshot} bucket ${found.bucket} -> ${found.perInstanceHour.toExponential(2)}/instance-hour`);
    }
    rateSource = sources.join('; ');
  } else {
    for (const type of file.instance_types) rate.set(type, rateSetting);
    rateSource = `${rateSetting}/instance-hour`;
  }
  if (issues.length) fail(issues);

  // Workload.
  let workload: Workload;
  try {
    const tracePath = resolve(dir, file.workload.trace);
    workload = buildWorkload(parseTrace(readText(tracePath), display(tracePath)), {
      start,
      duration: durationS,
      from: seconds(file.workload.from, 0),
      timeScale: file.workload.time_scale ?? 1,
      runtimeScale: file.workload.runtime_scale ?? 1,
      maxRuntime: file.workload.max_runtime === undefined ? undefined : parseDuration(file.workload.max_runtime)!,
    });
  } catch (err) {
    return fail([`workload.trace: ${(err as Error).message}`]);
  }
  if (workload.arrival.length === 0) fail(['workload: no job of the trace falls in the scenario window (check from and duration)']);

  const slots = file.farm.slots_per_instance;
  const spotfarm: Record<string, string> = {};
  for (const [key, value] of Object.entries(file.spotfarm ?? {})) spotfarm[key] = String(value);

  return {
    name: file.name,
    description: file.description ?? '',
    path,
    start,
    duration: durationS,
    drainLimit,
    region: file.region,
    seed: file.seed ?? 1,
    sampleSeconds: seconds(file.sample_every, 120),
    instanceTypes: file.instance_types,
    availabilityZones: file.availability_zones,
    market,
    workload,
    interruptions: {
      priceAboveMax: file.interruptions?.price_above_max ?? true,
      rate,
      rateSource,
      rebalanceFraction: file.interruptions?.rebalance?.fraction ?? 0.5,
      rebalanceLead: seconds(file.interruptions?.rebalance?.lead, 600),
      storms: storms.map((s) => ({
        at: start + parseDuration(s.at)!,
        availabilityZone: s.availability_zone,
        instanceType: s.instance_type,
        fraction: s.fraction,
        unavailableFor: parseDuration(s.unavailable_for)!,
        ...(s.market === 'on-demand' ? { market: 'on-demand' as const } : {}),
      })),
    },
    farm: {
      name: file.farm.name ?? 'farm',
      marketStyle: file.farm.market_style,
      slotsPerInstance: slots,
      bootSeconds: file.farm.boot_seconds,
      spot: file.farm.spot,
      onDemand: file.farm.on_demand,
      visibilityTimeout: file.farm.visibility_timeout_s,
      maxReceiveCount: file.farm.max_receive_count,
      healthCheckDelay: seconds(file.farm.health_check_delay, 90),
    },
    schedules: {
      priceCheck: seconds(file.schedules?.price_check, 300),
      queueScaler: seconds(file.schedules?.queue_scaler, 60),
    },
    alarms: {
      backlogHigh: {
        threshold: file.alarms?.backlog_high?.threshold ?? slots,
        evaluationPeriods: file.alarms?.backlog_high?.evaluation_periods ?? 1,
      },
      backlogLow: {
        threshold: file.alarms?.backlog_low?.threshold ?? 0,
        evaluationPeriods: file.alarms?.backlog_low?.evaluation_periods ?? 5,
      },
    },
    baselines: {
      targetBacklogPerInstance: file.baselines?.target_backlog_per_instance ?? slots,
      minInstances: file.baselines?.min_instances ?? 0,
    },
    spotfarm,
  };
}
