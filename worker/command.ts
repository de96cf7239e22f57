/**
 * Runs the user's command once per message: the body on stdin, exit code 0 = success. A job that
 * is handed back has its command stopped (SIGTERM to its process group, SIGKILL after a grace),
 * because another worker now owns the message and two runs to completion are what we avoid.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { WorkerConfigError } from './errors';
import type { JobProcessor } from './index';

export interface CommandOptions {
  /** Between SIGTERM and SIGKILL when a job is handed back. */
  killGraceMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** A JobProcessor that runs `command args...` per message. */
export function commandProcessor(command: string, args: readonly string[], options: CommandOptions = {}): JobProcessor {
  const killGraceMs = options.killGraceMs ?? 10_000;
  const baseEnv = options.env ?? process.env;
  return (message, { signal, receiveCount, handBacks, jobId }) =>
    new Promise<void>((resolvePromise, reject) => {
      if (signal.aborted) {
        reject(new Error('handed back before it started'));
        return;
      }
      const child = spawn(command, [...args], {
        stdio: ['pipe', 'inherit', 'inherit'],
        cwd: options.cwd,
        // Its own process group, so stopping a job also stops whatever the command started.
        detached: true,
        env: {
          ...baseEnv,
          // The job's id: the message id it was first sent under, the same across hand-backs (each re-sent copy
          // has a new SQS id), so results keyed on it are overwritten by a rerun, not duplicated.
          SPOTFARM_MESSAGE_ID: jobId || (message.MessageId ?? ''),
          SPOTFARM_RECEIVE_COUNT: String(receiveCount),
          SPOTFARM_HAND_BACKS: String(handBacks ?? 0),
        },
      });
      let killTimer: NodeJS.Timeout | undefined;
      let abortedAt: number | undefined;
      const kill = (sig: NodeJS.Signals | 0): boolean => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, sig);
          return true;
        } catch {
          // Already gone.
          return false;
        }
      };
      const onAbort = (): void => {
        abortedAt = Date.now();
        kill('SIGTERM');
        killTimer = setTimeout(() => kill('SIGKILL'), killGraceMs);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      child.once('error', (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(new Error(`running ${command}: ${error.message}`, { cause: error }));
      });
      child.once('close', (code, sig) => {
        signal.removeEventListener('abort', onAbort);
        const settle = (): void => {
          clearTimeout(killTimer);
          if (code === 0) resolvePromise();
          else reject(new Error(sig ? `${command} was killed by ${sig}` : `${command} exited with code ${code}`));
        };
        if (abortedAt === undefined) {
          settle();
          return;
        }
        // Handed back: the command exiting is not enough, whatever it started in its group (a trainer that
        // ignores SIGTERM) must be gone too before the job counts as stopped, or it outlives the worker.
        const deadline = abortedAt + killGraceMs;
        const poll = (): void => {
          if (!kill(0)) return settle();
          if (Date.now() >= deadline) {
            kill('SIGKILL');
            return settle();
          }
          setTimeout(poll, 100);
        };
        poll();
      });
      // A command that does not read stdin closes the pipe early; that is its business, not a failure.
      child.stdin.on('error', () => {});
      child.stdin.end(message.Body ?? '');
    });
}

/**
 * Checks the command can be run before any message is taken, so a typo fails at start with a clear
 * message instead of failing (and backing off) every message.
 */
export function assertRunnable(command: string, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): void {
  const candidates = command.includes('/')
    ? [isAbsolute(command) ? command : resolve(cwd, command)]
    : (env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, command));
  for (const candidate of candidates) {
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return;
    } catch {
      // Not this one.
    }
  }
  throw new WorkerConfigError(
    command.includes('/')
      ? `command ${command} does not exist or is not executable`
      : `command ${command} not found on PATH (${env.PATH ?? 'PATH is empty'})`,
  );
}
