/**
 * The `spotfarm` policy: the real Lambda handlers from functions/, unchanged, fed EventBridge events in virtual
 * time, their SDK calls answered by the simulated cloud (sim/cloud/sdk.ts). The scenario's farm becomes a spot
 * group and an on-demand fallback group tagged for spotfarm, its `spotfarm:` block becomes their
 * `spotfarm:<setting>` tags.
 *
 * Event delivery follows EventBridge and Lambda async invocation: schedules on their rates, CloudWatch alarm
 * state changes (1-minute periods on the queue's ApproximateNumberOfMessagesVisible), interruption warnings two
 * minutes before each interruption, rebalance recommendations before some, launch-unsuccessful events on capacity
 * failures. A handler that throws is retried 1 and then 2 minutes later, then counted as a failed event.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Context } from 'aws-lambda';
import * as asg from '../cloud/autoscaling-api';
import { startQueueMetrics } from '../cloud/cloudwatch';
import { groupKey } from '../../src/aws/state-store';
import { getItem, Tables } from '../cloud/dynamodb-api';
import * as ec2 from '../cloud/ec2-api';
import { NotImplementedInSimulator } from '../cloud/errors';
import type { SdkConnection } from '../cloud/sdk';
import { ACCOUNT_ID, type Activity, type Group, type Instance, type World } from '../cloud/world';
import { alarmTimestamp, eventTime } from '../time';

/** The functions the spotfarm policy invokes (CONTRACTS.md names; entry files functions/<name>.ts). */
export const SPOTFARM_FUNCTIONS = ['price-check', 'interruption', 'queue-scaler'] as const;
export type SpotfarmFunction = (typeof SPOTFARM_FUNCTIONS)[number];

type Handler = (event: unknown, context: Context) => Promise<unknown>;

const REPO = resolve(__dirname, '../..');
export const STATE_TABLE = 'spotfarm-sim-state';

/** The spotfarm handlers are not (all) there yet: the run says which, instead of failing mysteriously. */
export class SpotfarmUnavailableError extends Error {
  constructor(readonly missing: string[]) {
    super(
      `the spotfarm policy cannot run: ${missing.join('; ')}. ` +
        `The handlers land with issues 3 (price-check), 4 (interruption) and 5 (queue-scaler); ` +
        `run the baselines alone with --policies on-demand-only,recipe,aws-native,oracle.`,
    );
    this.name = 'SpotfarmUnavailableError';
  }
}

/** Which handler entry files are missing (without importing anything). */
export function missingHandlers(dir = resolve(REPO, 'functions')): string[] {
  return SPOTFARM_FUNCTIONS.filter((name) => !existsSync(resolve(dir, `${name}.ts`))).map((name) => `functions/${name}.ts is missing`);
}

/** The simulated stack's name: the price-check rule matches market check requests that carry it. */
const SIM_STACK = 'spotfarm-sim';

/** Stack configuration the handlers read from the environment (serverless.yml params, src/config.ts). */
export function spotfarmEnvironment(world: World): Record<string, string> {
  const s = world.scenario;
  const rate = (seconds: number) => {
    const minutes = Math.max(1, Math.round(seconds / 60));
    return `rate(${minutes} ${minutes === 1 ? 'minute' : 'minutes'})`;
  };
  return {
    AWS_REGION: s.region,
    AWS_DEFAULT_REGION: s.region,
    AWS_ACCESS_KEY_ID: 'simulated',
    AWS_SECRET_ACCESS_KEY: 'simulated',
    AWS_EC2_METADATA_DISABLED: 'true',
    // The simulated Lambdas run on this machine's Node; the SDK's "use Node 22" notice is noise in a backtest.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    SPOTFARM_FARM: s.farm.name,
    SPOTFARM_DRY_RUN: 'false',
    SPOTFARM_STATE_TABLE: STATE_TABLE,
    SPOTFARM_TOPIC_ARN: `arn:aws:sns:${s.region}:${ACCOUNT_ID}:spotfarm-sim-notifications`,
    SPOTFARM_LOG_LEVEL: 'SILENT',
    SPOTFARM_PRICE_CHECK_RATE: rate(s.schedules.priceCheck),
    SPOTFARM_QUEUE_SCALER_RATE: rate(s.schedules.queueScaler),
    SPOTFARM_DEFAULTS: '',
    SPOTFARM_RECORD_TTL_DAYS: '14',
    SPOTFARM_STACK: SIM_STACK,
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_DEV: 'false',
    POWERTOOLS_SERVICE_NAME: 'spotfarm',
  };
}

