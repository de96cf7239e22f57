/**
 * Every function's middy wiring: Lambda context in the logs, the event's origin checked (src/events/origin.ts),
 * and one error log line with the event id before the error is rethrown (so Lambda's async retry and the failure
 * destination apply). Two exceptions, because retrying them cannot help:
 * - SkipEventError: logged at warn and returned.
 * - BadInputError on an EventBridge event (malformed, or from another account or region): recorded on the failure
 *   queue by the function itself, in the shape of a Lambda destination record, and returned. Thrown, it would be
 *   retried twice by Lambda's async retry first (the retries are for AWS hiccups, which a malformed event is not).
 *   When the record cannot be written, the error is thrown after all, so the event still reaches the failure
 *   destination the usual way.
 */
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { BadInputError, SkipEventError } from './errors';
import { checkEventOrigin, isEventBridgeEvent, ownOrigin } from './events/origin';
import { sendMessage } from './aws/sqs';
import { logger } from './log';

/** The `condition` of a refused event's record (Lambda's own are RetriesExhausted and EventAgeExceeded). */
export const REFUSED_CONDITION = 'RefusedEvent';

/**
 * A refused event, as a Lambda on-failure destination record
 * (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html), so one reader handles both.
 */
export function refusalRecord(event: unknown, context: Context, error: Error, now: Date): Record<string, unknown> {
  return {
    version: '1.0',
    timestamp: now.toISOString(),
    requestContext: {
      requestId: context.awsRequestId,
      functionArn: context.invokedFunctionArn,
      condition: REFUSED_CONDITION,
      approximateInvokeCount: 1,
    },
    requestPayload: event,
    responseContext: { statusCode: 200, executedVersion: context.functionVersion, functionError: 'Unhandled' },
    responsePayload: { errorType: error.name, errorMessage: error.message },
  };
}

const eventId = (event: unknown): string | undefined =>
  typeof event === 'object' && event !== null && 'id' in event ? String((event as { id: unknown }).id) : undefined;

export function withMiddleware<TEvent, TResult>(
  functionName: string,
  fn: (event: TEvent, context: Context) => Promise<TResult>,
) {
  return middy<TEvent, TResult | { skipped: string } | { refused: string }>()
    .use({
      before: function contextBefore(request) {
        logger.addContext(request.context);
        logger.appendKeys({ function: functionName, eventId: eventId(request.event) });
        checkEventOrigin(request.event, ownOrigin(request.context));
      },
      onError: async function errorLoggerOnError(request) {
        const error = request.error;
        if (error instanceof SkipEventError) {
          logger.warn('event skipped', { reason: error.message });
          request.response = { skipped: error.message };
          request.error = null;
          return;
        }
        const failureQueue = process.env.SPOTFARM_FAILURE_QUEUE_URL;
        if (error instanceof BadInputError && isEventBridgeEvent(request.event) && failureQueue) {
          try {
            // Wall clock: when the refusal was recorded, as Lambda stamps its own records.
            const record = refusalRecord(request.event, request.context, error, new Date());
            await sendMessage(failureQueue, JSON.stringify(record));
            logger.error('event refused and recorded on the failure queue, not retried', { reason: error.message });
            request.response = { refused: error.message };
            request.error = null;
            return;
          } catch (recordError) {
            logger.error('could not record the refused event; failing the invocation instead', {
              error: recordError instanceof Error ? recordError : String(recordError),
            });
          }
        }
        logger.error('invocation failed', { error: error instanceof Error ? error : String(error), eventId: eventId(request.event) });
      },
    })
    .handler(fn);
}
