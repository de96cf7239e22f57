/**
 * Test helpers: a one-instance Auto Scaling group and queues in moto, a message ledger that proves
 * no message was lost or completed twice, and a log collector.
 */
import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
} from '@aws-sdk/client-auto-scaling';
import { CreateLaunchTemplateCommand, DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { Log } from '../../worker/log';

export const REGION = 'us-east-1';

export function clients(endpoint: string) {
  const config = { endpoint, region: REGION };
  return {
    sqs: new SQSClient(config),
    autoScaling: new AutoScalingClient(config),
    ec2: new EC2Client(config),
  };
}

/** A launch template and a group of one instance (tagged with `tags`); returns the group's name and the instance's id. */
export async function createGroup(
  autoScaling: AutoScalingClient,
  ec2: EC2Client,
  name: string,
  tags: Record<string, string> = {},
): Promise<{ groupName: string; instanceId: string }> {
  const images = await ec2.send(new DescribeImagesCommand({}));
  const imageId = images.Images?.[0]?.ImageId ?? 'ami-12c6146b';
  await ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: `${name}-lt`,
      LaunchTemplateData: { ImageId: imageId, InstanceType: 'm5.large' },
    }),
  );
  await autoScaling.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: name,
      LaunchTemplate: { LaunchTemplateName: `${name}-lt`, Version: '$Latest' },
      MinSize: 1,
      MaxSize: 2,
      DesiredCapacity: 1,
      AvailabilityZones: [`${REGION}a`],
      Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value, PropagateAtLaunch: true })),
    }),
  );
  const groups = await autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }));
  const instanceId = groups.AutoScalingGroups?.[0]?.Instances?.[0]?.InstanceId;
  if (instanceId === undefined) throw new Error(`moto started no instance in group ${name}`);
  return { groupName: name, instanceId };
}

export async function isProtected(autoScaling: AutoScalingClient, instanceId: string): Promise<boolean | undefined> {
  const out = await autoScaling.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }));
  return out.AutoScalingInstances?.[0]?.ProtectedFromScaleIn;
}

/** A queue (with a dead-letter queue, so the worker does not warn) holding `bodies`. */
export async function createQueue(
  sqs: SQSClient,
  name: string,
  visibilityTimeoutSeconds: number,
  bodies: string[] = [],
  options: { maxReceiveCount?: number; fifo?: { contentBasedDeduplication: boolean; groupId: string } } = {},
): Promise<string> {
  // A FIFO queue's dead-letter queue must be FIFO too, and both names end in .fifo.
  const suffix = options.fifo ? '.fifo' : '';
  const fifoAttributes: Record<string, string> = options.fifo
    ? { FifoQueue: 'true', ContentBasedDeduplication: String(options.fifo.contentBasedDeduplication) }
    : {};
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq${suffix}`, Attributes: fifoAttributes }));
  const dlqArn = (
    await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }))
  ).Attributes?.QueueArn;
  const { QueueUrl } = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${name}${suffix}`,
      Attributes: {
        VisibilityTimeout: String(visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: options.maxReceiveCount ?? 5 }),
        ...fifoAttributes,
      },
    }),
  );
  if (QueueUrl === undefined) throw new Error(`moto created no queue ${name}`);
  for (let i = 0; i < bodies.length; i += 10) {
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl,
        Entries: bodies.slice(i, i + 10).map((body, j) => ({
          Id: String(i + j),
          MessageBody: body,
          ...(options.fifo ? { MessageGroupId: options.fifo.groupId } : {}),
          ...(options.fifo && !options.fifo.contentBasedDeduplication ? { MessageDeduplicationId: `m${i + j}` } : {}),
        })),
      }),
    );
  }
  return QueueUrl;
}

/** Visible + in flight + delayed: zero means every message was deleted. */
export async function messagesLeft(sqs: SQSClient, queueUrl: string): Promise<number> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  const a = out.Attributes ?? {};
  return (
    Number(a.ApproximateNumberOfMessages) +
    Number(a.ApproximateNumberOfMessagesNotVisible) +
    Number(a.ApproximateNumberOfMessagesDelayed)
  );
}

export interface LogLine {
  level: string;
  event: string;
  [key: string]: unknown;
}

/** A Log that keeps every line for assertions. */
export function collectLog(): { log: Log; lines: LogLine[]; events: (event: string) => LogLine[] } {
  const lines: LogLine[] = [];
  return {
    lines,
    log: (level, event, fields = {}) => lines.push({ level, event, ...fields }),
    events: (event) => lines.filter((line) => line.event === event),
  };
}

/** Resolves after `ms`, or at once when `signal` aborts (then rejects, as an abandoned job would). */
export function work(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Error('aborted'));
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(new Error('aborted'));
      },
      { once: true },
    );
  });
}

export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Stops the worker once `check` holds (e.g. every job succeeded), as an operator's SIGTERM would. */
export function stopWhen(handle: { stop(): void; done: Promise<unknown> }, check: () => boolean): void {
  const timer = setInterval(() => {
    if (!check()) return;
    clearInterval(timer);
    handle.stop();
  }, 20);
  handle.done.finally(() => clearInterval(timer)).catch(() => {});
}