/**
 * Sets `vars` in process.env and returns a function that restores what was there. A Lambda sees only the
 * variables its function configures, so every other SPOTFARM_* variable of the caller's shell (a developer's
 * SPOTFARM_SHARED_DATA, say) is hidden meanwhile: src/config.ts rightly refuses an unknown SPOTFARM_* variable,
 * which would otherwise fail every simulated invocation.
 */
export function withEnvironment(vars: Record<string, string>): () => void {
  const saved = new Map<string, string | undefined>();
  for (const key of Object.keys(process.env)) {
    if (key.startsWith('SPOTFARM_') && !(key in vars)) {
      saved.set(key, process.env[key]);
      delete process.env[key];
    }
  }
  for (const [key, value] of Object.entries(vars)) {
    saved.set(key, process.env[key]);
    process.env[key] = value;
  }
  return () => {
    for (const [key, value] of saved) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}

/**
 * `import()` of one of the project's TypeScript modules. In a worker thread on Node 20 the ESM loader has no tsx
 * hooks (hooks registered with module.register do not reach worker threads there), so a sweep's worker
 * (sim/frontier/worker-entry.cjs) registers tsx's CommonJS hook and modules come through require instead: the
 * same module instances the handlers themselves require.
 */
async function importModule(file: string): Promise<Record<string, unknown>> {
  try {
    return (await import(file)) as Record<string, unknown>;
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_UNKNOWN_FILE_EXTENSION' && typeof require === 'function') {
      return require(file) as Record<string, unknown>;
    }
    throw err;
  }
}

/** Imports the handlers (once per process, like a warm Lambda container). */
export async function loadHandlers(): Promise<Record<SpotfarmFunction, Handler>> {
  const missing = missingHandlers();
  if (missing.length) throw new SpotfarmUnavailableError(missing);
  const out = {} as Record<SpotfarmFunction, Handler>;
  for (const name of SPOTFARM_FUNCTIONS) {
    const file = resolve(REPO, 'functions', `${name}.ts`);
    const mod = (await importModule(file)) as { handler?: unknown; default?: { handler?: unknown } };
    const handler = mod.handler ?? mod.default?.handler;
    if (typeof handler !== 'function') throw new SpotfarmUnavailableError([`functions/${name}.ts does not export a handler`]);
    out[name] = handler as Handler;
  }
  return out;
}

/**
 * The handlers read stack config once per cold start (src/config.ts caches it); a new run is a new stack with
 * its own environment, so the caches are dropped.
 */
export async function resetStackConfig(): Promise<void> {
  const file = resolve(REPO, 'src/config.ts');
  if (!existsSync(file)) return;
  const config = (await importModule(file)) as { resetConfigCache?: () => void };
  config.resetConfigCache?.();
  // And what a warm container remembers (prices, template versions, queue URLs): a new run is a new account.
  const caches = resolve(REPO, 'src/aws/caches.ts');
  if (existsSync(caches)) ((await importModule(caches)) as { resetContainerCaches: () => void }).resetContainerCaches();
  // The handlers' logger takes its level from SPOTFARM_LOG_LEVEL when src/log.ts is first imported, which may be
  // before this run set it (the CLI's other commands import AWS wrappers that log): set it from the run's
  // environment, or every decision of the simulated Lambdas is printed among the CLI's output.
  const log = resolve(REPO, 'src/log.ts');
  if (existsSync(log)) {
    const { logger } = (await importModule(log)) as { logger?: { setLogLevel?: (level: string) => void } };
    logger?.setLogLevel?.(process.env.SPOTFARM_LOG_LEVEL ?? 'INFO');
  }
}

/**
 * Modules of the handlers that read a clock for figures (never for decisions) expose a setter so a backtest can
 * give them virtual time. Missing modules or setters are fine: nothing to set.
 */
const CLOCK_SETTERS: [file: string, setter: string][] = [['src/clock.ts', 'setWallClock']];

