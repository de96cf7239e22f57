/**
 * The stack's safety rules as checks on a packaged CloudFormation template, each returning what breaks it (empty
 * = fine). Kept apart from the tests so a test can also prove each check catches what it is for.
 */
import type { CloudFormationTemplate } from '../support/serverless';

type Resources = CloudFormationTemplate['Resources'];

export interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/** An intrinsic as readable text: `{Ref: X}` -> `<X>`, Sub templates as written, Joins joined. */
export function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(text).join(',');
  if (value && typeof value === 'object') {
    const [[fn, arg]] = Object.entries(value) as [[string, unknown]];
    if (fn === 'Ref') return `<${String(arg)}>`;
    if (fn === 'Fn::GetAtt') return `<${(arg as string[]).join('.')}>`;
    if (fn === 'Fn::Sub') return Array.isArray(arg) ? String(arg[0]) : String(arg);
    if (fn === 'Fn::Join') {
      const [delimiter, parts] = arg as [string, unknown[]];
      return parts.map(text).join(delimiter);
    }
    return JSON.stringify(value);
  }
  return String(value);
}

const list = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** Reads (Describe/Get/List and the price list) are safe on `*`: AWS offers no narrower resource for most. */
export function isRead(action: string): boolean {
  return /^[a-z0-9-]+:(Describe|Get|List)[A-Za-z*]*$/.test(action) && action !== '*';
}

/**
 * `*`, or an ARN that names no particular resource: a bare wildcard or a resource type with a wildcard (every
 * group, every launch template, every instance).
 */
export function isUnscoped(resource: unknown): boolean {
  const arn = text(resource);
  if (arn === '*') return true;
  // ${AWS::Region} and friends hold colons of their own.
  const resourcePart = arn.replace(/\$\{[^}]+\}/g, 'x').split(':').slice(5).join(':');
  return /^(\*|[A-Za-z-]+[:/]\*|autoScalingGroup:\*:autoScalingGroupName\/\*|launchConfiguration:\*:launchConfigurationName\/\*)$/.test(
    resourcePart,
  );
}

/** A condition that pins the resource to the farm by its opt-in tag. */
export function hasFarmTagCondition(statement: Statement): boolean {
  return Object.values(statement.Condition ?? {}).some((keys) =>
    Object.keys(keys).some((key) => /^(aws|autoscaling|ec2):(Resource|Request)Tag\/spotfarm:farm$/.test(key)),
  );
}

/**
 * A condition that limits a launch permission to launches: RunInstances only through a launch template (which a
 * statement with the farm-tag condition must allow too, as every resource of a launch is authorised) or only
 * when AWS checks it on the role's behalf (aws:ViaAWSService true, or absent: a request the role signs itself
 * carries it as false; docs/iam.md), CreateTags only as part of a launch (ec2:CreateAction).
 */
export function isLaunchOnly(statement: Statement): boolean {
  const actions = list(statement.Action);
  const keys = Object.values(statement.Condition ?? {}).flatMap((k) => Object.keys(k));
  if (actions.every((a) => a === 'ec2:RunInstances')) {
    const onBehalf = Object.entries(statement.Condition ?? {}).some(
      ([operator, values]) => /^Bool(IfExists)?$/.test(operator) && String((values as Record<string, unknown>)['aws:ViaAWSService']) === 'true',
    );
    return keys.includes('ec2:LaunchTemplate') || onBehalf;
  }
  if (actions.every((a) => a === 'ec2:CreateTags')) return keys.includes('ec2:CreateAction');
  return false;
}

function rolesAssumedBy(resources: Resources, service: string): [string, Statement[]][] {
  return Object.entries(resources)
    .filter(([, r]) => r.Type === 'AWS::IAM::Role')
    .filter(([, r]) => JSON.stringify(r.Properties?.AssumeRolePolicyDocument ?? {}).includes(`"${service}"`))
    .map(([id, r]) => {
      const policies = list(r.Properties?.Policies as { PolicyDocument: { Statement: Statement[] } }[]);
      return [id, policies.flatMap((p) => p.PolicyDocument.Statement)];
    });
}

/** Function roles: no mutating action on an unscoped resource unless a farm-tag condition narrows it. */
export function functionRoleProblems(template: CloudFormationTemplate): string[] {
  const problems: string[] = [];
  for (const [role, statements] of rolesAssumedBy(template.Resources, 'lambda.amazonaws.com')) {
    for (const statement of statements) {
      if (statement.Effect !== 'Allow') continue;
      const unscoped = list(statement.Resource).filter(isUnscoped).map(text);
      if (unscoped.length === 0 || hasFarmTagCondition(statement) || isLaunchOnly(statement)) continue;
      for (const action of list(statement.Action)) {
        if (!isRead(action)) problems.push(`${role}: ${action} on ${unscoped.join(', ')} without a spotfarm:farm tag condition`);
      }
    }
    const managed = template.Resources[role]?.Properties?.ManagedPolicyArns;
    if (managed !== undefined) problems.push(`${role}: managed policies ${text(managed)} are not reviewed here`);
  }
  return problems;
}

