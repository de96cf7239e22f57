/**
 * The gather phase of `spotfarm scenario from-account`: read-only calls, through the src/aws wrappers, that
 * collect what a scenario needs of one farm over a window. Every call is a Describe, Get or List
 * (test/integration/scenario-from-account.test.ts records them all), and a refusal for want of a permission
 * becomes MissingPermissionError naming the IAM action.
 */
import { describeLaunchConfigurations, describeLaunchDurations, describeManagedGroups } from '../../src/aws/autoscaling';
import { getMetricData, retentionSegments, type MetricPoints, type MetricQuery } from '../../src/aws/cloudwatch';
import {
  describeSpotPriceSteps,
  describeSubnetZones,
  describeTemplateVersions,
  resetTemplateCache,
  templateVersionKey,
  type PriceSteps,
} from '../../src/aws/ec2';
import { onDemandPrice, resetPriceCache, type OnDemandPrice } from '../../src/aws/pricing';
import type { RegionalClients } from '../../src/aws/regional-clients';
import { getQueueSettings, queueNameOf, resetQueueUrlCache, type QueueSettings } from '../../src/aws/sqs';
import { AwsCallError, errorMessage, GroupConfigError, SpotfarmError } from '../../src/errors';
import type { GroupSnapshot, LaunchDetails, Pool } from '../../src/model';
import { DEFAULT_SETTINGS, FARM_TAG, QUEUE_TAG, readGroupTags, ROLE_TAG, TAG_PREFIX, type GroupRole } from '../../src/settings';

/** The worker's per-job metric (worker/job-metrics.ts publishes it; docs/worker.md documents it). */
export const JOB_METRIC_NAMESPACE = 'spotfarm';
export const JOB_DURATION_METRIC = 'JobDuration';

/** An AWS refusal for want of a permission, naming the IAM action to grant. */
export class MissingPermissionError extends SpotfarmError {
  constructor(
    readonly action: string,
    doing: string,
    cause: unknown,
  ) {
    super(`missing permission ${action}: ${doing} was refused (${errorMessage(cause)}); grant ${action} to the caller and run again`, { cause });
  }
}

/** A farm that cannot be turned into a scenario as it stands (nothing tagged, no launch source, ...). */
export class FarmReadError extends SpotfarmError {}

const DENIED = /^(AccessDenied|AccessDeniedException|UnauthorizedOperation|AuthorizationError|UnauthorizedException|Forbidden)$/;

/** Runs one read; a permission refusal names the action (from AWS's message when it says, else `actions[0]`). */
async function read<T>(actions: string[], doing: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const name = error instanceof AwsCallError ? error.awsName : error instanceof Error ? error.name : undefined;
    if (name && DENIED.test(name)) {
      // AWS says "... is not authorized to perform: ec2:DescribeSpotPriceHistory ..." when it can.
      const said = /perform:?\s+([a-z0-9-]+:[A-Za-z0-9]+)/.exec(errorMessage(error))?.[1];
      throw new MissingPermissionError(said ?? actions[0]!, doing, error);
    }
    throw error;
  }
}

export interface FarmGroup {
  name: string;
  role: GroupRole;
  style: 'launch-configuration' | 'launch-template' | 'mixed-instances';
  instanceTypes: string[];
  availabilityZones: string[];
  min: number;
  max: number;
  /** `spotfarm:<setting>` tags, setting name to raw value, already checked by the settings parser. */
  settings: Record<string, string>;
  launch: LaunchDetails;
}

export interface AccountData {
  farm: string;
  region: string;
  /** Window [from, to), whole minutes. */
  from: Date;
  to: Date;
  groups: FarmGroup[];
  queue: { name: string; tag: string; settings: QueueSettings };
  spotPrices: Map<string, PriceSteps>;
  onDemand: Map<string, OnDemandPrice | undefined>;
  /** NumberOfMessagesSent sums, each with its period (finer for recent data). */
  arrivals: { t: number; v: number; period: number }[];
  /** Hourly sums and counts of the worker's JobDuration (succeeded and failed jobs). */
  jobDurations: { t: number; sum: number; count: number }[];
  /** Hourly deciles (p5, p15, ... p95) of the succeeded jobs' JobDuration, when CloudWatch gave them. */
  jobDeciles: Map<number, number[]>;
  /** Hourly NumberOfMessagesDeleted per second and ApproximateNumberOfMessagesNotVisible averages (Little's law). */
  deleted: MetricPoints;
  inFlight: MetricPoints;
  /** Seconds from launch to in service of each successful launch in the window (scaling activities). */
  launchSeconds: number[];
  /** Calls that could not be made and were replaced by something else, in words. */
  notes: string[];
}

