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

/**
 * The message attribute a hand-back re-send carries: how many times the job has been handed back so far. A re-sent
 * copy is a new message (receive count 0), so this is what keeps the job's history. SQS message attribute names
 * take letters, digits, `_`, `-` and `.`
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html).
 */
export const HAND_BACK_ATTRIBUTE = 'spotfarm.handBacks';
/**
 * The id of the message as first sent, carried by every re-sent copy: the job's identity across hand-backs (the
 * command's SPOTFARM_MESSAGE_ID), since each copy gets a new SQS message id.
 */
export const JOB_ID_ATTRIBUTE = 'spotfarm.jobId';
export const HAND_BACK_ATTRIBUTES = [HAND_BACK_ATTRIBUTE, JOB_ID_ATTRIBUTE] as const;

/**
 * Hand-backs re-sent as new messages before the next ones fall back to a visibility reset, which counts toward the
 * queue's maxReceiveCount again. A hand-back is the instance's fault (an interruption, a stop), not the job's, so it
 * must not push healthy work to the dead-letter queue; the bound keeps a job that somehow ends every run in a
 * hand-back from circulating forever. The busiest bundled market hands a job back at most a handful of times
 * (docs/worker.md "Hand-back"), so 20 is never reached by bad luck.
 */
export const MAX_RESENT_HAND_BACKS = 20;

/** SQS allows at most 10 message attributes per message: a message with more than 8 of its own cannot carry ours. */
export const MAX_MESSAGE_ATTRIBUTES = 10;

/**
 * Busy-first receiving (worker/policy.ts planReceive). SQS hands a message to one of the long polls waiting when it
 * becomes visible, about at random
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-short-and-long-polling.html), so an
 * instance's share of new work follows the time it spends polling. An instance with one free slot long-polls all
 * the time; one with more free slots waits IDLE_RECEIVE_DELAY_SECONDS * (free - 1) / (slots - 1) before each brief
 * poll (the whole delay when it runs nothing). New work lands on the fullest instances, the emptiest drain, lose their
 * scale-in protection and are scaled in. An on-demand instance waits one such delay more than a spot instance with
 * the same free slots (on-demand last, worker/policy.ts), so the dearer capacity drains first. A message waits at
 * most about this long more (twice it for an all-on-demand farm running nothing); each poll takes up to all
 * free slots, so a large backlog still reaches every instance within it. 30 s: measured in docs/worker.md
 * ("Busy-first receiving"), idle share down 6 points on calm-2023 and storm, every p95 shorter than with no delay; longer
 * delays cost more (the service policy takes the delay off its wait budget).
 */
export const IDLE_RECEIVE_DELAY_SECONDS = 30;
/**
 * How long one Auto Scaling call of the agent (finding its group, its role tag, scale-in protection) may go
 * without an answer before the SDK gives it up and retries (at most 3 attempts). These calls answer in well under
 * a second; without a bound, one reply lost on the way (a connection the network drops silently) held the agent
 * for as long as the operating system kept the socket: at start, before its first receive.
 */
export const AUTO_SCALING_TIMEOUT_SECONDS = 5;
/** Long-poll wait of a delayed receive (1 s is SQS's shortest long poll: it still asks every server). */
export const IDLE_RECEIVE_WAIT_SECONDS = 1;