/** iam:PassRole: only the worker role, only to EC2. */
export function passRoleProblems(template: CloudFormationTemplate, workerRoleName: string): string[] {
  const problems: string[] = [];
  for (const [role, statements] of rolesAssumedBy(template.Resources, 'lambda.amazonaws.com')) {
    for (const statement of statements) {
      if (!list(statement.Action).some((a) => /^iam:(PassRole|\*)$|^\*$/.test(a))) continue;
      for (const resource of list(statement.Resource).map(text)) {
        if (!resource.endsWith(`:role/${workerRoleName}`)) problems.push(`${role}: iam:PassRole on ${resource}`);
      }
      if (JSON.stringify(statement.Condition ?? {}).indexOf('"iam:PassedToService":"ec2.amazonaws.com"') < 0) {
        problems.push(`${role}: iam:PassRole without iam:PassedToService ec2.amazonaws.com`);
      }
    }
  }
  return problems;
}

/** Every function: an EventInvokeConfig with bounded retries and event age and an on-failure destination. */
export function asyncProblems(template: CloudFormationTemplate): string[] {
  const configs = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::EventInvokeConfig');
  const problems: string[] = [];
  for (const [id, fn] of Object.entries(template.Resources)) {
    if (fn.Type !== 'AWS::Lambda::Function') continue;
    const config = configs.find((c) => text(c.Properties?.FunctionName) === `<${id}>`)?.Properties;
    if (!config) {
      problems.push(`${id}: no EventInvokeConfig`);
      continue;
    }
    const retries = config.MaximumRetryAttempts;
    const age = config.MaximumEventAgeInSeconds;
    if (typeof retries !== 'number' || retries > 2) problems.push(`${id}: MaximumRetryAttempts ${String(retries)} not bounded`);
    if (typeof age !== 'number' || age > 21600) problems.push(`${id}: MaximumEventAgeInSeconds ${String(age)} not bounded`);
    const onFailure = (config.DestinationConfig as { OnFailure?: { Destination?: unknown } } | undefined)?.OnFailure;
    if (!onFailure?.Destination) problems.push(`${id}: no on-failure destination`);
  }
  return problems;
}

/** Every EventBridge rule target: a retry policy and a dead-letter queue. */
export function ruleProblems(template: CloudFormationTemplate): string[] {
  const problems: string[] = [];
  for (const [id, rule] of Object.entries(template.Resources)) {
    if (rule.Type !== 'AWS::Events::Rule') continue;
    for (const target of list(rule.Properties?.Targets as Record<string, unknown>[])) {
      if (!target.DeadLetterConfig) problems.push(`${id}: target ${text(target.Id)} has no dead-letter queue`);
      if (!target.RetryPolicy) problems.push(`${id}: target ${text(target.Id)} has no retry policy`);
    }
  }
  return problems;
}

/** The work queue redrives to a dead-letter queue of the same template after a bounded number of receives. */
export function workQueueProblems(template: CloudFormationTemplate, queueId = 'WorkQueue'): string[] {
  const queue = template.Resources[queueId];
  if (!queue) return [`${queueId}: missing`];
  const redrive = queue.Properties?.RedrivePolicy as { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown } | undefined;
  if (!redrive) return [`${queueId}: no dead-letter queue (RedrivePolicy)`];
  const target = /^<(\w+)\.Arn>$/.exec(text(redrive.deadLetterTargetArn))?.[1];
  const problems: string[] = [];
  if (!target || template.Resources[target]?.Type !== 'AWS::SQS::Queue') {
    problems.push(`${queueId}: dead-letter target ${text(redrive.deadLetterTargetArn)} is not a queue of this stack`);
  }
  if (!(Number(redrive.maxReceiveCount) >= 1)) problems.push(`${queueId}: maxReceiveCount ${String(redrive.maxReceiveCount)}`);
  return problems;
}

const WORKER_QUEUE_ACTIONS = new Set([
  'sqs:ReceiveMessage',
  'sqs:DeleteMessage',
  'sqs:ChangeMessageVisibility',
  'sqs:GetQueueAttributes',
  // A hand-back re-sends the message to the same queue (docs/worker.md "Hand-back").
  'sqs:SendMessage',
]);

