/**
 * Every function's middy wiring: Lambda context in the logs, and one error log line with the event id before
 * the error is rethrown (so Lambda's async retry and the failure destination apply). SkipEventError is the
 * exception: logged at warn and returned, because retrying it cannot help.
 */
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { SkipEventError } from './errors';
import { logger } from './log';
import { metrics } from './metrics';

const eventId = (event: unknown): string | undefined =>
  typeof event === 'object' && event !== null && 'id' in event ? String((event as { id: unknown }).id) : undefined;

export function withMiddleware<TEvent, TResult>(
  functionName: string,
  fn: (event: TEvent, context: Context) => Promise<TResult>,
) {
  return middy<TEvent, TResult | { skipped: string }>()
    .use({
      before: function contextBefore(request) {
        logger.addContext(request.context);
        logger.appendKeys({ function: functionName, eventId: eventId(request.event) });
      },
      after: function metricsAfter() {
        // Publishing nothing makes Powertools warn on every quiet run.
        if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
      },
      onError: async function errorLoggerOnError(request) {
        if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
        const error = request.error;
        if (error instanceof SkipEventError) {
          logger.warn('event skipped', { reason: error.message });
          request.response = { skipped: error.message };
          request.error = null;
          return;
        }
        logger.error('invocation failed', { error: error instanceof Error ? error : String(error), eventId: eventId(request.event) });
      },
    })
    .handler(fn);
}