export interface ReadOptions {
  farm: string;
  days: number;
  now: Date;
  clients: RegionalClients;
  region: string;
  /** Called when a step starts, with its label. */
  onStep?: (label: string) => void;
}

/** The percentiles read of the worker's JobDuration each hour: the middles of ten equal slices. */
export const DECILES = [5, 15, 25, 35, 45, 55, 65, 75, 85, 95] as const;

/** The steps `readAccount` reports through onStep, in order (the progress bar's length). */
export const READ_STEPS = 8;

export async function readAccount(options: ReadOptions): Promise<AccountData> {
  const { farm, clients, region } = options;
  const step = options.onStep ?? (() => undefined);
  const minute = 60_000;
  const to = new Date(Math.floor(options.now.getTime() / minute) * minute);
  const from = new Date(to.getTime() - options.days * 86_400_000);
  const notes: string[] = [];
  // The wrappers cache what a warm Lambda may keep (queue URLs, numbered template versions, prices); a read of
  // an account starts from nothing, whatever ran before in this process (a backtest's simulated cloud, say).
  resetQueueUrlCache();
  resetTemplateCache();
  resetPriceCache();

  step('auto scaling groups');
  const snapshots = await read(['autoscaling:DescribeAutoScalingGroups'], `describing the groups tagged ${FARM_TAG}=${farm}`, () =>
    describeManagedGroups(farm, clients.autoScaling),
  );
  if (snapshots.length === 0) {
    throw new FarmReadError(`no auto scaling group in ${region} is tagged ${FARM_TAG}=${farm} (spotfarm only reads groups that opted in)`);
  }

  step('launch sources');
  const groups = await readGroups(snapshots, clients);

  step('launch times');
  const launchSeconds: number[] = [];
  for (const group of groups) {
    launchSeconds.push(
      ...(await read(['autoscaling:DescribeScalingActivities'], `describing the scaling activities of ${group.name}`, () =>
        describeLaunchDurations(group.name, from, clients.autoScaling),
      )),
    );
  }

  step('subnets');
  const subnetIds = [...new Set(snapshots.flatMap((g) => g.subnetIds ?? []))];
  if (subnetIds.length > 0) {
    const zones = await read(['ec2:DescribeSubnets'], 'describing the groups\' subnets', () => describeSubnetZones(subnetIds, clients.ec2));
    for (const group of groups) {
      const snapshot = snapshots.find((s) => s.name === group.name)!;
      const fromSubnets = (snapshot.subnetIds ?? []).flatMap((id) => (zones.has(id) ? [zones.get(id)!] : []));
      if (fromSubnets.length > 0) group.availabilityZones = [...new Set(fromSubnets)].sort();
    }
  }

  step('queue');
  const queueTags = [...new Set(snapshots.flatMap((s) => (s.tags[QUEUE_TAG]?.trim() ? [s.tags[QUEUE_TAG]!.trim()] : [])))];
  if (queueTags.length === 0) throw new FarmReadError(`no group of farm ${farm} has a ${QUEUE_TAG} tag: the scenario needs the farm's queue`);
  if (queueTags.length > 1) {
    throw new FarmReadError(`the groups of farm ${farm} name different queues (${queueTags.join(', ')}); tag them all with the same ${QUEUE_TAG}`);
  }
  const queueTag = queueTags[0]!;
  const queueSettings = await read(['sqs:GetQueueAttributes', 'sqs:GetQueueUrl'], `reading queue ${queueTag}`, () =>
    getQueueSettings(queueTag, clients.sqs),
  );

  step('spot price history');
  const pools: Pool[] = [];
  for (const group of groups) {
    for (const instanceType of group.instanceTypes) {
      for (const availabilityZone of group.availabilityZones) pools.push({ instanceType, availabilityZone });
    }
  }
  const spotPrices = await read(['ec2:DescribeSpotPriceHistory'], 'describing the spot price history of the farm\'s pools', () =>
    describeSpotPriceSteps(pools, from, to, clients.ec2),
  );

  step('on-demand prices');
  const onDemand = new Map<string, OnDemandPrice | undefined>();
  for (const type of [...new Set(pools.map((p) => p.instanceType))]) {
    // pricing:GetProducts refused or unreachable: the bundled table answers (src/aws/pricing.ts), said below.
    onDemand.set(type, await onDemandPrice(type, region));
  }

  step('queue metrics');
  const queueName = queueNameOf(queueTag);
  const sqsMetric = (id: string, metricName: string, stat: MetricQuery['stat'], period: number): MetricQuery => ({
    id,
    namespace: 'AWS/SQS',
    metricName,
    dimensions: { QueueName: queueName },
    stat,
    period,
  });
  const arrivals: AccountData['arrivals'] = [];
  for (const segment of retentionSegments(from, to, options.now, 60)) {
    const data = await read(['cloudwatch:GetMetricData'], `reading AWS/SQS NumberOfMessagesSent of ${queueName}`, () =>
      getMetricData([sqsMetric('sent', 'NumberOfMessagesSent', 'Sum', segment.period)], segment.from, segment.to, clients.cloudWatch),
    );
    for (const p of data.get('sent')!) arrivals.push({ ...p, period: segment.period });
  }
  // Hourly periods start at StartTime (GetMetricData aligns periods to it): start on a clock hour so that each
  // period is the hour its timestamp names, which is how the builder looks durations up.
  const hourStart = new Date(Math.floor(from.getTime() / 3_600_000) * 3_600_000);
  const hourly = retentionSegments(hourStart, to, options.now, 3600).map((s) => ({ ...s, period: 3600 }));
  const jobQuery = (id: string, outcome: string, stat: MetricQuery['stat']): MetricQuery => ({
    id,
    namespace: JOB_METRIC_NAMESPACE,
    metricName: JOB_DURATION_METRIC,
    dimensions: { QueueName: queueName, Outcome: outcome },
    stat,
    period: 3600,
  });
  const durationsByHour = new Map<number, { sum: number; count: number }>();
  const deleted: MetricPoints = [];
  const inFlight: MetricPoints = [];
  for (const segment of hourly) {
    const data = await read(['cloudwatch:GetMetricData'], `reading the job metrics of ${queueName}`, () =>
      getMetricData(
        [
          jobQuery('okSum', 'succeeded', 'Sum'),
          jobQuery('okCount', 'succeeded', 'SampleCount'),
          jobQuery('failSum', 'failed', 'Sum'),
          jobQuery('failCount', 'failed', 'SampleCount'),
          sqsMetric('deleted', 'NumberOfMessagesDeleted', 'Sum', 3600),
          sqsMetric('deletedMinutes', 'NumberOfMessagesDeleted', 'SampleCount', 3600),
          sqsMetric('inFlight', 'ApproximateNumberOfMessagesNotVisible', 'Average', 3600),
        ],
        segment.from,
        segment.to,
        clients.cloudWatch,
      ),
    );
    for (const [sumId, countId] of [['okSum', 'okCount'], ['failSum', 'failCount']] as const) {
      const counts = new Map(data.get(countId)!.map((p) => [p.t, p.v]));
      for (const p of data.get(sumId)!) {
        const count = counts.get(p.t) ?? 0;
        if (count <= 0) continue;
        const seen = durationsByHour.get(p.t) ?? { sum: 0, count: 0 };
        durationsByHour.set(p.t, { sum: seen.sum + p.v, count: seen.count + count });
      }
    }
    // Per second over the minutes SQS reported (an hour cut by the window, or a queue idle for part of it,
    // has fewer than 60): SQS publishes one data point a minute while the queue is active.
    const minutes = new Map(data.get('deletedMinutes')!.map((p) => [p.t, p.v]));
    for (const p of data.get('deleted')!) {
      const reported = minutes.get(p.t) ?? 60;
      if (reported > 0) deleted.push({ t: p.t, v: p.v / (reported * 60) });
    }
    inFlight.push(...data.get('inFlight')!);
  }
  const jobDurations = [...durationsByHour].map(([t, s]) => ({ t, ...s })).sort((a, b) => a.t - b.t);
  const jobDeciles = new Map<number, number[]>();
  if (jobDurations.length > 0) {
    // The spread of run times matters to waits as much as their mean: ask for ten percentiles an hour. CloudWatch
    // computes percentiles of metrics published as raw values, as the worker does ("Percentiles", CloudWatch
    // concepts: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html).
    const stats = DECILES.map((p) => `p${p}` as const);
    try {
      for (const segment of hourly) {
        const data = await read(['cloudwatch:GetMetricData'], `reading the job duration percentiles of ${queueName}`, () =>
          getMetricData(
            stats.map((stat, i) => jobQuery(`d${i}`, 'succeeded', stat)),
            segment.from,
            segment.to,
            clients.cloudWatch,
          ),
        );
        const byHour = new Map<number, (number | undefined)[]>();
        stats.forEach((_, i) => {
          for (const p of data.get(`d${i}`)!) (byHour.get(p.t) ?? byHour.set(p.t, new Array(stats.length)).get(p.t)!)[i] = p.v;
        });
        for (const [t, values] of byHour) if (values.every((v) => v !== undefined && v >= 0)) jobDeciles.set(t, values as number[]);
      }
    } catch (error) {
      if (error instanceof MissingPermissionError) throw error;
      // The means are enough to go on; the scenario says what was lost.
      const reason = errorMessage(error).split('\n')[0]!.slice(0, 200);
      notes.push(`JobDuration percentiles could not be read (${reason}): each job takes its hour's mean`);
    }
  }

  return {
    farm,
    region,
    from,
    to,
    groups,
    queue: { name: queueName, tag: queueTag, settings: queueSettings },
    spotPrices,
    onDemand,
    arrivals,
    jobDurations,
    jobDeciles,
    launchSeconds,
    deleted,
    inFlight,
    notes,
  };
}

