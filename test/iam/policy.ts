/**
 * The functions' IAM policy as the packaged CloudFormation template holds it, with the intrinsic functions
 * resolved for one account and region, and an evaluation of requests against it with an IAM policy simulator
 * (@cloud-copilot/iam-simulate: AGPL, a devDependency only; test/stack/iam.test.ts checks no bundle holds it).
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';
import type { CloudFormationTemplate } from '../support/serverless';
import type { IamRequest } from './requests';

export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';

export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}
export interface PolicyDocument {
  Version: string;
  Statement: Statement[];
}

/** The physical name or ARN CloudFormation would give a resource of the template (Ref and GetAtt .Arn). */
function physical(template: CloudFormationTemplate, logicalId: string, attribute: 'Ref' | 'Arn'): string {
  const parameter = (template.Parameters as Record<string, { Default?: string }> | undefined)?.[logicalId];
  if (parameter) return String(parameter.Default ?? '');
  const resource = template.Resources[logicalId];
  if (!resource) throw new Error(`the template has no resource ${logicalId}`);
  const p = (resource.Properties ?? {}) as Record<string, unknown>;
  const name = (key: string) => (typeof p[key] === 'string' ? (p[key] as string) : `${logicalId}-generated`);
  switch (resource.Type) {
    case 'AWS::DynamoDB::Table':
      return attribute === 'Arn' ? `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${name('TableName')}` : name('TableName');
    case 'AWS::SNS::Topic':
      return `arn:aws:sns:${REGION}:${ACCOUNT}:${name('TopicName')}`;
    case 'AWS::SQS::Queue':
      return attribute === 'Arn' ? `arn:aws:sqs:${REGION}:${ACCOUNT}:${name('QueueName')}` : `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${name('QueueName')}`;
    case 'AWS::IAM::Role':
      return attribute === 'Arn' ? `arn:aws:iam::${ACCOUNT}:role/${name('RoleName')}` : name('RoleName');
    case 'AWS::IAM::InstanceProfile':
      return attribute === 'Arn' ? `arn:aws:iam::${ACCOUNT}:instance-profile/${logicalId}` : logicalId;
    default:
      throw new Error(`no physical id rule for ${resource.Type} (${logicalId})`);
  }
}

const PSEUDO: Record<string, string> = { 'AWS::Partition': 'aws', 'AWS::Region': REGION, 'AWS::AccountId': ACCOUNT, 'AWS::URLSuffix': 'amazonaws.com' };

/** Resolves Ref, Fn::Sub, Fn::Join and Fn::GetAtt (.Arn) the way CloudFormation would for ACCOUNT in REGION. */
export function resolveIntrinsics(template: CloudFormationTemplate, value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveIntrinsics(template, v));
  if (value === null || typeof value !== 'object') return value;
  const o = value as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1) {
    const [key] = keys as [string];
    const arg = o[key];
    if (key === 'Ref') return PSEUDO[arg as string] ?? physical(template, arg as string, 'Ref');
    if (key === 'Fn::GetAtt') {
      const [id, attribute] = (Array.isArray(arg) ? arg : String(arg).split('.')) as [string, string];
      if (attribute !== 'Arn') throw new Error(`Fn::GetAtt ${id}.${attribute} is not resolved here`);
      return physical(template, id, 'Arn');
    }
    if (key === 'Fn::Join') {
      const [sep, parts] = arg as [string, unknown[]];
      return (resolveIntrinsics(template, parts) as string[]).join(sep);
    }
    if (key === 'Fn::Sub') {
      const [text, vars] = (Array.isArray(arg) ? arg : [arg, {}]) as [string, Record<string, unknown>];
      return text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
        if (name in (vars ?? {})) return String(resolveIntrinsics(template, vars[name]));
        if (name in PSEUDO) return PSEUDO[name]!;
        const [id, attribute] = name.split('.') as [string, string | undefined];
        return physical(template, id, attribute === 'Arn' ? 'Arn' : 'Ref');
      });
    }
  }
  return Object.fromEntries(keys.map((k) => [k, resolveIntrinsics(template, o[k])]));
}

/** Every inline policy of the functions' role (Serverless names it IamRoleLambdaExecution), resolved. */
export function functionPolicies(template: CloudFormationTemplate): { name: string; policy: PolicyDocument }[] {
  const role = template.Resources.IamRoleLambdaExecution;
  if (!role) throw new Error('the packaged template has no IamRoleLambdaExecution');
  const policies = (role.Properties?.Policies ?? []) as { PolicyName: unknown; PolicyDocument: unknown }[];
  return policies.map((p, i) => ({
    name: `policy-${i}`,
    policy: resolveIntrinsics(template, p.PolicyDocument) as PolicyDocument,
  }));
}

export interface Verdict {
  request: IamRequest;
  result: 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied' | 'Error';
  /** statementId() of each statement that allowed it. */
  allowedBy: string[];
  error?: string;
}

export const statementId = (policy: string, index: number): string => `${policy}#${index}`;

/** Evaluates one request against the identity policies. */
export async function evaluate(policies: { name: string; policy: PolicyDocument }[], request: IamRequest): Promise<Verdict> {
  const response = await runSimulation(
    {
      identityPolicies: policies.map((p) => ({ name: p.name, policy: p.policy })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      request: {
        action: request.action,
        principal: `arn:aws:iam::${ACCOUNT}:role/spotfarm-test-${REGION}-lambdaRole`,
        resource: { accountId: ACCOUNT, resource: request.resource },
        contextVariables: request.context,
      },
    } as never,
    {},
  );
  if (response.resultType === 'error') {
    return { request, result: 'Error', allowedBy: [], error: JSON.stringify(response.errors) };
  }
  const results = response.resultType === 'single' ? [response.result] : response.results;
  const allowedBy = new Set<string>();
  for (const r of results) {
    for (const s of (r.analysis?.identityAnalysis?.allowStatements ?? []) as { policyId?: string; statement?: unknown }[]) {
      const policy = policies.find((p) => p.name === s.policyId);
      const index = policy ? policy.policy.Statement.findIndex((st) => JSON.stringify(st) === JSON.stringify(s.statement)) : -1;
      allowedBy.add(statementId(s.policyId ?? '', index));
    }
  }
  return { request, result: response.overallResult as Verdict['result'], allowedBy: [...allowedBy] };
}
