// Entry of a sweep's worker thread (sim/frontier/run.ts starts a fresh one per simulation). On Node 20 the
// loader hooks tsx registers in the main thread do not reach worker threads, so this registers tsx's CommonJS
// hook here and loads the TypeScript worker through require (the project is CommonJS).
'use strict';
const { workerData } = require('node:worker_threads');
require(require.resolve('tsx/cjs/api', { paths: [workerData.root] })).register();
require('./worker.ts');
