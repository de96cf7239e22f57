/**
 * Each function's bundle carries the AWS SDK clients its job needs and no other: the list beside the entries
 * (functions/sdk-clients.json) against what esbuild puts in the bundle, with serverless.yml's options. A client
 * that sneaks in through a static import costs every cold start its bytes and its load time (EC2 alone is
 * about 560 KB minified); `npm run bench` measures each bundle against a floor built from the same list.
 */
import { build } from 'esbuild';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '../..');
const declared = JSON.parse(readFileSync(join(ROOT, 'functions/sdk-clients.json'), 'utf8')) as Record<string, string[]>;
const functions = readdirSync(join(ROOT, 'functions')).filter((f) => f.endsWith('.ts')).map((f) => f.replace(/\.ts$/, ''));

async function bundledClients(name: string): Promise<string[]> {
  const result = await build({
    entryPoints: [join(ROOT, 'functions', `${name}.ts`)],
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    mainFields: ['module', 'main'],
    metafile: true,
    write: false,
    outfile: join(ROOT, '.esbuild', `${name}.cjs`),
    logLevel: 'silent',
  });
  const output = Object.values(result.metafile.outputs)[0]!;
  const clients = new Set<string>();
  for (const [file, info] of Object.entries(output.inputs)) {
    const m = /node_modules\/@aws-sdk\/client-([a-z0-9-]+)\//.exec(file);
    if (m && info.bytesInOutput > 0) clients.add(m[1]!);
  }
  return [...clients].sort();
}

describe('SDK clients per function', () => {
  it('every function declares its clients', () => {
    expect(Object.keys(declared).sort()).toEqual([...functions].sort());
  });

  it.each(functions)('%s bundles exactly the clients it declares', async (name) => {
    expect(await bundledClients(name)).toEqual([...(declared[name] ?? [])].sort());
  }, 60_000);
});
