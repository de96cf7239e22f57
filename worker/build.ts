/**
 * Bundles the worker CLI into one file, worker/dist/spotfarm-worker.cjs, that needs only Node 20:
 * the AWS SDK clients are inside. Copy it into an image or to S3 for the instances' user data;
 * run it with `node spotfarm-worker.cjs --queue-url URL -- CMD`.
 *
 *   npx tsx worker/build.ts [--outfile PATH]
 */
import { build } from 'esbuild';
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

const DEFAULT_OUTFILE = resolve(__dirname, 'dist/spotfarm-worker.cjs');

/** Builds the bundle; returns its path. */
export async function buildWorkerBundle(outfile: string): Promise<string> {
  await build({
    entryPoints: [resolve(__dirname, 'cli.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
  });
  return outfile;
}

// Run as a script (tsx compiles this file to CommonJS, which has no top-level await).
if (require.main === module) {
  const { values } = parseArgs({ options: { outfile: { type: 'string' } } });
  const outfile = resolve(values.outfile ?? DEFAULT_OUTFILE);
  buildWorkerBundle(outfile).then(
    (path) => console.log(`${path} (${Math.round(statSync(path).size / 1024)} KiB)`),
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
