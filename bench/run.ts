/**
 * `npm run bench`: every benchmark, one after another, each printing its own figures (ratios are measured in
 * one run; no timing is asserted). The bundle benchmark runs here; every other bench/*.ts script is run in its
 * own process so one's memory does not colour another's figures. A broken run (a bundle carrying an undeclared
 * SDK client, a backtest that completes no job or has failed events, a script that fails) makes the whole
 * command exit non-zero after every benchmark has printed.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { benchBundles, printBundles } from './bundle';

const ROOT = resolve(__dirname, '..');

async function main(): Promise<void> {
  const broken: string[] = [];
  if (!printBundles(await benchBundles())) broken.push('bench/bundle.ts');
  const others = readdirSync(__dirname)
    .filter((f) => f.endsWith('.ts') && !['run.ts', 'bundle.ts'].includes(f))
    .sort();
  for (const file of others) {
    console.log(`\n== bench/${file}`);
    const run = spawnSync(join(ROOT, 'node_modules/.bin/tsx'), [join(__dirname, file)], {
      stdio: 'inherit',
      env: { ...process.env, NODE_NO_WARNINGS: '1', SPOTFARM_LOG_LEVEL: 'SILENT' },
    });
    if (run.status !== 0) broken.push(`bench/${file} (exit ${run.status ?? run.signal})`);
  }
  if (broken.length > 0) {
    console.error(`\nBROKEN: ${broken.join(', ')}`);
    process.exit(1);
  }
}

void main();
