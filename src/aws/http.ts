/**
 * How every SDK client of the functions talks HTTP: a call that gets no answer is given up and retried by the SDK
 * (each client's maxAttempts), instead of holding the invocation until Lambda's own timeout. A reply lost on the
 * way (a connection the network drops silently) then costs one retry, not the tick: the queue scaler runs every
 * minute with a 60 s timeout, and without a bound one lost reply used it all and failed the invocation.
 *
 * AWS's own answers come in well under a second for every call spotfarm makes (Describe pages, SetDesiredCapacity,
 * conditional DynamoDB writes, GetMetricData of two series, a Price List page); 10 s is ample. A retried call whose
 * first attempt did reach AWS is what a connection reset after the call already makes the SDK do, which the code
 * meets (docs/market.md "One writer per decision": a retried conditional commit; the fault suite,
 * test/integration/fault-suite.test.ts, resets replies after moto applied the call).
 *
 * `throwOnRequestTimeout`: without it @smithy/node-http-handler 4 only logs a warning when `requestTimeout` passes
 * and keeps waiting.
 */
export const REQUEST_TIMEOUT_MS = 10_000;
/** A TCP connection to a regional endpoint takes milliseconds; this bounds one that never completes. */
export const CONNECTION_TIMEOUT_MS = 3_000;

/** The `requestHandler` settings every client of src/aws is built with. */
export const requestHandler = {
  requestTimeout: REQUEST_TIMEOUT_MS,
  connectionTimeout: CONNECTION_TIMEOUT_MS,
  throwOnRequestTimeout: true,
} as const;
