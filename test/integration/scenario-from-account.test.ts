/**
 * `spotfarm scenario from-account` end to end against moto server through the real SDK: a tagged farm
 * (scripts/lib/demo-farm.ts), moto's spot price history, a day of AWS/SQS queue metrics put by the test, then the
 * worker's own JobDuration metric published by worker/job-metrics.ts. The command must write a scenario naming
 * the farm's types and AZs, send nothing but Describe/Get/List calls (moto's recorder sees every request that
 * reaches it, from any client), and `spotfarm backtest` must run on what it wrote.
 *
 * AWS refuses PutMetricData into `AWS/` namespaces; moto does not, which lets the test stand in for SQS's own
 * per-minute metrics.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CreateAutoScalingGroupCommand, CreateLaunchConfigurationCommand, CreateOrUpdateTagsCommand } from '@aws-sdk/client-auto-scaling';
import { CreateSubnetCommand, CreateVpcCommand, DescribeLaunchTemplatesCommand } from '@aws-sdk/client-ec2';
import { CloudWatchClient, PutMetricDataCommand, type MetricDatum } from '@aws-sdk/client-cloudwatch';
import { parse as parseYaml } from 'yaml';
import { buildDemoFarm, clientsFor, type DemoFarm } from '../../scripts/lib/demo-farm';
import { main } from '../../cli/spotfarm';
import { loadScenario } from '../../sim/scenario';
import { cloudWatchJobMetrics } from '../../worker/job-metrics';
import { startMoto, type MotoServer } from '../support/moto';

/** The API action of each request moto recorded (query protocol: Action=; JSON protocols: X-Amz-Target). */
function recordedActions(text: string): string[] {
  const actions: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const entry = JSON.parse(line) as { headers: Record<string, string>; body: string; body_encoded: boolean; url: string };
    const target = Object.entries(entry.headers).find(([k]) => k.toLowerCase() === 'x-amz-target')?.[1];
    if (target) {
      actions.push(target.split('.').pop()!);
      continue;
    }
    const body = entry.body_encoded ? Buffer.from(entry.body, 'base64').toString('utf8') : (entry.body ?? '');
    const action = /(?:^|&)Action=([A-Za-z]+)/.exec(body)?.[1] ?? /[?&]Action=([A-Za-z]+)/.exec(entry.url)?.[1];
    actions.push(action ?? `unknown ${entry.url}`);
  }
  return actions;
}

