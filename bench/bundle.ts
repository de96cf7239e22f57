/**
 * Bundle size and cold import time of each Lambda function, beside a "floor" bundle that imports only the AWS SDK
 * clients the function declares it needs (functions/sdk-clients.json) and the commands of theirs it sends,
 * built and measured in the same run with the same esbuild options as serverless.yml. Import cost is CPU time
 * (the least of BENCH_RUNS fresh processes, default 15), so the load of a shared machine does not count. Function and floor imports
 * alternate, so a burst of load on the shared machine colours both alike. Target: every function <= 1.25x its
 * floor, in bytes and in time. Prints figures; asserts nothing about them, but a bundle that carries a client
 * its function does not declare is reported and makes `npm run bench` exit non-zero.
 */
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');
const OUT = join(ROOT, 'bench/out');
const RUNS = Number(process.env.BENCH_RUNS ?? 15);

const esbuildOptions = {
  bundle: true,
  minify: true,
  platform: 'node' as const,
  target: 'node22',
  format: 'cjs' as const,
  mainFields: ['module', 'main'],
  metafile: true,
  logLevel: 'silent' as const,
};

/**
 * CPU time (ms, user + system) of requiring `file` in a fresh Node process. CPU time, not wall time: on a machine
 * shared with other work, wall time counts the waits for a core too (at load average 12 on 2 cores, the wall-time
 * ratio of one bundle moved from 0.65x to 1.07x between two runs).
 */
function importOnce(file: string): number {
  const out = execFileSync(
    process.execPath,
    ['-e', `const c=process.cpuUsage();require(${JSON.stringify(file)});const u=process.cpuUsage(c);process.stdout.write(String((u.user+u.system)/1e3))`],
    { env: { ...process.env, NODE_NO_WARNINGS: '1', AWS_REGION: 'us-east-1', SPOTFARM_LOG_LEVEL: 'SILENT' } },
  );
  return Number(out.toString());
}

/** The least of the runs: a neighbour's load only ever adds to an import's cost (cache misses, frequency). */
const fastest = (values: number[]) => Math.min(...values);

/** Fastest cold import times of `a` and `b`, measured alternately (a, b, a, b, ...). */
function importMillisAlternating(a: string, b: string): [number, number] {
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    ta.push(importOnce(a));
    tb.push(importOnce(b));
  }
  return [fastest(ta), fastest(tb)];
}

/** `@aws-sdk/client-x` -> the command classes of it that ended up in the bundle. */
function sdkUsage(inputs: string[]): Map<string, Set<string>> {
  const usage = new Map<string, Set<string>>();
  for (const input of inputs) {
    const m = input.match(/node_modules\/(@aws-sdk\/client-[a-z0-9-]+)\/dist-[a-z]+\/(?:commands\/([A-Za-z]+Command)\.js)?/);
    if (!m) continue;
    const commands = usage.get(m[1]!) ?? new Set<string>();
    if (m[2]) commands.add(m[2]);
    usage.set(m[1]!, commands);
  }
  return usage;
}

function clientClass(pkg: string): string {
  const special: Record<string, string> = { '@aws-sdk/client-auto-scaling': 'AutoScalingClient', '@aws-sdk/client-ec2': 'EC2Client', '@aws-sdk/client-sqs': 'SQSClient', '@aws-sdk/client-sns': 'SNSClient', '@aws-sdk/client-dynamodb': 'DynamoDBClient', '@aws-sdk/client-pricing': 'PricingClient', '@aws-sdk/client-cloudwatch': 'CloudWatchClient', '@aws-sdk/client-eventbridge': 'EventBridgeClient' };
  return special[pkg] ?? `${pkg.replace('@aws-sdk/client-', '').replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase())}Client`;
}

export interface BundleRow {
  name: string;
  bytes: number;
  floorBytes: number;
  ms: number;
  floorMs: number;
  /** The function's declared clients (functions/sdk-clients.json). */
  declared: string[];
  /** Clients in the bundle that the function does not declare (should be none). */
  undeclared: string[];
}

