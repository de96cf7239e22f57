/** SNS notifications for swaps and breaker trips. The only module that talks to SNS. */
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { aws } from '../errors';
import { requestHandler } from './http';

export const snsClient = new SNSClient({ maxAttempts: 5, requestHandler });

/** Publishes one message; a stack without a topic (empty ARN) publishes nothing. */
export async function notify(
  topicArn: string,
  subject: string,
  message: Record<string, unknown>,
  client: SNSClient = snsClient,
): Promise<void> {
  if (topicArn === '') return;
  await aws(`publishing "${subject}" to ${topicArn}`, () =>
    // SNS subjects are limited to 100 printable ASCII characters.
    client.send(new PublishCommand({ TopicArn: topicArn, Subject: subject.slice(0, 100), Message: JSON.stringify(message, null, 2) })),
  );
}
