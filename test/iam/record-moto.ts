/**
 * Records every AWS call spotfarm's functions make during the moto integration tests, for the IAM simulation
 * (test/stack/iam.test.ts). Installed by test/support/setup.ts when RECORD_AWS_CALLS_DIR names a directory:
 * a middleware on each SDK client src/aws exports (the clients the functions use; the tests' own set-up
 * clients are other instances and are not recorded) looks up what IAM would read for the call (tags, the
 * template version) in the same moto server, then appends the call to a JSON-lines file in that directory.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand, DescribeAutoScalingInstancesCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, DescribeLaunchTemplatesCommand, DescribeLaunchTemplateVersionsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetInstanceProfileCommand, IAMClient } from '@aws-sdk/client-iam';
import { gatherFacts, type Lookup, type RecordedCall, type TemplateFacts } from './requests';

/** moto's account. */
const ACCOUNT = '123456789012';

/** SDK serviceId -> IAM service prefix. */
export const IAM_PREFIX: Record<string, string> = {
  'Auto Scaling': 'autoscaling',
  EC2: 'ec2',
  SQS: 'sqs',
  DynamoDB: 'dynamodb',
  SNS: 'sns',
  EventBridge: 'events',
  Pricing: 'pricing',
  CloudWatch: 'cloudwatch',
  IAM: 'iam',
};

interface Stack {
  add(
    middleware: (next: (args: { input: Record<string, unknown> }) => Promise<unknown>, context: { commandName?: string }) => (args: { input: Record<string, unknown> }) => Promise<unknown>,
    options: { step: string; name: string },
  ): void;
}
interface AnyClient {
  middlewareStack: unknown;
  config: { serviceId?: string; region: () => Promise<string> };
}

const tagMap = (tags: { Key?: string; Value?: string }[] | undefined): Record<string, string> =>
  Object.fromEntries((tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));

/** Reads from the moto server the functions talk to (AWS_ENDPOINT_URL at call time). */
function motoLookup(): Lookup {
  const endpoint = process.env.AWS_ENDPOINT_URL;
  const config = { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
  const autoscaling = new AutoScalingClient(config);
  const ec2 = new EC2Client(config);
  const iam = new IAMClient(config);
  return {
    async group(name) {
      const g = (await autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }))).AutoScalingGroups?.[0];
      return g ? { tags: tagMap(g.Tags), subnets: (g.VPCZoneIdentifier ?? '').split(',').filter(Boolean) } : undefined;
    },
    async groupOfInstance(id) {
      return (await autoscaling.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [id] }))).AutoScalingInstances?.[0]?.AutoScalingGroupName;
    },
    async instanceTags(id) {
      try {
        const i = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations?.[0]?.Instances?.[0];
        return i ? tagMap(i.Tags) : undefined;
      } catch {
        return undefined;
      }
    },
    async template(ref) {
      try {
        const byId = ref.LaunchTemplateId ? { LaunchTemplateIds: [ref.LaunchTemplateId] } : { LaunchTemplateNames: [ref.LaunchTemplateName!] };
        const lt = (await ec2.send(new DescribeLaunchTemplatesCommand(byId))).LaunchTemplates?.[0];
        if (!lt) return undefined;
        const version = (
          await ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: lt.LaunchTemplateId, Versions: [ref.Version ?? '$Default'] }))
        ).LaunchTemplateVersions?.[0];
        return { id: lt.LaunchTemplateId!, name: lt.LaunchTemplateName!, tags: tagMap(lt.Tags), data: (version?.LaunchTemplateData ?? {}) as TemplateFacts['data'] };
      } catch {
        return undefined;
      }
    },
    async roleOfProfile(profile) {
      const name = profile.Name ?? profile.Arn?.split('/').pop();
      if (!name) return undefined;
      try {
        return (await iam.send(new GetInstanceProfileCommand({ InstanceProfileName: name }))).InstanceProfile?.Roles?.[0]?.Arn;
      } catch {
        return undefined;
      }
    },
  };
}

/** Adds the recording middleware to each client; calls go to `${dir}/<pid>-<n>.jsonl`. */
export function recordCalls(clients: unknown[], dir: string, origin: () => string): void {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.jsonl`);
  for (const client of clients as AnyClient[]) {
    const service = IAM_PREFIX[client.config.serviceId ?? ''] ?? String(client.config.serviceId).toLowerCase();
    (client.middlewareStack as Stack).add(
      (next, context) => async (args) => {
        const operation = String(context.commandName ?? '').replace(/Command$/, '');
        const input = args.input;
        let facts = {};
        try {
          facts = await gatherFacts(service, operation, input, motoLookup());
        } catch (error) {
          facts = { error: String(error) };
        }
        const call: RecordedCall = { service, operation, input, region: await client.config.region(), account: ACCOUNT, facts, origin: origin() };
        appendFileSync(file, `${JSON.stringify(call)}\n`);
        return next(args);
      },
      { step: 'initialize', name: 'spotfarmIamRecorder' },
    );
  }
}
