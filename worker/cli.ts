/**
 * `spotfarm-worker --queue-url URL [--slots N] -- CMD [ARGS]`: runs CMD once per queue message with
 * the body on stdin. SIGTERM (or Ctrl-C) drains like a spot interruption notice; a second one hands
 * everything back at once.
 *
 * Exit codes: 0 clean exit, 2 bad flags or configuration (queue missing, no permission, no command),
 * 1 anything unexpected.
 */
import { parseArgs } from 'node:util';
import { assertRunnable, commandProcessor } from './command';
import { WorkerConfigError, errorMessage } from './errors';
import { createImdsClient } from './imds';
import { regionFor, runWorker, type WorkerOptions } from './index';
import { cloudWatchJobMetrics, type JobEnd } from './job-metrics';
import { jsonLog } from './log';

export const USAGE = `usage: spotfarm-worker --queue-url URL [options] -- CMD [ARGS...]

Runs CMD once per SQS message, with the message body on stdin. Exit code 0 deletes the message;
anything else makes it visible again after a back-off (the queue's redrive policy dead-letters
messages that keep failing). SIGTERM drains like a spot interruption notice.

options:
  --queue-url URL              the queue to work from (required)
  --slots N                    jobs at once (default 1)
  --visibility-timeout S       lease per message in seconds (default: the queue's own)
  --expected-seconds S         how long a job takes; on a notice, jobs that can end 15 s before the
                               deadline finish, the others are handed back (default: hand all back)
  --on-rebalance log|drain|ignore
                               on a rebalance recommendation (default log)
  --no-scale-in-protection     do not toggle scale-in protection on the instance's group
  --kill-grace S               seconds between SIGTERM and SIGKILL for a handed-back job (default 10)
  --max-job-time D             stop a job running longer than D (90s, 30m, 2h) and hand its message
                               back (default 12h, the longest SQS keeps a message hidden; 0 = none)
  --hand-back resend|visibility
                               how an interrupted job's message goes back: resend a copy that starts at
                               receive count 0, so interruptions never dead-letter work (default on a
                               standard queue), or a visibility reset that counts as a receive (default
                               on a FIFO queue, where a copy would lose its place in its group)
  --idle-receive-delay S       busy-first receiving: an instance running no job waits S seconds before each
                               receive, a fuller one less, one with a single free slot not at all, so new
                               work lands on busy instances and idle ones can be scaled in (default 30;
                               0 polls all the time)
  --job-metrics                publish each job's duration and outcome to CloudWatch (spotfarm JobDuration;
                               needs cloudwatch:PutMetricData; docs/worker.md "Job metrics")
  -h, --help                   this text

environment:
  SPOTFARM_IMDS_ENDPOINT       instance metadata endpoint (default http://169.254.169.254)
  AWS_ENDPOINT_URL, AWS_REGION the AWS SDK's own settings (region defaults to the queue URL's)
  SPOTFARM_LOG_LEVEL           DEBUG, INFO (default), WARN, ERROR or SILENT

CMD gets SPOTFARM_MESSAGE_ID (the job's first message id, the same across hand-backs),
SPOTFARM_RECEIVE_COUNT and SPOTFARM_HAND_BACKS in its environment.`;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** Where SIGTERM / SIGINT come from; tests pass an EventEmitter. */
  signals: Pick<NodeJS.Process, 'on' | 'off'>;
}

const defaultIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  signals: process,
};

