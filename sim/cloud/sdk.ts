/**
 * Plugs a World in under the AWS SDK v3 clients: the `send` of each client class (its prototype, so every
 * instance, including those src/aws creates at import) is replaced by a router to the simulated cloud while
 * connected, and put back by `restore()`; production code (src/aws/*.ts) runs unchanged. Each implemented command
 * class is routed to its answer; any other command rejects with "the simulated cloud does not implement
 * <Command>" so a gap is noticed, never answered with `undefined`.
 *
 * Not aws-sdk-client-mock: its sinon stub records every call and builds an Error (a stack trace) per send, which
 * cost a backtest about 8% of its time and grew with its length. This is a plain function and one Map lookup.
 */
import * as AutoScaling from '@aws-sdk/client-auto-scaling';
import * as CloudWatch from '@aws-sdk/client-cloudwatch';
import * as DynamoDB from '@aws-sdk/client-dynamodb';
import * as EC2 from '@aws-sdk/client-ec2';
import * as EventBridge from '@aws-sdk/client-eventbridge';
import * as Pricing from '@aws-sdk/client-pricing';
import * as SNS from '@aws-sdk/client-sns';
import * as SQS from '@aws-sdk/client-sqs';
import * as asg from './autoscaling-api';
import * as cloudwatch from './cloudwatch';
import * as ddb from './dynamodb-api';
import * as ec2 from './ec2-api';
import { NotImplementedInSimulator } from './errors';
import * as misc from './misc-api';
import type { World } from './world';

export interface SdkTarget {
  world: World;
  tables: ddb.Tables;
}

/** Every SDK call the simulated cloud answered, by command name (for benches and tests). */
export type CallCounts = Map<string, number>;

type CommandClass = new (input: never) => object;
type Route = [CommandClass, (target: SdkTarget, input: never) => unknown];

const ROUTES: { client: { name: string; prototype: { send: unknown } }; routes: Route[] }[] = [
  {
    client: AutoScaling.AutoScalingClient,
    routes: [
      [AutoScaling.DescribeAutoScalingGroupsCommand, (t, i) => asg.describeAutoScalingGroups(t.world, i)],
      [AutoScaling.DescribeAutoScalingInstancesCommand, (t, i) => asg.describeAutoScalingInstances(t.world, i)],
      [AutoScaling.SetDesiredCapacityCommand, (t, i) => asg.setDesiredCapacity(t.world, i)],
      [AutoScaling.UpdateAutoScalingGroupCommand, (t, i) => asg.updateAutoScalingGroup(t.world, i)],
      [AutoScaling.CreateAutoScalingGroupCommand, (t, i) => asg.createAutoScalingGroup(t.world, i)],
      [AutoScaling.DetachInstancesCommand, (t, i) => asg.detachInstances(t.world, i)],
      [AutoScaling.TerminateInstanceInAutoScalingGroupCommand, (t, i) => asg.terminateInstanceInAutoScalingGroup(t.world, i)],
      [AutoScaling.SetInstanceProtectionCommand, (t, i) => asg.setInstanceProtection(t.world, i)],
      [AutoScaling.PutLifecycleHookCommand, (t, i) => asg.putLifecycleHook(t.world, i)],
      [AutoScaling.DescribeLifecycleHooksCommand, (t, i) => asg.describeLifecycleHooks(t.world, i)],
      [AutoScaling.CompleteLifecycleActionCommand, (t, i) => asg.completeLifecycleAction(t.world, i)],
      [AutoScaling.DescribeScalingActivitiesCommand, (t, i) => asg.describeScalingActivities(t.world, i)],
      [AutoScaling.DescribeLaunchConfigurationsCommand, (t, i) => asg.describeLaunchConfigurations(t.world, i)],
      [AutoScaling.CreateLaunchConfigurationCommand, (t, i) => asg.createLaunchConfiguration(t.world, i)],
    ],
  },
  {
    client: EC2.EC2Client,
    routes: [
      [EC2.DescribeSpotPriceHistoryCommand, (t, i) => ec2.describeSpotPriceHistory(t.world, i)],
      [EC2.DescribeInstancesCommand, (t, i) => ec2.describeInstances(t.world, i)],
      [EC2.TerminateInstancesCommand, (t, i) => ec2.terminateInstances(t.world, i)],
      [EC2.CreateTagsCommand, (t, i) => ec2.createTags(t.world, i)],
      [EC2.DeleteTagsCommand, (t, i) => ec2.deleteTags(t.world, i)],
      [EC2.CreateLaunchTemplateCommand, (t, i) => ec2.createLaunchTemplate(t.world, i)],
      [EC2.DescribeLaunchTemplatesCommand, (t, i) => ec2.describeLaunchTemplates(t.world, i)],
      [EC2.CreateLaunchTemplateVersionCommand, (t, i) => ec2.createLaunchTemplateVersion(t.world, i)],
      [EC2.ModifyLaunchTemplateCommand, (t, i) => ec2.modifyLaunchTemplate(t.world, i)],
      [EC2.DescribeLaunchTemplateVersionsCommand, (t, i) => ec2.describeLaunchTemplateVersions(t.world, i)],
    ],
  },
  {
    client: SQS.SQSClient,
    routes: [
      [SQS.GetQueueUrlCommand, (t, i) => misc.getQueueUrl(t.world, i)],
      [SQS.GetQueueAttributesCommand, (t, i) => misc.getQueueAttributes(t.world, i)],
      [SQS.CreateQueueCommand, (t, i) => misc.createQueue(t.world, i)],
      [SQS.SendMessageCommand, (t, i) => misc.sendMessage(t.world, i)],
    ],
  },
  {
    client: CloudWatch.CloudWatchClient,
    routes: [[CloudWatch.GetMetricDataCommand, (t, i) => cloudwatch.getMetricData(t.world, i)]],
  },
  {
    client: Pricing.PricingClient,
    routes: [[Pricing.GetProductsCommand, (t, i) => misc.getProducts(t.world, i)]],
  },
  {
    client: EventBridge.EventBridgeClient,
    routes: [[EventBridge.PutEventsCommand, (t, i) => misc.putEvents(t.world, i)]],
  },
  {
    client: SNS.SNSClient,
    routes: [[SNS.PublishCommand, (t, i) => misc.publish(t.world, i)]],
  },
  {
    client: DynamoDB.DynamoDBClient,
    routes: [
      [DynamoDB.GetItemCommand, (t, i) => ddb.getItem(t.tables, i)],
      [DynamoDB.PutItemCommand, (t, i) => ddb.putItem(t.tables, i)],
      [DynamoDB.QueryCommand, (t, i) => ddb.query(t.tables, i)],
      [DynamoDB.DeleteItemCommand, (t, i) => ddb.deleteItem(t.tables, i)],
    ],
  },
];

