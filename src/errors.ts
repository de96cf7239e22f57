/**
 * The few error kinds spotfarm raises. Each carries the failing resource in its message
 * ("describing auto scaling group ml-asg: ...") and the underlying error as `cause`.
 *
 * - SkipEventError: the event cannot or need not be acted on; log at warn and return (Lambda does not retry).
 * - ConfigError: the stack's configuration is wrong; fails every invocation until fixed.
 * - GroupConfigError: one group's tags are wrong; that group is skipped whole, the others go on.
 * - BadInputError: a malformed invoke payload or event; the invocation fails, so an async event lands in the
 *   function's failure destination instead of vanishing.
 * - AwsCallError: an AWS call failed after the SDK's own retries; rethrown so Lambda's async retry applies.
 */

export class SpotfarmError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class SkipEventError extends SpotfarmError {}
export class ConfigError extends SpotfarmError {}
export class BadInputError extends SpotfarmError {}

export class GroupConfigError extends SpotfarmError {
  constructor(
    readonly groupName: string,
    readonly problems: string[],
  ) {
    super(`group ${groupName}: ${problems.join('; ')}`);
  }
}

export class AwsCallError extends SpotfarmError {
  /** The AWS error name (e.g. `ValidationError`, `ScalingActivityInProgressFault`), when there is one. */
  readonly awsName: string | undefined;
  constructor(doing: string, cause: unknown) {
    const name = errorName(cause);
    super(`${doing}: ${name ? `${name}: ` : ''}${errorMessage(cause)}`, { cause });
    this.awsName = name;
  }
}

export function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Wraps an AWS call so its failure names what we were doing; never swallows the error. */
export async function aws<T>(doing: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw new AwsCallError(doing, error);
  }
}