describe('scenario from-account against moto server', () => {
  let moto: MotoServer;
  let farm: DemoFarm;
  let cloudWatch: CloudWatchClient;
  const dirs: string[] = [];
  const now = new Date();
  const minute = 60_000;
  const dayStart = Math.floor(now.getTime() / minute) * minute - 24 * 60 * minute;

  beforeAll(async () => {
    const work = mkdtempSync(join(tmpdir(), 'spotfarm-recording-'));
    dirs.push(work);
    // The recorder writes where the server runs; keep it out of the repository.
    vi.stubEnv('MOTO_RECORDER_FILEPATH', join(work, 'recording.jsonl'));
    moto = await startMoto();
    farm = await buildDemoFarm({ endpoint: moto.endpoint, spotDesired: 1 });
    const { autoscaling } = clientsFor(moto.endpoint);
    const tag = (group: string, key: string, value: string) => ({
      Key: `spotfarm:${key}`,
      Value: value,
      PropagateAtLaunch: false,
      ResourceId: group,
      ResourceType: 'auto-scaling-group',
    });
    await autoscaling.send(
      new CreateOrUpdateTagsCommand({
        Tags: [farm.spotGroup, farm.onDemandGroup].flatMap((g) => [tag(g, 'slotsPerInstance', '2'), tag(g, 'backlogPerInstance', '4')]),
      }),
    );
    cloudWatch = new CloudWatchClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    // A day of queue metrics, per minute: 2 messages a minute by night, 6 by day; 5 in flight; all deleted.
    const data: MetricDatum[] = [];
    for (let i = 0; i < 24 * 60; i++) {
      const at = new Date(dayStart + i * minute);
      const hour = at.getUTCHours();
      const sent = hour >= 8 && hour < 20 ? 6 : 2;
      const dims = [{ Name: 'QueueName', Value: farm.queueName }];
      data.push({ MetricName: 'NumberOfMessagesSent', Dimensions: dims, Timestamp: at, Value: sent, Unit: 'Count' });
      data.push({ MetricName: 'NumberOfMessagesDeleted', Dimensions: dims, Timestamp: at, Value: sent, Unit: 'Count' });
      data.push({ MetricName: 'ApproximateNumberOfMessagesNotVisible', Dimensions: dims, Timestamp: at, Value: 5, Unit: 'Count' });
    }
    for (let i = 0; i < data.length; i += 500) {
      await cloudWatch.send(new PutMetricDataCommand({ Namespace: 'AWS/SQS', MetricData: data.slice(i, i + 500) }));
    }
    vi.stubEnv('AWS_ENDPOINT_URL', moto.endpoint);
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await moto.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t) });
    return { code, out, err };
  }

  it('writes a scenario of the farm (types, AZs, sizes, settings) sending only Describe/Get/List calls, and the backtest runs on it', async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'spotfarm-scenario-'));
    dirs.push(dir);
    await fetch(`${moto.endpoint}/moto-api/recorder/reset-recording`, { method: 'POST' });
    await fetch(`${moto.endpoint}/moto-api/recorder/start-recording`, { method: 'POST' });

    // Act
    const made = await run(['scenario', 'from-account', '--farm', farm.farm, '--days', '1', '--region', 'us-east-1', '--out', dir, '--quiet']);
    await fetch(`${moto.endpoint}/moto-api/recorder/stop-recording`, { method: 'POST' });
    const recording = await (await fetch(`${moto.endpoint}/moto-api/recorder/download-recording`)).text();

    // Assess: what it wrote
    expect(made.err).toBe('');
    expect(made.code).toBe(0);
    const yaml = parseYaml(readFileSync(join(dir, 'scenario.yaml'), 'utf8')) as Record<string, any>;
    expect(yaml.instance_types).toEqual(['c5.large']);
    expect(yaml.availability_zones).toEqual(['us-east-1a', 'us-east-1b']);
    expect(yaml.farm).toMatchObject({
      name: farm.farm,
      market_style: 'launch-template',
      slots_per_instance: 2,
      spot: { min: 0, max: 10 },
      on_demand: { min: 0, max: 10 },
      visibility_timeout_s: 900,
      max_receive_count: 5,
    });
    expect(yaml.spotfarm).toEqual({ backlogPerInstance: '4' });
    expect(yaml.description).toMatch(/Little's law/);
    expect(made.out).toMatch(/estimated by Little's law/);
    const trace = gunzipSync(readFileSync(join(dir, 'jobs.csv.gz'))).toString('utf8').trim().split('\n');
    // 12 hours at 6 a minute and 12 at 2 (give or take the window's edge minute).
    expect(trace.length - 1).toBeGreaterThanOrEqual(12 * 60 * 8 - 6);
    expect(trace.length - 1).toBeLessThanOrEqual(12 * 60 * 8 + 6);
    // Little's law: 5 in flight over (6 or 2 a minute) deleted = 50 s or 150 s in flight.
    const runtimes = new Set(trace.slice(1).map((l) => Number(l.split(',')[1])));
    expect([...runtimes].sort((a, b) => a - b)).toEqual([50, 150]);

    // Assess: nothing but reads reached the account
    const actions = recordedActions(recording);
    expect(actions).toEqual(expect.arrayContaining(['DescribeAutoScalingGroups', 'DescribeSpotPriceHistory', 'GetMetricData', 'GetQueueAttributes']));
    expect(actions.filter((a) => !/^(Describe|Get|List)/.test(a))).toEqual([]);

    // Assess: the backtest takes it as is
    const scenario = loadScenario(join(dir, 'scenario.yaml'));
    expect(scenario.workload.arrival.length).toBe(trace.length - 1);
    const backtest = await run(['backtest', join(dir, 'scenario.yaml'), '--json', join(dir, 'result.json'), '--quiet']);
    process.stdout.write(`\nscenario from-account, then backtest (moto account, one day):\n${made.out}${backtest.out}`);
    expect(backtest.code).toBe(0);
    const result = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8'));
    expect(result.policies.spotfarm.jobs_submitted).toBe(trace.length - 1);
    expect(result.policies.spotfarm.jobs_lost).toBe(0);
  });

  it('takes job durations from the worker\'s JobDuration metric when the worker published it', async () => {
    // Prepare: the worker's publisher, as spotfarm-worker --job-metrics runs it, sends three jobs' figures.
    const metrics = cloudWatchJobMetrics({ queueUrl: farm.queueUrl, client: cloudWatch, flushSeconds: 3600 });
    metrics.record({ outcome: 'succeeded', seconds: 40 }, now.getTime() - 30 * minute);
    metrics.record({ outcome: 'succeeded', seconds: 44 }, now.getTime() - 30 * minute);
    metrics.record({ outcome: 'failed', seconds: 42 }, now.getTime() - 29 * minute);
    metrics.record({ outcome: 'handed-back', seconds: 500 }, now.getTime() - 29 * minute);
    await metrics.stop();
    const dir = mkdtempSync(join(tmpdir(), 'spotfarm-scenario-'));
    dirs.push(dir);

    // Act
    const made = await run(['scenario', 'from-account', '--farm', farm.farm, '--days', '1', '--out', dir, '--quiet']);

    // Assess: the mean of succeeded and failed jobs (handed-back runs are not whole jobs), for every hour
    expect(made.err).toBe('');
    expect(made.code).toBe(0);
    expect(made.out).toMatch(/the worker's spotfarm JobDuration metric \(3 jobs/);
    // moto 5.2.5 answers percentile statistics (p5 ... p95) with an internal error; AWS computes them. The means
    // are used then, and the output says so.
    expect(made.out).toMatch(/JobDuration percentiles could not be read .*: each job takes its hour's mean/);
    const trace = gunzipSync(readFileSync(join(dir, 'jobs.csv.gz'))).toString('utf8').trim().split('\n');
    expect(new Set(trace.slice(1).map((l) => l.split(',')[1]))).toEqual(new Set(['42.0']));
  });

  it('reads a mixed-instances group\'s override types, its AZs from its subnets, and a launch-configuration group', async () => {
    // Prepare: farm "mixed" on the same queue: a VPC group with a mixed-instances policy (c5.large, m5.large) in
    // subnets of us-east-1c and us-east-1d, and an on-demand group from a launch configuration.
    const { autoscaling, ec2 } = clientsFor(moto.endpoint);
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.20.0.0/16' }));
    const subnets = await Promise.all(
      ['us-east-1c', 'us-east-1d'].map((az, i) =>
        ec2.send(new CreateSubnetCommand({ VpcId: vpc.Vpc!.VpcId!, CidrBlock: `10.20.${i}.0/24`, AvailabilityZone: az })),
      ),
    );
    const template = (await ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: [farm.onDemandTemplate] }))).LaunchTemplates![0]!;
    const tags = (group: string, role: string) =>
      [['farm', 'mixed'], ['role', role], ['queue', farm.queueName]].map(([k, v]) => ({ Key: `spotfarm:${k}`, Value: v, PropagateAtLaunch: false, ResourceId: group, ResourceType: 'auto-scaling-group' }));
    await autoscaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'mixed-spot',
        MinSize: 1,
        MaxSize: 30,
        DesiredCapacity: 0,
        VPCZoneIdentifier: subnets.map((s) => s.Subnet!.SubnetId!).join(','),
        MixedInstancesPolicy: {
          LaunchTemplate: {
            LaunchTemplateSpecification: { LaunchTemplateId: template.LaunchTemplateId, Version: '$Latest' },
            Overrides: [{ InstanceType: 'c5.large' }, { InstanceType: 'm5.large' }],
          },
          InstancesDistribution: { OnDemandBaseCapacity: 0, OnDemandPercentageAboveBaseCapacity: 0, SpotAllocationStrategy: 'price-capacity-optimized' },
        },
        Tags: tags('mixed-spot', 'spot'),
      }),
    );
    await autoscaling.send(new CreateLaunchConfigurationCommand({ LaunchConfigurationName: 'mixed-od', ImageId: 'ami-12c6146b', InstanceType: 'm5.large' }));
    await autoscaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'mixed-od',
        MinSize: 0,
        MaxSize: 6,
        DesiredCapacity: 0,
        VPCZoneIdentifier: subnets.map((s) => s.Subnet!.SubnetId!).join(','),
        LaunchConfigurationName: 'mixed-od',
        Tags: tags('mixed-od', 'on-demand'),
      }),
    );
    const dir = mkdtempSync(join(tmpdir(), 'spotfarm-scenario-'));
    dirs.push(dir);

    // Act
    const made = await run(['scenario', 'from-account', '--farm', 'mixed', '--days', '1', '--out', dir, '--quiet']);

    // Assess
    expect(made.err).toBe('');
    expect(made.code).toBe(0);
    const yaml = parseYaml(readFileSync(join(dir, 'scenario.yaml'), 'utf8')) as Record<string, any>;
    expect(yaml.instance_types).toEqual(['c5.large', 'm5.large']);
    expect(yaml.availability_zones).toEqual(['us-east-1c', 'us-east-1d']);
    expect(yaml.farm).toMatchObject({ market_style: 'mixed-instances', spot: { min: 1, max: 30 }, on_demand: { min: 0, max: 6 } });
    expect(made.out).toMatch(/group mixed-od: on-demand, launch-configuration, m5.large in us-east-1c, us-east-1d/);
    expect(loadScenario(join(dir, 'scenario.yaml')).availabilityZones).toEqual(['us-east-1c', 'us-east-1d']);
  });

  it('says what is wrong when no group carries the farm tag, and exits 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spotfarm-scenario-'));
    dirs.push(dir);
    const made = await run(['scenario', 'from-account', '--farm', 'nope', '--days', '1', '--out', dir, '--quiet']);
    expect(made.code).toBe(1);
    expect(made.err).toMatch(/no auto scaling group in us-east-1 is tagged spotfarm:farm=nope/);
  });
});
