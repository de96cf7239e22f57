/**
 * What IAM sees when spotfarm's functions call AWS: each SDK call becomes one or more authorisation requests
 * (action, resource ARN, the request's condition keys), and some calls make AWS check more on the caller's
 * behalf. The table of those extra checks is ON_BEHALF below; docs/iam.md shows it with its sources.
 *
 * A call is recorded with the facts IAM would read at that moment (the group's tags, the instance's tags, the
 * template version it points at), looked up in the cloud the test ran against (moto or the simulated cloud):
 * see Lookup and gatherFacts. Turning a recorded call into requests is then a pure function (toRequests).
 *
 * Resource types and condition keys follow the Service Authorization Reference:
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2autoscaling.html
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html
 */

/** One authorisation request, as the IAM policy simulator takes it. */
export interface IamRequest {
  action: string;
  /** An ARN, or '*' for actions with no resource-level permissions. */
  resource: string;
  context: Record<string, string | string[]>;
  /** The SDK call that led to it, e.g. "UpdateAutoScalingGroup". */
  call: string;
  /** Set when AWS makes this check on the caller's behalf: the ON_BEHALF row's id. */
  onBehalf?: OnBehalfId;
}

/** The launch data a template version holds (the part IAM checks read). */
export interface TemplateFacts {
  id: string;
  name: string;
  tags: Record<string, string>;
  data: {
    ImageId?: string;
    InstanceType?: string;
    KeyName?: string;
    SecurityGroupIds?: string[];
    IamInstanceProfile?: { Arn?: string; Name?: string };
    TagSpecifications?: { ResourceType?: string; Tags?: { Key?: string; Value?: string }[] }[];
  };
}

export interface GroupFacts {
  tags: Record<string, string>;
  subnets: string[];
}

/** What IAM reads besides the request itself, looked up when the call was made. */
export interface CallFacts {
  groups?: Record<string, GroupFacts>;
  /** Instance id -> the group it is in (TerminateInstanceInAutoScalingGroup names only the instance). */
  instanceGroups?: Record<string, string>;
  instanceTags?: Record<string, Record<string, string>>;
  /** Keyed by the reference as the call gave it: `${id ?? name}|${version}`. */
  templates?: Record<string, TemplateFacts>;
  /** Instance profile ARN or name -> the ARN of its role. */
  profileRoles?: Record<string, string>;
}

/** One SDK call a function made, with the facts around it. */
export interface RecordedCall {
  /** The SDK client's service id in lower case: autoscaling, ec2, sqs, dynamodb, sns, pricing. */
  service: string;
  /** The command's name without "Command", e.g. UpdateAutoScalingGroup. */
  operation: string;
  input: Record<string, unknown>;
  region: string;
  account: string;
  facts: CallFacts;
  /** Where it was recorded (the test file, or "backtest"). */
  origin: string;
}

/** Reads the facts IAM would read, in the cloud a call went to. */
export interface Lookup {
  group(name: string): Promise<GroupFacts | undefined>;
  groupOfInstance(instanceId: string): Promise<string | undefined>;
  instanceTags(instanceId: string): Promise<Record<string, string> | undefined>;
  template(ref: TemplateRef): Promise<TemplateFacts | undefined>;
  roleOfProfile(profile: { Arn?: string; Name?: string }): Promise<string | undefined>;
}

export interface TemplateRef {
  LaunchTemplateId?: string;
  LaunchTemplateName?: string;
  Version?: string;
}

export const templateKey = (ref: TemplateRef): string =>
  `${ref.LaunchTemplateId ?? ref.LaunchTemplateName ?? ''}|${ref.Version ?? '$Default'}`;

