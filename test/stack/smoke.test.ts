/**
 * Deploy-shaped smoke test: package a new farm, deploy the packaged template's farm and operations resources
 * into moto server's CloudFormation (the template's own properties, conditions and intrinsics, evaluated by
 * moto), add what moto's CloudFormation skips (alarms) from the same properties through the CloudWatch API, then
 * run `serverless invoke local -f plan` against it as a user would after a deploy.
 *
 * Lambda functions, their log groups, rules and the deployment bucket stay out: moto cannot run them, and
 * farm.test.ts checks them in the template.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescribeAutoScalingGroupsCommand, SetDesiredCapacityCommand } from '@aws-sdk/client-auto-scaling';
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStackResourcesCommand,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, DescribeAlarmsCommand, PutMetricAlarmCommand, type PutMetricAlarmCommandInput } from '@aws-sdk/client-cloudwatch';
import { DescribeImagesCommand, DescribeLaunchTemplateVersionsCommand, DescribeSubnetsCommand } from '@aws-sdk/client-ec2';
import { GetInstanceProfileCommand, GetRolePolicyCommand, IAMClient } from '@aws-sdk/client-iam';
import { ListSubscriptionsByTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { startMoto, type MotoServer } from '../support/moto';
import { clientsFor } from '../../scripts/lib/demo-farm';
import { packageStack, serverless, type CloudFormationTemplate, type PackagedStack } from '../support/serverless';

/** What moto's CloudFormation cannot create, or what only makes sense with the functions deployed. */
const LEFT_OUT = /^AWS::(Lambda|Logs|S3|Events)::|^AWS::SQS::QueuePolicy$/;
/** What moto's CloudFormation skips or gets wrong: created from the template's properties through the APIs. */
const BY_API = /^AWS::(CloudWatch::Alarm|SNS::Subscription)$/;

