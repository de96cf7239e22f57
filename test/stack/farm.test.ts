/**
 * The stack as `serverless package` writes it, for both farm paths (adopt tagged groups, create a farm) and the
 * three market styles: cfn-lint clean, least privilege for functions and workers, nothing dropped silently.
 * Each variant is packaged once (about 10 s each), in beforeAll.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EVENT_COUNTED, MARKET_FIGURES } from '../../src/figures';
import { cfnLint, packageStack, ROOT, type CloudFormationTemplate, type PackagedStack } from '../support/serverless';
import {
  asyncProblems,
  deployedResources,
  functionRoleProblems,
  passRoleProblems,
  ruleProblems,
  text,
  workerRoleProblems,
  workQueueProblems,
} from './rules';

const NEW_FARM = [
  'farmMode=create',
  'farm=ml',
  'subnets=subnet-0123456789abcdef0, subnet-0fedcba9876543210',
  'workerCommand=python3 /opt/ml/train.py --out s3://results/',
  'spotfarmGit=https://github.com/example/spotfarm.git',
];

const VARIANTS = {
  adopt: { params: ['farm=ml'] },
  'adopt-every-farm': { params: [] },
  'create-launch-template': { params: [...NEW_FARM, 'dashboard=true'] },
  'create-launch-configuration': {
    params: [
      ...NEW_FARM,
      'marketStyle=launch-configuration',
      'spotMaxPrice=0.05',
      'alertEmail=ops@example.com',
      'securityGroups=sg-0123456789abcdef0',
      'backlogAlarms=true',
    ],
  },
  'create-mixed-instances': {
    params: [
      ...NEW_FARM,
      'marketStyle=mixed-instances',
      'instanceTypes=c5.large,c5a.large,m5.large',
      'workerBundle=s3://my-artifacts/agents/spotfarm-worker.cjs',
    ],
  },
} satisfies Record<string, { params: string[] }>;
type Variant = keyof typeof VARIANTS;
const NAMES = Object.keys(VARIANTS) as Variant[];
const CREATED = NAMES.filter((name) => name.startsWith('create-'));

const GROUPS = ['spotfarm-test-spot', 'spotfarm-test-on-demand'];

describe('packaged stack: farm paths', () => {
  const stacks = {} as Record<Variant, PackagedStack>;
  const deployed = {} as Record<Variant, CloudFormationTemplate['Resources']>;
  beforeAll(async () => {
    // Sequential: serverless-esbuild shares one build directory per service.
    for (const name of NAMES) {
      stacks[name] = await packageStack(VARIANTS[name].params);
      deployed[name] = deployedResources(stacks[name].template);
    }
  }, 600_000);

  const typesOf = (name: Variant) =>
    Object.entries(deployed[name])
      .map(([id, r]) => `${id}:${r.Type}`)
      .sort();

  it.each(NAMES)('%s passes cfn-lint with zero errors and warnings', async (name) => {
    // Act
    const findings = await cfnLint(stacks[name].templatePath);
    // Assess
    expect(findings.map((f) => `${f.Level} ${f.Rule.Id}: ${f.Message}`)).toEqual([]);
  });

  it.each(NAMES)('%s: no function may mutate on * without a farm tag condition; PassRole only the worker role', (name) => {
    // Act
    const problems = [
      ...functionRoleProblems(stacks[name].template),
      ...passRoleProblems(stacks[name].template, 'spotfarm-test-us-east-1-worker'),
    ];
    // Assess
    expect(problems).toEqual([]);
  });

  it.each(NAMES)('%s: every function and every rule target ends in the failure queue, with bounded retries', (name) => {
    // Act
    const problems = [...asyncProblems(stacks[name].template), ...ruleProblems(stacks[name].template)];
    // Assess
    expect(problems).toEqual([]);
    const configs = Object.values(stacks[name].template.Resources).filter((r) => r.Type === 'AWS::Lambda::EventInvokeConfig');
    expect(configs.length).toBeGreaterThanOrEqual(1);
    for (const config of configs) {
      expect(config.Properties).toMatchObject({
        MaximumRetryAttempts: 2,
        MaximumEventAgeInSeconds: 3600,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['FailureQueue', 'Arn'] } } },
      });
    }
  });

  it.each(NAMES)('%s: functions get the alert topic ARN from the template, the state table by name', (name) => {
    // Assess
    const functions = Object.values(stacks[name].template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    for (const fn of functions) {
      const variables = (fn.Properties?.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(variables.SPOTFARM_TOPIC_ARN).toEqual({ Ref: 'AlertTopic' });
      expect(variables.SPOTFARM_STATE_TABLE).toBe('spotfarm-test-state');
    }
  });

  it('adopting creates no farm: only the functions, state table, failure queue, topic, alarm and saved queries', () => {
    // Assess
    for (const name of ['adopt', 'adopt-every-farm'] as const) {
      const types = new Set(Object.values(deployed[name]).map((r) => r.Type));
      expect(types.has('AWS::AutoScaling::AutoScalingGroup')).toBe(false);
      expect(types.has('AWS::EC2::LaunchTemplate')).toBe(false);
      expect(Object.keys(deployed[name])).not.toContain('WorkQueue');
      expect(Object.keys(deployed[name])).not.toContain('WorkerRole');
      expect(typesOf(name)).toEqual(
        expect.arrayContaining(['FailureQueue:AWS::SQS::Queue', 'AlertTopic:AWS::SNS::Topic', 'MarketFiguresQuery:AWS::Logs::QueryDefinition']),
      );
      // The dashboard is opt-in (dashboard=true): $3 a month each beyond an account's first 3.
      expect(Object.keys(deployed[name])).not.toContain('Dashboard');
      expect(Object.keys(stacks[name].template.Outputs ?? {})).toContain('DashboardUrl');
      expect(deployed[name].DashboardUrl).toBeUndefined();
    }
    // A named farm without a named queue watches no queue; the functions may read any queue in the region.
    expect(Object.keys(deployed.adopt)).not.toContain('BacklogHighAlarm');
    expect(stacks.adopt.template.Parameters).toMatchObject({ QueueName: { Default: '*' }, FarmMode: { Default: 'adopt' } });
  });

  it.each(CREATED)('%s: the work queue redrives to its dead-letter queue', (name) => {
    // Act
    const problems = workQueueProblems({ ...stacks[name].template, Resources: deployed[name] });
    // Assess
    expect(problems).toEqual([]);
    expect(deployed[name].WorkQueue?.Properties).toMatchObject({
      QueueName: 'spotfarm-test-jobs',
      VisibilityTimeout: '900',
      RedrivePolicy: { maxReceiveCount: '5' },
    });
  });

  it.each(CREATED)('%s: the worker role touches only its queue and its groups', (name) => {
    // Act
    const problems = workerRoleProblems({ ...stacks[name].template, Resources: deployed[name] }, GROUPS);
    // Assess
    expect(problems).toEqual([]);
  });

  it.each(CREATED)('%s: two groups over the subnets, tagged for the farm, the queue scaler owning desired', (name) => {
    // Assess
    const subnets = stacks[name].template.Parameters as Record<string, { Default: string }>;
    expect(subnets.Subnets?.Default).toBe('subnet-0123456789abcdef0,subnet-0fedcba9876543210');
    for (const [id, role] of [['SpotGroup', 'spot'], ['OnDemandGroup', 'on-demand']] as const) {
      const group = deployed[name][id]?.Properties ?? {};
      expect(group.VPCZoneIdentifier).toEqual({ 'Fn::Split': [',', { Ref: 'Subnets' }] });
      expect(group.DesiredCapacity).toBeUndefined();
      expect(group.Tags).toEqual([
        { Key: 'spotfarm:farm', Value: 'ml', PropagateAtLaunch: true },
        { Key: 'spotfarm:role', Value: role, PropagateAtLaunch: true },
        { Key: 'spotfarm:queue', Value: 'spotfarm-test-jobs', PropagateAtLaunch: false },
      ]);
    }
    expect(deployed[name].SpotGroup?.Properties).toMatchObject({ MinSize: '0', MaxSize: '10' });
    expect(deployed[name].OnDemandGroup?.Properties).toMatchObject({ MinSize: '0', MaxSize: '10' });
  });

  it('each market style creates its own launch sources, and the termination policy lets the other market leave first', () => {
    // Assess
    const sources = (name: Variant) =>
      typesOf(name).filter((t) => /LaunchTemplate|LaunchConfiguration$/.test(t.split(':').at(-1) ?? '') && !t.includes('Group'));
    expect(sources('create-launch-template')).toEqual([
      'OnDemandLaunchTemplate:AWS::EC2::LaunchTemplate',
      'SpotLaunchTemplate:AWS::EC2::LaunchTemplate',
    ]);
    expect(sources('create-launch-configuration')).toEqual([
      'OnDemandLaunchConfiguration:AWS::AutoScaling::LaunchConfiguration',
      'SpotLaunchConfiguration:AWS::AutoScaling::LaunchConfiguration',
    ]);
    expect(sources('create-mixed-instances')).toEqual(['OnDemandLaunchTemplate:AWS::EC2::LaunchTemplate']);
    const spot = deployed['create-launch-template'].SpotLaunchTemplate?.Properties?.LaunchTemplateData as Record<string, unknown>;
    expect(spot.InstanceMarketOptions).toMatchObject({
      MarketType: 'spot',
      SpotOptions: { SpotInstanceType: 'one-time', InstanceInterruptionBehavior: 'terminate' },
    });
    expect(spot.MetadataOptions).toMatchObject({ HttpTokens: 'required' });
    const onDemand = deployed['create-launch-template'].OnDemandLaunchTemplate?.Properties?.LaunchTemplateData as Record<string, unknown>;
    expect(onDemand.InstanceMarketOptions).toBeUndefined();
    expect(deployed['create-launch-configuration'].SpotLaunchConfiguration?.Properties?.SpotPrice).toEqual({
      'Fn::If': ['HasSpotMaxPrice', { Ref: 'SpotMaxPrice' }, { Ref: 'AWS::NoValue' }],
    });
    expect(deployed['create-launch-configuration'].OnDemandLaunchConfiguration?.Properties?.SpotPrice).toBeUndefined();
    const mixed = JSON.stringify(deployed['create-mixed-instances'].SpotGroup?.Properties?.MixedInstancesPolicy);
    expect(mixed).toContain('[{"InstanceType":"c5.large"},{"InstanceType":"c5a.large"},{"InstanceType":"m5.large"}]');
    expect(mixed).toContain('"OnDemandPercentageAboveBaseCapacity":0');
    expect(JSON.stringify(deployed['create-launch-template'].SpotGroup?.Properties?.TerminationPolicies)).toContain(
      '"UseLaunchConfiguration","OldestLaunchConfiguration",{"Fn::If":["UseMixedInstances","AllocationStrategy","OldestLaunchTemplate"]}',
    );
  });

  it('user data installs and starts the worker agent with the command from the params', () => {
    // Assess
    const data = deployed['create-launch-template'].OnDemandLaunchTemplate?.Properties?.LaunchTemplateData as {
      UserData: { 'Fn::Base64': { 'Fn::Sub': [string, Record<string, unknown>] } };
    };
    const [script, values] = data.UserData['Fn::Base64']['Fn::Sub'];
    expect(script).toMatch(/^#!\/bin\/bash\n/);
    expect(script).toContain("WORKER_COMMAND='${WorkerCommand}'");
    expect(script).toContain('systemctl enable --now spotfarm-worker.service');
    expect(values).toEqual({
      QueueUrl: { Ref: 'WorkQueue' },
      WorkerCommand: 'python3 /opt/ml/train.py --out s3://results/',
      WorkerSlots: '1',
      WorkerBundle: '',
      SpotfarmGit: 'https://github.com/example/spotfarm.git',
      SpotfarmRef: 'main',
    });
    // Every ${...} in the script is one of the values: Fn::Sub would fail the deploy on an unknown one.
    const placeholders = [...script.matchAll(/\$\{([^}!]+)\}/g)].map((m) => m[1]);
    expect(new Set(placeholders)).toEqual(new Set(Object.keys(values)));
  });

  it('an s3:// worker bundle lets the worker role read that one object', () => {
    // Assess
    const statements = (deployed['create-mixed-instances'].WorkerRole?.Properties?.Policies as { PolicyDocument: { Statement: { Sid: string; Resource: unknown }[] } }[])[0]!
      .PolicyDocument.Statement;
    const bundle = statements.find((s) => s.Sid === 'AgentBundle');
    expect(text(bundle?.Resource)).toBe('arn:${AWS::Partition}:s3:::my-artifacts/agents/spotfarm-worker.cjs');
    const plain = (deployed['create-launch-template'].WorkerRole?.Properties?.Policies as { PolicyDocument: { Statement: { Sid: string }[] } }[])[0]!
      .PolicyDocument.Statement;
    expect(plain.map((s) => s.Sid)).toEqual(['WorkQueue', 'FindOwnGroup', 'ProtectWhileBusy']);
  });

  it('creates the queue alarms the queue scaler matches by name, and alerts on failures', () => {
    // Assess
    const resources = deployed['create-launch-configuration'];
    expect(resources.BacklogHighAlarm?.Properties).toMatchObject({
      AlarmName: 'spotfarm-test-backlog-high',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: 'spotfarm-test-jobs' }],
      Threshold: '10',
    });
    expect(resources.BacklogLowAlarm?.Properties).toMatchObject({ AlarmName: 'spotfarm-test-backlog-low', Threshold: '0' });
    expect(resources.FailuresAlarm?.Properties).toMatchObject({ AlarmActions: [{ Ref: 'AlertTopic' }] });
    expect(resources.AlertEmailSubscription?.Properties).toMatchObject({ Protocol: 'email' });
    expect(stacks['create-launch-configuration'].template.Parameters).toMatchObject({ AlertEmail: { Default: 'ops@example.com' } });
    expect(Object.keys(deployed['create-launch-template'])).not.toContain('AlertEmailSubscription');
  });

  it('by default only the alarms that page (failures, work dead letters); the backlog alarms with backlogAlarms=true', () => {
    // Assess
    const alarms = (name: Variant) => Object.entries(deployed[name]).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm').map(([id]) => id).sort();
    expect(alarms('create-mixed-instances')).toEqual(['FailuresAlarm', 'WorkDeadLettersAlarm']);
    expect(alarms('adopt')).toEqual(['FailuresAlarm']);
    expect(alarms('create-launch-configuration')).toEqual(['BacklogHighAlarm', 'BacklogLowAlarm', 'FailuresAlarm', 'WorkDeadLettersAlarm']);
  });

  it('the saved queries read the log lines the functions write, in the functions\' log groups', () => {
    // Prepare
    const resources = stacks['create-launch-template'].template.Resources;
    const logGroups = Object.values(resources).filter((r) => r.Type === 'AWS::Logs::LogGroup').map((r) => String(r.Properties?.LogGroupName));
    const queries = Object.values(resources).filter((r) => r.Type === 'AWS::Logs::QueryDefinition');
    // Assess
    expect(queries).toHaveLength(3);
    for (const query of queries) {
      for (const group of query.Properties?.LogGroupNames as string[]) expect(logGroups).toContain(group);
      expect(String(query.Properties?.Name)).toMatch(/^spotfarm-test\//);
    }
    const strings = queries.map((q) => String(q.Properties?.QueryString)).join('\n');
    expect(strings).toContain(`filter message = "${MARKET_FIGURES}"`);
    expect(strings).toContain(`filter message = "${EVENT_COUNTED}"`);
  });

  it('the dashboard body is valid JSON once CloudFormation substitutes it, and its queries read fields the functions log', () => {
    // Prepare
    const sources = ['src/market/controller.ts', 'src/interruption/execute.ts', 'src/capacity/run.ts']
      .map((file) => readFileSync(join(ROOT, file), 'utf8'))
      .join('\n');
    const body = stacks['create-launch-template'].template.Resources.Dashboard?.Properties?.DashboardBody as {
      'Fn::Sub': [string, Record<string, unknown>];
    };
    const [source, values] = body['Fn::Sub'];
    // Act: substitute as CloudFormation would, with placeholder values for the intrinsics.
    // Fn::If takes its first branch: this is the created farm, where CreateFarm and WatchQueue hold.
    const value = (v: unknown): unknown => (v && typeof v === 'object' && 'Fn::If' in v ? (v as { 'Fn::If': unknown[] })['Fn::If'][1] : v);
    const substituted = source.replace(/\$\{([^}]+)\}/g, (_, name: string) =>
      typeof value(values[name]) === 'string' ? (value(values[name]) as string) : name === 'AWS::Region' ? 'us-east-1' : `x-${name}`,
    );
    // Assess
    const dashboard = JSON.parse(substituted) as { widgets: { properties: { title?: string } }[] };
    // spotfarm's own figures: Logs Insights widgets on the lines src/figures.ts writes, in the stack's own log
    // groups, reading fields those lines carry, so no widget stays empty for a typo.
    const widgets = dashboard.widgets as unknown as { type: string; properties: { query?: string } }[];
    const queries = widgets.filter((w) => w.type === 'log').map((w) => w.properties.query!);
    expect(queries).toHaveLength(4);
    const logGroups = Object.values(stacks['create-launch-template'].template.Resources)
      .filter((r) => r.Type === 'AWS::Logs::LogGroup')
      .map((r) => String(r.Properties?.LogGroupName));
    const figures = readFileSync(join(ROOT, 'src/figures.ts'), 'utf8');
    const logged = new Set([...figures.matchAll(/^ {2}(\w+)\??: /gm)].map((m) => m[1]!));
    for (const query of queries) {
      for (const [, group] of query.matchAll(/SOURCE '([^']+)'/g)) expect(logGroups).toContain(group);
      const message = /filter message = "([^"]+)"/.exec(query)?.[1];
      expect([MARKET_FIGURES, EVENT_COUNTED]).toContain(message);
      for (const [, field] of query.matchAll(/\((\w+)\)/g)) {
        if (field !== '5m' && field !== '1h') expect(logged, field).toContain(field);
      }
    }
    for (const kind of ['interruption', 'replacement', 'capacityFailure', 'swap', 'breakerTrip']) {
      expect(sources).toMatch(new RegExp(`countEvent\\('${kind}'|\\? '${kind}'`));
    }
    expect(sources).toContain('logMarketFigures(');
    // A quoted search term is an exact match (CloudWatch search expression syntax): each must name a real
    // function, group or queue of the stack, or the widget stays empty.
    const resources = stacks['create-launch-template'].template.Resources;
    const named = (type: string, key: string) =>
      Object.values(resources).filter((r) => r.Type === type).map((r) => String(r.Properties?.[key]));
    const real: Record<string, string[]> = {
      FunctionName: named('AWS::Lambda::Function', 'FunctionName'),
      AutoScalingGroupName: named('AWS::AutoScaling::AutoScalingGroup', 'AutoScalingGroupName'),
      QueueName: named('AWS::SQS::Queue', 'QueueName'),
    };
    const exact = [...substituted.matchAll(/(FunctionName|AutoScalingGroupName|QueueName)=\\"([^"\\]+)\\"/g)].map(([, key, value]) => [key!, value!] as const);
    expect(exact.map(([key]) => key)).toEqual(expect.arrayContaining(['FunctionName', 'AutoScalingGroupName', 'QueueName']));
    for (const [key, value] of exact) expect(real[key], `${key}="${value}"`).toContain(value);
    expect(dashboard.widgets.map((w) => w.properties.title).filter(Boolean)).toEqual([
      'Spot and on-demand price of the spot groups (USD/h)',
      'Estimated savings vs on-demand (USD/h)',
      'In-service instances by group',
      'Market of each spot group (1 = spot, 0 = on-demand)',
      'Backlog (visible, in flight)',
      'Desired capacity by group (queue scaler)',
      'Interruptions, rebalances, replacements, capacity failures, swaps, breaker trips (per hour)',
      'Failure queue and work dead letters',
      'Function errors and throttles',
    ]);
  });
});
