import type { Context } from 'aws-lambda';

/** A Lambda context good enough for handlers run in tests and the backtest. */
export function lambdaContext(functionName: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: 'test-request',
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'test',
    getRemainingTimeInMillis: () => 30_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/**
 * Runs a handler at the time its payload names, on the handlers' wall clock (src/clock.ts): tests that step
 * through time name it in the event (an envelope's `time`) or the manual invoke's `time`. Handlers decide at the
 * wall clock and accept a manual `time` only in dry runs, so the clock is set to that time and a real run's
 * `time` is taken off the payload. `clockModule` is the test's own import of src/clock.ts (the same module the
 * handler uses).
 */
export function clocked<R>(
  handler: (event: unknown, context: unknown) => Promise<R>,
  clockModule: { setWallClock(next: () => number): void },
  offsetMs = 1_000,
): (event: unknown, context: unknown) => Promise<R> {
  return (event, context) => {
    const payload = event as Record<string, unknown> | null | undefined;
    const time = payload && typeof payload.time === 'string' ? Date.parse(payload.time) : NaN;
    if (Number.isNaN(time)) return handler(event, context);
    clockModule.setWallClock(() => time + offsetMs);
    const envelope = 'detail-type' in payload!;
    if (envelope || payload!.dryRun === true) return handler(event, context);
    const { time: _time, ...rest } = payload!;
    return handler(rest, context);
  };
}
