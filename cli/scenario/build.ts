/**
 * The pure half of `spotfarm scenario from-account`: what was read from the account becomes a scenario directory
 * (scenario.yaml, the spot and on-demand price CSVs, the job trace) in the format sim/scenario.ts loads, plus the
 * lines the command prints. No AWS, no clock, no files: `buildScenario(data)` returns the files' contents.
 */
import { gzipSync } from 'node:zlib';
import { stringify } from 'yaml';
import { advisorRate, knownInstanceTypes } from '../../sim/advisor';
import { formatDuration, parseDuration } from '../../src/duration';
import { poolKey } from '../../src/model';
import type { PriceSteps } from '../../src/aws/ec2';
import type { AccountData, FarmGroup } from './read-account';
import { FarmReadError, JOB_DURATION_METRIC, JOB_METRIC_NAMESPACE } from './read-account';

export const FILES = {
  scenario: 'scenario.yaml',
  spot: 'spot-prices.csv',
  onDemand: 'on-demand.csv',
  jobs: 'jobs.csv.gz',
} as const;

/** Boot time when the account cannot tell it: what the bundled scenarios use. */
export const DEFAULT_BOOT_SECONDS = 120;
/** max_receive_count for a queue without a redrive policy: SQS then never dead-letters; this stands for "never". */
export const NO_REDRIVE_RECEIVES = 1000;

export type DurationSource = 'worker-metric' | 'littles-law' | 'setting';

export interface BuiltScenario {
  files: Record<string, Buffer | string>;
  summary: {
    name: string;
    instanceTypes: string[];
    availabilityZones: string[];
    jobs: number;
    durationSource: DurationSource;
    meanDuration: number;
    spotChanges: number;
  };
  /** What the command prints: one line per fact, sources and estimates said. */
  lines: string[];
}

const iso = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');

/** Every pool's price steps inside [from, to], the price carried into the window first (at `from`). */
export function spotRows(steps: PriceSteps, fromMs: number, toMs: number): { at: number; price: number }[] {
  const sorted = [...steps].sort((a, b) => a.at - b.at);
  let carried: { at: number; price: number } | undefined;
  const inside: { at: number; price: number }[] = [];
  for (const step of sorted) {
    if (step.at <= fromMs) carried = step;
    else if (step.at <= toMs) inside.push(step);
  }
  // No change before the window (AWS normally returns the one in effect at StartTime): carry the first price back.
  const first = carried ?? inside[0];
  if (!first) return [];
  const out = [{ at: fromMs, price: first.price }, ...inside.filter((s) => s !== first)];
  return out;
}

/**
 * Arrival times (seconds after `from`) from per-period message counts: n messages in a period become n
 * arrivals spread evenly over it, since CloudWatch keeps only the count.
 */
export function arrivalTimes(points: { t: number; v: number; period: number }[], fromS: number, toS: number): number[] {
  const out: number[] = [];
  for (const p of [...points].sort((a, b) => a.t - b.t)) {
    const n = Math.round(p.v);
    if (n <= 0 || p.t < fromS || p.t >= toS) continue;
    const span = Math.min(p.period, toS - p.t);
    for (let k = 0; k < n; k++) out.push(p.t - fromS + ((k + 0.5) * span) / n);
  }
  return out;
}

/** Hourly mean job duration (epoch hour start -> seconds) and where it came from. */
export function hourlyDurations(data: AccountData): {
  byHour: Map<number, number>;
  /** Per hour, ten durations standing for its distribution (worker metric with percentiles only). */
  deciles?: Map<number, number[]>;
  source: DurationSource;
  detail: string;
} {
  const worker = new Map<number, number>();
  let jobs = 0;
  for (const h of data.jobDurations) {
    if (h.count > 0 && h.sum >= 0) {
      worker.set(h.t, h.sum / h.count);
      jobs += h.count;
    }
  }
  if (worker.size > 0) {
    const spread = data.jobDeciles.size > 0;
    return {
      byHour: worker,
      deciles: data.jobDeciles,
      source: 'worker-metric',
      detail: spread
        ? `the worker's ${JOB_METRIC_NAMESPACE} ${JOB_DURATION_METRIC} metric (${jobs} jobs): each job takes, in turn, one of the ten deciles (p5 ... p95) of the succeeded jobs' durations in the hour it arrives in`
        : `the worker's ${JOB_METRIC_NAMESPACE} ${JOB_DURATION_METRIC} metric (${jobs} jobs, succeeded and failed): each job takes the mean duration of the hour it arrives in`,
    };
  }
  // Little's law, L = lambda x W: the messages in flight on average over an hour (L), over the hour's
  // throughput (messages deleted per second, lambda), is how long a message stays in flight (W).
  const inFlight = new Map(data.inFlight.map((p) => [p.t, p.v]));
  const little = new Map<number, number>();
  for (const d of data.deleted) {
    const l = inFlight.get(d.t);
    if (d.v > 0 && l !== undefined && l > 0) little.set(d.t, l / d.v);
  }
  if (little.size > 0) {
    return {
      byHour: little,
      source: 'littles-law',
      detail:
        `estimated by Little's law from AWS/SQS (hourly mean ApproximateNumberOfMessagesNotVisible / NumberOfMessagesDeleted per second), ` +
        `not measured: the worker's ${JOB_METRIC_NAMESPACE} ${JOB_DURATION_METRIC} metric has no data for this queue. In-flight counts include ` +
        `messages backing off after a failure, so this overstates run times; publish the worker's job metrics (docs/worker.md) for real ones`,
    };
  }
  return { byHour: new Map(), source: 'setting', detail: '' };
}

