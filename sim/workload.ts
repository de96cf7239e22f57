/**
 * The job trace: SWF (the Parallel Workloads Archive format) or CSV with header `submit_s,runtime_s`, either
 * optionally gzipped. Jobs become SQS messages at their (shifted, scaled) submit time.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

export interface TraceJob {
  submit: number;
  runtime: number;
}

export interface Workload {
  /** Arrival times, epoch seconds, ascending. */
  arrival: Float64Array;
  /** Run time of each job on one slot, seconds. */
  runtime: Float64Array;
}

export function readText(path: string): string {
  const bytes = readFileSync(path);
  const gz = bytes.length > 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
  // Windows line endings (some exports have them) would otherwise stick to the last column.
  return (gz ? gunzipSync(bytes) : bytes).toString('utf8').replace(/\r\n/g, '\n');
}

/** Parses a trace file into (submit offset, run time) pairs; jobs with an unknown run time are left out. */
export function parseTrace(text: string, path: string): TraceJob[] {
  const jobs: TraceJob[] = [];
  const firstLine = text.slice(0, text.indexOf('\n') >>> 0).trim();
  if (firstLine.startsWith(';') || /^\s*\d+\s+\d+/.test(firstLine)) {
    for (const line of text.split('\n')) {
      if (line.startsWith(';')) continue;
      const fields = line.trim().split(/\s+/);
      if (fields.length < 4) continue;
      const submit = Number(fields[1]);
      const runtime = Number(fields[3]);
      if (Number.isFinite(submit) && Number.isFinite(runtime) && runtime >= 0) jobs.push({ submit, runtime });
    }
  } else {
    const lines = text.split('\n');
    const header = lines[0]!.trim().split(',');
    const si = header.indexOf('submit_s');
    const ri = header.indexOf('runtime_s');
    if (si < 0 || ri < 0) {
      throw new Error(`${path}: a CSV trace needs the header submit_s,runtime_s (found "${lines[0]!.trim()}")`);
    }
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      if (!line.trim()) continue;
      const fields = line.split(',');
      const submit = Number(fields[si]);
      const runtime = Number(fields[ri]);
      if (!Number.isFinite(submit) || !Number.isFinite(runtime)) {
        throw new Error(`${path}:${i + 1}: expected numbers, found "${line.trim()}"`);
      }
      if (runtime >= 0) jobs.push({ submit, runtime });
    }
  }
  jobs.sort((a, b) => a.submit - b.submit);
  return jobs;
}

export interface WorkloadOptions {
  start: number;
  duration: number;
  from: number;
  timeScale: number;
  runtimeScale: number;
  maxRuntime?: number | undefined;
}

/** Shifts the trace so that offset `from` lands on `start`, scales it, and keeps the arrivals in the window. */
export function buildWorkload(jobs: TraceJob[], o: WorkloadOptions): Workload {
  const arrival: number[] = [];
  const runtime: number[] = [];
  for (const job of jobs) {
    if (job.submit < o.from) continue;
    if (o.maxRuntime !== undefined && job.runtime > o.maxRuntime) continue;
    const at = o.start + (job.submit - o.from) * o.timeScale;
    if (at >= o.start + o.duration) break;
    arrival.push(at);
    runtime.push(job.runtime * o.runtimeScale);
  }
  return { arrival: Float64Array.from(arrival), runtime: Float64Array.from(runtime) };
}
