/**
 * Benchmark: a price check over 200 managed groups in 3 regions (one stack per region, as deployed), with the
 * SDK mocked (aws-sdk-client-mock) by an in-memory account: groups of the three market styles, spot prices,
 * a state table with conditional writes. Prints the AWS calls by operation (describe calls should follow pages
 * and regions, not groups; mutations only the groups that change) and the in-process time. Nothing is asserted.
 *
 *   npx tsx bench/price-check.ts [groups] [regions]
 */
import { performance } from 'node:perf_hooks';

process.env.SPOTFARM_LOG_LEVEL = 'SILENT';
process.env.AWS_REGION ??= 'us-east-1';
process.env.AWS_ACCESS_KEY_ID ??= 'bench';
process.env.AWS_SECRET_ACCESS_KEY ??= 'bench';

const GROUPS = Number(process.argv[2] ?? 200);
const REGIONS = ['us-east-1', 'eu-west-1', 'ap-southeast-2'].slice(0, Number(process.argv[3] ?? 3));
const TYPES = ['c5.large', 'm5.large', 'r5.large', 'c5.xlarge', 'm5.xlarge'];
// c5.large spot is above on-demand: the groups launching it fall back; every other pool is cheap.
const RATIO: Record<string, number> = { 'c5.large': 1.2, 'm5.large': 0.35, 'r5.large': 0.3, 'c5.xlarge': 0.4, 'm5.xlarge': 0.33 };