/** The launch templates an UpdateAutoScalingGroup points the group at (none for a launch configuration). */
export function templatesOf(input: Record<string, unknown>): TemplateRef[] {
  const out: TemplateRef[] = [];
  const lt = input.LaunchTemplate as TemplateRef | undefined;
  if (lt) out.push(lt);
  const mixed = input.MixedInstancesPolicy as
    | { LaunchTemplate?: { LaunchTemplateSpecification?: TemplateRef; Overrides?: { LaunchTemplateSpecification?: TemplateRef }[] } }
    | undefined;
  const spec = mixed?.LaunchTemplate?.LaunchTemplateSpecification;
  if (spec) out.push(spec);
  for (const o of mixed?.LaunchTemplate?.Overrides ?? []) if (o.LaunchTemplateSpecification) out.push(o.LaunchTemplateSpecification);
  return out;
}

const instanceIdsOf = (input: Record<string, unknown>): string[] =>
  [...((input.InstanceIds as string[] | undefined) ?? []), ...((input.Resources as string[] | undefined) ?? [])].concat(
    typeof input.InstanceId === 'string' ? [input.InstanceId] : [],
  );

/** Looks up, before the call runs, everything toRequests needs to know about it. */
export async function gatherFacts(service: string, operation: string, input: Record<string, unknown>, lookup: Lookup): Promise<CallFacts> {
  const facts: CallFacts = {};
  const groupName = typeof input.AutoScalingGroupName === 'string' ? input.AutoScalingGroupName : undefined;
  const addGroup = async (name: string) => {
    const group = await lookup.group(name);
    if (group) (facts.groups ??= {})[name] = group;
  };
  if (service === 'autoscaling') {
    if (groupName && !operation.startsWith('Describe')) await addGroup(groupName);
    if (operation === 'TerminateInstanceInAutoScalingGroup') {
      for (const id of instanceIdsOf(input)) {
        const name = await lookup.groupOfInstance(id);
        if (!name) continue;
        (facts.instanceGroups ??= {})[id] = name;
        await addGroup(name);
      }
    }
    if (operation === 'UpdateAutoScalingGroup') {
      for (const ref of templatesOf(input)) {
        const template = await lookup.template(ref);
        if (template) (facts.templates ??= {})[templateKey(ref)] = template;
        const profile = template?.data.IamInstanceProfile;
        if (profile) {
          const role = await lookup.roleOfProfile(profile);
          if (role) (facts.profileRoles ??= {})[profile.Arn ?? profile.Name ?? ''] = role;
        }
      }
    }
    if (operation === 'CreateLaunchConfiguration' && typeof input.IamInstanceProfile === 'string') {
      const profile = input.IamInstanceProfile.startsWith('arn:') ? { Arn: input.IamInstanceProfile } : { Name: input.IamInstanceProfile };
      const role = await lookup.roleOfProfile(profile);
      if (role) (facts.profileRoles ??= {})[input.IamInstanceProfile] = role;
    }
  }
  if (service === 'ec2') {
    if (operation === 'CreateTags' || operation === 'TerminateInstances') {
      for (const id of instanceIdsOf(input)) {
        const tags = await lookup.instanceTags(id);
        if (tags) (facts.instanceTags ??= {})[id] = tags;
      }
    }
    if (operation === 'CreateLaunchTemplateVersion' || operation === 'ModifyLaunchTemplate') {
      const ref = { LaunchTemplateId: input.LaunchTemplateId as string | undefined, LaunchTemplateName: input.LaunchTemplateName as string | undefined };
      const template = await lookup.template({ ...ref, Version: '$Latest' });
      if (template) (facts.templates ??= {})[templateKey({ ...ref, Version: '$Latest' })] = template;
    }
  }
  return facts;
}

const tagContext = (prefixes: string[], tags: Record<string, string> | undefined): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(tags ?? {})) for (const p of prefixes) out[`${p}${k}`] = v;
  return out;
};

/**
 * The checks AWS makes on the caller's behalf, with the document that says so. docs/iam.md renders this table;
 * test/stack/iam.test.ts checks that it does.
 */
