/**
 * `serverless invoke local -f plan` against moto server, as a user runs it after `npm run local`: the real CLI,
 * the real bundle, resource names from serverless.yml resolving to plain strings without a deployed stack.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMoto, type MotoServer } from '../support/moto';
import { buildDemoFarm } from '../../scripts/lib/demo-farm';
import { serverless } from '../support/serverless';

describe('serverless invoke local', () => {
  let moto: MotoServer;
  beforeAll(async () => {
    moto = await startMoto();
    await buildDemoFarm({ endpoint: moto.endpoint, stateTable: 'spotfarm-dev-state', messages: 3 });
  });
  afterAll(async () => {
    await moto.stop();
  });

  it('prints the plan of the demo farm', async () => {
    // Act
    const { stdout } = await serverless(['invoke', 'local', '-f', 'plan'], {
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      SPOTFARM_LOG_LEVEL: 'SILENT',
    });
    // Assess: the last JSON object on stdout is the handler's result.
    const plan = JSON.parse(stdout.slice(stdout.indexOf('{\n')));
    expect(plan.farms).toHaveLength(1);
    expect(plan.farms[0]).toMatchObject({ farm: 'demo', queue: { name: 'demo-jobs', visible: 3 } });
    expect(plan.farms[0].groups.map((g: { name: string }) => g.name).sort()).toEqual(['demo-on-demand', 'demo-spot']);
  });
});