/** Parses flags into worker options; throws WorkerConfigError with the reason on bad input. */
export function parseCli(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): {
  help: true;
} | { help: false; options: Omit<WorkerOptions, 'process' | 'log'>; command: string; args: string[]; killGraceMs: number; jobMetrics: boolean } {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        'queue-url': { type: 'string' },
        slots: { type: 'string' },
        'visibility-timeout': { type: 'string' },
        'expected-seconds': { type: 'string' },
        'on-rebalance': { type: 'string' },
        'no-scale-in-protection': { type: 'boolean' },
        'kill-grace': { type: 'string' },
        'max-job-time': { type: 'string' },
        'hand-back': { type: 'string' },
        'idle-receive-delay': { type: 'string' },
        'job-metrics': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new WorkerConfigError(errorMessage(error));
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: true };
  const queueUrl = values['queue-url'];
  if (queueUrl === undefined || queueUrl === '') throw new WorkerConfigError('--queue-url is required');
  if (!/^https?:\/\/[^/]+\/.+/.test(queueUrl)) {
    throw new WorkerConfigError(
      `--queue-url must be a queue URL like https://sqs.us-east-1.amazonaws.com/123456789012/jobs, got ${queueUrl}`,
    );
  }
  const [command, ...args] = positionals;
  if (command === undefined) throw new WorkerConfigError('no command: put it after --, e.g. -- python3 train.py');
  const onRebalance = values['on-rebalance'] ?? 'log';
  if (onRebalance !== 'log' && onRebalance !== 'drain' && onRebalance !== 'ignore') {
    throw new WorkerConfigError(`--on-rebalance must be log, drain or ignore, got ${onRebalance}`);
  }
  const handBack = values['hand-back'];
  if (handBack !== undefined && handBack !== 'resend' && handBack !== 'visibility') {
    throw new WorkerConfigError(`--hand-back must be resend or visibility, got ${handBack}`);
  }
  const options: Omit<WorkerOptions, 'process' | 'log'> = {
    queueUrl,
    slots: wholeNumber('--slots', values.slots, 1, 1000) ?? 1,
    onRebalance,
    protectFromScaleIn: values['no-scale-in-protection'] !== true,
  };
  const visibility = wholeNumber('--visibility-timeout', values['visibility-timeout'], 1, 43_200);
  if (visibility !== undefined) options.visibilityTimeoutSeconds = visibility;
  const expected = wholeNumber('--expected-seconds', values['expected-seconds'], 0, 43_200);
  if (expected !== undefined) options.expectedSeconds = () => expected;
  const killGrace = wholeNumber('--kill-grace', values['kill-grace'], 0, 3600) ?? 10;
  if (handBack !== undefined) options.handBack = handBack;
  const idleDelay = wholeNumber('--idle-receive-delay', values['idle-receive-delay'], 0, 600);
  if (idleDelay !== undefined) options.idleReceiveDelaySeconds = idleDelay;
  const maxJob = duration('--max-job-time', values['max-job-time']);
  if (maxJob !== undefined) options.maxJobSeconds = maxJob;
  // Tests shorten the worker's waits without new flags a user would never need.
  const receiveWait = wholeNumber('SPOTFARM_RECEIVE_WAIT_SECONDS', env.SPOTFARM_RECEIVE_WAIT_SECONDS, 0, 20);
  if (receiveWait !== undefined) options.receiveWaitSeconds = receiveWait;
  const poll = positiveNumber('SPOTFARM_METADATA_POLL_SECONDS', env.SPOTFARM_METADATA_POLL_SECONDS);
  if (poll !== undefined) options.metadataPollSeconds = poll;
  return { help: false, options, command, args, killGraceMs: killGrace * 1000, jobMetrics: values['job-metrics'] === true };
}

/** Runs the CLI; resolves with the process exit code. */
export async function main(argv: readonly string[] = process.argv.slice(2), io: CliIo = defaultIo): Promise<number> {
  let parsed;
  try {
    parsed = parseCli(argv, io.env);
    if (!parsed.help) assertRunnable(parsed.command, io.env);
  } catch (error) {
    io.stderr(`spotfarm-worker: ${errorMessage(error)}\n(spotfarm-worker --help shows the flags)\n`);
    return 2;
  }
  if (parsed.help) {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  const log = jsonLog((line) => io.stdout(line), io.env.SPOTFARM_LOG_LEVEL);
  const metrics = parsed.jobMetrics ? cloudWatchJobMetrics({ queueUrl: parsed.options.queueUrl, region: regionFor(parsed.options.queueUrl, io.env), log }) : undefined;
  const handle = runWorker({
    ...parsed.options,
    ...(metrics ? { onJobEnd: (end: JobEnd) => metrics.record(end) } : {}),
    process: commandProcessor(parsed.command, parsed.args, { killGraceMs: parsed.killGraceMs, env: io.env }),
    metadata: createImdsClient({ env: io.env }),
    log,
  });
  let signalled = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signalled++;
    io.stderr(
      signalled > 1
        ? `spotfarm-worker: ${signal} again: handing everything back now\n`
        : `spotfarm-worker: ${signal}: draining (waits for the current long poll; send it again to stop at once)\n`,
    );
    handle.stop({ force: signalled > 1, reason: signal });
  };
  io.signals.on('SIGTERM', onSignal);
  io.signals.on('SIGINT', onSignal);
  try {
    await handle.done;
    return 0;
  } catch (error) {
    io.stderr(`spotfarm-worker: ${errorMessage(error)}\n`);
    log('error', 'exit', { reason: errorMessage(error) });
    return error instanceof WorkerConfigError ? 2 : 1;
  } finally {
    await metrics?.stop();
    io.signals.off('SIGTERM', onSignal);
    io.signals.off('SIGINT', onSignal);
  }
}

function wholeNumber(flag: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(value) || value < min || value > max) {
    throw new WorkerConfigError(`${flag} must be a whole number from ${min} to ${max}, got ${raw}`);
  }
  return value;
}

/** `90s`, `30m`, `2h` or plain seconds, up to a week; 0 means no limit. */
function duration(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const match = /^(\d+)(s|m|h)?$/.exec(raw.trim());
  const seconds = match ? Number(match[1]) * ({ s: 1, m: 60, h: 3600 }[match[2] ?? 's'] ?? 1) : NaN;
  if (!Number.isSafeInteger(seconds) || seconds > 7 * 86_400) {
    throw new WorkerConfigError(`${flag} must be a duration like 90s, 30m or 2h (at most 168h; 0 for none), got ${raw}`);
  }
  return seconds;
}

function positiveNumber(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value <= 0) {
    throw new WorkerConfigError(`${flag} must be a positive number, got ${raw}`);
  }
  return value;
}

// Run directly when this file is the entry point (the single-file bundle from worker/build.ts).
if (typeof require !== 'undefined' && require.main === module) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`spotfarm-worker: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