export const ON_BEHALF = {
  'launch-template-run': {
    when: 'UpdateAutoScalingGroup with LaunchTemplate or MixedInstancesPolicy',
    checks: 'ec2:RunInstances on the launch template and every resource a launch from it uses (image, subnets, security groups, key pair, instance, volume, network interface)',
    source: 'https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-launch-template-permissions.html',
  },
  'launch-template-tags': {
    when: 'UpdateAutoScalingGroup with a launch template that has TagSpecifications',
    checks: 'ec2:CreateTags on each tagged resource type, with ec2:CreateAction = RunInstances',
    source:
      'https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-launch-template-permissions.html#policy-example-launch-template-createtags',
  },
  'launch-template-pass-role': {
    when: 'UpdateAutoScalingGroup with a launch template that has an instance profile',
    checks: 'iam:PassRole on the profile\'s role, iam:PassedToService = ec2.amazonaws.com',
    source: 'https://docs.aws.amazon.com/autoscaling/ec2/userguide/us-iam-role.html',
  },
  'launch-template-ssm-image': {
    when: 'UpdateAutoScalingGroup with a launch template whose ImageId is resolve:ssm:<parameter>',
    checks: 'ssm:GetParameters on the parameter',
    source: 'https://docs.aws.amazon.com/autoscaling/ec2/userguide/using-systems-manager-parameters.html',
  },
  'launch-configuration-pass-role': {
    when: 'CreateLaunchConfiguration with IamInstanceProfile',
    checks: 'iam:PassRole on the profile\'s role',
    source: 'https://docs.aws.amazon.com/autoscaling/ec2/userguide/us-iam-role.html',
  },
} as const;
export type OnBehalfId = keyof typeof ON_BEHALF;

