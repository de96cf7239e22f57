/**
 * The simulator's speed on a month: the LCG trace at full rate (time_scale 1, jobs of at most one hour, as in the
 * bundled scenarios) through a farm of up to 50 spot + 50 on-demand instances, on the spiky c3.xlarge prices of
 * May 2015 (bench/data, cut by sim/data/extract.ts). The trace is the bundled 72-hour LCG extract looped: copy k
 * of it is shifted by k x 72 h, so any length runs from a fresh clone, with no shared data folder.
 *
 * Two measurements, both of the spotfarm policy alone (one policy at a time, so CPU time is its own):
 * - Flatness: is the cost of a simulated hour independent of how long the run is? The month's market is not
 *   (the first nine days of May 2015 have three to four times the price changes of the rest, and ten times the
 *   prices above on-demand), so these runs loop the prices too: the first 72 h of the month, again and again,
 *   with the trace. Every 72 h block then has the same input, and any growth is the simulator's (state that
 *   accumulates: records, activities, the event queue). Runs of 72 h, 240 h and 720 h, each BENCH_REPEATS times
 *   (default 3) in one process, the order reversed on every other round, so that a neighbour's burst of load, or
 *   the heap growing, falls on all lengths alike; each length's figure is its fastest run (the least CPU time:
 *   load on a shared machine only adds to it). Also the CPU time of each 72 h block within the fastest 720 h run.
 * - The month: 720 h on the real month's prices, the <= 60 s figure; then the other policies on it.
 * `npx tsx bench/backtest.ts 720` runs spotfarm on 720 h of the month only. Beside every speed figure: jobs
 * completed and failed events, so a fast broken run cannot pass for a fast run; a run that completes no job, has
 * failed events or meets an SDK call the simulated cloud does not emulate exits non-zero. Targets: 720 h <= 60 s
 * for spotfarm, s/h within 15% from 72 h to 720 h. Timing is printed, never asserted.
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

const MONTH_START = Date.parse('2015-05-01T00:00:00Z') / 1000;
const LOOP_SECONDS = 72 * 3600;

/**
 * The month's first 72 h of spot prices repeated to cover `hours`: each pool's price carried into the window, then
 * its changes, shifted by k x 72 h, with the carried-in price restated at each block's start so every block starts
 * alike.
 */
function loopedPrices(hours: number): string {
  const rows = readText(PRICES).trim().split('\n');
  const header = rows[0]!;
  const parsed = rows.slice(1).map((line) => {
    const [timestamp, type, az, price] = line.split(',') as [string, string, string, string];
    return { t: Date.parse(timestamp) / 1000, type, az, price };
  });
  const carried = new Map<string, string>();
  for (const r of parsed) if (r.t <= MONTH_START) carried.set(`${r.type},${r.az}`, r.price);
  const window = parsed.filter((r) => r.t > MONTH_START && r.t < MONTH_START + LOOP_SECONDS);
  const iso = (t: number) => new Date(t * 1000).toISOString().replace('.000Z', 'Z');
  const out = [header];
  for (const [pool, price] of carried) out.push(`${iso(MONTH_START - 60)},${pool},${price}`);
  for (let k = 0; k * LOOP_SECONDS < hours * 3600 + 12 * 3600; k++) {
    if (k > 0) for (const [pool, price] of carried) out.push(`${iso(MONTH_START + k * LOOP_SECONDS)},${pool},${price}`);
    for (const r of window) out.push(`${iso(r.t + k * LOOP_SECONDS)},${r.type},${r.az},${r.price}`);
  }
  const file = join(dir, `prices-looped-${hours}h.csv`);
  writeFileSync(file, out.join('\n') + '\n');
  return file;
}

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

