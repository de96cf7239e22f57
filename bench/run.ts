/**
 * `npm run bench`: every benchmark, one after another, each printing its own figures (ratios are measured in
 * one run; nothing is asserted). The bundle benchmark runs here; every other bench/*.ts script is run in its
 * own process so one's memory does not colour another's figures.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { benchBundles, printBundles } from './bundle';

const ROOT = resolve(__dirname, '..');

async function main(): Promise<void> {
  printBundles(await benchBundles());
  const others = readdirSync(__dirname)
    .filter((f) => f.endsWith('.ts') && !['run.ts', 'bundle.ts'].includes(f))
    .sort();
  for (const file of others) {
    console.log(`\n== bench/${file}`);
    execFileSync(join(ROOT, 'node_modules/.bin/tsx'), [join(__dirname, file)], {
      stdio: 'inherit',
      env: { ...process.env, NODE_NO_WARNINGS: '1', SPOTFARM_LOG_LEVEL: 'SILENT' },
    });
  }
}

void main();
