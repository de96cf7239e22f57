#!/usr/bin/env node
// spotfarm-worker: the farm's worker agent (worker/cli.ts). Runs the single-file bundle when one has
// been built (worker/dist/spotfarm-worker.cjs: needs nothing but node), else the TypeScript source
// through tsx, which `npm ci` installs.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const bundle = join(__dirname, '..', 'worker', 'dist', 'spotfarm-worker.cjs');
let cli;
if (existsSync(bundle)) {
  cli = require(bundle);
} else {
  try {
    require('tsx/cjs/api').register();
  } catch (error) {
    process.stderr.write(
      'spotfarm-worker: tsx is not installed: run `npm ci` in the spotfarm checkout, or build the bundle ' +
        'with `npx tsx worker/build.ts` and copy worker/dist/spotfarm-worker.cjs\n',
    );
    process.exit(1);
  }
  cli = require(join(__dirname, '..', 'worker', 'cli.ts'));
}

cli.main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`spotfarm-worker: ${error && error.stack ? error.stack : error}\n`);
    process.exit(1);
  },
);
