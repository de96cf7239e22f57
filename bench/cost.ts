/**
 * spotfarm's own AWS bill per farm per month, one stack per farm, computed from what the real handlers do in a
 * backtest: the simulated cloud counts every SDK call and sizes every DynamoDB item; the log lines the handlers
 * print (INFO, as deployed) are captured per function, and any EMF metric line among them is bucketed by series
 * and simulated hour. Figures are scaled from the scenario's simulated hours to a 730-hour month. The fixed part
 * (alarms, dashboard) is read from the stack's own YAML, per configuration, conditions included. Prices:
 * us-east-1, on-demand, no free tier, as published on the pages cited beside each (checked 2026-12). Prints
 * figures; asserts nothing, but a run that completes no job or has failed events exits non-zero.
 *
 * Run: `npx tsx bench/cost.ts [scenario.yaml ...]` (default: default, default on the service policy, calm-2023, storm).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { missingHandlers } from '../sim/policies/spotfarm';
import { runBacktest } from '../sim/runner';
import { loadScenario } from '../sim/scenario';

const ROOT = resolve(__dirname, '..');
const MONTH_HOURS = 730;

/** USD, us-east-1. */
const PRICE = {
  // https://aws.amazon.com/lambda/pricing/ : $0.20 per 1M requests, $0.0000133334 per GB-second (Arm: serverless.yml
  // provider.architecture arm64).
  lambdaRequest: 0.2 / 1e6,
  lambdaGbSecond: 0.0000133334,
  // https://aws.amazon.com/cloudwatch/pricing/ : custom metrics $0.30 per metric-month (first 10,000), prorated
  // by the hour; logs ingestion $0.50 per GB, storage $0.03 per GB-month, Logs Insights $0.005 per GB scanned;
  // standard-resolution alarms $0.10 per alarm metric-month (an alarm on a math expression counts each metric it
  // reads); dashboards $3.00 per month each beyond the account's first 3; GetMetricData $0.01 per 1,000 metrics
  // requested.
  metricHour: 0.3 / MONTH_HOURS,
  logIngestGb: 0.5,
  logStoreGbMonth: 0.03,
  logsInsightsGb: 0.005,
  alarmMetricMonth: 0.1,
  dashboardMonth: 3,
  getMetricDataMetric: 0.01 / 1000,
  // https://aws.amazon.com/eventbridge/pricing/ : custom events put on a bus, $1.00 per million (the market check
  // signal); AWS service events and schedules are free.
  customEvent: 1 / 1e6,
  // https://aws.amazon.com/dynamodb/pricing/on-demand/ : $0.625 per million write request units, $0.125 per million
  // read request units.
  writeUnit: 0.625 / 1e6,
  readUnit: 0.125 / 1e6,
  // https://aws.amazon.com/sqs/pricing/ : $0.40 per million requests (standard). https://aws.amazon.com/sns/pricing/ :
  // $0.50 per million publishes (deliveries to e-mail are free for the first 1,000).
  sqsRequest: 0.4 / 1e6,
  snsPublish: 0.5 / 1e6,
};

/**
 * Assumptions, stated rather than measured: an AWS API call from a Lambda in the same region takes about 30 ms
 * (the handlers make them one after another), Lambda's START/END/REPORT lines add about 350 bytes per
 * invocation, and each function's container starts cold about every two hours with a 0.5 s INIT (billed since
 * August 2025; bench/bundle.ts measures the import part of it).
 */
const API_CALL_SECONDS = 0.03;
const PLATFORM_LOG_BYTES = 350;
const COLD_STARTS_PER_FUNCTION_MONTH = (MONTH_HOURS / 2) * 1;
const INIT_SECONDS = 0.5;
const MEMORY_GB = 256 / 1024; // serverless.yml provider.memorySize
/** Farms (one stack each) sharing one account: the dashboards beyond its first 3 are billed. */
const FARMS_PER_ACCOUNT = 100;
/**
 * The log groups each dashboard widget on spotfarm's own figures scans (stack/operations.yml): three widgets on
 * price-check, one on price-check and interruption.
 */
const DASHBOARD_SCANS = { 'price-check': 4, interruption: 1 } as Record<string, number>;

/** DynamoDB item size: attribute names plus values (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html). */
function itemBytes(item: Record<string, Record<string, unknown>> | undefined): number {
  if (!item) return 0;
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) {
    bytes += Buffer.byteLength(name);
    if (typeof value.S === 'string') bytes += Buffer.byteLength(value.S);
    else if (typeof value.N === 'string') bytes += Math.ceil(value.N.replace(/^-|\.|^0+/g, '').length / 2) + 1;
    else if (value.BOOL !== undefined || value.NULL !== undefined) bytes += 1;
    else bytes += Buffer.byteLength(JSON.stringify(value));
  }
  return bytes;
}

