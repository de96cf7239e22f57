#!/usr/bin/env node
// spotfarm-worker: the farm's worker agent (worker/cli.ts). In a checkout it runs the TypeScript
// source through tsx, which `npm ci` installs. Without tsx (e.g. `npm ci --omit=dev`) it falls back
// to the single-file bundle from `npx tsx worker/build.ts`, if one was built.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

let cli;
try {
  require('tsx/cjs/api').register();
  cli = require(join(__dirname, '..', 'worker', 'cli.ts'));
} catch (error) {
  const bundle = join(__dirname, '..', 'worker', 'dist', 'spotfarm-worker.cjs');
  if (error && error.code === 'MODULE_NOT_FOUND' && existsSync(bundle)) {
    cli = require(bundle);
  } else if (error && error.code === 'MODULE_NOT_FOUND' && /tsx/.test(String(error.message))) {
    process.stderr.write(
      'spotfarm-worker: tsx is not installed: run `npm ci` in the spotfarm checkout, or run the bundle ' +
        'built by `npx tsx worker/build.ts` with `node worker/dist/spotfarm-worker.cjs`\n',
    );
    process.exit(1);
  } else {
    throw error;
  }
}

cli.main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`spotfarm-worker: ${error && error.stack ? error.stack : error}\n`);
    process.exit(1);
  },
);
