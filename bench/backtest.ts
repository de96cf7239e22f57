/**
 * The simulator's speed on a month: the LCG trace at full rate (time_scale 1, jobs of at most one hour, as in the
 * bundled scenarios) through a farm of up to 50 spot + 50 on-demand instances, on the spiky c3.xlarge prices of
 * May 2015 (bench/data, cut by sim/data/extract.ts). The trace is the bundled 72-hour LCG extract looped: copy k
 * of it is shifted by k x 72 h, so any length runs from a fresh clone, with no shared data folder.
 *
 * Runs the spotfarm policy alone for 72 h, 240 h and 720 h after a short warm-up run (seconds per simulated hour
 * should stay flat), then the other policies for 720 h. `npx tsx bench/backtest.ts 720` runs spotfarm on 720 h only. Beside every speed figure: jobs completed and failed events, so a fast broken run cannot pass
 * for a fast run; a run that completes no job, has failed events or meets an SDK call the simulated cloud does
 * not emulate exits non-zero. Targets: 720 h <= 60 s for spotfarm, s/h within 15% from 72 h to 720 h. Timing is
 * printed, never asserted.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { missingHandlers } from '../sim/policies/spotfarm';
import { POLICY_NAMES, type PolicyName } from '../sim/result';
import { runBacktest } from '../sim/runner';
import { loadScenario, type Scenario } from '../sim/scenario';
import { parseTrace, readText } from '../sim/workload';

const ROOT = resolve(__dirname, '..');
const PRICES = join(ROOT, 'bench/data/spot-c3.xlarge-us-east-1-2015-05-month.csv.gz');
const EXTRACT = join(ROOT, 'scenarios/data/lcg-2005-24h-96h.csv.gz');
const EXTRACT_FROM = 24 * 3600;
const EXTRACT_SPAN = 72 * 3600;
const dir = mkdtempSync(join(tmpdir(), 'spotfarm-bench-'));

/** The 72-hour extract repeated to cover `hours`, as a CSV trace starting at offset 0. */
function loopedTrace(hours: number): string {
  const jobs = parseTrace(readText(EXTRACT), EXTRACT);
  const lines = ['submit_s,runtime_s'];
  for (let k = 0; k * EXTRACT_SPAN < hours * 3600; k++) {
    for (const job of jobs) lines.push(`${job.submit - EXTRACT_FROM + k * EXTRACT_SPAN},${job.runtime}`);
  }
  const file = join(dir, `lcg-looped-${hours}h.csv`);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

function scenario(hours: number): Scenario {
  const file = join(dir, `bench-${hours}h.yaml`);
  writeFileSync(
    file,
    `
name: bench-lcg-${hours}h-full-rate
start: 2015-05-01T00:00:00Z
duration: ${hours}h
drain_limit: 12h
region: us-east-1
instance_types: [c3.xlarge]
availability_zones: [us-east-1a, us-east-1b, us-east-1e]
prices:
  spot: ${PRICES}
  on_demand: 0.21
workload:
  trace: ${loopedTrace(hours)}
  time_scale: 1.0
  max_runtime: 1h
interruptions:
  price_above_max: true
  rate: advisor
farm:
  market_style: launch-template
  slots_per_instance: 4
  boot_seconds: 120
  spot: {min: 0, max: 50}
  on_demand: {min: 0, max: 50}
  visibility_timeout_s: 900
  max_receive_count: 5
spotfarm:
  backlogPerInstance: 4
`,
  );
  return loadScenario(file);
}

const broken: string[] = [];

interface Speed {
  wall: number;
  cpu: number;
  hours: number;
}

/** One run of `policies` on `hours` of the month; prints a line per policy; returns spotfarm's speed. */
async function run(hours: number, policies: PolicyName[], quiet = false): Promise<Speed | undefined> {
  const s = scenario(hours);
  let peakRss = process.memoryUsage.rss();
  let ticks = 0;
  const cpu0 = process.cpuUsage();
  const result = await runBacktest(s, {
    policies,
    onProgress: () => {
      if (++ticks % 256 === 0) peakRss = Math.max(peakRss, process.memoryUsage.rss());
    },
  });
  const used = process.cpuUsage(cpu0);
  const cpu = (used.user + used.system) / 1e6;
  let speed: Speed | undefined;
  if (!quiet) console.log(`${hours} h, ${policies.join(', ')}: ${s.workload.arrival.length} jobs submitted, ${cpu.toFixed(2)} s CPU, ${result.json.wall_seconds.toFixed(2)} s wall, peak RSS ${(Math.max(peakRss, process.memoryUsage.rss()) / 2 ** 20).toFixed(0)} MiB`);
  for (const name of policies) {
    const summary = result.json.policies[name];
    const st = result.json.stats?.[name];
    const failed = st?.failed_events ?? 0;
    const completed = summary.jobs_completed;
    if (completed === 0) broken.push(`${hours} h ${name}: no job completed`);
    if (failed > 0) broken.push(`${hours} h ${name}: ${failed} failed events (${(st?.errors ?? []).map((e) => `${e.count}x ${e.message}`).join('; ')})`);
    if (st?.not_implemented?.length) broken.push(`${hours} h ${name}: not emulated: ${st.not_implemented.join(', ')}`);
    if (quiet) continue;
    const jobs = `jobs completed ${completed} of ${summary.jobs_submitted}, failed events ${failed}`;
    if (!st) {
      console.log(`  ${name.padEnd(15)} (computed, not simulated); ${jobs}`);
      continue;
    }
    const simHours = (st.end_epoch_s - s.start) / 3600;
    const invocations = st.handler_invocations ? `, ${Object.values(st.handler_invocations).reduce((a, b) => a + b, 0)} handler invocations` : '';
    // CPU time per policy is only known when it ran alone (spotfarm's runs below).
    const cpuPart = policies.length === 1 ? `${cpu.toFixed(2).padStart(6)} s CPU (${(cpu / simHours).toFixed(4)} s/h), ` : '';
    console.log(
      `  ${name.padEnd(15)} ${cpuPart}${st.wall_seconds.toFixed(2).padStart(7)} s wall (${(st.wall_seconds / simHours).toFixed(4)} s/h), ${simHours.toFixed(0)} simulated h, ` +
        `${st.events} events; ${jobs}${invocations}`,
    );
    if (name === 'spotfarm') speed = { wall: st.wall_seconds, cpu, hours: simHours };
  }
  return speed;
}

async function main(): Promise<void> {
  const missing = missingHandlers();
  if (missing.length) {
    console.log(`spotfarm handlers missing (${missing.join(', ')}): nothing to measure`);
    process.exit(1);
  }
  console.log('backtest bench: LCG at full rate (jobs <= 1 h, the 72 h extract looped), May 2015 c3.xlarge prices, farm <= 50 spot + 50 on-demand');
  console.log('CPU seconds are the steadier figure on a shared machine: wall time there measures the neighbours too.');
  const only = process.argv.slice(2).map(Number).filter((h) => h > 0);
  const lengths = only.length ? only : [72, 240, 720];
  // A warm Lambda container: the handlers' modules are loaded (and JIT-compiled) before the first measured run.
  await run(6, ['spotfarm'], true);
  const speeds = new Map<number, Speed>();
  for (const hours of lengths) {
    const speed = await run(hours, ['spotfarm']);
    if (speed) speeds.set(hours, speed);
  }
  if (!only.length) await run(720, POLICY_NAMES.filter((p) => p !== 'spotfarm'));
  if (speeds.size > 1) {
    const spread = (values: number[]) => ((Math.max(...values) / Math.min(...values) - 1) * 100).toFixed(1);
    const perHour = [...speeds.values()];
    console.log(
      `spotfarm per simulated hour: ${[...speeds].map(([h, v]) => `${h} h ${(v.cpu / v.hours).toFixed(4)} s CPU / ${(v.wall / v.hours).toFixed(4)} s wall`).join('; ')}; ` +
        `spread ${spread(perHour.map((v) => v.cpu / v.hours))}% CPU, ${spread(perHour.map((v) => v.wall / v.hours))}% wall`,
    );
    // A run's fixed cost (building the world, the first calls of each path) spreads over fewer hours in a short
    // run; the cost of one more simulated hour, between consecutive lengths, is what grows if anything is not
    // linear in simulated time.
    const marginal: number[] = [];
    for (let i = 1; i < perHour.length; i++) marginal.push((perHour[i]!.cpu - perHour[i - 1]!.cpu) / (perHour[i]!.hours - perHour[i - 1]!.hours));
    const lengthsRun = [...speeds.keys()];
    console.log(
      `spotfarm CPU per additional simulated hour: ${marginal.map((m, i) => `${lengthsRun[i]}-${lengthsRun[i + 1]} h ${m.toFixed(4)} s`).join('; ')}` +
        `${marginal.length > 1 ? `; spread ${spread(marginal)}% (target: flat within 15%)` : ''}`,
    );
  }
  const longest = speeds.get(Math.max(...speeds.keys()));
  if (longest) console.log(`spotfarm ${longest.hours.toFixed(0)} simulated h: ${longest.cpu.toFixed(2)} s CPU, ${longest.wall.toFixed(2)} s wall (target <= 60 s)`);
  if (broken.length) {
    console.error(`BROKEN RUN:\n  ${broken.join('\n  ')}`);
    process.exit(1);
  }
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
