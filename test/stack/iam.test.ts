/**
 * IAM verified, not hoped: every AWS call spotfarm's functions make, across the moto integration tests and a
 * backtest, plus every check AWS makes on the caller's behalf (test/iam/requests.ts ON_BEHALF, docs/iam.md),
 * is evaluated against the packaged template's policy with an IAM policy simulator. A deny fails; a granted
 * action no call needs is reported (and must be explained in docs/iam.md).
 *
 * The integration tests run again here, in a child vitest with RECORD_AWS_CALLS_DIR set, so this file stands on
 * its own (test/support/setup.ts installs the recorder, test/iam/record-moto.ts).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBacktest } from '../../sim/runner';
import { loadScenario, type Scenario } from '../../sim/scenario';
import { ACCOUNT, evaluate, functionPolicies, REGION, resolveIntrinsics, statementId, type PolicyDocument, type Verdict } from '../iam/policy';
import { recordBacktestCalls } from '../iam/record-sim';
import { ON_BEHALF, toRequests, type IamRequest, type RecordedCall, type TemplateFacts } from '../iam/requests';
import { packageStack, ROOT, type CloudFormationTemplate, type PackagedStack } from '../support/serverless';

const run = promisify(execFile);

/** The calls the stack's own farm (farmMode=create) makes AWS check: a swap of its spot group to each template. */
function stackFarmCalls(template: CloudFormationTemplate): RecordedCall[] {
  const calls: RecordedCall[] = [];
  const role = (profileArn: string) => {
    const profile = Object.entries(template.Resources).find(([id]) => profileArn.endsWith(`/${id}`));
    const roles = (profile?.[1].Properties?.Roles ?? []) as unknown[];
    return roles.length ? (resolveIntrinsics(template, { 'Fn::GetAtt': [(roles[0] as { Ref: string }).Ref, 'Arn'] }) as string) : undefined;
  };
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type === 'AWS::EC2::LaunchTemplate') {
      const p = resource.Properties as { LaunchTemplateName: string; TagSpecifications?: { Tags?: { Key: string; Value: string }[] }[]; LaunchTemplateData: Record<string, unknown> };
      const { ImageId, InstanceType, IamInstanceProfile, TagSpecifications, KeyName } = p.LaunchTemplateData;
      const data = resolveIntrinsics(template, { ImageId, InstanceType, IamInstanceProfile, TagSpecifications, KeyName }) as TemplateFacts['data'];
      // A CloudFormation {{resolve:ssm:...}} is resolved at deploy time: the template holds an image id.
      if (data.ImageId?.startsWith('{{resolve:')) data.ImageId = 'ami-0123456789abcdef0';
      const tags = Object.fromEntries((p.TagSpecifications ?? []).flatMap((s) => (s.Tags ?? []).map((t) => [t.Key, t.Value])));
      const profile = data.IamInstanceProfile?.Arn;
      const roleArn = profile ? role(profile) : undefined;
      const ref = { LaunchTemplateName: p.LaunchTemplateName, Version: '2' };
      calls.push({
        service: 'autoscaling',
        operation: 'UpdateAutoScalingGroup',
        input: { AutoScalingGroupName: 'spotfarm-test-spot', LaunchTemplate: ref },
        region: REGION,
        account: ACCOUNT,
        facts: {
          groups: { 'spotfarm-test-spot': { tags: { 'spotfarm:farm': '*' }, subnets: ['subnet-0123456789abcdef0'] } },
          templates: { [`${p.LaunchTemplateName}|2`]: { id: `lt-${id}`, name: p.LaunchTemplateName, tags, data } },
          ...(profile && roleArn ? { profileRoles: { [profile]: roleArn } } : {}),
        },
        origin: `stack/farm.yml ${id}`,
      });
    }
    if (resource.Type === 'AWS::AutoScaling::LaunchConfiguration') {
      const { InstanceType, IamInstanceProfile } = resource.Properties ?? {};
      const p = resolveIntrinsics(template, { InstanceType, IamInstanceProfile }) as Record<string, unknown>;
      const profile = String(p.IamInstanceProfile ?? '');
      const roleArn = role(`/${(resource.Properties?.IamInstanceProfile as { Ref?: string } | undefined)?.Ref ?? ''}`);
      calls.push({
        service: 'autoscaling',
        operation: 'CreateLaunchConfiguration',
        input: { LaunchConfigurationName: `spotfarm-test-${id}-on-demand`, ImageId: 'ami-0123456789abcdef0', InstanceType: p.InstanceType, IamInstanceProfile: profile },
        region: REGION,
        account: ACCOUNT,
        facts: roleArn ? { profileRoles: { [profile]: roleArn } } : {},
        origin: `stack/farm.yml ${id}`,
      });
    }
  }
  return calls;
}