/** Each group's role, settings, launch style, instance types (template, configuration or overrides) and AZs. */
async function readGroups(snapshots: GroupSnapshot[], clients: RegionalClients): Promise<FarmGroup[]> {
  const lcNames = snapshots.flatMap((g) => (g.launch.style === 'launch-configuration' ? [g.launch.name] : []));
  const lcs =
    lcNames.length > 0
      ? await read(['autoscaling:DescribeLaunchConfigurations'], 'describing the groups\' launch configurations', () =>
          describeLaunchConfigurations([...new Set(lcNames)], clients.autoScaling),
        )
      : new Map<string, LaunchDetails>();
  const refs = snapshots.flatMap((g) => (g.launch.style === 'launch-template' || g.launch.style === 'mixed-instances' ? [g.launch.template] : []));
  const templates =
    refs.length > 0
      ? await read(['ec2:DescribeLaunchTemplateVersions'], 'describing the groups\' launch template versions', () =>
          describeTemplateVersions(refs, clients.ec2),
        )
      : new Map<string, LaunchDetails | Error>();

  const groups: FarmGroup[] = [];
  for (const snapshot of snapshots) {
    let tags;
    try {
      tags = readGroupTags(snapshot.name, snapshot.tags, DEFAULT_SETTINGS);
    } catch (error) {
      if (error instanceof GroupConfigError) throw new FarmReadError(`${error.message} (fix the tag; spotfarm itself skips this group)`);
      throw error;
    }
    const settings: Record<string, string> = {};
    for (const [key, value] of Object.entries(snapshot.tags)) {
      if (key.startsWith(TAG_PREFIX) && key !== FARM_TAG && key !== ROLE_TAG && key !== QUEUE_TAG) settings[key.slice(TAG_PREFIX.length)] = value.trim();
    }
    const launch = snapshot.launch;
    let details: LaunchDetails | Error | undefined;
    let instanceTypes: string[] = [];
    switch (launch.style) {
      case 'none':
        throw new FarmReadError(`group ${snapshot.name} has no launch configuration, launch template or mixed-instances policy`);
      case 'launch-configuration':
        details = lcs.get(launch.name) ?? new Error(`launch configuration ${launch.name} does not exist`);
        if (!(details instanceof Error) && details.instanceType) instanceTypes = [details.instanceType];
        break;
      case 'launch-template':
      case 'mixed-instances':
        const version = templates.get(templateVersionKey(launch.template)) ?? new Error(`launch template ${launch.template.name ?? launch.template.id} cannot be read`);
        details = version;
        if (!(version instanceof Error)) {
          instanceTypes =
            launch.style === 'mixed-instances' && launch.overrideTypes.length > 0
              ? [...launch.overrideTypes]
              : version.instanceType
                ? [version.instanceType]
                : [];
        }
        break;
    }
    if (details instanceof Error) throw new FarmReadError(`group ${snapshot.name}: ${details.message}`);
    if (details === undefined) throw new FarmReadError(`group ${snapshot.name}: its launch source cannot be read`);
    const launchDetails: LaunchDetails = details;
    if (instanceTypes.length === 0) throw new FarmReadError(`group ${snapshot.name}: no instance type found in its launch source`);
    groups.push({
      name: snapshot.name,
      role: tags.role,
      style: launch.style,
      instanceTypes,
      availabilityZones: [...snapshot.availabilityZones].sort(),
      min: snapshot.min,
      max: snapshot.max,
      settings,
      launch: launchDetails,
    });
  }
  return groups;
}
