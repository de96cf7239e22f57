/** Runs the real Serverless Framework CLI (osls) of this repository, offline. */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const ROOT = resolve(__dirname, '../..');
const SERVERLESS = join(ROOT, 'node_modules/.bin/serverless');

export interface PackagedStack {
  dir: string;
  templatePath: string;
  template: CloudFormationTemplate;
}

export interface CloudFormationTemplate {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown>; [key: string]: unknown }>;
  Outputs?: Record<string, unknown>;
  [key: string]: unknown;
}

export async function serverless(args: string[], env: Record<string, string> = {}) {
  const pending = run(SERVERLESS, args, {
    cwd: ROOT,
    env: { ...process.env, SLS_TELEMETRY_DISABLED: '1', NODE_NO_WARNINGS: '1', ...env },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 300_000,
  });
  // `invoke local` reads event data from a piped stdin until it closes: close it, as a terminal user would.
  pending.child.stdin?.end();
  return pending;
}

/** `serverless package` into a fresh directory; params as `name=value`. */
export async function packageStack(params: string[] = [], stage = 'test'): Promise<PackagedStack> {
  const dir = mkdtempSync(join(tmpdir(), 'spotfarm-package-'));
  await serverless(['package', '--stage', stage, '--package', dir, ...params.map((p) => `--param=${p}`)]);
  const templatePath = join(dir, 'cloudformation-template-update-stack.json');
  return { dir, templatePath, template: JSON.parse(readFileSync(templatePath, 'utf8')) as CloudFormationTemplate };
}

/** cfn-lint from the project's virtualenv; returns its findings (JSON format). */
export async function cfnLint(templatePath: string): Promise<{ Level: string; Rule: { Id: string }; Message: string }[]> {
  const bin = join(ROOT, '.venv/bin/cfn-lint');
  try {
    const { stdout } = await run(bin, ['--format', 'json', templatePath], { maxBuffer: 16 * 1024 * 1024 });
    return stdout.trim() === '' ? [] : JSON.parse(stdout);
  } catch (error) {
    // cfn-lint exits non-zero when it finds something; its findings are still on stdout.
    const stdout = (error as { stdout?: string }).stdout ?? '';
    if (stdout.trim().startsWith('[')) return JSON.parse(stdout);
    throw error;
  }
}