/** The functions' state table and alert topic are the stack's own, whatever names a test gave them. */
function asDeployed(request: IamRequest, template: CloudFormationTemplate): IamRequest {
  if (request.action.startsWith('dynamodb:')) return { ...request, resource: resolveIntrinsics(template, { 'Fn::GetAtt': ['StateTable', 'Arn'] }) as string };
  if (request.action === 'sns:Publish') return { ...request, resource: resolveIntrinsics(template, { Ref: 'AlertTopic' }) as string };
  return request;
}

const describeRequest = (v: Verdict) =>
  `${v.result}: ${v.request.action} on ${v.request.resource}` +
  (v.request.onBehalf ? ` (checked on the caller's behalf: ${v.request.onBehalf})` : '') +
  ` for ${v.request.call} with ${JSON.stringify(v.request.context)}` +
  (v.error ? ` ${v.error}` : '');

describe('IAM: the packaged policy allows every call the functions make', () => {
  let stack: PackagedStack;
  let policies: { name: string; policy: PolicyDocument }[];
  let calls: RecordedCall[] = [];
  let verdicts: Verdict[] = [];
  let integrationExit = 0;
  let integrationOutput = '';
  const stopRecording: (() => RecordedCall[])[] = [];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spotfarm-aws-calls-'));
    // The moto integration tests, recorded, while this process packages the stack and runs a backtest.
    const integration = run(join(ROOT, 'node_modules/.bin/vitest'), ['run', 'test/integration', '--reporter=dot'], {
      cwd: ROOT,
      env: { ...process.env, RECORD_AWS_CALLS_DIR: dir },
      maxBuffer: 64 * 1024 * 1024,
      timeout: 1_500_000,
    }).catch((error: { code?: number; stdout?: string; stderr?: string }) => {
      integrationExit = error.code ?? 1;
      integrationOutput = `${error.stdout ?? ''}\n${error.stderr ?? ''}`.slice(-6000);
    });
    stack = await packageStack();
    policies = functionPolicies(stack.template);
    // The backtests after the integration tests: both at once overload a small machine into timeouts.
    await integration;

    // A backtest per template style: the launch-template swaps and the mixed-instances ones.
    const base = loadScenario(resolve(ROOT, 'scenarios/default.yaml'));
    for (const marketStyle of ['launch-template', 'mixed-instances', 'launch-configuration'] as const) {
      const scenario: Scenario = { ...base, duration: 12 * 3600, farm: { ...base.farm, marketStyle } };
      const stop = recordBacktestCalls(`backtest ${marketStyle}`);
      stopRecording.push(stop);
      try {
        await runBacktest(scenario, { policies: ['spotfarm'] });
      } finally {
        calls.push(...stop());
      }
    }
    for (const file of readdirSync(dir)) {
      for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) if (line) calls.push(JSON.parse(line) as RecordedCall);
    }
    calls.push(...stackFarmCalls(stack.template));

    // One verdict per distinct request (the same describe is made thousands of times).
    const distinct = new Map<string, IamRequest>();
    for (const call of calls) {
      for (const request of toRequests(call)) {
        const deployed = asDeployed(request, stack.template);
        distinct.set(JSON.stringify([deployed.action, deployed.resource, deployed.context, deployed.onBehalf]), deployed);
      }
    }
    verdicts = await Promise.all([...distinct.values()].map((r) => evaluate(policies, r)));
  }, 1_800_000);

  afterAll(() => {
    for (const stop of stopRecording) stop();
  });

  it('records the calls of every function, in moto and in the backtest', () => {
    const origins = new Set(calls.map((c) => (c.origin.startsWith('backtest') ? c.origin : c.origin.includes('/test/') ? 'moto' : c.origin)));
    expect(integrationExit, `the integration tests failed while recorded:\n${integrationOutput}`).toBe(0);
    expect([...origins]).toEqual(expect.arrayContaining(['moto', 'backtest launch-template', 'backtest mixed-instances']));
    const operations = new Set(calls.map((c) => c.operation));
    for (const op of ['UpdateAutoScalingGroup', 'SetDesiredCapacity', 'DetachInstances', 'CreateTags', 'CreateLaunchTemplateVersion', 'PutItem', 'Publish']) {
      expect(operations, op).toContain(op);
    }
    // The on-behalf checks of a launch-template swap were derived from real template data.
    const onBehalf = new Set(verdicts.map((v) => v.request.onBehalf).filter(Boolean));
    expect([...onBehalf]).toEqual(expect.arrayContaining(['launch-template-run', 'launch-template-tags', 'launch-template-pass-role']));
  });

  it('allows every call and every check AWS makes on the caller\'s behalf', () => {
    const refused = verdicts.filter((v) => v.result !== 'Allowed').map(describeRequest).sort();
    expect(refused).toEqual([]);
  });

  it('refuses what the policy must not allow (the simulation can fail)', async () => {
    const group = 'arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/other';
    const probes: IamRequest[] = [
      // A group not tagged for spotfarm.
      { action: 'autoscaling:UpdateAutoScalingGroup', resource: group, context: {}, call: 'probe' },
      // Launching directly, without one of the farm's launch templates: a request the role signs itself carries
      // aws:ViaAWSService = false (IAM global condition keys: present in every request; true only for a forward
      // access session, AWS acting on the role's behalf).
      { action: 'ec2:RunInstances', resource: 'arn:aws:ec2:us-east-1::image/ami-0123456789abcdef0', context: { 'aws:ViaAWSService': 'false' }, call: 'probe' },
      { action: 'ec2:RunInstances', resource: 'arn:aws:ec2:us-east-1:123456789012:subnet/subnet-0123456789abcdef0', context: { 'aws:ViaAWSService': 'false' }, call: 'probe' },
      // A template of another owner (no farm tag).
      { action: 'ec2:RunInstances', resource: 'arn:aws:ec2:us-east-1:123456789012:launch-template/lt-0123456789abcdef0', context: {}, call: 'probe' },
      // Tagging outside a launch, with a tag that is not spotfarm's.
      { action: 'ec2:CreateTags', resource: 'arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0', context: { 'aws:TagKeys': ['Name'], 'ec2:ResourceTag/spotfarm:farm': 'ml' }, call: 'probe' },
      // Passing another role.
      { action: 'iam:PassRole', resource: 'arn:aws:iam::123456789012:role/admin', context: { 'iam:PassedToService': 'ec2.amazonaws.com' }, call: 'probe' },
    ];
    const results = await Promise.all(probes.map((p) => evaluate(policies, p)));
    expect(results.map((r) => `${r.request.action} ${r.result}`)).toEqual(probes.map((p) => `${p.action} ImplicitlyDenied`));
  });

  it('reports granted actions no call needs, and docs/iam.md explains each', () => {
    const used = new Set(verdicts.flatMap((v) => v.allowedBy.map((s) => `${s}|${v.request.action}`)));
    const unused: string[] = [];
    for (const { name, policy } of policies) {
      policy.Statement.forEach((statement, index) => {
        const actions = Array.isArray(statement.Action) ? statement.Action : [statement.Action];
        for (const action of actions) {
          // CloudWatch Logs: the Lambda runtime writes the functions' logs, not an SDK call of theirs.
          if (action.startsWith('logs:')) continue;
          if (!used.has(`${statementId(name, index)}|${action}`)) unused.push(action);
        }
      });
    }
    console.log(`IAM: ${verdicts.length} distinct requests from ${calls.length} calls; granted but not needed by any recorded call: ${unused.join(', ') || 'none'}`);
    const doc = readFileSync(resolve(ROOT, 'docs/iam.md'), 'utf8');
    expect(unused.filter((action) => !doc.includes(`\`${action}\``))).toEqual([]);
  });

  it('docs/iam.md lists every check AWS makes on the caller\'s behalf, with its source', () => {
    const doc = readFileSync(resolve(ROOT, 'docs/iam.md'), 'utf8');
    for (const row of Object.values(ON_BEHALF)) expect(doc).toContain(row.source);
  });

  it('keeps the simulator (AGPL) a devDependency, out of every bundle', async () => {
    const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    expect(Object.keys(pkg.dependencies)).not.toContain('@cloud-copilot/iam-simulate');
    expect(Object.keys(pkg.devDependencies)).toContain('@cloud-copilot/iam-simulate');
    const zips = readdirSync(stack.dir).filter((f) => f.endsWith('.zip'));
    expect(zips.length).toBeGreaterThanOrEqual(4);
    for (const zip of zips) {
      const { stdout } = await run('unzip', ['-p', join(stack.dir, zip)], { maxBuffer: 256 * 1024 * 1024, encoding: 'latin1' });
      expect(stdout.length, zip).toBeGreaterThan(10_000);
      expect(stdout, zip).not.toMatch(/cloud-copilot|iam-simulate|AGPL/);
    }
  });
});
