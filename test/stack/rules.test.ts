/**
 * The template checks of test/stack/rules.ts catch what they are for: each row is a template that breaks one
 * rule, and the check must name it. (farm.test.ts runs the same checks on the real packaged stack.)
 */
import { describe, expect, it } from 'vitest';
import type { CloudFormationTemplate } from '../support/serverless';
import {
  asyncProblems,
  deployedResources,
  functionRoleProblems,
  isUnscoped,
  passRoleProblems,
  ruleProblems,
  workerRoleProblems,
  workQueueProblems,
  type Statement,
} from './rules';

const lambdaRole = (...statements: Statement[]): CloudFormationTemplate => ({
  Resources: {
    Role: {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: { Statement: [{ Effect: 'Allow', Principal: { Service: ['lambda.amazonaws.com'] }, Action: ['sts:AssumeRole'] }] },
        Policies: [{ PolicyName: 'p', PolicyDocument: { Statement: statements } }],
      },
    },
  },
});

const FARM_TAG = { StringLike: { 'autoscaling:ResourceTag/spotfarm:farm': 'ml' } };

describe('function role rule', () => {
  it.each([
    { name: 'a mutation on *', statement: { Effect: 'Allow', Action: 'autoscaling:SetDesiredCapacity', Resource: '*' }, problems: 1 },
    { name: 'a wildcard action on *', statement: { Effect: 'Allow', Action: 'ec2:*', Resource: '*' }, problems: 1 },
    {
      name: 'a mutation on every group ARN',
      statement: {
        Effect: 'Allow',
        Action: ['autoscaling:UpdateAutoScalingGroup'],
        Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:autoscaling:${AWS::Region}:${AWS::AccountId}:autoScalingGroup:*:autoScalingGroupName/*' },
      },
      problems: 1,
    },
    { name: 'a mutation on every launch template', statement: { Effect: 'Allow', Action: 'ec2:CreateLaunchTemplateVersion', Resource: 'arn:aws:ec2:us-east-1:123456789012:launch-template/*' }, problems: 1 },
    { name: 'a condition on another tag', statement: { Effect: 'Allow', Action: 'autoscaling:SetDesiredCapacity', Resource: '*', Condition: { StringEquals: { 'aws:ResourceTag/team': 'ml' } } }, problems: 1 },
    { name: 'a mutation on * with the farm tag condition', statement: { Effect: 'Allow', Action: 'autoscaling:SetDesiredCapacity', Resource: '*', Condition: FARM_TAG }, problems: 0 },
    { name: 'reads on *', statement: { Effect: 'Allow', Action: ['ec2:DescribeInstances', 'pricing:GetProducts', 'autoscaling:Describe*'], Resource: '*' }, problems: 0 },
    { name: 'a mutation of one named resource', statement: { Effect: 'Allow', Action: 'sns:Publish', Resource: { Ref: 'AlertTopic' } }, problems: 0 },
    { name: 'log writes on the stack prefix', statement: { Effect: 'Allow', Action: 'logs:PutLogEvents', Resource: 'arn:aws:logs:us-east-1:1:log-group:/aws/lambda/spotfarm-dev*:*:*' }, problems: 0 },
    { name: 'a Deny on *', statement: { Effect: 'Deny', Action: '*', Resource: '*' }, problems: 0 },
    { name: 'RunInstances only through a launch template', statement: { Effect: 'Allow', Action: 'ec2:RunInstances', Resource: 'arn:aws:ec2:us-east-1::image/*', Condition: { ArnLike: { 'ec2:LaunchTemplate': 'arn:aws:ec2:us-east-1:1:launch-template/*' } } }, problems: 0 },
    { name: 'RunInstances on every image', statement: { Effect: 'Allow', Action: 'ec2:RunInstances', Resource: 'arn:aws:ec2:us-east-1::image/*' }, problems: 1 },
    { name: 'RunInstances only on the role\'s behalf (aws:ViaAWSService)', statement: { Effect: 'Allow', Action: 'ec2:RunInstances', Resource: 'arn:aws:ec2:us-east-1::image/*', Condition: { BoolIfExists: { 'aws:ViaAWSService': 'true' } } }, problems: 0 },
    { name: 'RunInstances when not on the role\'s behalf', statement: { Effect: 'Allow', Action: 'ec2:RunInstances', Resource: 'arn:aws:ec2:us-east-1::image/*', Condition: { Bool: { 'aws:ViaAWSService': 'false' } } }, problems: 1 },
    { name: 'tags only at launch', statement: { Effect: 'Allow', Action: 'ec2:CreateTags', Resource: 'arn:aws:ec2:us-east-1:1:instance/*', Condition: { StringEquals: { 'ec2:CreateAction': 'RunInstances' } } }, problems: 0 },
    { name: 'a launch-only condition does not cover other actions', statement: { Effect: 'Allow', Action: ['ec2:CreateTags', 'ec2:TerminateInstances'], Resource: 'arn:aws:ec2:us-east-1:1:instance/*', Condition: { StringEquals: { 'ec2:CreateAction': 'RunInstances' } } }, problems: 2 },
  ])('$name: $problems problem(s)', ({ statement, problems }) => {
    // Act
    const found = functionRoleProblems(lambdaRole(statement as Statement));
    // Assess
    expect(found).toHaveLength(problems);
  });

  it('ignores roles Lambda does not assume (the worker role has its own rule)', () => {
    // Prepare
    const template = lambdaRole({ Effect: 'Allow', Action: 'ec2:TerminateInstances', Resource: '*' });
    (template.Resources.Role!.Properties!.AssumeRolePolicyDocument as { Statement: unknown[] }).Statement = [
      { Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' },
    ];
    // Act / Assess
    expect(functionRoleProblems(template)).toEqual([]);
  });

  it.each([
    ['*', true],
    ['arn:aws:sqs:us-east-1:123456789012:*', true],
    ['arn:aws:sqs:us-east-1:123456789012:ml-jobs', false],
    ['arn:aws:autoscaling:us-east-1:1:autoScalingGroup:*:autoScalingGroupName/ml-spot', false],
  ])('isUnscoped(%s) = %s', (arn, expected) => {
    expect(isUnscoped(arn)).toBe(expected);
  });
});

describe('PassRole rule', () => {
  it.each([
    { name: 'any role', resource: '*', condition: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } }, problems: 1 },
    { name: 'the worker role to any service', resource: 'arn:aws:iam::1:role/w', condition: undefined, problems: 1 },
    { name: 'the worker role to EC2', resource: 'arn:aws:iam::1:role/w', condition: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } }, problems: 0 },
  ])('$name: $problems problem(s)', ({ resource, condition, problems }) => {
    // Act
    const found = passRoleProblems(
      lambdaRole({ Effect: 'Allow', Action: 'iam:PassRole', Resource: resource, ...(condition ? { Condition: condition } : {}) }),
      'w',
    );
    // Assess
    expect(found).toHaveLength(problems);
  });
});

describe('failure destination and rule DLQ rules', () => {
  const fn = { Type: 'AWS::Lambda::Function', Properties: {} };
  const config = (properties: Record<string, unknown>) => ({
    Type: 'AWS::Lambda::EventInvokeConfig',
    Properties: { FunctionName: { Ref: 'PlanLambdaFunction' }, ...properties },
  });
  const destination = { DestinationConfig: { OnFailure: { Destination: 'arn:aws:sqs:us-east-1:1:f' } } };

  it.each([
    { name: 'no invoke config', resources: { PlanLambdaFunction: fn }, problem: 'no EventInvokeConfig' },
    { name: 'no destination', resources: { PlanLambdaFunction: fn, C: config({ MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 60 }) }, problem: 'no on-failure destination' },
    { name: 'unbounded age', resources: { PlanLambdaFunction: fn, C: config({ MaximumRetryAttempts: 0, ...destination }) }, problem: 'MaximumEventAgeInSeconds undefined' },
  ])('$name', ({ resources, problem }) => {
    // Act
    const found = asyncProblems({ Resources: resources as CloudFormationTemplate['Resources'] });
    // Assess
    expect(found.join('\n')).toContain(problem);
  });

  it('accepts a bounded config with a destination', () => {
    expect(asyncProblems({ Resources: { PlanLambdaFunction: fn, C: config({ MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600, ...destination }) } })).toEqual([]);
  });

  it('names a rule target without dead-letter queue or retry policy', () => {
    // Act
    const found = ruleProblems({ Resources: { R: { Type: 'AWS::Events::Rule', Properties: { Targets: [{ Id: 't', Arn: 'x' }] } } } });
    // Assess
    expect(found).toEqual(['R: target t has no dead-letter queue', 'R: target t has no retry policy']);
  });
});

describe('work queue and worker role rules', () => {
  it.each([
    { name: 'no redrive', properties: {}, problem: 'no dead-letter queue' },
    { name: 'redrive to a foreign ARN', properties: { RedrivePolicy: { deadLetterTargetArn: 'arn:aws:sqs:us-east-1:1:x', maxReceiveCount: 5 } }, problem: 'is not a queue of this stack' },
  ])('work queue: $name', ({ properties, problem }) => {
    // Act
    const found = workQueueProblems({ Resources: { WorkQueue: { Type: 'AWS::SQS::Queue', Properties: properties } } });
    // Assess
    expect(found.join('\n')).toContain(problem);
  });

  const workerRole = (...statements: Statement[]): CloudFormationTemplate => ({
    Resources: { WorkerRole: { Type: 'AWS::IAM::Role', Properties: { Policies: [{ PolicyDocument: { Statement: statements } }] } } },
  });
  const queue = { Effect: 'Allow', Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:SendMessage'], Resource: { 'Fn::GetAtt': ['WorkQueue', 'Arn'] } };
  const protect = {
    Effect: 'Allow',
    Action: 'autoscaling:SetInstanceProtection',
    Resource: ['arn:aws:autoscaling:us-east-1:1:autoScalingGroup:*:autoScalingGroupName/ml-spot'],
    Condition: FARM_TAG,
  };

  it.each([
    { name: 'what a worker needs', statements: [queue, protect, { Effect: 'Allow', Action: ['autoscaling:DescribeAutoScalingInstances', 'autoscaling:DescribeAutoScalingGroups'], Resource: '*' }], problem: undefined },
    { name: 'another queue', statements: [{ ...queue, Resource: 'arn:aws:sqs:us-east-1:1:*' }], problem: 'sqs:ReceiveMessage on arn:aws:sqs:us-east-1:1:*' },
    { name: 'sending to another queue', statements: [{ ...queue, Action: 'sqs:SendMessage', Resource: 'arn:aws:sqs:us-east-1:1:other' }], problem: 'sqs:SendMessage on arn:aws:sqs:us-east-1:1:other' },
    { name: 'purging the queue', statements: [{ ...queue, Action: 'sqs:PurgeQueue' }], problem: 'sqs:PurgeQueue is not something a worker needs' },
    { name: 'protection on every group', statements: [{ ...protect, Resource: '*' }], problem: 'SetInstanceProtection on *' },
    { name: 'protection without the tag', statements: [{ ...protect, Condition: undefined }], problem: 'without a spotfarm:farm tag condition' },
    { name: 'terminating instances', statements: [{ Effect: 'Allow', Action: 'ec2:TerminateInstances', Resource: '*' }], problem: 'ec2:TerminateInstances' },
    { name: 'any bucket object', statements: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' }], problem: 's3:GetObject on arn:aws:s3:::b/*' },
  ])('worker role: $name', ({ statements, problem }) => {
    // Act
    const found = workerRoleProblems(workerRole(...(statements as Statement[])), ['ml-spot', 'ml-on-demand']);
    // Assess
    if (problem === undefined) expect(found).toEqual([]);
    else expect(found.join('\n')).toContain(problem);
  });
});

describe('deployedResources', () => {
  it('evaluates conditions with parameter defaults, as a deploy without overrides does', () => {
    // Prepare
    const template: CloudFormationTemplate = {
      Parameters: { Mode: { Type: 'String', Default: 'adopt' }, Groups: { Type: 'CommaDelimitedList', Default: '' } },
      Conditions: {
        Create: { 'Fn::Equals': [{ Ref: 'Mode' }, 'create'] },
        Adopt: { 'Fn::Not': [{ Condition: 'Create' }] },
        NoGroups: { 'Fn::Equals': [{ 'Fn::Join': ['', { Ref: 'Groups' }] }, ''] },
        Both: { 'Fn::And': [{ Condition: 'Adopt' }, { Condition: 'NoGroups' }] },
      },
      Resources: {
        Always: { Type: 'T' },
        Created: { Type: 'T', Condition: 'Create' },
        Adopted: { Type: 'T', Condition: 'Both' },
      },
    };
    // Act / Assess
    expect(Object.keys(deployedResources(template))).toEqual(['Always', 'Adopted']);
  });
});
