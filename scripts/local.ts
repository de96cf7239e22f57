/**
 * `npm run local [-- --port N]`: AWS on your machine, no account needed. Starts moto server on 127.0.0.1,
 * creates the stack's own resources there (the state table of stage `dev`) and a small tagged demo farm,
 * prints the environment to export, and runs until interrupted. Meanwhile every function runs against it:
 *   serverless invoke local -f plan
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildDemoFarm } from './lib/demo-farm';
import { startMoto } from './lib/moto';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '5000' },
      stage: { type: 'string', default: 'dev' },
      farm: { type: 'string', default: 'demo' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log('usage: npm run local [-- --port N] [--stage dev] [--farm demo]');
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`--port ${values.port}: expected a port number between 1 and 65535`);
  }
  execFileSync('bash', [resolve(__dirname, 'venv.sh')], { stdio: 'inherit' });

  const moto = await startMoto({ port });
  const stateTable = `spotfarm-${values.stage}-state`;
  const farm = await buildDemoFarm({ endpoint: moto.endpoint, farm: values.farm, stateTable, messages: 25 });

  const env = {
    AWS_ENDPOINT_URL: moto.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    SLS_TELEMETRY_DISABLED: '1',
  };
  console.log(`
moto server is running on ${moto.endpoint} with:
  state table   ${stateTable}
  demo farm     ${farm.farm}: groups ${farm.spotGroup} (spot, 2 instances) and ${farm.onDemandGroup} (on-demand fallback)
  work queue    ${farm.queueName} (25 messages), dead-letter queue ${farm.queueName}-dlq

In another terminal, export this environment:

${Object.entries(env).map(([k, v]) => `  export ${k}=${v}`).join('\n')}

then run any function against it, for example:

  npx serverless invoke local -f plan
  npx serverless invoke local -f plan --data '{"farm": "${farm.farm}"}'

Tag more groups by hand (aws --endpoint-url ${moto.endpoint} autoscaling create-or-update-tags ...) and they show
up in the plan. Press Ctrl-C to stop; everything lives in memory and is gone afterwards.
`);
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  await moto.stop();
  console.log('moto server stopped');
}

main().catch((error: unknown) => {
  console.error(`npm run local: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
