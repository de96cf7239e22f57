/**
 * The packaged stack: `serverless package` (no credentials needed), then cfn-lint on the CloudFormation
 * template it wrote, and checks on what the template holds.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { cfnLint, packageStack, type PackagedStack } from '../support/serverless';

describe('packaged stack', () => {
  let stack: PackagedStack;
  beforeAll(async () => {
    stack = await packageStack();
  }, 300_000);

  it('passes cfn-lint with zero errors and zero warnings', async () => {
    const findings = await cfnLint(stack.templatePath);
    const summary = findings.map((f) => `${f.Level} ${f.Rule.Id}: ${f.Message}`);
    expect(summary).toEqual([]);
  });

  it('bundles each contract function as one CommonJS file on nodejs22.x', () => {
    const functions = Object.values(stack.template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    expect(functions.length).toBeGreaterThanOrEqual(1);
    for (const fn of functions) {
      expect(fn.Properties?.Runtime).toBe('nodejs22.x');
      expect(String(fn.Properties?.Handler)).toMatch(/^functions\/[a-z-]+\.handler$/);
    }
    expect(statSync(join(stack.dir, 'plan.zip')).size).toBeGreaterThan(10_000);
  });

  it('declares the state table with its key schema and TTL', () => {
    const table = stack.template.Resources.StateTable;
    expect(table?.Type).toBe('AWS::DynamoDB::Table');
    expect(table?.Properties).toMatchObject({
      TableName: 'spotfarm-test-state',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
    });
  });
});