export async function benchBundles(): Promise<BundleRow[]> {
  mkdirSync(OUT, { recursive: true });
  const needs = JSON.parse(readFileSync(join(ROOT, 'functions/sdk-clients.json'), 'utf8')) as Record<string, string[]>;
  const functions = readdirSync(join(ROOT, 'functions')).filter((f) => f.endsWith('.ts')).map((f) => f.replace(/\.ts$/, ''));
  const rows: BundleRow[] = [];
  for (const name of functions) {
    const outfile = join(OUT, `${name}.cjs`);
    const result = await build({ ...esbuildOptions, entryPoints: [join(ROOT, 'functions', `${name}.ts`)], outfile });
    // Only files that contributed bytes: `inputs` also lists what tree-shaking dropped.
    const output = Object.values(result.metafile!.outputs)[0]!;
    const used = Object.entries(output.inputs).filter(([, v]) => v.bytesInOutput > 0).map(([file]) => file);
    const usage = sdkUsage(used);
    const declared = (needs[name] ?? []).map((c) => `@aws-sdk/client-${c}`);
    const undeclared = [...usage.keys()].filter((pkg) => !declared.includes(pkg));
    let n = 0;
    // The floor: each declared client built once at import, as a function's AWS wrappers do, and the commands of
    // it the function's bundle sends.
    const floorSource = declared
      .map((pkg) => [pkg, usage.get(pkg) ?? new Set<string>()] as const)
      .map(([pkg, commands]) => {
        const client = clientClass(pkg);
        const alias = `c${n++}`;
        return [
          `import { ${client} as ${alias} } from '${pkg}';`,
          `export const i${n} = new ${alias}({});`,
          `export { ${commands.size > 0 ? [...commands].map((c) => `${c} as e${n++}`).join(', ') : ''} } from '${pkg}';`,
        ].join('\n');
      })
      .join('\n');
    const floorEntry = join(OUT, `${name}.floor.ts`);
    writeFileSync(floorEntry, floorSource + '\n');
    const floorFile = join(OUT, `${name}.floor.cjs`);
    await build({ ...esbuildOptions, entryPoints: [floorEntry], outfile: floorFile, absWorkingDir: ROOT, nodePaths: [join(ROOT, 'node_modules')] });
    const [ms, floorMs] = importMillisAlternating(outfile, floorFile);
    rows.push({
      name,
      bytes: statSync(outfile).size,
      floorBytes: statSync(floorFile).size,
      ms,
      floorMs,
      declared: needs[name] ?? [],
      undeclared: undeclared.map((pkg) => pkg.replace('@aws-sdk/client-', '')),
    });
  }
  return rows;
}

if (require.main === module) {
  void benchBundles().then((rows) => {
    if (!printBundles(rows)) process.exitCode = 1;
  });
}

/** Prints the table; false when a bundle carries a client its function does not declare. */
export function printBundles(rows: BundleRow[]): boolean {
  console.log(`\nLambda bundles (esbuild, minified CommonJS, as serverless.yml builds them); cold import = least CPU time of ${RUNS} fresh Node processes, function and floor alternating`);
  console.log('function       bytes     floor bytes  ratio   import ms  floor ms  ratio   target <= 1.25x  declared SDK clients');
  for (const r of rows) {
    const byteRatio = r.bytes / r.floorBytes;
    const timeRatio = r.ms / r.floorMs;
    const ok = byteRatio <= 1.25 && timeRatio <= 1.25 ? 'met' : 'MISSED';
    console.log(
      `${r.name.padEnd(14)} ${String(r.bytes).padStart(9)} ${String(r.floorBytes).padStart(12)}  ${byteRatio.toFixed(2).padStart(5)}x ${r.ms.toFixed(1).padStart(10)} ${r.floorMs.toFixed(1).padStart(9)}  ${timeRatio.toFixed(2).padStart(5)}x  ${ok.padEnd(15)}  ${r.declared.join(', ')}`,
    );
  }
  const stray = rows.filter((r) => r.undeclared.length > 0);
  for (const r of stray) console.error(`BROKEN: ${r.name} bundles SDK clients it does not declare in functions/sdk-clients.json: ${r.undeclared.join(', ')}`);
  return stray.length === 0;
}
