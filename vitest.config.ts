import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/support/setup.ts'],
    // Integration tests start their own moto server; give them room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // The AWS SDK reads these; never let a test reach a real account.
    env: {
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
      SPOTFARM_LOG_LEVEL: 'SILENT',
      // The SDK's notice that Node 20 support ends (the Lambda runtime is nodejs22.x): once per process is noise.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
  },
});