function farmTemplate(template: CloudFormationTemplate): CloudFormationTemplate {
  const resources = Object.fromEntries(
    Object.entries(template.Resources).filter(([id, r]) => !LEFT_OUT.test(r.Type) && id !== 'IamRoleLambdaExecution'),
  );
  const outputs = Object.fromEntries(
    Object.entries((template.Outputs ?? {}) as Record<string, { Value: unknown }>).filter(([, o]) =>
      [...JSON.stringify(o.Value).matchAll(/"(?:Ref|Fn::GetAtt)":\s*\[?"(\w+)/g)].every(([, id]) => id === undefined || id in resources || id.startsWith('AWS')),
    ),
  );
  return { ...template, Resources: resources, Outputs: outputs };
}

describe('deploy-shaped smoke test against moto', () => {
  let moto: MotoServer;
  let stack: PackagedStack;
  let params: string[];
  let cloudformation: CloudFormationClient;
  let cloudwatch: CloudWatchClient;
  let iam: IAMClient;
  let sns: SNSClient;
  let clients: ReturnType<typeof clientsFor>;
  let stackResources: Record<string, string>;

  beforeAll(async () => {
    moto = await startMoto();
    clients = clientsFor(moto.endpoint);
    const config = { endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
    cloudformation = new CloudFormationClient(config);
    cloudwatch = new CloudWatchClient(config);
    iam = new IAMClient(config);
    sns = new SNSClient(config);
    const subnets = (await clients.ec2.send(new DescribeSubnetsCommand({}))).Subnets!.slice(0, 2).map((s) => s.SubnetId!);
    const image = (await clients.ec2.send(new DescribeImagesCommand({ Owners: ['amazon'], MaxResults: 5 }))).Images![0]!.ImageId!;
    params = [
      'farmMode=create',
      'farm=ml',
      `subnets=${subnets.join(',')}`,
      // moto resolves no {{resolve:ssm:...}} references: one of its own images instead of the default.
      `imageId=${image}`,
      'workerCommand=python3 /opt/ml/train.py',
      'workerBundle=https://example.com/spotfarm-worker.cjs',
      'alertEmail=ops@example.com',
      'backlogAlarms=true',
    ];
    stack = await packageStack(params);

    // Act (shared by the tests below): the deploy.
    const template = farmTemplate(stack.template);
    const byApi = Object.entries(template.Resources).filter(([, r]) => BY_API.test(r.Type));
    template.Resources = Object.fromEntries(Object.entries(template.Resources).filter(([, r]) => !BY_API.test(r.Type)));
    await cloudformation.send(
      new CreateStackCommand({
        StackName: 'spotfarm-test',
        TemplateBody: JSON.stringify(template),
        // No parameters, as `serverless deploy` passes none: the defaults carry the serverless params.
        Capabilities: ['CAPABILITY_NAMED_IAM'],
      }),
    );
    for (let i = 0; i < 100; i++) {
      const status = (await cloudformation.send(new DescribeStacksCommand({ StackName: 'spotfarm-test' }))).Stacks?.[0]?.StackStatus;
      if (status === 'CREATE_COMPLETE') break;
      if (status?.includes('FAILED') || status?.includes('ROLLBACK')) throw new Error(`moto stack ${status}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const described = await cloudformation.send(new DescribeStackResourcesCommand({ StackName: 'spotfarm-test' }));
    stackResources = Object.fromEntries(described.StackResources!.map((r) => [r.LogicalResourceId!, r.PhysicalResourceId!]));
    // The rest from the template's properties, as CloudFormation would (conditions: the create path holds them all).
    const subscription = byApi.find(([, r]) => r.Type === 'AWS::SNS::Subscription')?.[1].Properties as { Protocol: string; Endpoint: unknown };
    expect(subscription.Endpoint).toEqual({ Ref: 'AlertEmail' });
    const parameters = stack.template.Parameters as Record<string, { Default: string }>;
    await sns.send(
      new SubscribeCommand({ TopicArn: stackResources.AlertTopic, Protocol: subscription.Protocol, Endpoint: parameters.AlertEmail?.Default }),
    );
    for (const [, resource] of byApi.filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm')) {
      const properties = JSON.parse(
        JSON.stringify(resource.Properties).replace(/\{"Ref":"AlertTopic"\}/g, JSON.stringify(stackResources.AlertTopic)),
        (key, value) => (key === 'Threshold' ? Number(value) : value),
      ) as { Dimensions?: { Name: string; Value: string | { 'Fn::GetAtt': [string, 'QueueName'] } }[] };
      // {Fn::GetAtt: [Queue, QueueName]}: the last segment of the queue URL moto created.
      for (const dimension of properties.Dimensions ?? []) {
        if (typeof dimension.Value !== 'string') dimension.Value = stackResources[dimension.Value['Fn::GetAtt'][0]]!.split('/').at(-1)!;
      }
      await cloudwatch.send(new PutMetricAlarmCommand(properties as PutMetricAlarmCommandInput));
    }
  }, 600_000);

  afterAll(async () => {
    await moto?.stop();
  });

  it('creates the farm the template describes', () => {
    // Assess
    expect(Object.keys(stackResources).sort()).toEqual(
      expect.arrayContaining([
        'AlertTopic',
        'FailureQueue',
        'OnDemandGroup',
        'OnDemandLaunchTemplate',
        'SpotGroup',
        'SpotLaunchTemplate',
        'StateTable',
        'WorkQueue',
        'WorkQueueDeadLetters',
        'WorkerInstanceProfile',
        'WorkerRole',
      ]),
    );
    expect(Object.keys(stackResources)).not.toContain('SpotLaunchConfiguration');
  });

  it('subscribes the alert email to the topic', async () => {
    // Act
    const { Subscriptions } = await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: stackResources.AlertTopic }));
    // Assess
    expect(Subscriptions?.map((s) => [s.Protocol, s.Endpoint])).toEqual([['email', 'ops@example.com']]);
  });

  it('the work queue redrives to its dead-letter queue after 5 receives', async () => {
    // Act
    const { QueueUrl } = await clients.sqs.send(new GetQueueUrlCommand({ QueueName: 'spotfarm-test-jobs' }));
    const { Attributes } = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }));
    // Assess
    expect(Attributes?.VisibilityTimeout).toBe('900');
    expect(JSON.parse(Attributes?.RedrivePolicy ?? '{}')).toEqual({
      deadLetterTargetArn: 'arn:aws:sqs:us-east-1:123456789012:spotfarm-test-jobs-dlq',
      maxReceiveCount: 5,
    });
  });

  it('the groups are tagged for the farm over the subnets, the spot template asks for spot with the worker profile', async () => {
    // Act
    const { AutoScalingGroups: groups } = await clients.autoscaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['spotfarm-test-spot', 'spotfarm-test-on-demand'] }),
    );
    const { LaunchTemplateVersions: versions } = await clients.ec2.send(
      new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateName: 'spotfarm-test-spot', Versions: ['$Latest'] }),
    );
    // Assess
    expect(groups?.map((g) => g.AutoScalingGroupName).sort()).toEqual(['spotfarm-test-on-demand', 'spotfarm-test-spot']);
    for (const group of groups ?? []) {
      expect(group.VPCZoneIdentifier?.split(',')).toHaveLength(2);
      expect(Object.fromEntries(group.Tags!.map((t) => [t.Key, t.Value]))).toMatchObject({ 'spotfarm:farm': 'ml', 'spotfarm:queue': 'spotfarm-test-jobs' });
    }
    const data = versions?.[0]?.LaunchTemplateData;
    expect(data?.InstanceMarketOptions?.MarketType).toBe('spot');
    expect(data?.IamInstanceProfile?.Arn).toMatch(/:instance-profile\//);
    const userData = Buffer.from(data?.UserData ?? '', 'base64').toString();
    expect(userData).toContain("WORKER_COMMAND='python3 /opt/ml/train.py'");
    expect(userData).toMatch(/QUEUE_URL='http.*\/spotfarm-test-jobs'/);
  });

  it('the worker role holds only its queue and group statements', async () => {
    // Act
    const profile = await iam.send(new GetInstanceProfileCommand({ InstanceProfileName: stackResources.WorkerInstanceProfile }));
    const policy = await iam.send(new GetRolePolicyCommand({ RoleName: 'spotfarm-test-us-east-1-worker', PolicyName: 'worker' }));
    // Assess
    expect(profile.InstanceProfile?.Roles?.map((r) => r.RoleName)).toEqual(['spotfarm-test-us-east-1-worker']);
    // moto hands a CloudFormation-made inline policy back as a Python dict literal, not URL-encoded JSON.
    const document = JSON.parse((policy.PolicyDocument ?? '{}').replace(/'/g, '"')) as { Statement: { Sid: string; Resource: unknown }[] };
    expect(document.Statement.map((s) => s.Sid)).toEqual(['WorkQueue', 'FindOwnGroup', 'ProtectWhileBusy']);
    expect(document.Statement[0]?.Resource).toBe('arn:aws:sqs:us-east-1:123456789012:spotfarm-test-jobs');
  });

  it('the alarms the queue scaler and operators rely on exist under their names', async () => {
    // Act
    const { MetricAlarms } = await cloudwatch.send(new DescribeAlarmsCommand({ AlarmNamePrefix: 'spotfarm-test-' }));
    // Assess
    expect(MetricAlarms?.map((a) => a.AlarmName).sort()).toEqual([
      'spotfarm-test-backlog-high',
      'spotfarm-test-backlog-low',
      'spotfarm-test-failures',
      'spotfarm-test-work-dead-letters',
    ]);
    expect(MetricAlarms?.find((a) => a.AlarmName === 'spotfarm-test-failures')?.AlarmActions).toEqual([stackResources.AlertTopic]);
  });

  it('plan (serverless invoke local) reports the deployed farm', async () => {
    // Prepare: work on the queue and a spot group at 2.
    const { QueueUrl } = await clients.sqs.send(new GetQueueUrlCommand({ QueueName: 'spotfarm-test-jobs' }));
    await clients.sqs.send(
      new SendMessageBatchCommand({ QueueUrl, Entries: [1, 2, 3, 4].map((i) => ({ Id: String(i), MessageBody: `{"job":${i}}` })) }),
    );
    await clients.autoscaling.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'spotfarm-test-spot', DesiredCapacity: 2 }));
    // Act
    const { stdout } = await serverless(['invoke', 'local', '-f', 'plan', '--stage', 'test', ...params.map((p) => `--param=${p}`)], {
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      SPOTFARM_LOG_LEVEL: 'SILENT',
    });
    // Assess
    const plan = JSON.parse(stdout.slice(stdout.indexOf('{\n'))) as {
      farms: { farm: string; queue: { name: string; visible: number }; groups: { name: string }[] }[];
    };
    expect(plan.farms).toHaveLength(1);
    expect(plan.farms[0]).toMatchObject({ farm: 'ml', queue: { name: 'spotfarm-test-jobs', visible: 4 } });
    const groups = Object.fromEntries(plan.farms[0]!.groups.map((g) => [g.name, g]));
    expect(Object.keys(groups).sort()).toEqual(['spotfarm-test-on-demand', 'spotfarm-test-spot']);
    expect(groups['spotfarm-test-spot']).toMatchObject({ role: 'spot', status: 'ok', marketStyle: 'launch-template', market: 'spot', size: { min: 0, desired: 2, max: 10 } });
    expect(groups['spotfarm-test-on-demand']).toMatchObject({ role: 'on-demand', marketStyle: 'launch-template', market: 'on-demand' });
  });
});