export async function connectClocks(nowMs: () => number): Promise<void> {
  for (const [rel, name] of CLOCK_SETTERS) {
    const file = resolve(REPO, rel);
    if (!existsSync(file)) continue;
    const mod = await importModule(file);
    const setter = mod[name];
    if (typeof setter === 'function') (setter as (clock: () => number) => void)(nowMs);
  }
}

export interface SpotfarmStats {
  invocations: Record<string, number>;
  failedEvents: number;
  retries: number;
  /** Distinct error messages of failed invocations, with counts. */
  errors: Map<string, number>;
  /** The simulated cloud met a command or expression it does not emulate. */
  notImplemented: Set<string>;
}

export interface SpotfarmFarm {
  spotGroup: string;
  onDemandGroup: string;
  queueName: string;
}

/** Builds the farm in the world the way a user would: launch template(s) or configurations, two tagged groups. */
export function buildSpotfarmFarm(world: World): SpotfarmFarm {
  const s = world.scenario;
  const farm = s.farm.name;
  const type = s.instanceTypes[0]!;
  const spotGroup = `${farm}-spot`;
  const onDemandGroup = `${farm}-on-demand`;
  const queueName = world.farmQueueName;
  const tags = (role: 'spot' | 'on-demand') => {
    const settings: Record<string, string> = { slotsPerInstance: String(s.farm.slotsPerInstance), ...s.spotfarm };
    return [
      { Key: 'spotfarm:farm', Value: farm, PropagateAtLaunch: true },
      { Key: 'spotfarm:role', Value: role, PropagateAtLaunch: true },
      { Key: 'spotfarm:queue', Value: queueName, PropagateAtLaunch: false },
      ...Object.entries(settings).map(([k, v]) => ({ Key: `spotfarm:${k}`, Value: v, PropagateAtLaunch: false })),
    ];
  };
  const common = {
    AvailabilityZones: [...s.availabilityZones],
    TerminationPolicies: ['OldestLaunchTemplate', 'OldestLaunchConfiguration', 'Default'],
  };
  const spotMarket = {
    InstanceMarketOptions: {
      MarketType: 'spot' as const,
      SpotOptions: { SpotInstanceType: 'one-time' as const, InstanceInterruptionBehavior: 'terminate' as const },
    },
  };
  const image = { ImageId: 'ami-0sim0000000000000', InstanceType: type as never };
  if (s.farm.marketStyle === 'launch-configuration') {
    const od = world.market.onDemandPrice(type);
    asg.createLaunchConfiguration(world, { LaunchConfigurationName: `${farm}-spot`, ImageId: image.ImageId, InstanceType: type, SpotPrice: String(od) });
    asg.createLaunchConfiguration(world, { LaunchConfigurationName: `${farm}-on-demand`, ImageId: image.ImageId, InstanceType: type });
    asg.createAutoScalingGroup(world, {
      AutoScalingGroupName: spotGroup,
      MinSize: s.farm.spot.min,
      MaxSize: s.farm.spot.max,
      DesiredCapacity: s.farm.spot.min,
      LaunchConfigurationName: `${farm}-spot`,
      Tags: tags('spot'),
      ...common,
    });
    asg.createAutoScalingGroup(world, {
      AutoScalingGroupName: onDemandGroup,
      MinSize: s.farm.onDemand.min,
      MaxSize: s.farm.onDemand.max,
      DesiredCapacity: s.farm.onDemand.min,
      LaunchConfigurationName: `${farm}-on-demand`,
      Tags: tags('on-demand'),
      ...common,
    });
  } else {
    // Tagged for the farm, as the README asks: the stack's IAM lets the functions use only such templates.
    const templateTags = [{ ResourceType: 'launch-template' as const, Tags: [{ Key: 'spotfarm:farm', Value: farm }] }];
    const odLt = ec2.createLaunchTemplate(world, { LaunchTemplateName: `${farm}-on-demand`, LaunchTemplateData: image, TagSpecifications: templateTags });
    const odId = odLt.LaunchTemplate!.LaunchTemplateId!;
    if (s.farm.marketStyle === 'launch-template') {
      const spotLt = ec2.createLaunchTemplate(world, {
        LaunchTemplateName: `${farm}-spot`,
        LaunchTemplateData: { ...image, ...spotMarket },
        TagSpecifications: templateTags,
      });
      asg.createAutoScalingGroup(world, {
        AutoScalingGroupName: spotGroup,
        MinSize: s.farm.spot.min,
        MaxSize: s.farm.spot.max,
        DesiredCapacity: s.farm.spot.min,
        LaunchTemplate: { LaunchTemplateId: spotLt.LaunchTemplate!.LaunchTemplateId!, Version: '1' },
        Tags: tags('spot'),
        ...common,
      });
    } else {
      asg.createAutoScalingGroup(world, {
        AutoScalingGroupName: spotGroup,
        MinSize: s.farm.spot.min,
        MaxSize: s.farm.spot.max,
        DesiredCapacity: s.farm.spot.min,
        MixedInstancesPolicy: {
          LaunchTemplate: {
            LaunchTemplateSpecification: { LaunchTemplateId: odId, Version: '1' },
            Overrides: s.instanceTypes.map((t) => ({ InstanceType: t })),
          },
          InstancesDistribution: {
            OnDemandBaseCapacity: 0,
            OnDemandPercentageAboveBaseCapacity: 0,
            SpotAllocationStrategy: 'price-capacity-optimized',
          },
        },
        Tags: tags('spot'),
        ...common,
      });
    }
    asg.createAutoScalingGroup(world, {
      AutoScalingGroupName: onDemandGroup,
      MinSize: s.farm.onDemand.min,
      MaxSize: s.farm.onDemand.max,
      DesiredCapacity: s.farm.onDemand.min,
      LaunchTemplate: { LaunchTemplateId: odId, Version: '1' },
      Tags: tags('on-demand'),
      ...common,
    });
  }
  world.groupWorkers.set(spotGroup, 'agent');
  world.groupWorkers.set(onDemandGroup, 'agent');
  return { spotGroup, onDemandGroup, queueName };
}

