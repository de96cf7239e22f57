/** Errors the worker agent raises on purpose; anything else is a bug or an unexpected AWS answer. */

/** The worker cannot run as configured: bad options, a missing queue, no permission, no command. */
export class WorkerConfigError extends Error {
  override name = 'WorkerConfigError';
}

/** Reads an AWS SDK error's identity without trusting its shape. */
export function awsErrorName(error: unknown): string {
  if (typeof error !== 'object' || error === null) return '';
  const { name, Code, code } = error as { name?: unknown; Code?: unknown; code?: unknown };
  for (const candidate of [Code, code, name]) {
    if (typeof candidate === 'string' && candidate !== '' && candidate !== 'Error') return candidate;
  }
  return '';
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

const MISSING_QUEUE = new Set(['QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue', 'NonExistentQueue']);
const DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'KMS.AccessDeniedException']);
const BAD_CREDENTIALS = new Set([
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidSecurity',
  'CredentialsProviderError',
]);

/**
 * Turns an SQS error that no retry can fix into a WorkerConfigError with a message a person can
 * act on; returns undefined for errors worth retrying (network, throttling, 5xx).
 */
export function fatalQueueError(error: unknown, queueUrl: string, action: string): WorkerConfigError | undefined {
  const name = awsErrorName(error);
  const detail = errorMessage(error);
  if (MISSING_QUEUE.has(name)) {
    return new WorkerConfigError(`queue ${queueUrl} does not exist (${action}: ${name})`, { cause: error });
  }
  if (DENIED.has(name)) {
    return new WorkerConfigError(
      `no permission for sqs:${action} on queue ${queueUrl}: ${detail} (grant the worker's role ` +
        'sqs:ReceiveMessage, sqs:DeleteMessage, sqs:ChangeMessageVisibility, sqs:SendMessage and sqs:GetQueueAttributes on the queue)',
      { cause: error },
    );
  }
  if (BAD_CREDENTIALS.has(name)) {
    return new WorkerConfigError(`AWS rejected the worker's credentials (${action} on ${queueUrl}): ${name}: ${detail}`, {
      cause: error,
    });
  }
  if (/region is missing/i.test(detail)) {
    return new WorkerConfigError(`no AWS region for queue ${queueUrl}: set AWS_REGION`, { cause: error });
  }
  return undefined;
}
