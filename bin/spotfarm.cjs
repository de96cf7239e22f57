#!/usr/bin/env node
// `npx spotfarm ...`: runs the TypeScript CLI (cli/spotfarm.ts) through tsx, so no build step is needed after
// `npm ci`. Importing tsx's loader registers its hooks for both require() and import(), as `node --import tsx`
// would (the backtest imports spotfarm's handlers with a dynamic import()).
'use strict';
const path = require('node:path');
const { pathToFileURL } = require('node:url');

async function run() {
  await import(pathToFileURL(require.resolve('tsx')).href);
  const cli = await import(pathToFileURL(path.join(__dirname, '..', 'cli', 'spotfarm.ts')).href);
  const main = cli.main ?? (cli.default && cli.default.main);
  return main(process.argv.slice(2));
}

run().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`spotfarm: ${err && err.stack ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