let eventCounter = 0;

function uuid(): string {
  eventCounter++;
  const hex = eventCounter.toString(16).padStart(12, '0');
  return `5e1f0000-0000-4000-8000-${hex}`;
}

function envelope(world: World, source: string, detailType: string, resources: string[], detail: unknown) {
  return {
    version: '0',
    id: uuid(),
    'detail-type': detailType,
    source,
    account: ACCOUNT_ID,
    time: eventTime(world.now),
    region: world.scenario.region,
    resources,
    detail,
  };
}

function lambdaContext(fn: string): Context {
  const name = `spotfarm-sim-${fn}`;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:${ACCOUNT_ID}:function:${name}`,
    memoryLimitInMB: '256',
    awsRequestId: uuid(),
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: 'simulated',
    getRemainingTimeInMillis: () => 60_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/**
 * The backtest's `swaps` counts every fall-back to on-demand and every return, whatever its mechanism
 * (docs/backtest.md). A launch source that changes market is counted by the simulated Auto Scaling
 * (sim/cloud/autoscaling.ts, noteLaunchSourceChange). A mixed-instances group that falls back through the farm's
 * on-demand group (mixedFallback=on-demand-group, the default) changes nothing in AWS: the fall-back is the market
 * controller's state (src/market/state.ts), which the capacity controller reads to give the group's share to the
 * on-demand group. Those are counted here, from that state after each price check, with the same marks.
 */
export function countMarketSwapsThroughOnDemandGroup(world: World, tables: Tables, farm: SpotfarmFarm): () => void {
  let last: 'spot' | 'on-demand' = 'spot';
  return () => {
    const { Item } = getItem(tables, { TableName: STATE_TABLE, Key: { pk: { S: groupKey(farm.spotGroup) }, sk: { S: 'state' } } });
    const data = Item?.data?.S;
    if (data === undefined) return;
    const market = (JSON.parse(data) as { market?: { market?: 'spot' | 'on-demand'; originals?: { style?: string; fallback?: string } } }).market;
    const now = market?.market ?? 'spot';
    if (now === last) return;
    last = now;
    const o = market?.originals;
    // Other styles changed their launch source, which Auto Scaling counted already.
    if (o?.style !== 'mixed-instances' || o.fallback !== 'on-demand-group') return;
    world.swaps++;
    world.marks.push({
      t: world.now,
      kind: now === 'on-demand' ? 'swap-to-on-demand' : 'swap-to-spot',
      detail:
        now === 'on-demand'
          ? `${farm.spotGroup} falls back through ${farm.onDemandGroup}: its launch source unchanged, its share goes to the on-demand group`
          : `${farm.spotGroup} takes its share back from ${farm.onDemandGroup}`,
    });
  };
}

/** Lambda async retries: 2, one minute and then two minutes after the failure. */
const RETRY_DELAYS = [60, 120];

/**
 * Wires the handlers to the world's events. Returns the stats the run reports. The SDK connection must point at
 * this world (and a fresh state table) while the world runs.
 */
export function installSpotfarm(world: World, handlers: Record<SpotfarmFunction, Handler>, connection: SdkConnection): SpotfarmStats {
  const s = world.scenario;
  const tables = new Tables();
  tables.create(STATE_TABLE, 'pk', 'sk');
  connection.target = { world, tables };
  const farm = buildSpotfarmFarm(world);
  // The queue's AWS/SQS metrics in CloudWatch (the queue scaler learns the job duration from them).
  startQueueMetrics(world);
  const stats: SpotfarmStats = { invocations: {}, failedEvents: 0, retries: 0, errors: new Map(), notImplemented: new Set() };

  const countSwaps = countMarketSwapsThroughOnDemandGroup(world, tables, farm);
  const invoke = (fn: SpotfarmFunction, event: unknown, attempt = 0): Promise<void> => {
    stats.invocations[fn] = (stats.invocations[fn] ?? 0) + 1;
    connection.target = { world, tables };
    return handlers[fn](structuredClone(event), lambdaContext(fn)).then(
      () => {
        connection.resetHistory();
        if (fn === 'price-check') countSwaps();
      },
      (err: unknown) => {
        connection.resetHistory();
        // A check may fail after its swap was committed (its notice, say): the swap counts all the same.
        if (fn === 'price-check') countSwaps();
        const message = `${fn}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`;
        const gap = /the simulated cloud does not implement [^:]+?(?=$|:)/.exec(message);
        if (err instanceof NotImplementedInSimulator || gap) stats.notImplemented.add(gap ? gap[0] : message);
        if (attempt < RETRY_DELAYS.length) {
          stats.retries++;
          world.at(world.now + RETRY_DELAYS[attempt]!, () => invoke(fn, event, attempt + 1));
        } else {
          stats.failedEvents++;
          stats.errors.set(message, (stats.errors.get(message) ?? 0) + 1);
        }
      },
    );
  };

  // Schedules.
  const schedule = (fn: SpotfarmFunction, period: number) => {
    const rule = `arn:aws:events:${s.region}:${ACCOUNT_ID}:rule/spotfarm-sim-${fn}-schedule`;
    const tick = (): Promise<void> => {
      world.at(world.now + period, tick);
      return invoke(fn, envelope(world, 'aws.events', 'Scheduled Event', [rule], {}));
    };
    world.at(s.start, tick);
  };
  schedule('queue-scaler', s.schedules.queueScaler);
  schedule('price-check', s.schedules.priceCheck);

  // CloudWatch alarms on ApproximateNumberOfMessagesVisible, 1-minute periods, N evaluation periods.
  const alarms = [
    { name: `${s.farm.name}-backlog-high`, ...s.alarms.backlogHigh, op: 'GreaterThanOrEqualToThreshold' as const },
    { name: `${s.farm.name}-backlog-low`, ...s.alarms.backlogLow, op: 'LessThanOrEqualToThreshold' as const },
  ].map((a) => ({ ...a, state: 'INSUFFICIENT_DATA', since: s.start, datapoints: [] as number[] }));
  const evaluate = (): Promise<void> | void => {
    world.at(world.now + 60, evaluate);
    const value = world.visible;
    const pending: Promise<void>[] = [];
    for (const alarm of alarms) {
      alarm.datapoints.push(value);
      if (alarm.datapoints.length > alarm.evaluationPeriods) alarm.datapoints.shift();
      if (alarm.datapoints.length < alarm.evaluationPeriods) continue;
      const breaching = alarm.datapoints.every((v) => (alarm.op === 'GreaterThanOrEqualToThreshold' ? v >= alarm.threshold : v <= alarm.threshold));
      const next = breaching ? 'ALARM' : 'OK';
      if (next === alarm.state) continue;
      const previous = { value: alarm.state, timestamp: alarmTimestamp(alarm.since) };
      alarm.state = next;
      alarm.since = world.now;
      const reasonData = JSON.stringify({
        version: '1.0',
        queryDate: alarmTimestamp(world.now),
        statistic: 'Sum',
        period: 60,
        recentDatapoints: [...alarm.datapoints],
        threshold: alarm.threshold,
      });
      const reason = `Threshold Crossed: ${alarm.evaluationPeriods} datapoint(s) [${alarm.datapoints.join(', ')}] ${breaching ? 'were' : 'were not'} ${alarm.op === 'GreaterThanOrEqualToThreshold' ? 'greater than or equal to' : 'less than or equal to'} the threshold (${alarm.threshold}).`;
      pending.push(
        invoke(
          'queue-scaler',
          envelope(world, 'aws.cloudwatch', 'CloudWatch Alarm State Change', [`arn:aws:cloudwatch:${s.region}:${ACCOUNT_ID}:alarm:${alarm.name}`], {
            alarmName: alarm.name,
            configuration: {
              description: `spotfarm ${s.farm.name}: backlog ${alarm.op === 'GreaterThanOrEqualToThreshold' ? 'high' : 'low'}`,
              metrics: [
                {
                  id: 'm1',
                  metricStat: {
                    metric: { namespace: 'AWS/SQS', name: 'ApproximateNumberOfMessagesVisible', dimensions: { QueueName: farm.queueName } },
                    period: 60,
                    stat: 'Sum',
                  },
                  returnData: true,
                },
              ],
            },
            previousState: { ...previous, reason: 'previous state', reasonData: '{}' },
            state: { value: next, reason, reasonData, timestamp: alarmTimestamp(world.now) },
          }),
        ),
      );
    }
    if (pending.length) return Promise.all(pending).then(() => undefined);
  };
  world.at(s.start + 60, evaluate);

  // EC2 and Auto Scaling events.
  const instanceArn = (i: Instance) => `arn:aws:ec2:${s.region}:${ACCOUNT_ID}:instance/${i.id}`;
  world.hooks.onInterruptionWarning = (i: Instance) => {
    world.at(world.now, () =>
      invoke('interruption', envelope(world, 'aws.ec2', 'EC2 Spot Instance Interruption Warning', [instanceArn(i)], { 'instance-id': i.id, 'instance-action': 'terminate' })),
    );
  };
  world.hooks.onRebalanceRecommendation = (i: Instance) => {
    world.at(world.now, () => invoke('interruption', envelope(world, 'aws.ec2', 'EC2 Instance Rebalance Recommendation', [instanceArn(i)], { 'instance-id': i.id })));
  };
  // The price-check function's rule for signals (serverless.yml): source spotfarm, detail-type "Market Check
  // Requested", detail.stack this stack. EventBridge delivers to the target asynchronously, like any rule.
  world.hooks.onBusEvent = (e) => {
    if (e.source !== 'spotfarm' || e.detailType !== 'Market Check Requested' || e.detail.stack !== SIM_STACK) return;
    world.at(world.now, () =>
      invoke('price-check', { version: '0', id: e.id, 'detail-type': e.detailType, source: e.source, account: ACCOUNT_ID, time: eventTime(e.time), region: s.region, resources: [], detail: e.detail }),
    );
  };
  world.hooks.onLaunchFailed = (g: Group, a: Activity) => {
    world.at(world.now, () =>
      invoke(
        'interruption',
        envelope(world, 'aws.autoscaling', 'EC2 Instance Launch Unsuccessful', [g.arn], {
          StatusCode: 'Failed',
          Description: a.Description,
          AutoScalingGroupName: g.name,
          ActivityId: a.ActivityId,
          Details: { 'Availability Zone': JSON.parse(a.Details)['Availability Zone'] ?? '', 'Subnet ID': 'subnet-0sim' },
          RequestId: a.ActivityId,
          StatusMessage: a.StatusMessage ?? '',
          EndTime: eventTime(a.EndTime),
          StartTime: eventTime(a.StartTime),
          Cause: a.Cause,
        }),
      ),
    );
  };
  return stats;
}
