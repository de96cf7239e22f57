// Adds toHaveReceivedCommandWith / toReceiveCommandWith & co. from aws-sdk-client-mock-vitest to every test file.
import { expect } from 'vitest';
import { allCustomMatcherWithAliases } from 'aws-sdk-client-mock-vitest';

expect.extend(allCustomMatcherWithAliases);

// The IAM simulation (test/stack/iam.test.ts) runs the moto integration tests with this set, to record every
// AWS call the functions make (test/iam/record-moto.ts).
if (process.env.RECORD_AWS_CALLS_DIR) {
  const { recordCalls } = await import('../iam/record-moto');
  const { readdirSync } = await import('node:fs');
  const { resolve } = await import('node:path');
  // Every wrapper in src/aws: the only modules that hold SDK clients (DESIGN.md).
  const dir = resolve(__dirname, '../../src/aws');
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
  const modules: Record<string, unknown>[] = await Promise.all(files.map((f) => import(resolve(dir, f))));
  const clients = modules.flatMap((m) => Object.values(m).filter((v) => typeof v === 'object' && v !== null && 'middlewareStack' in v));
  recordCalls(clients, process.env.RECORD_AWS_CALLS_DIR, () => expect.getState().testPath ?? 'unknown');
}
