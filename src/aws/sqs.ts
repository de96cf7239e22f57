/**
 * SQS: the farm queue's depth, and refused events recorded on the failure queue. The only module that talks to SQS
 * (the worker agent has its own client).
 */
import { GetQueueAttributesCommand, GetQueueUrlCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { AwsCallError, aws, SpotfarmError } from '../errors';
import type { QueueDepth } from '../model';
import { requestHandler } from './http';

export const sqsClient = new SQSClient({ maxAttempts: 5, requestHandler });

export class QueueNotFoundError extends SpotfarmError {}

const urls = new Map<string, string>();

/** Forget resolved queue URLs (tests and the backtest run many accounts in one process). */
export function resetQueueUrlCache(): void {
  urls.clear();
}

/** `spotfarm:queue` holds a name or a URL; a name is resolved once per container. */
export async function resolveQueueUrl(nameOrUrl: string, client: SQSClient = sqsClient): Promise<string> {
  if (/^https?:\/\//.test(nameOrUrl)) return nameOrUrl;
  const known = urls.get(nameOrUrl);
  if (known) return known;
  try {
    const { QueueUrl } = await aws(`looking up queue ${nameOrUrl}`, () =>
      client.send(new GetQueueUrlCommand({ QueueName: nameOrUrl })),
    );
    if (!QueueUrl) throw new QueueNotFoundError(`queue ${nameOrUrl} does not exist`);
    urls.set(nameOrUrl, QueueUrl);
    return QueueUrl;
  } catch (error) {
    throw notFound(error, nameOrUrl) ?? error;
  }
}

/** What the backtest needs of a queue's own settings. */
export interface QueueSettings {
  /** Seconds. */
  visibilityTimeout: number;
  /** Receives before the redrive policy moves a message to its dead-letter queue; undefined without one. */
  maxReceiveCount: number | undefined;
}

/** The queue's VisibilityTimeout and the maxReceiveCount of its RedrivePolicy (read-only). */
export async function getQueueSettings(nameOrUrl: string, client: SQSClient = sqsClient): Promise<QueueSettings> {
  const url = await resolveQueueUrl(nameOrUrl, client);
  try {
    const { Attributes = {} } = await aws(`reading the settings of queue ${nameOrUrl}`, () =>
      client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['VisibilityTimeout', 'RedrivePolicy'] })),
    );
    let maxReceiveCount: number | undefined;
    if (Attributes.RedrivePolicy) {
      // RedrivePolicy is a JSON string; maxReceiveCount arrives as a number or a string depending on who set it.
      const count = Number((JSON.parse(Attributes.RedrivePolicy) as { maxReceiveCount?: unknown }).maxReceiveCount);
      if (Number.isInteger(count) && count >= 1) maxReceiveCount = count;
    }
    return { visibilityTimeout: Number(Attributes.VisibilityTimeout ?? 30), maxReceiveCount };
  } catch (error) {
    throw notFound(error, nameOrUrl) ?? error;
  }
}

/** The queue name of a `spotfarm:queue` value (a name, or a URL ending in the name). */
export function queueNameOf(nameOrUrl: string): string {
  return nameOrUrl.replace(/\/+$/, '').split('/').pop() ?? nameOrUrl;
}

/** Visible, in-flight and delayed messages (approximate, as SQS reports them). */
export async function getQueueDepth(nameOrUrl: string, client: SQSClient = sqsClient): Promise<QueueDepth> {
  const url = await resolveQueueUrl(nameOrUrl, client);
  try {
    const { Attributes = {} } = await aws(`reading the depth of queue ${nameOrUrl}`, () =>
      client.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
        }),
      ),
    );
    return {
      visible: Number(Attributes.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
      delayed: Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0),
    };
  } catch (error) {
    throw notFound(error, nameOrUrl) ?? error;
  }
}

function notFound(error: unknown, queue: string): QueueNotFoundError | undefined {
  const name = error instanceof AwsCallError ? error.awsName : undefined;
  if (name === 'QueueDoesNotExist' || name === 'AWS.SimpleQueueService.NonExistentQueue') {
    urls.delete(queue);
    return new QueueNotFoundError(`queue ${queue} does not exist`, { cause: error });
  }
  return undefined;
}

/** Sends one message (a refused event's record) to a queue by URL. */
export async function sendMessage(queueUrl: string, body: string, client: SQSClient = sqsClient): Promise<void> {
  await aws(`recording on queue ${queueNameOf(queueUrl)}`, () => client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body })));
}