/** The hour with data nearest to `at` (its own when it has data); undefined when no hour has any. */
function nearestHour(hours: number[], at: number): number | undefined {
  if (hours.length === 0) return undefined;
  const hour = Math.floor(at / 3600) * 3600;
  // The nearest hour with data (binary search over the sorted hours).
  let lo = 0;
  let hi = hours.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (hours[mid]! < hour) lo = mid + 1;
    else hi = mid;
  }
  const candidates = [hours[lo]!, hours[Math.max(0, lo - 1)]!];
  return candidates.reduce((a, b) => (Math.abs(b - hour) < Math.abs(a - hour) ? b : a));
}

export function buildScenario(data: AccountData): BuiltScenario {
  const notes = [...data.notes];
  const fromMs = data.from.getTime();
  const toMs = data.to.getTime();
  const fromS = fromMs / 1000;
  const toS = toMs / 1000;
  const days = (toMs - fromMs) / 86_400_000;

  const spotGroups = data.groups.filter((g) => g.role === 'spot');
  const odGroups = data.groups.filter((g) => g.role === 'on-demand');
  if (spotGroups.length === 0) throw new FarmReadError(`farm ${data.farm} has no group with spotfarm:role=spot (or no role tag, which means spot)`);
  const lead = spotGroups[0]!;
  if (spotGroups.length > 1) notes.push(`${spotGroups.length} spot groups: the scenario has one, with their summed min and max and ${lead.name}'s launch style and settings`);
  if (odGroups.length > 1) notes.push(`${odGroups.length} on-demand groups: the scenario has one, with their summed min and max`);
  if (odGroups.length === 0) notes.push('no on-demand group (spotfarm:role=on-demand): the scenario\'s on-demand group has max 0, so nothing covers a spot shortfall');

  // Types: the spot group's first (the simulated farm launches the first type unless it is mixed-instances).
  const types = [...new Set([...spotGroups, ...odGroups].flatMap((g) => g.instanceTypes))];
  const known = knownInstanceTypes();
  const unknown = types.filter((t) => !known.has(t));
  if (unknown.length > 0) {
    throw new FarmReadError(`the backtest does not know instance type(s) ${unknown.join(', ')} (sim/data/instance-types.txt lists the types it prices)`);
  }
  if (lead.style !== 'mixed-instances' && types.length > 1) {
    notes.push(`the groups launch ${types.join(', ')}; a ${lead.style} farm in the backtest launches ${types[0]} only`);
  }

  // Pools: an AZ stays only if every type has a price history there (the backtest needs every type x AZ).
  const zones = [...new Set(data.groups.flatMap((g) => g.availabilityZones))].sort();
  const spotCsv = ['timestamp,instance_type,availability_zone,spot_price'];
  const keptZones: string[] = [];
  let spotChanges = 0;
  const rowsByPool = new Map<string, { at: number; price: number }[]>();
  for (const az of zones) {
    const missing = types.filter((t) => spotRows(data.spotPrices.get(poolKey({ instanceType: t, availabilityZone: az })) ?? [], fromMs, toMs).length === 0);
    if (missing.length > 0) {
      notes.push(`${az} left out: no spot price history for ${missing.join(', ')} there`);
      continue;
    }
    keptZones.push(az);
    for (const t of types) {
      const rows = spotRows(data.spotPrices.get(poolKey({ instanceType: t, availabilityZone: az }))!, fromMs, toMs);
      rowsByPool.set(`${t}|${az}`, rows);
      spotChanges += rows.length;
    }
  }
  if (keptZones.length === 0) throw new FarmReadError(`no availability zone of farm ${data.farm} has spot price history for ${types.join(', ')}`);
  const spotLines: [number, string][] = [];
  for (const [key, rows] of rowsByPool) {
    const [t, az] = key.split('|') as [string, string];
    for (const r of rows) spotLines.push([r.at, `${iso(r.at)},${t},${az},${r.price}`]);
  }
  spotLines.sort((a, b) => a[0] - b[0]);
  spotCsv.push(...spotLines.map(([, line]) => line));

  // On-demand prices.
  const odCsv = ['region,instance_type,price'];
  const priceLines: string[] = [];
  for (const t of types) {
    const price = data.onDemand.get(t);
    if (!price) throw new FarmReadError(`no on-demand price for ${t} in ${data.region}: neither the Pricing API nor the bundled table knows it`);
    odCsv.push(`${data.region},${t},${price.usdPerHour}`);
    priceLines.push(
      `${t} $${price.usdPerHour}/h (${price.source === 'pricing-api' ? 'Pricing API' : `bundled table of ${price.asOf ?? 'unknown date'}: the Pricing API did not answer`})`,
    );
  }

  // Jobs.
  const arrivals = arrivalTimes(data.arrivals, fromS, toS);
  const durations = hourlyDurations(data);
  const setting = parseDuration(lead.settings.secondsPerJob ?? '') ?? 600;
  if (durations.source === 'setting') {
    durations.detail =
      `no job duration data (neither the worker's ${JOB_METRIC_NAMESPACE} ${JOB_DURATION_METRIC} metric nor AWS/SQS deletions): ` +
      `every job takes secondsPerJob = ${formatDuration(setting)}`;
  }
  const hours = [...durations.byHour.keys()].sort((a, b) => a - b);
  const decileHours = [...(durations.deciles?.keys() ?? [])].sort((a, b) => a - b);
  const trace = ['submit_s,runtime_s'];
  let total = 0;
  for (const [k, at] of arrivals.entries()) {
    let seconds = setting;
    const decileHour = nearestHour(decileHours, fromS + at);
    const hour = nearestHour(hours, fromS + at);
    // Deciles in a fixed scrambled order (7 is prime to 10): every ten jobs take each decile once.
    if (decileHour !== undefined) seconds = durations.deciles!.get(decileHour)![(k * 7) % 10]!;
    else if (hour !== undefined) seconds = durations.byHour.get(hour)!;
    const runtime = Math.max(1, seconds);
    total += runtime;
    trace.push(`${at.toFixed(3)},${runtime.toFixed(1)}`);
  }
  const meanDuration = arrivals.length > 0 ? total / arrivals.length : 0;
  if (arrivals.length === 0) {
    throw new FarmReadError(
      `no job arrived on queue ${data.queue.name} from ${iso(fromMs)} to ${iso(toMs)} (AWS/SQS NumberOfMessagesSent is empty): nothing to backtest; try a longer --days`,
    );
  }

  // Interruptions: the Spot Instance Advisor's rate when it knows every type here.
  const rates = types.map((t) => advisorRate(data.region, t));
  const rate: 'advisor' | number = rates.every(Boolean) ? 'advisor' : 0;
  if (rate === 0) notes.push(`the Spot Instance Advisor data has no ${types.filter((_, i) => !rates[i]).join(', ')} in ${data.region}: no random interruptions (set interruptions.rate)`);

  const sum = (list: FarmGroup[], key: 'min' | 'max') => list.reduce((a, g) => a + g[key], 0);
  const slots = Number(lead.settings.slotsPerInstance ?? '1');
  const spotfarm: Record<string, string> = { ...lead.settings };
  delete spotfarm.slotsPerInstance;
  for (const od of odGroups) {
    const differs = Object.keys({ ...od.settings, ...lead.settings }).filter((k) => k !== 'slotsPerInstance' && od.settings[k] !== lead.settings[k]);
    if (differs.length > 0) notes.push(`${od.name}'s settings differ from ${lead.name}'s (${differs.join(', ')}): the scenario uses ${lead.name}'s`);
  }
  const maxReceive = data.queue.settings.maxReceiveCount;
  if (maxReceive === undefined) notes.push(`queue ${data.queue.name} has no redrive policy: max_receive_count ${NO_REDRIVE_RECEIVES} stands for "never dead-letter"`);
  // Launch to in service, as the scaling activities timed it; under a second is no boot (moto ends activities
  // as it starts them), so it does not count.
  const launches = data.launchSeconds.filter((s) => s >= 1).sort((a, b) => a - b);
  const bootSeconds = launches.length > 0 ? Math.round(launches[Math.floor((launches.length - 1) / 2)]!) : DEFAULT_BOOT_SECONDS;
  const bootLine =
    launches.length > 0
      ? `boot ${bootSeconds}s: the median launch-to-in-service time of ${launches.length} launch(es) in the window (scaling activities)`
      : `boot ${bootSeconds}s: no timed launch in the window's scaling activities (edit farm.boot_seconds to your image's)`;
  if (launches.length === 0) notes.push(bootLine);
  notes.push('the stack\'s defaults (the `defaults` param) are not read: add them to the spotfarm: block if you set any');

  const name = `${data.farm}-${data.region}-last-${formatDays(days)}`;
  const description =
    `Farm ${data.farm} in ${data.region} as the account held it, ${iso(fromMs)} to ${iso(toMs)}, read by ` +
    `\`spotfarm scenario from-account\`. Groups: ${data.groups.map((g) => `${g.name} (${g.role}, ${g.style}, ${g.instanceTypes.join('/')}, min ${g.min} max ${g.max})`).join('; ')}. ` +
    `Spot prices: DescribeSpotPriceHistory (Linux/UNIX). On-demand: ${priceLines.join('; ')}. ` +
    `Arrivals: AWS/SQS NumberOfMessagesSent of ${data.queue.name}, spread evenly within each period. ` +
    `Job durations: ${durations.detail}. Boot: ${bootLine}.` +
    (notes.length > 0 ? ` Notes: ${notes.join('; ')}.` : '');

  const yamlDoc = {
    name,
    description,
    start: iso(fromMs),
    duration: `${Math.round((toMs - fromMs) / 60_000)}m`,
    drain_limit: '12h',
    region: data.region,
    seed: 1,
    instance_types: types,
    availability_zones: keptZones,
    prices: { spot: FILES.spot, on_demand: FILES.onDemand },
    workload: { trace: FILES.jobs },
    interruptions: { price_above_max: true, rate },
    farm: {
      name: data.farm,
      market_style: lead.style,
      slots_per_instance: Number.isInteger(slots) && slots >= 1 ? slots : 1,
      boot_seconds: bootSeconds,
      spot: { min: sum(spotGroups, 'min'), max: sum(spotGroups, 'max') },
      on_demand: { min: sum(odGroups, 'min'), max: sum(odGroups, 'max') },
      visibility_timeout_s: Math.min(43_200, Math.max(0, Math.round(data.queue.settings.visibilityTimeout))),
      max_receive_count: maxReceive ?? NO_REDRIVE_RECEIVES,
    },
    ...(Object.keys(spotfarm).length > 0 ? { spotfarm } : {}),
  };
  const header = [
    `# Made by \`npx spotfarm scenario from-account --farm ${data.farm} --days ${formatDays(days, true)} --region ${data.region}\``,
    `# from read-only calls at ${iso(toMs)}. Run it: npx spotfarm backtest <this file>. Fields: docs/backtest.md.`,
    '',
  ].join('\n');

  const lines = [
    `farm ${data.farm} in ${data.region}, ${iso(fromMs)} to ${iso(toMs)}`,
    ...data.groups.map((g) => `  group ${g.name}: ${g.role}, ${g.style}, ${g.instanceTypes.join(', ')} in ${g.availabilityZones.join(', ')}, min ${g.min} max ${g.max}`),
    `  pools: ${types.join(', ')} x ${keptZones.join(', ')}; ${spotChanges} spot price points`,
    `  on-demand: ${priceLines.join('; ')}`,
    `  queue ${data.queue.name}: ${arrivals.length} jobs arrived (AWS/SQS NumberOfMessagesSent); visibility ${data.queue.settings.visibilityTimeout}s, max receives ${maxReceive ?? 'none'}`,
    `  job durations: mean ${meanDuration.toFixed(1)}s, ${durations.detail}`,
    ...(launches.length > 0 ? [`  ${bootLine}`] : []),
    ...notes.map((n) => `  note: ${n}`),
  ];

  return {
    files: {
      [FILES.scenario]: header + stringify(yamlDoc, { lineWidth: 118 }),
      [FILES.spot]: spotCsv.join('\n') + '\n',
      [FILES.onDemand]: odCsv.join('\n') + '\n',
      [FILES.jobs]: gzipSync(trace.join('\n') + '\n'),
    },
    summary: { name, instanceTypes: types, availabilityZones: keptZones, jobs: arrivals.length, durationSource: durations.source, meanDuration, spotChanges },
    lines,
  };
}

function formatDays(days: number, bare = false): string {
  const rounded = Math.round(days * 100) / 100;
  return bare ? String(rounded) : `${rounded}d`;
}
