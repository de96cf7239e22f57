/**
 * Builds a small tagged farm in an AWS-compatible endpoint (moto server for `npm run local` and the
 * integration tests): a launch template with spot market options and its on-demand twin, the spot group and
 * the on-demand fallback group tagged for spotfarm, the work queue with its dead-letter queue, and the state
 * table. Uses the real SDK, so whatever it builds is what AWS would hold.
 */
import { AutoScalingClient, CreateAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { CreateTableCommand, DynamoDBClient, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { CreateLaunchTemplateCommand, DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';

export interface DemoFarmOptions {
  endpoint: string;
  region?: string;
  farm?: string;
  instanceType?: string;
  spotDesired?: number;
  messages?: number;
  stateTable?: string;
}

export interface DemoFarm {
  farm: string;
  queueName: string;
  queueUrl: string;
  dlqUrl: string;
  spotGroup: string;
  onDemandGroup: string;
  spotTemplate: string;
  onDemandTemplate: string;
  stateTable: string;
}

export function clientsFor(endpoint: string, region = 'us-east-1') {
  const config = { endpoint, region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
  return {
    autoscaling: new AutoScalingClient(config),
    ec2: new EC2Client(config),
    sqs: new SQSClient(config),
    dynamodb: new DynamoDBClient(config),
  };
}

/** The state table as serverless.yml declares it (pk/sk strings, TTL on `ttl`). Idempotent. */
export async function createStateTable(dynamodb: DynamoDBClient, name: string): Promise<void> {
  try {
    await dynamodb.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
      }),
    );
    await dynamodb.send(
      new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true } }),
    );
  } catch (error) {
    if (!(error instanceof Error && error.name === 'ResourceInUseException')) throw error;
  }
}

export async function buildDemoFarm(options: DemoFarmOptions): Promise<DemoFarm> {
  const farm = options.farm ?? 'demo';
  const region = options.region ?? 'us-east-1';
  const instanceType = options.instanceType ?? 'c5.large';
  const { autoscaling, ec2, sqs, dynamodb } = clientsFor(options.endpoint, region);
  const names = {
    spotGroup: `${farm}-spot`,
    onDemandGroup: `${farm}-on-demand`,
    spotTemplate: `${farm}-spot`,
    onDemandTemplate: `${farm}-on-demand`,
    queueName: `${farm}-jobs`,
    stateTable: options.stateTable ?? 'spotfarm-local-state',
  };

  const images = await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'], MaxResults: 5 }));
  const imageId = images.Images?.[0]?.ImageId ?? 'ami-12c6146b';
  // Templates carry the farm tag, as on AWS the stack's IAM lets spotfarm version and launch only such templates.
  const templateTags = [{ ResourceType: 'launch-template' as const, Tags: [{ Key: 'spotfarm:farm', Value: farm }] }];
  await ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: names.spotTemplate,
      TagSpecifications: templateTags,
      LaunchTemplateData: {
        ImageId: imageId,
        InstanceType: instanceType as never,
        InstanceMarketOptions: { MarketType: 'spot', SpotOptions: { SpotInstanceType: 'one-time', InstanceInterruptionBehavior: 'terminate' } },
      },
    }),
  );
  await ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: names.onDemandTemplate,
      TagSpecifications: templateTags,
      LaunchTemplateData: { ImageId: imageId, InstanceType: instanceType as never },
    }),
  );

  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `${names.queueName}-dlq` }));
  const dlqArn = (
    await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }))
  ).Attributes?.QueueArn;
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: names.queueName,
      Attributes: {
        VisibilityTimeout: '900',
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 5 }),
      },
    }),
  );
  const messages = options.messages ?? 0;
  for (let i = 0; i < messages; i += 10) {
    const entries = Array.from({ length: Math.min(10, messages - i) }, (_, j) => ({
      Id: String(i + j),
      MessageBody: JSON.stringify({ job: i + j }),
    }));
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: queue.QueueUrl, Entries: entries }));
  }

  const tags = (group: string, role: string) => [
    { Key: 'spotfarm:farm', Value: farm, PropagateAtLaunch: true, ResourceId: group, ResourceType: 'auto-scaling-group' },
    { Key: 'spotfarm:role', Value: role, PropagateAtLaunch: true, ResourceId: group, ResourceType: 'auto-scaling-group' },
    { Key: 'spotfarm:queue', Value: names.queueName, PropagateAtLaunch: false, ResourceId: group, ResourceType: 'auto-scaling-group' },
  ];
  const zones = [`${region}a`, `${region}b`];
  await autoscaling.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: names.spotGroup,
      MinSize: 0,
      MaxSize: 10,
      DesiredCapacity: options.spotDesired ?? 2,
      AvailabilityZones: zones,
      LaunchTemplate: { LaunchTemplateName: names.spotTemplate, Version: '$Latest' },
      // On a return to spot, the instances launched from the on-demand version leave first.
      TerminationPolicies: ['OldestLaunchTemplate', 'Default'],
      Tags: tags(names.spotGroup, 'spot'),
    }),
  );
  await autoscaling.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: names.onDemandGroup,
      MinSize: 0,
      MaxSize: 10,
      DesiredCapacity: 0,
      AvailabilityZones: zones,
      LaunchTemplate: { LaunchTemplateName: names.onDemandTemplate, Version: '$Latest' },
      Tags: tags(names.onDemandGroup, 'on-demand'),
    }),
  );
  await createStateTable(dynamodb, names.stateTable);

  return { farm, queueUrl: queue.QueueUrl!, dlqUrl: dlq.QueueUrl!, ...names };
}
