/**
 * spotfarm's own AWS bill per farm per month, one stack per farm, computed from what the real handlers do in a
 * backtest: the simulated cloud counts every SDK call and sizes every DynamoDB item; the EMF lines and log lines
 * the handlers print (metrics and INFO logs on, as deployed) are captured and bucketed by simulated hour. Figures
 * are scaled from the scenario's simulated hours to a 730-hour month. Prices: us-east-1, on-demand, no free tier,
 * as published on the pages cited beside each (checked 2026-12). Prints figures; asserts nothing, but a run that
 * completes no job or has failed events exits non-zero.
 *
 * Run: `npx tsx bench/cost.ts [scenario.yaml ...]` (default: the three bundled scenarios).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { missingHandlers } from '../sim/policies/spotfarm';
import { runBacktest } from '../sim/runner';
import { loadScenario } from '../sim/scenario';

const ROOT = resolve(__dirname, '..');
const MONTH_HOURS = 730;

/** USD, us-east-1. */
const PRICE = {
  // https://aws.amazon.com/lambda/pricing/ : $0.20 per 1M requests, $0.0000166667 per GB-second (x86).
  lambdaRequest: 0.2 / 1e6,
  lambdaGbSecond: 0.0000166667,
  // https://aws.amazon.com/cloudwatch/pricing/ : custom metrics $0.30 per metric-month (first 10,000), prorated
  // by the hour; logs ingestion $0.50 per GB, storage $0.03 per GB-month; standard alarm $0.10 per alarm metric-month;
  // dashboards $3.00 per month each beyond the account's first 3.
  metricHour: 0.3 / MONTH_HOURS,
  logIngestGb: 0.5,
  logStoreGbMonth: 0.03,
  alarmMonth: 0.1,
  dashboardMonth: 3,
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
  jobsCompleted: number;
  jobsSubmitted: number;
  failedEvents: number;
}

async function measure(file: string): Promise<Measured> {
  const scenario = loadScenario(file);
  let now = scenario.start;
  const calls = new Map<string, number>();
  let writeUnits = 0;
  let readUnits = 0;
  const metricHours = new Set<string>();
  const series = new Set<string>();
  let logBytes = 0;
  const capture = (chunk: unknown) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) || chunk instanceof Uint8Array ? Buffer.from(chunk).toString() : String(chunk);
    logBytes += Buffer.byteLength(text);
    for (const line of text.split('\n')) {
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
      environment: { POWERTOOLS_METRICS_DISABLED: 'false', SPOTFARM_LOG_LEVEL: 'INFO', POWERTOOLS_LOG_LEVEL: 'INFO' },
      onProgress: (seconds) => (now += seconds),
      onSdkCall: (command, input, output) => {
        calls.set(command, (calls.get(command) ?? 0) + 1);
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
    jobsCompleted: summary.jobs_completed,
    jobsSubmitted: summary.jobs_submitted,
    failedEvents: stats?.failed_events ?? 0,
  };
}

function fixedResources(): { alarms: number; dashboards: number } {
  const text = ['serverless.yml', 'stack/farm.yml', 'stack/operations.yml'].map((f) => readFileSync(join(ROOT, f), 'utf8')).join('\n');
  return { alarms: (text.match(/Type: AWS::CloudWatch::Alarm/g) ?? []).length, dashboards: (text.match(/Type: AWS::CloudWatch::Dashboard/g) ?? []).length };
}

const usd = (x: number) => `$${x.toFixed(3)}`;

async function main(): Promise<void> {
  if (missingHandlers().length) throw new Error(`handlers missing: ${missingHandlers().join(', ')}`);
  const files = process.argv.slice(2).length ? process.argv.slice(2) : ['default', 'calm-2023', 'storm'].map((s) => join(ROOT, `scenarios/${s}.yaml`));
  const fixed = fixedResources();
  const broken: string[] = [];
  console.log('spotfarm\'s own AWS bill per farm per month (us-east-1, one stack per farm, no free tier), from a backtest of the real handlers');
  for (const file of files) {
    const m = await measure(file);
    const scale = MONTH_HOURS / m.hours;
    const apiCalls = [...m.calls.values()].reduce((a, b) => a + b, 0);
    const sqsCalls = [...m.calls].filter(([c]) => ['GetQueueAttributesCommand', 'GetQueueUrlCommand', 'SendMessageCommand'].includes(c)).reduce((a, [, n]) => a + n, 0);
    const snsCalls = m.calls.get('PublishCommand') ?? 0;
    const gbSeconds = ((apiCalls * API_CALL_SECONDS) * scale + 4 * COLD_STARTS_PER_FUNCTION_MONTH * INIT_SECONDS) * MEMORY_GB;
    const logGb = ((m.logBytes + m.invocations * PLATFORM_LOG_BYTES) * scale) / 2 ** 30;
    const lines = {
      'Lambda requests': m.invocations * scale * PRICE.lambdaRequest,
      'Lambda duration': gbSeconds * PRICE.lambdaGbSecond,
      'DynamoDB writes': m.writeUnits * scale * PRICE.writeUnit,
      'DynamoDB reads': m.readUnits * scale * PRICE.readUnit,
      'SQS and SNS requests': sqsCalls * scale * PRICE.sqsRequest + snsCalls * scale * PRICE.snsPublish,
      'CloudWatch metrics': m.metricHours * scale * PRICE.metricHour,
      'CloudWatch Logs': logGb * (PRICE.logIngestGb + PRICE.logStoreGbMonth),
      [`CloudWatch alarms (${fixed.alarms})`]: fixed.alarms * PRICE.alarmMonth,
    };
    const total = Object.values(lines).reduce((a, b) => a + b, 0);
    console.log(`\n${file.replace(`${ROOT}/`, '')}: ${m.hours.toFixed(1)} simulated h, jobs completed ${m.jobsCompleted} of ${m.jobsSubmitted}, failed events ${m.failedEvents}`);
    console.log(
      `  measured: ${m.invocations} invocations, ${apiCalls} AWS calls (${[...m.calls].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c.replace('Command', '')} ${n}`).join(', ')}), ` +
        `${m.writeUnits} WRU, ${m.readUnits} RRU, ${m.series.size} metric series in ${m.metricHours} metric-hours, ${(m.logBytes / 1e6).toFixed(2)} MB of logs`,
    );
    console.log(`  metric-hours by name: ${[...m.byName].sort((a, b) => b[1] - a[1]).map(([n, h]) => `${n} ${h}`).join(', ')}`);
    for (const [name, cost] of Object.entries(lines)) console.log(`  ${name.padEnd(28)} ${usd(cost).padStart(8)} / month`);
    console.log(`  ${'total per farm'.padEnd(28)} ${usd(total).padStart(8)} / month (target <= $1)`);
    console.log(`  plus the dashboard, if kept: ${usd(fixed.dashboards * PRICE.dashboardMonth)} / month per stack beyond the account's first 3`);
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
