/**
 * Errors the simulated cloud returns, shaped like the SDK's: the modelled exception classes where the SDK has
 * one (so `instanceof` works too), otherwise the service's base exception with `name` = the AWS error code.
 * Handlers branch on `err.name`, `err.$fault` and `err.$metadata.httpStatusCode`.
 */
import {
  AlreadyExistsFault,
  AutoScalingServiceException,
  InvalidNextToken,
  LimitExceededFault,
  ResourceContentionFault,
  ScalingActivityInProgressFault,
} from '@aws-sdk/client-auto-scaling';
import {
  ConditionalCheckFailedException,
  DynamoDBServiceException,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import { CloudWatchServiceException } from '@aws-sdk/client-cloudwatch';
import { EC2ServiceException } from '@aws-sdk/client-ec2';
import { EventBridgeServiceException } from '@aws-sdk/client-eventbridge';
import { PricingServiceException } from '@aws-sdk/client-pricing';
import { SNSServiceException } from '@aws-sdk/client-sns';
import { QueueDoesNotExist, SQSServiceException } from '@aws-sdk/client-sqs';

type Service = 'autoscaling' | 'ec2' | 'sqs' | 'dynamodb' | 'pricing' | 'sns' | 'eventbridge' | 'cloudwatch';

let requestCounter = 0;

function metadata(status: number) {
  requestCounter++;
  return {
    httpStatusCode: status,
    requestId: `sim-${requestCounter.toString(16).padStart(8, '0')}`,
    attempts: 1,
    totalRetryDelay: 0,
  };
}

const MODELLED: Record<string, new (o: { message: string; $metadata: ReturnType<typeof metadata> }) => Error> = {
  AlreadyExistsFault,
  InvalidNextToken,
  LimitExceededFault,
  ResourceContentionFault,
  ScalingActivityInProgressFault,
  ConditionalCheckFailedException,
  ResourceNotFoundException,
  QueueDoesNotExist,
};

const BASES = {
  autoscaling: AutoScalingServiceException,
  ec2: EC2ServiceException,
  sqs: SQSServiceException,
  dynamodb: DynamoDBServiceException,
  pricing: PricingServiceException,
  sns: SNSServiceException,
  eventbridge: EventBridgeServiceException,
  cloudwatch: CloudWatchServiceException,
} as const;

/** An SDK-shaped error. `name` is the SDK v3 name (`ScalingActivityInProgressFault`, `ValidationError`, ...). */
export function awsError(service: Service, name: string, message: string, status = 400): Error {
  const $metadata = metadata(status);
  const Modelled = MODELLED[name];
  if (Modelled) {
    const err = new Modelled({ message, $metadata });
    return err;
  }
  const Base = BASES[service];
  return new Base({ name, $fault: status >= 500 ? 'server' : 'client', $metadata, message });
}

/** The simulated cloud was asked for something it does not emulate: loud, so the gap is noticed. */
export class NotImplementedInSimulator extends Error {
  constructor(what: string) {
    super(`the simulated cloud does not implement ${what}`);
    this.name = 'NotImplementedInSimulator';
  }
}
