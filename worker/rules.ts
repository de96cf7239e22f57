/**
 * The worker agent's timing rules. The agent (worker/) and the backtest's worker model (sim/) both
 * import these, so the simulated farm behaves like the real one.
 */

/** How often the agent polls instance metadata for `spot/instance-action` (AWS recommends 5 s). */
export const METADATA_POLL_SECONDS = 5;

/** Long-poll wait of each ReceiveMessage call (SQS maximum). */
export const RECEIVE_WAIT_SECONDS = 20;

/**
 * A running job's visibility is extended when less than this fraction of the queue's visibility
 * timeout is left, by one whole visibility timeout (the heartbeat).
 */
export const HEARTBEAT_FRACTION = 0.5;

/** Warning lead time EC2 gives before it takes a spot instance back. */
export const INTERRUPTION_NOTICE_SECONDS = 120;

/**
 * On a notice, jobs expected to finish this long before the deadline may finish; the others are
 * handed back at once (visibility 0) so another worker can start them.
 */
export const FINISH_MARGIN_SECONDS = 15;

/** Back-off for a failed job before it becomes visible again: base * 2^(receiveCount-1), capped. */
export const FAILURE_BACKOFF_BASE_SECONDS = 30;
export const FAILURE_BACKOFF_MAX_SECONDS = 900;

/**
 * Default longest run of one job before it is stopped and its message handed back. SQS keeps a message hidden at
 * most 12 hours after a receive (ChangeMessageVisibility cannot extend past it:
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html), so a
 * longer run would lose its lease and be delivered elsewhere anyway.
 */
export const MAX_JOB_SECONDS = 12 * 3600;
