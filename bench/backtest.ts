/**
 * The simulator's speed: 7 days of the LCG trace at full rate (time_scale 1, jobs of at most one hour, as in the
 * bundled scenarios) through a farm of up to 50 spot + 50 on-demand instances, every policy, on the spiky 2015
 * c3.xlarge prices. Prints wall seconds, simulated hours, events per second and peak memory (RSS, sampled as the
 * run advances). Target: <= 60 s wall for all policies on this 2-core machine. Nothing is asserted.
 *
 * The full trace comes from the shared data folder (../shared/data, or SPOTFARM_SHARED_DATA); without it the
 * bench falls back to the bundled three-day extract and says so.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { missingHandlers } from '../sim/policies/spotfarm';
import { POLICY_NAMES, type PolicyName } from '../sim/result';
import { runBacktest } from '../sim/runner';
import { loadScenario } from '../sim/scenario';

const ROOT = resolve(__dirname, '..');
const shared = process.env.SPOTFARM_SHARED_DATA ?? resolve(ROOT, '../shared/data');
const fullTrace = join(shared, 'workload-traces/LCG-2005-1.swf.gz');
const haveFull = existsSync(fullTrace);
const trace = haveFull ? fullTrace : join(ROOT, 'scenarios/data/lcg-2005-24h-96h.csv.gz');
const days = haveFull ? 7 : 3;

const yaml = `
name: bench-lcg-${days}d-full-rate
start: 2015-05-01T00:00:00Z
duration: ${days * 24}h
drain_limit: 12h
region: us-east-1
instance_types: [c3.xlarge]
availability_zones: [us-east-1a, us-east-1b, us-east-1e]
prices:
  spot: ${join(ROOT, 'scenarios/data/spot-c3.xlarge-us-east-1-2015-05.csv.gz')}
  on_demand: 0.21
workload:
  trace: ${trace}
  from: ${haveFull ? '0h' : '24h'}
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
`;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'spotfarm-bench-'));
  const file = join(dir, 'bench.yaml');
  writeFileSync(file, yaml);
  if (!haveFull) console.log(`full LCG trace not found at ${fullTrace}: running the bundled ${days}-day extract instead`);
  const missing = missingHandlers();
  const policies: PolicyName[] = missing.length ? POLICY_NAMES.filter((p) => p !== 'spotfarm') : [...POLICY_NAMES];
  if (missing.length) console.log(`spotfarm left out: ${missing.join(', ')}`);

  let peakRss = process.memoryUsage().rss;
  const sample = () => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  };
  const loadStart = process.hrtime.bigint();
  const scenario = loadScenario(file);
  const loadSeconds = Number(process.hrtime.bigint() - loadStart) / 1e9;
  const result = await runBacktest(scenario, { policies, onProgress: sample });
  sample();

  const stats = result.json.stats ?? {};
  const events = Object.values(stats).reduce((sum, s) => sum + (s?.events ?? 0), 0);
  const simulated = Object.values(stats).reduce((sum, s) => sum + ((s?.end_epoch_s ?? scenario.start) - scenario.start) / 3600, 0);
  console.log(`backtest bench: ${scenario.workload.arrival.length} jobs over ${days * 24} h (LCG, full rate, jobs <= 1 h), farm <= 50 spot + 50 on-demand`);
  console.log(`  scenario load      ${loadSeconds.toFixed(2)} s`);
  for (const [name, s] of Object.entries(stats)) {
    if (!s) continue;
    const extra = s.handler_invocations ? `, ${Object.values(s.handler_invocations).reduce((a, b) => a + b, 0)} handler invocations` : '';
    console.log(`  ${name.padEnd(16)} ${s.wall_seconds.toFixed(2).padStart(6)} s wall, ${s.events} events (${Math.round(s.events / s.wall_seconds)}/s)${extra}`);
  }
  console.log(`  all policies       ${result.json.wall_seconds.toFixed(2)} s wall (target <= 60 s), ${simulated.toFixed(0)} simulated policy-hours`);
  console.log(`  events per second  ${Math.round(events / result.json.wall_seconds)}`);
  console.log(`  peak memory (RSS)  ${(peakRss / 2 ** 20).toFixed(0)} MiB`);
}

void main();