/** Sees each SDK call before the simulated cloud answers it, which waits for it (the IAM simulation reads the state IAM would see). */
export type SdkObserver = (client: string, command: string, input: unknown, target: SdkTarget) => void | Promise<void>;
let observer: SdkObserver | undefined;

/** Sets (or clears) the one observer of every connection. */
export function observeSdkCalls(fn: SdkObserver | undefined): void {
  observer = fn;
}

export interface SdkConnection {
  /** Point every intercepted client at another world (one per policy run). */
  target: SdkTarget;
  calls: CallCounts;
  /** Told of every call answered (or refused with an AWS error): the cost bench sizes DynamoDB items with it. */
  onCall?: ((command: string, input: unknown, output: unknown) => void) | undefined;
  /** Kept for callers of the mock-based version: nothing is recorded per call any more, so nothing to drop. */
  resetHistory(): void;
  restore(): void;
  /**
   * Runs before each call is answered (tests: interleave concurrent handlers at every AWS call, or watch the calls).
   * Absent in a backtest, which then answers at once.
   */
  beforeAnswer?: (command: string, input: unknown, target: SdkTarget) => Promise<void> | void;
}

type Send = (command: { input: unknown }) => Promise<unknown>;

/** Intercepts the SDK clients and answers from `target` (switchable). Call `restore()` when done. */
export function connectSdk(target: SdkTarget): SdkConnection {
  const originals: [{ send: unknown }, unknown][] = [];
  const connection: SdkConnection = {
    target,
    calls: new Map(),
    resetHistory() {},
    restore() {
      for (const [prototype, send] of originals.splice(0)) prototype.send = send;
    },
  };
  for (const { client, routes } of ROUTES) {
    const table = new Map<unknown, Route[1]>(routes.map(([Command, answer]) => [Command, answer]));
    const send: Send = async (command) => {
      const answer = table.get(command.constructor);
      if (!answer) throw new NotImplementedInSimulator(command.constructor.name);
      const name = command.constructor.name;
      connection.calls.set(name, (connection.calls.get(name) ?? 0) + 1);
      if (observer) await observer(client.name, name, command.input, connection.target);
      if (connection.beforeAnswer) await connection.beforeAnswer(name, command.input, connection.target);
      if (!connection.onCall) return answer(connection.target, command.input as never);
      let output: unknown;
      try {
        output = answer(connection.target, command.input as never);
      } finally {
        connection.onCall(name, command.input, output);
      }
      return output;
    };
    originals.push([client.prototype, client.prototype.send]);
    client.prototype.send = send;
  }
  return connection;
}