/**
 * The worker role: the work queue (receive, delete, change visibility, re-send on a hand-back, read its attributes), scale-in protection
 * on the farm's two groups (tag-conditioned), DescribeAutoScalingInstances and DescribeAutoScalingGroups, and at most the
 * agent bundle object.
 */
export function workerRoleProblems(
  template: CloudFormationTemplate,
  groups: string[],
  roleId = 'WorkerRole',
  queueId = 'WorkQueue',
): string[] {
  const role = template.Resources[roleId];
  if (!role) return [`${roleId}: missing`];
  const problems: string[] = [];
  if (role.Properties?.ManagedPolicyArns !== undefined) problems.push(`${roleId}: has managed policies`);
  const policies = list(role.Properties?.Policies as { PolicyDocument: { Statement: Statement[] } }[]);
  const otherPolicies = Object.entries(template.Resources).filter(
    ([, r]) => /^AWS::IAM::(Policy|ManagedPolicy)$/.test(r.Type) && text(r.Properties?.Roles).includes(`<${roleId}>`),
  );
  for (const [id] of otherPolicies) problems.push(`${roleId}: extra policy ${id}`);
  for (const statement of policies.flatMap((p) => p.PolicyDocument.Statement)) {
    if (statement.Effect !== 'Allow') continue;
    const resources = list(statement.Resource).map(text);
    for (const action of list(statement.Action)) {
      if (WORKER_QUEUE_ACTIONS.has(action)) {
        if (resources.some((r) => r !== `<${queueId}.Arn>`)) problems.push(`${roleId}: ${action} on ${resources.join(', ')}`);
      } else if (action === 'autoscaling:DescribeAutoScalingInstances' || action === 'autoscaling:DescribeAutoScalingGroups') {
        // No resource-level permissions exist for them: '*' is the only possible resource. The agent finds its group
        // and reads the group's spotfarm:role tag (on-demand last, worker/receive-order.ts).
      } else if (action === 'autoscaling:SetInstanceProtection') {
        const foreign = resources.filter((r) => !groups.some((g) => r.endsWith(`:autoScalingGroupName/${g}`)));
        if (foreign.length > 0) problems.push(`${roleId}: ${action} on ${foreign.join(', ')}`);
        if (!hasFarmTagCondition(statement)) problems.push(`${roleId}: ${action} without a spotfarm:farm tag condition`);
      } else if (action === 's3:GetObject') {
        const wide = resources.filter((r) => r.includes('*'));
        if (wide.length > 0) problems.push(`${roleId}: ${action} on ${wide.join(', ')}`);
      } else {
        problems.push(`${roleId}: ${action} is not something a worker needs`);
      }
    }
  }
  return problems;
}

/**
 * Evaluates the template's conditions as CloudFormation would with every parameter at its default (what
 * `serverless deploy` does: it passes no parameter overrides), and returns the resources that would exist.
 */
export function deployedResources(template: CloudFormationTemplate): Resources {
  const parameters = (template.Parameters ?? {}) as Record<string, { Type: string; Default?: string }>;
  const conditions = (template.Conditions ?? {}) as Record<string, unknown>;
  const ref = (name: string): unknown => {
    const parameter = parameters[name];
    if (!parameter) throw new Error(`condition refers to unknown parameter ${name}`);
    const value = parameter.Default ?? '';
    return parameter.Type === 'CommaDelimitedList' ? value.split(',') : value;
  };
  const value = (node: unknown): unknown => {
    if (typeof node === 'string') return node;
    const [[fn, arg]] = Object.entries(node as object) as [[string, unknown]];
    if (fn === 'Ref') return ref(arg as string);
    if (fn === 'Fn::Join') {
      const [delimiter, parts] = arg as [string, unknown];
      const joined = value(parts);
      return (Array.isArray(joined) ? joined : [joined]).join(delimiter);
    }
    return truth(node);
  };
  const truth = (node: unknown): boolean => {
    const [[fn, arg]] = Object.entries(node as object) as [[string, unknown]];
    const args = arg as unknown[];
    switch (fn) {
      case 'Fn::Equals':
        return JSON.stringify(value(args[0])) === JSON.stringify(value(args[1]));
      case 'Fn::And':
        return args.every(truth);
      case 'Fn::Or':
        return args.some(truth);
      case 'Fn::Not':
        return !truth(args[0]);
      case 'Condition':
        return truth(conditions[arg as string]);
      default:
        throw new Error(`unsupported condition function ${fn}`);
    }
  };
  return Object.fromEntries(
    Object.entries(template.Resources).filter(([, r]) => r.Condition === undefined || truth(conditions[r.Condition as string])),
  );
}