interface Measured {
  hours: number;
  invocations: number;
  calls: Map<string, number>;
  writeUnits: number;
  readUnits: number;
  metricHours: number;
  /** Metric-hours per metric name. */
  byName: Map<string, number>;
  series: Set<string>;
  logBytes: number;
  /** Log bytes per function (the part of its log group name after the stack's). */
  logBytesByFunction: Map<string, number>;
  /** Metrics requested by GetMetricData calls. */
  metricsRequested: number;
  jobsCompleted: number;
  jobsSubmitted: number;
  failedEvents: number;
}

/** A scenario file, and the `spotfarm:` settings of it to drop (so the groups run on the default policy). */
interface Run {
  file: string;
  drop?: string[];
}

async function measure(run: Run): Promise<Measured> {
  const scenario = loadScenario(run.file);
  for (const key of run.drop ?? []) delete scenario.spotfarm[key];
  let now = scenario.start;
  const calls = new Map<string, number>();
  let writeUnits = 0;
  let readUnits = 0;
  const metricHours = new Set<string>();
  const series = new Set<string>();
  let logBytes = 0;
  let metricsRequested = 0;
  const logBytesByFunction = new Map<string, number>();
  const capture = (chunk: unknown) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) || chunk instanceof Uint8Array ? Buffer.from(chunk).toString() : String(chunk);
    logBytes += Buffer.byteLength(text);
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const fn = /"function_name":"spotfarm-sim-([a-z-]+)"/.exec(line)?.[1] ?? 'other';
      logBytesByFunction.set(fn, (logBytesByFunction.get(fn) ?? 0) + Buffer.byteLength(line) + 1);
      if (!line.includes('"_aws"')) continue;
      const emf = JSON.parse(line) as { _aws: { CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string }[] }[] } } & Record<string, unknown>;
      for (const directive of emf._aws.CloudWatchMetrics) {
        for (const dims of directive.Dimensions) {
          for (const metric of directive.Metrics) {
            const key = `${metric.Name}|${dims.map((d) => `${d}=${String(emf[d])}`).join(',')}`;
            series.add(key);
            metricHours.add(`${key}@${Math.floor((now - scenario.start) / 3600)}`);
          }
        }
      }
    }
  };
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => (capture(chunk), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: unknown, ...rest: unknown[]) => (capture(chunk), true)) as typeof process.stderr.write;
  let result;
  try {
    result = await runBacktest(scenario, {
      policies: ['spotfarm'],
      environment: { SPOTFARM_LOG_LEVEL: 'INFO', POWERTOOLS_LOG_LEVEL: 'INFO' },
      onProgress: (seconds) => (now += seconds),
      onSdkCall: (command, input, output) => {
        calls.set(command, (calls.get(command) ?? 0) + 1);
        // Billed per metric requested: the queries that read a metric (MetricStat), not the math over them.
        if (command === 'GetMetricDataCommand') {
          metricsRequested += ((input as { MetricDataQueries?: { MetricStat?: unknown }[] }).MetricDataQueries ?? []).filter((q) => q.MetricStat).length;
        }
        const i = input as { Item?: Record<string, Record<string, unknown>>; ConsistentRead?: boolean };
        const o = output as { Item?: Record<string, Record<string, unknown>>; Items?: Record<string, Record<string, unknown>>[] } | undefined;
        // Writes: 1 WRU per KB of the item (a refused conditional write still consumes it); reads: 1 RRU per
        // 4 KB for a strongly consistent read, half for an eventually consistent one; a Query sums its items.
        if (command === 'PutItemCommand') writeUnits += Math.max(1, Math.ceil(itemBytes(i.Item) / 1024));
        if (command === 'DeleteItemCommand') writeUnits += 1;
        const read = (bytes: number) => Math.max(1, Math.ceil(bytes / 4096)) * (i.ConsistentRead ? 1 : 0.5);
        if (command === 'GetItemCommand') readUnits += read(itemBytes(o?.Item));
        if (command === 'QueryCommand') readUnits += read((o?.Items ?? []).reduce((sum, item) => sum + itemBytes(item), 0));
      },
    });
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
  const stats = result.json.stats?.spotfarm;
  const summary = result.json.policies.spotfarm;
  return {
    hours: ((stats?.end_epoch_s ?? scenario.start + scenario.duration) - scenario.start) / 3600,
    invocations: Object.values(stats?.handler_invocations ?? {}).reduce((a, b) => a + b, 0),
    calls,
    writeUnits,
    readUnits,
    metricHours: metricHours.size,
    byName: [...metricHours].reduce((map, key) => map.set(key.split('|')[0]!, (map.get(key.split('|')[0]!) ?? 0) + 1), new Map<string, number>()),
    series,
    logBytes,
    logBytesByFunction,
    metricsRequested,
    jobsCompleted: summary.jobs_completed,
    jobsSubmitted: summary.jobs_submitted,
    failedEvents: stats?.failed_events ?? 0,
  };
}

