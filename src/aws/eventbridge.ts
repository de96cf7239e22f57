/**
 * EventBridge: the signals one controller sends another (a market check request). The only module that talks
 * to EventBridge. PutEvents to the default bus; a rule on that bus delivers the event to the target function
 * asynchronously, with the rule's retry policy (serverless.yml).
 *
 * PutEvents reports failures per entry with HTTP 200 (FailedEntryCount, Entries[i].ErrorCode): a refused entry is
 * an error here, not a silent loss (EventBridge API reference, PutEvents:
 * https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html).
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { AwsCallError, aws } from '../errors';
import { requestHandler } from './http';

export const eventBridgeClient = new EventBridgeClient({ maxAttempts: 5, requestHandler });

/** Puts one event on the default bus; throws when EventBridge refuses it. */
export async function putEvent(
  source: string,
  detailType: string,
  detail: Record<string, unknown>,
  time: Date,
  client: EventBridgeClient = eventBridgeClient,
): Promise<string> {
  const doing = `putting a "${detailType}" event on the default event bus`;
  const out = await aws(doing, () =>
    client.send(new PutEventsCommand({ Entries: [{ Source: source, DetailType: detailType, Detail: JSON.stringify(detail), Time: time }] })),
  );
  const entry = out.Entries?.[0];
  if ((out.FailedEntryCount ?? 0) > 0 || !entry?.EventId) {
    const error = Object.assign(new Error(entry?.ErrorMessage ?? 'the entry was not accepted'), { name: entry?.ErrorCode ?? 'FailedEntry' });
    throw new AwsCallError(doing, error);
  }
  return entry.EventId;
}
