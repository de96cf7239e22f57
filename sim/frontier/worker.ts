/**
 * One simulation of a sweep, in its own worker thread: rebuilds the scenario from plain data, runs the task,
 * posts progress (simulated seconds) and then the result or the error.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SpotfarmUnavailableError } from '../policies/spotfarm';
import type { SweepTask } from './plan';
import { fromPlainScenario, runTask, type PlainScenario, type WorkerMessage } from './run';

const port = parentPort;
if (!port) throw new Error('sim/frontier/worker.ts runs in a worker thread (sim/frontier/run.ts starts it)');
const { scenario, task } = workerData as { scenario: PlainScenario; task: SweepTask };
const post = (m: WorkerMessage) => port.postMessage(m);

runTask(fromPlainScenario(scenario), task, { onProgress: (seconds) => post({ kind: 'progress', seconds }) }).then(
  (result) => post({ kind: 'done', result }),
  (err: unknown) => {
    const e = err instanceof Error ? err : new Error(String(err));
    post({ kind: 'error', name: e.name, message: e.message, stack: e.stack, ...(err instanceof SpotfarmUnavailableError ? { missing: err.missing } : {}) });
  },
);