/** A deployment shape: the stack's conditions that decide which alarms and dashboard exist. */
interface Shape {
  name: string;
  conditions: Record<string, boolean>;
}

const SHAPES: Shape[] = [
  { name: 'adopt (defaults)', conditions: { CreateFarm: false, WatchQueue: true, HasBacklogAlarms: false, HasDashboard: false } },
  { name: 'create (defaults)', conditions: { CreateFarm: true, WatchQueue: true, HasBacklogAlarms: false, HasDashboard: false } },
  { name: 'create, backlogAlarms=true (step policy)', conditions: { CreateFarm: true, WatchQueue: true, HasBacklogAlarms: true, HasDashboard: false } },
  { name: 'create, dashboard=true', conditions: { CreateFarm: true, WatchQueue: true, HasBacklogAlarms: false, HasDashboard: true } },
];

interface Fixed {
  /** Alarm metrics, per alarm. */
  alarms: Record<string, number>;
  dashboards: number;
}

/** The alarms (and the metrics each reads) and dashboards a shape deploys, from the stack's YAML. */
function fixedResources(shape: Shape): Fixed {
  const resources: Record<string, { Type: string; Condition?: string; Properties?: { Metrics?: { MetricStat?: unknown }[] } }> = {};
  for (const file of ['stack/farm.yml', 'stack/operations.yml']) {
    Object.assign(resources, (parse(readFileSync(join(ROOT, file), 'utf8'), { logLevel: 'silent' }) as { Resources: typeof resources }).Resources);
  }
  const serverless = parse(readFileSync(join(ROOT, 'serverless.yml'), 'utf8'), { logLevel: 'silent' }) as { resources: unknown[] };
  for (const part of serverless.resources) if (typeof part === 'object' && part) Object.assign(resources, (part as { Resources: typeof resources }).Resources);
  const exists = (r: { Condition?: string }) => {
    if (r.Condition === undefined) return true;
    const value = shape.conditions[r.Condition];
    if (value === undefined) throw new Error(`bench/cost.ts: condition ${r.Condition} of an alarm or dashboard is not in the shapes: add it`);
    return value;
  };
  const alarms: Record<string, number> = {};
  let dashboards = 0;
  for (const [id, r] of Object.entries(resources)) {
    if (r.Type === 'AWS::CloudWatch::Alarm' && exists(r)) alarms[id] = r.Properties?.Metrics ? r.Properties.Metrics.filter((m) => m.MetricStat).length : 1;
    if (r.Type === 'AWS::CloudWatch::Dashboard' && exists(r)) dashboards += 1;
  }
  return { alarms, dashboards };
}

const usd = (x: number) => `$${x.toFixed(3)}`;