/** `looped`: the first 72 h of prices repeated (the flatness runs); else the real month. */
function scenario(hours: number, looped: boolean): Scenario {
  const file = join(dir, `bench-${hours}h${looped ? '-looped' : ''}.yaml`);
  writeFileSync(
    file,
    `
name: bench-lcg-${hours}h-full-rate${looped ? '-prices-looped' : ''}
start: 2015-05-01T00:00:00Z
duration: ${hours}h
drain_limit: 12h
region: us-east-1
instance_types: [c3.xlarge]
availability_zones: [us-east-1a, us-east-1b, us-east-1e]
prices:
  spot: ${looped ? loopedPrices(hours) : PRICES}
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
  /** CPU seconds of each successive BLOCK_HOURS of simulated time (the looped trace repeats every 72 h). */
  blocks: number[];
}

/** The looped trace's period: every block gets the same jobs, so a block costing more than an earlier one is growth. */
const BLOCK_HOURS = 72;

/** One run of `policies` on `hours` of the month; prints a line per policy; returns spotfarm's speed. */
async function run(hours: number, policies: PolicyName[], options: { quiet?: boolean; looped?: boolean } = {}): Promise<Speed | undefined> {
  const quiet = options.quiet ?? false;
  const s = scenario(hours, options.looped ?? false);
  let peakRss = process.memoryUsage.rss();
  let ticks = 0;
  const cpu0 = process.cpuUsage();
  const cpuSeconds = () => {
    const u = process.cpuUsage(cpu0);
    return (u.user + u.system) / 1e6;
  };
  // One policy at a time: simulated time advances once, so CPU per simulated block is that policy's.
  const blocks: number[] = [];
  let simulated = 0;
  let blockStart = 0;
  const result = await runBacktest(s, {
    policies,
    onProgress: (seconds) => {
      if (++ticks % 256 === 0) peakRss = Math.max(peakRss, process.memoryUsage.rss());
      simulated += seconds;
      const boundary = (blocks.length + 1) * BLOCK_HOURS * 3600;
      if (boundary <= hours * 3600 && simulated >= boundary) {
        const now = cpuSeconds();
        blocks.push(now - blockStart);
        blockStart = now;
      }
    },
  });
  const used = process.cpuUsage(cpu0);
  const cpu = (used.user + used.system) / 1e6;
  let speed: Speed | undefined;
  if (!quiet) console.log(`${hours} h${options.looped ? ' (prices looped)' : ''}, ${policies.join(', ')}: ${s.workload.arrival.length} jobs submitted, ${cpu.toFixed(2)} s CPU, ${result.json.wall_seconds.toFixed(2)} s wall, peak RSS ${(Math.max(peakRss, process.memoryUsage.rss()) / 2 ** 20).toFixed(0)} MiB`);
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
    if (name === 'spotfarm') speed = { wall: st.wall_seconds, cpu, hours: simHours, blocks };
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
  if (only.length) {
    await run(6, ['spotfarm'], { quiet: true });
    for (const hours of only) await run(hours, ['spotfarm']);
    return finish();
  }
  const lengths = [72, 240, 720];
  // A warm Lambda container: the handlers' modules are loaded (and JIT-compiled) before the first measured run.
  await run(72, ['spotfarm'], { quiet: true, looped: true });
  const repeats = Math.max(1, Number(process.env.BENCH_REPEATS ?? 3));
  const runs = new Map<number, Speed[]>();
  console.log(`\nflatness: the first 72 h of prices looped with the trace, every 72 h block the same input; ${repeats} rounds`);
  for (let round = 0; round < repeats; round++) {
    for (const hours of round % 2 === 0 ? lengths : [...lengths].reverse()) {
      const speed = await run(hours, ['spotfarm'], { looped: true });
      if (speed) runs.set(hours, [...(runs.get(hours) ?? []), speed]);
    }
  }
  // Fastest of the repeats, by CPU; the wall figure is that run's.
  const speeds = new Map<number, Speed>(
    lengths.filter((h) => runs.has(h)).map((h) => [h, runs.get(h)!.reduce((best, v) => (v.cpu < best.cpu ? v : best))] as const),
  );
  console.log(
    `spotfarm CPU s per simulated hour, each run: ` +
      [...runs].map(([h, v]) => `${h} h ${v.map((x) => (x.cpu / x.hours).toFixed(4)).join(' ')}`).join('; ') +
      ` -> the fastest of each is used below`,
  );
  const spread = (values: number[]) => ((Math.max(...values) / Math.min(...values) - 1) * 100).toFixed(1);
  const perHour = [...speeds.values()];
  console.log(
    `spotfarm per simulated hour: ${[...speeds].map(([h, v]) => `${h} h ${(v.cpu / v.hours).toFixed(4)} s CPU / ${(v.wall / v.hours).toFixed(4)} s wall`).join('; ')}; ` +
      `spread ${spread(perHour.map((v) => v.cpu / v.hours))}% CPU (target: flat within 15%), ${spread(perHour.map((v) => v.wall / v.hours))}% wall`,
  );
  // A run's fixed cost (building the world, the first calls of each path) spreads over fewer hours in a short
  // run; the cost of one more simulated hour, between consecutive lengths, is what grows if anything is not
  // linear in simulated time.
  const marginal: number[] = [];
  for (let i = 1; i < perHour.length; i++) marginal.push((perHour[i]!.cpu - perHour[i - 1]!.cpu) / (perHour[i]!.hours - perHour[i - 1]!.hours));
  console.log(
    `spotfarm CPU per additional simulated hour: ${marginal.map((m, i) => `${lengths[i]}-${lengths[i + 1]} h ${m.toFixed(4)} s`).join('; ')}; spread ${spread(marginal)}%`,
  );
  // Within the longest run, block by block: the same input each time, so growth shows as later blocks costing more.
  const fastest = speeds.get(720);
  if (fastest && fastest.blocks.length >= 6) {
    const b = fastest.blocks;
    const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
    const early = mean(b.slice(1, 4));
    const late = mean(b.slice(-3));
    console.log(
      `spotfarm CPU s per ${BLOCK_HOURS} h block of the fastest 720 h run: ${b.map((x) => x.toFixed(2)).join(' ')}; ` +
        `last 3 blocks ${late.toFixed(2)} s against blocks 2-4 ${early.toFixed(2)} s: ${late >= early ? '+' : ''}${((late / early - 1) * 100).toFixed(1)}% (the first block also warms the JIT)`,
    );
  }
  console.log(`\nthe month: 720 h of May 2015 prices`);
  const month = await run(720, ['spotfarm']);
  if (month) console.log(`spotfarm ${month.hours.toFixed(0)} simulated h of the month: ${month.cpu.toFixed(2)} s CPU, ${month.wall.toFixed(2)} s wall (target <= 60 s)`);
  await run(720, POLICY_NAMES.filter((p) => p !== 'spotfarm'));
  finish();
}

function finish(): void {
  if (broken.length) {
    console.error(`BROKEN RUN:\n  ${broken.join('\n  ')}`);
    process.exit(1);
  }
}
void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
