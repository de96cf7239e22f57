/**
 * A deliberately small controller written against the real SDK clients, used to test the simulator's own
 * plumbing (event delivery, the SDK interception, the state table, retries) independently of spotfarm's real
 * handlers. It is not spotfarm: the backtest's `spotfarm` policy always runs functions/*.ts.
 */
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DetachInstancesCommand,
  SetDesiredCapacityCommand,
  UpdateAutoScalingGroupCommand,
  type AutoScalingGroup,
} from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  CreateLaunchTemplateVersionCommand,
  DescribeLaunchTemplateVersionsCommand,
  DescribeSpotPriceHistoryCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { GetProductsCommand, PricingClient } from '@aws-sdk/client-pricing';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';

const asg = new AutoScalingClient({ region: 'us-east-1' });
const ec2 = new EC2Client({ region: 'us-east-1' });
const sqs = new SQSClient({ region: 'us-east-1' });
const pricing = new PricingClient({ region: 'us-east-1' });
const ddb = new DynamoDBClient({ region: 'us-east-1' });

interface Envelope {
  time: string;
  'detail-type': string;
  detail: Record<string, unknown>;
}

async function farmGroups(): Promise<{ spot: AutoScalingGroup; onDemand: AutoScalingGroup }> {
  const out = await asg.send(
    new DescribeAutoScalingGroupsCommand({ Filters: [{ Name: 'tag:spotfarm:farm', Values: [process.env.SPOTFARM_FARM ?? ''] }] }),
  );
  const groups = out.AutoScalingGroups ?? [];
  const role = (g: AutoScalingGroup) => g.Tags?.find((t) => t.Key === 'spotfarm:role')?.Value;
  return { spot: groups.find((g) => role(g) === 'spot')!, onDemand: groups.find((g) => role(g) === 'on-demand')! };
}

export const fakeHandlers = {
  async 'queue-scaler'(event: unknown) {
    const e = event as Envelope;
    void e;
    const { spot } = await farmGroups();
    const queue = spot.Tags!.find((t) => t.Key === 'spotfarm:queue')!.Value!;
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: queue }));
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    const backlog = Number(Attributes!.ApproximateNumberOfMessages) + Number(Attributes!.ApproximateNumberOfMessagesNotVisible);
    const want = Math.min(spot.MaxSize!, Math.max(spot.MinSize!, Math.ceil(backlog / 4)));
    if (want !== spot.DesiredCapacity) {
      await asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: spot.AutoScalingGroupName, DesiredCapacity: want }));
    }
  },

  async 'price-check'(event: unknown) {
    const e = event as Envelope;
    const { spot } = await farmGroups();
    const now = new Date(e.time);
    const prices = await ec2.send(new DescribeSpotPriceHistoryCommand({ StartTime: now, EndTime: now, InstanceTypes: ['c3.xlarge'], ProductDescriptions: ['Linux/UNIX'] }));
    const latest = new Map<string, number>();
    for (const p of prices.SpotPriceHistory ?? []) latest.set(p.AvailabilityZone!, Number(p.SpotPrice));
    const products = await pricing.send(
      new GetProductsCommand({ ServiceCode: 'AmazonEC2', Filters: [{ Type: 'TERM_MATCH', Field: 'instanceType', Value: 'c3.xlarge' }] }),
    );
    const product = JSON.parse(String(products.PriceList![0])) as { terms: { OnDemand: Record<string, { priceDimensions: Record<string, { pricePerUnit: { USD: string } }> }> } };
    const od = Number(Object.values(Object.values(product.terms.OnDemand)[0]!.priceDimensions)[0]!.pricePerUnit.USD);
    const spotPrice = Math.min(...latest.values());
    const key = marshall({ pk: `group#${spot.AutoScalingGroupName}`, sk: 'state' });
    const current = await ddb.send(new GetItemCommand({ TableName: process.env.SPOTFARM_STATE_TABLE, Key: key, ConsistentRead: true }));
    const state = current.Item ? (unmarshall(current.Item) as { market: string; version: number; spotVersion: string }) : undefined;
    const market = state?.market ?? 'spot';
    const lt = spot.LaunchTemplate!;
    if (market === 'spot' && spotPrice >= od) {
      const created = await ec2.send(
        new CreateLaunchTemplateVersionCommand({ LaunchTemplateId: lt.LaunchTemplateId, SourceVersion: lt.Version, LaunchTemplateData: { InstanceMarketOptions: {} } }),
      );
      await asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: spot.AutoScalingGroupName, LaunchTemplate: { LaunchTemplateId: lt.LaunchTemplateId, Version: String(created.LaunchTemplateVersion!.VersionNumber) } }));
      await ddb.send(
        new PutItemCommand({
          TableName: process.env.SPOTFARM_STATE_TABLE,
          Item: marshall({ pk: `group#${spot.AutoScalingGroupName}`, sk: 'state', market: 'on-demand', version: (state?.version ?? 0) + 1, spotVersion: lt.Version! }),
          ...(state
            ? { ConditionExpression: '#version = :expected', ExpressionAttributeNames: { '#version': 'version' }, ExpressionAttributeValues: marshall({ ':expected': state.version }) }
            : { ConditionExpression: 'attribute_not_exists(pk)' }),
        }),
      );
    } else if (market === 'on-demand' && spotPrice < od * 0.9 && state) {
      const versions = await ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: lt.LaunchTemplateId, Versions: [state.spotVersion] }));
      await asg.send(
        new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: spot.AutoScalingGroupName, LaunchTemplate: { LaunchTemplateId: lt.LaunchTemplateId, Version: String(versions.LaunchTemplateVersions![0]!.VersionNumber) } }),
      );
      await ddb.send(
        new PutItemCommand({
          TableName: process.env.SPOTFARM_STATE_TABLE,
          Item: marshall({ pk: `group#${spot.AutoScalingGroupName}`, sk: 'state', market: 'spot', version: state.version + 1, spotVersion: state.spotVersion }),
          ConditionExpression: '#version = :expected',
          ExpressionAttributeNames: { '#version': 'version' },
          ExpressionAttributeValues: marshall({ ':expected': state.version }),
        }),
      );
    }
  },

  async interruption(event: unknown) {
    const e = event as Envelope;
    if (e['detail-type'] !== 'EC2 Spot Instance Interruption Warning') return;
    const id = e.detail['instance-id'] as string;
    const found = await asg.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [id] }));
    const member = found.AutoScalingInstances?.[0];
    if (!member) return;
    await asg.send(new DetachInstancesCommand({ AutoScalingGroupName: member.AutoScalingGroupName, InstanceIds: [id], ShouldDecrementDesiredCapacity: false }));
  },
};
