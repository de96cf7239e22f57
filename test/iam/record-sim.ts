/**
 * Records every AWS call spotfarm's handlers make in a backtest, for the IAM simulation: an observer on the
 * simulated cloud's SDK interception (sim/cloud/sdk.ts) looks up what IAM would read (tags, template versions)
 * in the simulated world before the call is answered.
 */
import * as asg from '../../sim/cloud/autoscaling-api';
import * as ec2 from '../../sim/cloud/ec2-api';
import { observeSdkCalls, type SdkTarget } from '../../sim/cloud/sdk';
import { ACCOUNT_ID } from '../../sim/cloud/world';
import { gatherFacts, type Lookup, type RecordedCall, type TemplateFacts } from './requests';

const PREFIX: Record<string, string> = {
  AutoScalingClient: 'autoscaling',
  EC2Client: 'ec2',
  SQSClient: 'sqs',
  DynamoDBClient: 'dynamodb',
  SNSClient: 'sns',
  EventBridgeClient: 'events',
  PricingClient: 'pricing',
  CloudWatchClient: 'cloudwatch',
};

const tagMap = (tags: { Key?: string | undefined; Value?: string | undefined }[] | undefined): Record<string, string> =>
  Object.fromEntries((tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));

function simLookup(target: SdkTarget): Lookup {
  const world = target.world;
  const quietly = <T>(read: () => T): T | undefined => {
    try {
      return read();
    } catch {
      return undefined;
    }
  };
  return {
    async group(name) {
      const g = quietly(() => asg.describeAutoScalingGroups(world, { AutoScalingGroupNames: [name] }).AutoScalingGroups?.[0]);
      return g ? { tags: tagMap(g.Tags), subnets: (g.VPCZoneIdentifier ?? '').split(',').filter(Boolean) } : undefined;
    },
    async groupOfInstance(id) {
      return quietly(() => asg.describeAutoScalingInstances(world, { InstanceIds: [id] }).AutoScalingInstances?.[0]?.AutoScalingGroupName);
    },
    async instanceTags(id) {
      const i = quietly(() => ec2.describeInstances(world, { InstanceIds: [id] }).Reservations?.[0]?.Instances?.[0]);
      return i ? tagMap(i.Tags) : undefined;
    },
    async template(ref) {
      const byId = ref.LaunchTemplateId ? { LaunchTemplateIds: [ref.LaunchTemplateId] } : { LaunchTemplateNames: [ref.LaunchTemplateName!] };
      const lt = quietly(() => ec2.describeLaunchTemplates(world, byId).LaunchTemplates?.[0]);
      if (!lt) return undefined;
      const version = quietly(
        () => ec2.describeLaunchTemplateVersions(world, { LaunchTemplateId: lt.LaunchTemplateId, Versions: [ref.Version ?? '$Default'] }).LaunchTemplateVersions?.[0],
      );
      return { id: lt.LaunchTemplateId!, name: lt.LaunchTemplateName!, tags: tagMap(lt.Tags), data: (version?.LaunchTemplateData ?? {}) as TemplateFacts['data'] };
    },
    async roleOfProfile(profile) {
      // The simulated cloud has no IAM: a profile is taken to carry the role of its name.
      const name = profile.Name ?? profile.Arn?.split('/').pop();
      return name ? `arn:aws:iam::${ACCOUNT_ID}:role/${name}` : undefined;
    },
  };
}

/** Records until the returned function is called; it returns the calls. */
export function recordBacktestCalls(origin: string): () => RecordedCall[] {
  const calls: RecordedCall[] = [];
  observeSdkCalls(async (client, command, input, target) => {
    const service = PREFIX[client] ?? client.toLowerCase();
    const operation = command.replace(/Command$/, '');
    const facts = await gatherFacts(service, operation, input as Record<string, unknown>, simLookup(target));
    calls.push({ service, operation, input: structuredClone(input) as Record<string, unknown>, region: target.world.scenario.region, account: ACCOUNT_ID, facts, origin });
  });
  return () => {
    observeSdkCalls(undefined);
    return calls;
  };
}
