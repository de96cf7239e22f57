/**
 * Issue 12's frontier check: on each bundled scenario, `--sweep acceptableWait=2m,5m,10m,20m` (spotfarm at each
 * value, each baseline at its matching target, spotfarm again at the p95 of each baseline point left undominated:
 * docs/backtest.md, "Cost at equal service"), through the CLI in its own process as a user runs it. Prints each
 * scenario's frontier table, then one line per scenario: how many baseline points a spotfarm point dominates and
 * which it does not. Prints figures, asserts nothing; a sweep that fails, completes no job or has failed events
 * exits non-zero (a broken run must not pass for a frontier).
 *
 * Run: `npx tsx bench/frontier.ts [scenario.yaml ...]` (default: every scenarios/*.yaml). BENCH_SWEEP overrides the
 * sweep (`acceptableWait=2m,20m`), BENCH_THREADS the worker threads (default: the CLI's).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { dominanceVerdict, formatFrontierTable } from '../sim/report/frontier';
import type { BacktestJson } from '../sim/result';

const ROOT = resolve(__dirname, '..');
const SWEEP = process.env.BENCH_SWEEP ?? 'acceptableWait=2m,5m,10m,20m';
const dir = mkdtempSync(join(tmpdir(), 'spotfarm-bench-frontier-'));

function scenarios(): string[] {
  const given = process.argv.slice(2);
  if (given.length) return given.map((f) => resolve(f));
  return readdirSync(join(ROOT, 'scenarios'))
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => join(ROOT, 'scenarios', f));
}

function main(): void {
  const lines: string[] = [];
  const broken: string[] = [];
  for (const file of scenarios()) {
    const name = basename(file, '.yaml');
    const json = join(dir, `${name}.json`);
    const args = [join(ROOT, 'cli/spotfarm.ts'), 'backtest', file, '--sweep', SWEEP, '--json', json, '--quiet'];
    if (process.env.BENCH_THREADS) args.push('--threads', process.env.BENCH_THREADS);
    const started = Date.now();
    const run = spawnSync(join(ROOT, 'node_modules/.bin/tsx'), args, {
      encoding: 'utf8',
      env: { ...process.env, NODE_NO_WARNINGS: '1', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    const wall = (Date.now() - started) / 1000;
    if (run.status !== 0) {
      console.log(`\n== ${name}: the sweep failed (exit ${run.status ?? run.signal})\n${run.stderr}`);
      broken.push(name);
      continue;
    }
    const doc = JSON.parse(readFileSync(json, 'utf8')) as BacktestJson;
    const failed = [doc.stats ?? {}, ...(doc.sweep?.run_stats ?? []).map((r) => ({ [r.policy]: r.stats }))]
      .flatMap((s) => Object.values(s))
      .reduce((n, s) => n + (s?.failed_events ?? 0), 0);
    const completed = doc.policies.spotfarm?.jobs_completed ?? 0;
    console.log(`\n== ${name} (${doc.scenario}): ${doc.sweep?.runs} runs, ${wall.toFixed(1)} s wall; spotfarm completed ${completed} jobs; failed events ${failed}`);
    console.log(formatFrontierTable(doc).trimEnd());
    if (completed === 0 || failed > 0) broken.push(name);
    lines.push(`${name}: ${dominanceVerdict(doc) || 'no baseline point to compare'}`);
  }
  console.log(`\nfrontier (${SWEEP}), baseline points dominated by a spotfarm point (cost <=, p95 <=, lost <=):`);
  for (const l of lines) console.log(l);
  if (broken.length) {
    console.error(`\nBROKEN: ${broken.join(', ')}`);
    process.exit(1);
  }
}

main();