async function main(): Promise<void> {
  const { mockClient } = await import('aws-sdk-client-mock');
  const asg = await import('@aws-sdk/client-auto-scaling');
  const ec2 = await import('@aws-sdk/client-ec2');
  const ddb = await import('@aws-sdk/client-dynamodb');
  const { PricingClient, GetProductsCommand } = await import('@aws-sdk/client-pricing');
  const { SNSClient, PublishCommand } = await import('@aws-sdk/client-sns');
  const { marshall, unmarshall } = await import('@aws-sdk/util-dynamodb');
  const { loadConfig } = await import('../src/config');
  const { runPriceCheck } = await import('../src/market/run');
  const { fallbackPrice, resetPriceCache } = await import('../src/aws/pricing');
  // Spot prices as a ratio of the on-demand price the check will use (the bundled table's, per region).
  const spotPrice = (type: string, region: string) => (fallbackPrice(type, region)?.usdPerHour ?? 0.1) * RATIO[type]!;

  const autoscaling = mockClient(asg.AutoScalingClient);
  const compute = mockClient(ec2.EC2Client);
  const dynamo = mockClient(ddb.DynamoDBClient);
  const pricing = mockClient(PricingClient);
  const sns = mockClient(SNSClient);

  function account(region: string, count: number) {
    const zones = ['a', 'b', 'c'].map((z) => `${region}${z}`);
    const groups: Record<string, unknown>[] = [];
    const launchConfigurations: Record<string, unknown>[] = [];
    for (let i = 0; i < count; i++) {
      const name = `farm${i % 20}-spot-${region}-${i}`;
      const type = TYPES[i % TYPES.length]!;
      const instances = [0, 1, 2, 3].map((k) => ({
        InstanceId: `i-${region.replace(/-/g, '')}${i}x${k}`,
        InstanceType: type,
        AvailabilityZone: zones[k % 3],
        LifecycleState: 'InService',
        HealthStatus: 'Healthy',
        ProtectedFromScaleIn: false,
      }));
      const base = {
        AutoScalingGroupName: name,
        MinSize: 0,
        MaxSize: 20,
        DesiredCapacity: 4,
        AvailabilityZones: zones,
        Instances: instances,
        Tags: [
          { Key: 'spotfarm:farm', Value: `farm${i % 20}` },
          { Key: 'spotfarm:role', Value: 'spot' },
        ],
      };
      const style = i % 3;
      if (style === 0) {
        launchConfigurations.push({ LaunchConfigurationName: `${name}-lc`, ImageId: 'ami-1', InstanceType: type, SpotPrice: '1.0' });
        groups.push({ ...base, LaunchConfigurationName: `${name}-lc` });
      } else if (style === 1) {
        groups.push({ ...base, LaunchTemplate: { LaunchTemplateId: `lt-${i}`, Version: '1' } });
      } else {
        groups.push({
          ...base,
          MixedInstancesPolicy: {
            LaunchTemplate: { LaunchTemplateSpecification: { LaunchTemplateId: `lt-${i}`, Version: '1' }, Overrides: [{ InstanceType: type }] },
            InstancesDistribution: { OnDemandBaseCapacity: 0, OnDemandPercentageAboveBaseCapacity: 0, SpotAllocationStrategy: 'price-capacity-optimized' },
          },
        });
      }
    }
    return { zones, groups, launchConfigurations };
  }

  const table = new Map<string, Record<string, unknown>>();

  function install(region: string, count: number): void {
    const { zones, groups, launchConfigurations } = account(region, count);
    autoscaling.reset();
    compute.reset();
    dynamo.reset();
    pricing.reset();
    sns.reset();
    autoscaling.on(asg.DescribeAutoScalingGroupsCommand).callsFake((input: { NextToken?: string; MaxRecords?: number; AutoScalingGroupNames?: string[] }) => {
      if (input.AutoScalingGroupNames) return { AutoScalingGroups: groups.filter((g) => input.AutoScalingGroupNames!.includes(g.AutoScalingGroupName as string)) };
      const start = Number(input.NextToken ?? 0);
      const size = input.MaxRecords ?? 50;
      const next = start + size < groups.length ? String(start + size) : undefined;
      return { AutoScalingGroups: groups.slice(start, start + size), NextToken: next };
    });
    autoscaling.on(asg.DescribeLaunchConfigurationsCommand).callsFake((input: { LaunchConfigurationNames?: string[] }) => ({
      LaunchConfigurations: launchConfigurations.filter((lc) => input.LaunchConfigurationNames?.includes(lc.LaunchConfigurationName as string)),
    }));
    autoscaling.on(asg.DescribeScalingActivitiesCommand).resolves({ Activities: [] });
    autoscaling.on(asg.UpdateAutoScalingGroupCommand).resolves({});
    autoscaling.on(asg.CreateLaunchConfigurationCommand).resolves({});
    compute.on(ec2.DescribeLaunchTemplateVersionsCommand).callsFake((input: { LaunchTemplateId?: string }) => {
      const i = Number(input.LaunchTemplateId!.slice(3));
      const type = TYPES[i % TYPES.length]!;
      const mixed = i % 3 === 2;
      return {
        LaunchTemplateVersions: [
          {
            LaunchTemplateId: input.LaunchTemplateId,
            VersionNumber: 1,
            LaunchTemplateData: { ImageId: 'ami-1', InstanceType: type, ...(mixed ? {} : { InstanceMarketOptions: { MarketType: 'spot' } }) },
          },
        ],
      };
    });
    compute.on(ec2.CreateLaunchTemplateVersionCommand).callsFake((input: { LaunchTemplateId?: string; LaunchTemplateName?: string }) => ({
      LaunchTemplateVersion: { VersionNumber: 2, LaunchTemplateId: input.LaunchTemplateId ?? `lt-own-${input.LaunchTemplateName}` },
    }));
    // The groups' own templates carry their farm's tag (IAM lets spotfarm launch only from those); spotfarm's own
    // on-demand copy does not exist yet and is created at the first swap.
    compute.on(ec2.DescribeLaunchTemplatesCommand).callsFake((input: { LaunchTemplateIds?: string[] }) => ({
      LaunchTemplates: (input.LaunchTemplateIds ?? []).map((id) => ({ LaunchTemplateId: id, Tags: [{ Key: 'spotfarm:farm', Value: `farm${Number(id.slice(3)) % 20}` }] })),
    }));
    compute.on(ec2.CreateLaunchTemplateCommand).callsFake((input: { LaunchTemplateName?: string }) => ({
      LaunchTemplate: { LaunchTemplateId: `lt-own-${input.LaunchTemplateName}`, LatestVersionNumber: 1 },
    }));
    compute.on(ec2.DescribeSpotPriceHistoryCommand).resolves({
      SpotPriceHistory: TYPES.flatMap((t) =>
        zones.map((z) => ({ InstanceType: t as never, AvailabilityZone: z, SpotPrice: spotPrice(t, region).toFixed(6), Timestamp: new Date(0) })),
      ),
    });
    compute.on(ec2.DescribeInstancesCommand).callsFake(() => ({
      Reservations: [{ Instances: groups.flatMap((g) => (g.Instances as { InstanceId: string }[]).map((i) => ({ InstanceId: i.InstanceId, InstanceLifecycle: 'spot' }))) }],
    }));
    // No Pricing API here: the bundled table prices on-demand after one failed call (as in a region without it).
    pricing.on(GetProductsCommand).rejects(new Error('no Pricing API in the benchmark'));
    sns.on(PublishCommand).resolves({ MessageId: 'bench' });
    dynamo.on(ddb.GetItemCommand).callsFake((input: { Key: Record<string, never> }) => {
      const key = unmarshall(input.Key) as { pk: string; sk: string };
      const item = table.get(`${key.pk}|${key.sk}`);
      return item ? { Item: marshall(item) } : {};
    });
    dynamo.on(ddb.PutItemCommand).callsFake((input: { Item: Record<string, never>; ConditionExpression?: string; ExpressionAttributeValues?: Record<string, never> }) => {
      const item = unmarshall(input.Item) as { pk: string; sk: string; version?: number };
      const key = `${item.pk}|${item.sk}`;
      const existing = table.get(key);
      const expected = input.ExpressionAttributeValues ? (unmarshall(input.ExpressionAttributeValues) as { ':expected'?: number })[':expected'] : undefined;
      const ok = input.ConditionExpression?.startsWith('attribute_not_exists') ? !existing : existing?.version === expected;
      if (!ok) throw Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException' });
      table.set(key, item);
      return {};
    });
    dynamo.on(ddb.QueryCommand).resolves({ Items: [] });
  }

  function callsByOperation(): Map<string, number> {
    const out = new Map<string, number>();
    for (const mock of [autoscaling, compute, dynamo, pricing, sns] as { calls(): { args: unknown[] }[] }[]) {
      for (const call of mock.calls()) {
        const name = (call.args[0] as object).constructor.name.replace(/Command$/, '');
        out.set(name, (out.get(name) ?? 0) + 1);
      }
    }
    return out;
  }

  const perRegion = Math.ceil(GROUPS / REGIONS.length);
  const rows: { label: string; calls: Map<string, number>; ms: number; swaps: number }[] = [];
  for (const [tick, minute] of [[1, 0], [2, 5], [3, 10]] as const) {
    for (const region of REGIONS) {
      process.env.AWS_REGION = region;
      const config = loadConfig({ ...process.env, AWS_REGION: region, SPOTFARM_STATE_TABLE: 'bench-state', SPOTFARM_TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:bench' });
      install(region, Math.min(perRegion, GROUPS - perRegion * REGIONS.indexOf(region)));
      resetPriceCache();
      const now = new Date(Date.UTC(2026, 2, 2, 10, minute));
      const started = performance.now();
      const summary = await runPriceCheck({ config, now, dryRun: false, source: 'price-check', eventId: `bench-${tick}-${region}` }, '*');
      const ms = performance.now() - started;
      rows.push({ label: `check ${tick} ${region} (${summary.groups.length} groups)`, calls: callsByOperation(), ms, swaps: summary.swaps });
    }
  }

  const operations = [...new Set(rows.flatMap((r) => [...r.calls.keys()]))].sort();
  const checks = [1, 2, 3].map((tick) => rows.filter((r) => r.label.startsWith(`check ${tick} `)));
  const sum = (rs: typeof rows, f: (r: (typeof rows)[number]) => number) => rs.reduce((a, r) => a + f(r), 0);
  console.log(`price check: ${GROUPS} managed groups over ${REGIONS.length} regions (one stack each), SDK mocked, checks 5 min apart`);
  console.log('check 1 starts a price streak; check 2 swaps the c5.large groups (spot at 1.2 x on-demand); check 3 is steady state\n');
  console.log(`${'AWS calls (sum over regions)'.padEnd(34)}${['check 1', 'check 2', 'check 3'].map((c) => c.padStart(9)).join('')}`);
  for (const op of operations) {
    console.log(`${op.padEnd(34)}${checks.map((rs) => String(sum(rs, (r) => r.calls.get(op) ?? 0)).padStart(9)).join('')}`);
  }
  console.log(`${'swaps'.padEnd(34)}${checks.map((rs) => String(sum(rs, (r) => r.swaps)).padStart(9)).join('')}`);
  console.log(`${'in-process ms (sum over regions)'.padEnd(34)}${checks.map((rs) => sum(rs, (r) => r.ms).toFixed(0).padStart(9)).join('')}`);
  console.log('\nper region:');
  for (const r of rows) console.log(`  ${r.label.padEnd(38)} ${r.ms.toFixed(1).padStart(7)} ms  ${r.swaps} swaps`);
}

void main();