/** The requests one recorded call makes IAM evaluate, the on-behalf checks included. */
export function toRequests(call: RecordedCall): IamRequest[] {
  const { service, operation, input, region, account, facts } = call;
  const action = `${service}:${operation}`;
  const out: IamRequest[] = [];
  const push = (resource: string, context: Record<string, string | string[]> = {}, extra: Partial<IamRequest> = {}) =>
    out.push({ action, resource, context, call: operation, ...extra });
  const groupArn = (name: string) => `arn:aws:autoscaling:${region}:${account}:autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/${name}`;
  const instanceArn = (id: string) => `arn:aws:ec2:${region}:${account}:instance/${id}`;

  if (/^(Describe|Get|List)/.test(operation) && ['autoscaling', 'ec2', 'pricing'].includes(service)) {
    // No resource-level permissions for these reads (Service Authorization Reference).
    push('*');
    return out;
  }
  switch (service) {
    case 'autoscaling': {
      if (operation === 'CreateLaunchConfiguration') {
        const name = String(input.LaunchConfigurationName);
        push(`arn:aws:autoscaling:${region}:${account}:launchConfiguration:*:launchConfigurationName/${name}`, {
          'autoscaling:LaunchConfigurationName': name,
          ...(input.ImageId ? { 'autoscaling:ImageId': String(input.ImageId) } : {}),
          ...(input.InstanceType ? { 'autoscaling:InstanceType': String(input.InstanceType) } : {}),
        });
        const profile = typeof input.IamInstanceProfile === 'string' ? input.IamInstanceProfile : undefined;
        const role = profile ? facts.profileRoles?.[profile] : undefined;
        if (role) {
          out.push({
            action: 'iam:PassRole',
            resource: role,
            context: { 'iam:PassedToService': 'ec2.amazonaws.com' },
            call: operation,
            onBehalf: 'launch-configuration-pass-role',
          });
        }
        return out;
      }
      const names =
        operation === 'TerminateInstanceInAutoScalingGroup'
          ? instanceIdsOf(input).map((id) => facts.instanceGroups?.[id]).filter((n): n is string => !!n)
          : [String(input.AutoScalingGroupName)];
      for (const name of names) {
        const group = facts.groups?.[name];
        const context: Record<string, string | string[]> = tagContext(['autoscaling:ResourceTag/', 'aws:ResourceTag/'], group?.tags);
        if (operation === 'UpdateAutoScalingGroup') {
          if (typeof input.LaunchConfigurationName === 'string') context['autoscaling:LaunchConfigurationName'] = input.LaunchConfigurationName;
          const refs = templatesOf(input);
          if (refs.length) {
            context['autoscaling:LaunchTemplateVersionSpecified'] = refs.every((r) => r.Version && !r.Version.startsWith('$')) ? 'true' : 'false';
          }
        }
        push(groupArn(name), context);
        if (operation === 'UpdateAutoScalingGroup') out.push(...launchTemplateChecks(call, group));
      }
      return out;
    }
    case 'ec2': {
      if (operation === 'CreateTags' || operation === 'TerminateInstances') {
        const tags = (input.Tags as { Key?: string; Value?: string }[] | undefined) ?? [];
        for (const id of instanceIdsOf(input)) {
          const context: Record<string, string | string[]> = tagContext(['ec2:ResourceTag/', 'aws:ResourceTag/'], facts.instanceTags?.[id]);
          if (operation === 'CreateTags') {
            Object.assign(context, tagContext(['aws:RequestTag/'], Object.fromEntries(tags.map((t) => [t.Key ?? '', t.Value ?? '']))));
            context['aws:TagKeys'] = tags.map((t) => t.Key ?? '');
          }
          push(instanceArn(id), context);
        }
        return out;
      }
      if (operation === 'CreateLaunchTemplateVersion' || operation === 'ModifyLaunchTemplate') {
        const ref = { LaunchTemplateId: input.LaunchTemplateId as string | undefined, LaunchTemplateName: input.LaunchTemplateName as string | undefined };
        const template = facts.templates?.[templateKey({ ...ref, Version: '$Latest' })];
        const id = template?.id ?? ref.LaunchTemplateId ?? 'unknown';
        push(`arn:aws:ec2:${region}:${account}:launch-template/${id}`, tagContext(['ec2:ResourceTag/', 'aws:ResourceTag/'], template?.tags));
        return out;
      }
      if (operation === 'CreateLaunchTemplate') {
        const specs = (input.TagSpecifications as TemplateFacts['data']['TagSpecifications']) ?? [];
        const tags = Object.fromEntries(
          specs.filter((s) => s.ResourceType === 'launch-template').flatMap((s) => (s.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
        );
        push(`arn:aws:ec2:${region}:${account}:launch-template/*`, {
          ...tagContext(['aws:RequestTag/'], tags),
          'aws:TagKeys': Object.keys(tags),
        });
        if (Object.keys(tags).length) {
          // Tagging on create is authorised as CreateTags with ec2:CreateAction = CreateLaunchTemplate.
          out.push({
            action: 'ec2:CreateTags',
            resource: `arn:aws:ec2:${region}:${account}:launch-template/*`,
            context: { ...tagContext(['aws:RequestTag/'], tags), 'aws:TagKeys': Object.keys(tags), 'ec2:CreateAction': 'CreateLaunchTemplate' },
            call: operation,
          });
        }
        return out;
      }
      push('*');
      return out;
    }
    case 'sqs': {
      const url = typeof input.QueueUrl === 'string' ? input.QueueUrl : undefined;
      const name = url ? url.split('/').pop() : String(input.QueueName);
      push(`arn:aws:sqs:${region}:${account}:${name}`);
      return out;
    }
    case 'dynamodb':
      push(`arn:aws:dynamodb:${region}:${account}:table/${String(input.TableName)}`);
      return out;
    case 'sns':
      push(String(input.TopicArn));
      return out;
    case 'events': {
      // PutEvents: one request per entry, on the bus, with events:source and events:detail-type
      // (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-conditions.html).
      for (const entry of (input.Entries as { Source?: string; DetailType?: string; EventBusName?: string }[] | undefined) ?? []) {
        push(`arn:aws:events:${region}:${account}:event-bus/${entry.EventBusName ?? 'default'}`, {
          'events:source': entry.Source ?? '',
          'events:detail-type': entry.DetailType ?? '',
        });
      }
      return out;
    }
    default:
      push('*');
      return out;
  }
}

/**
 * Pointing a group at a launch template: Auto Scaling checks that the caller could launch from it (no instance
 * is launched by the call). Resources of RunInstances per the Service Authorization Reference.
 */
function launchTemplateChecks(call: RecordedCall, group: GroupFacts | undefined): IamRequest[] {
  const { region, account, facts, input, operation } = call;
  const out: IamRequest[] = [];
  for (const ref of templatesOf(input)) {
    const template = facts.templates?.[templateKey(ref)];
    if (!template) continue;
    const templateArn = `arn:aws:ec2:${region}:${account}:launch-template/${template.id}`;
    const viaTemplate = { 'ec2:LaunchTemplate': templateArn };
    // AWS does not document whether its check sets ec2:LaunchTemplate (docs/iam.md): the launch's other resources
    // are checked both with it and without it (nor aws:ViaAWSService, the other key the policy reads), and the
    // policy must allow both. The template itself is the resource, so its own check is the same either way.
    const run = (resource: string, context: Record<string, string | string[]> = {}) => {
      out.push({ action: 'ec2:RunInstances', resource, context: { ...viaTemplate, ...context }, call: operation, onBehalf: 'launch-template-run' });
      if (resource !== templateArn) out.push({ action: 'ec2:RunInstances', resource, context: { ...context }, call: operation, onBehalf: 'launch-template-run' });
    };
    run(templateArn, tagContext(['ec2:ResourceTag/', 'aws:ResourceTag/'], template.tags));
    const image = template.data.ImageId;
    if (image?.startsWith('resolve:ssm:')) {
      const parameter = image.slice('resolve:ssm:'.length).replace(/:\d+$/, '');
      const path = parameter.startsWith('/') ? parameter : `/${parameter}`;
      // Public parameters (/aws/service/...) have no account in their ARN; the simulator wants one, and the
      // policy's account is a wildcard for them.
      out.push({
        action: 'ssm:GetParameters',
        resource: `arn:aws:ssm:${region}:${account}:parameter${path}`,
        context: {},
        call: operation,
        onBehalf: 'launch-template-ssm-image',
      });
    } else if (image) {
      run(`arn:aws:ec2:${region}::image/${image}`);
    }
    const types = [template.data.InstanceType].filter((t): t is string => !!t);
    run(`arn:aws:ec2:${region}:${account}:instance/*`, types.length ? { 'ec2:InstanceType': types[0]! } : {});
    run(`arn:aws:ec2:${region}:${account}:volume/*`);
    run(`arn:aws:ec2:${region}:${account}:network-interface/*`);
    for (const subnet of group?.subnets ?? []) run(`arn:aws:ec2:${region}:${account}:subnet/${subnet}`);
    for (const sg of template.data.SecurityGroupIds ?? []) run(`arn:aws:ec2:${region}:${account}:security-group/${sg}`);
    if (template.data.KeyName) run(`arn:aws:ec2:${region}:${account}:key-pair/${template.data.KeyName}`);
    // Only what a launch creates is tagged by it (moto also echoes the template's own launch-template tags here).
    for (const spec of (template.data.TagSpecifications ?? []).filter((t) => t.ResourceType !== 'launch-template')) {
      const tags = Object.fromEntries((spec.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
      out.push({
        action: 'ec2:CreateTags',
        resource: `arn:aws:ec2:${region}:${account}:${spec.ResourceType ?? 'instance'}/*`,
        context: { 'ec2:CreateAction': 'RunInstances', ...tagContext(['aws:RequestTag/'], tags), 'aws:TagKeys': Object.keys(tags) },
        call: operation,
        onBehalf: 'launch-template-tags',
      });
    }
    const profile = template.data.IamInstanceProfile;
    const role = profile ? facts.profileRoles?.[profile.Arn ?? profile.Name ?? ''] : undefined;
    if (role) {
      out.push({
        action: 'iam:PassRole',
        resource: role,
        context: { 'iam:PassedToService': 'ec2.amazonaws.com' },
        call: operation,
        onBehalf: 'launch-template-pass-role',
      });
    }
  }
  return out;
}
