/**
 * SDK clients bound to one Region, for command-line tools that take `--region` (the Lambdas use each wrapper's
 * module-level client, which follows AWS_REGION). Each wrapper function takes the matching client as its last
 * argument. The Pricing client is not here: the Price List API answers from us-east-1 for every Region
 * (src/aws/pricing.ts).
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SQSClient } from '@aws-sdk/client-sqs';
import { requestHandler } from './http';

export interface RegionalClients {
  autoScaling: AutoScalingClient;
  ec2: EC2Client;
  sqs: SQSClient;
  cloudWatch: CloudWatchClient;
}

/** One client per service in `region` (undefined: the SDK's usual resolution, AWS_REGION and the profile). */
export function regionalClients(region?: string): RegionalClients {
  const config = { region, maxAttempts: 6, retryMode: 'adaptive' as const, requestHandler };
  return {
    autoScaling: new AutoScalingClient(config),
    ec2: new EC2Client(config),
    sqs: new SQSClient(config),
    cloudWatch: new CloudWatchClient(config),
  };
}

/** The Region the clients resolved to (what the SDK would sign for). */
export async function resolvedRegion(clients: RegionalClients): Promise<string> {
  return clients.ec2.config.region();
}