async function main(): Promise<void> {
  if (missingHandlers().length) throw new Error(`handlers missing: ${missingHandlers().join(', ')}`);
  const scenarioFile = (name: string) => join(ROOT, `scenarios/${name}.yaml`);
  // The default scenario keeps target tracking (backlogPerInstance); run it on the default service policy too,
  // which reads the queue's metrics (GetMetricData) to learn the job duration.
  const runs: Run[] = process.argv.slice(2).length
    ? process.argv.slice(2).map((file) => ({ file }))
    : [{ file: scenarioFile('default') }, { file: scenarioFile('default'), drop: ['backlogPerInstance'] }, { file: scenarioFile('calm-2023') }, { file: scenarioFile('storm') }];
  const broken: string[] = [];
  console.log("spotfarm's own AWS bill per farm per month (us-east-1, one stack per farm, no free tier), from a backtest of the real handlers");
  for (const run of runs) {
    const m = await measure(run);
    const file = run.file + (run.drop ? ` without ${run.drop.join(', ')} (the default service policy)` : '');
    const scale = MONTH_HOURS / m.hours;
    const apiCalls = [...m.calls.values()].reduce((a, b) => a + b, 0);
    const sqsCalls = [...m.calls].filter(([c]) => ['GetQueueAttributesCommand', 'GetQueueUrlCommand', 'SendMessageCommand'].includes(c)).reduce((a, [, n]) => a + n, 0);
    const snsCalls = m.calls.get('PublishCommand') ?? 0;
    const gbSeconds = ((apiCalls * API_CALL_SECONDS) * scale + 4 * COLD_STARTS_PER_FUNCTION_MONTH * INIT_SECONDS) * MEMORY_GB;
    const logGb = ((m.logBytes + m.invocations * PLATFORM_LOG_BYTES) * scale) / 2 ** 30;
    const lines = {
      'Lambda requests': m.invocations * scale * PRICE.lambdaRequest,
      'Lambda duration (arm64)': gbSeconds * PRICE.lambdaGbSecond,
      'DynamoDB writes': m.writeUnits * scale * PRICE.writeUnit,
      'DynamoDB reads': m.readUnits * scale * PRICE.readUnit,
      'SQS and SNS requests': sqsCalls * scale * PRICE.sqsRequest + snsCalls * scale * PRICE.snsPublish,
      'EventBridge custom events': (m.calls.get('PutEventsCommand') ?? 0) * scale * PRICE.customEvent,
      'CloudWatch custom metrics': m.metricHours * scale * PRICE.metricHour,
      'CloudWatch GetMetricData': m.metricsRequested * scale * PRICE.getMetricDataMetric,
      'CloudWatch Logs': logGb * (PRICE.logIngestGb + PRICE.logStoreGbMonth),
    };
    const usage = Object.values(lines).reduce((a, b) => a + b, 0);
    console.log(`\n${file.replace(`${ROOT}/`, '')}: ${m.hours.toFixed(1)} simulated h, jobs completed ${m.jobsCompleted} of ${m.jobsSubmitted}, failed events ${m.failedEvents}`);
    console.log(
      `  measured: ${m.invocations} invocations, ${apiCalls} AWS calls (${[...m.calls].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c.replace('Command', '')} ${n}`).join(', ')}), ` +
        `${m.writeUnits} WRU, ${m.readUnits} RRU, ${m.metricsRequested} metrics requested by GetMetricData, ${m.series.size} custom metric series in ${m.metricHours} metric-hours, ${(m.logBytes / 1e6).toFixed(2)} MB of logs ` +
        `(${[...m.logBytesByFunction].sort((a, b) => b[1] - a[1]).map(([f, b]) => `${f} ${(b / 1e6).toFixed(2)}`).join(', ')})`,
    );
    if (m.byName.size > 0) console.log(`  metric-hours by name: ${[...m.byName].sort((a, b) => b[1] - a[1]).map(([n, h]) => `${n} ${h}`).join(', ')}`);
    for (const [name, cost] of Object.entries(lines)) console.log(`  ${name.padEnd(34)} ${usd(cost).padStart(8)} / month`);
    console.log(`  ${'usage total'.padEnd(34)} ${usd(usage).padStart(8)} / month`);
    // One load of the dashboard (24 h range): each spotfarm widget scans its log groups' last 24 h.
    const dayBytes = (fn: string) => ((m.logBytesByFunction.get(fn) ?? 0) * 24) / m.hours;
    const scanGb = Object.entries(DASHBOARD_SCANS).reduce((sum, [fn, n]) => sum + n * dayBytes(fn), 0) / 2 ** 30;
    for (const shape of SHAPES) {
      const fixed = fixedResources(shape);
      const alarmMetrics = Object.values(fixed.alarms).reduce((a, b) => a + b, 0);
      const alarms = alarmMetrics * PRICE.alarmMetricMonth;
      // 100 stacks in one account: 97 dashboards billed, shared out per farm.
      const dashboards = (fixed.dashboards * PRICE.dashboardMonth * Math.max(0, FARMS_PER_ACCOUNT - 3)) / FARMS_PER_ACCOUNT;
      const total = usage + alarms + dashboards;
      console.log(
        `  ${shape.name}: alarms ${usd(alarms)} (${Object.entries(fixed.alarms).map(([id, n]) => `${id} ${n}`).join(', ')} alarm metrics)` +
          (fixed.dashboards ? `, dashboard ${usd(dashboards)} (${FARMS_PER_ACCOUNT} stacks in one account, 3 free), Logs Insights $${(scanGb * PRICE.logsInsightsGb * 1000).toFixed(2)} per 1,000 dashboard loads (${(scanGb * 1024).toFixed(2)} MB scanned per load)` : '') +
          ` -> total ${usd(total)} / month per farm (target <= $1)`,
      );
    }
    if (m.jobsCompleted === 0) broken.push(`${file}: no job completed`);
    if (m.failedEvents > 0) broken.push(`${file}: ${m.failedEvents} failed events`);
  }
  if (broken.length) {
    console.error(`BROKEN RUN:\n  ${broken.join('\n  ')}`);
    process.exit(1);
  }
}

void main().catch((error) => {
  console.error(error);
  process.exit(1);
});
