import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors';
import { loadConfig } from '../../src/config';

const base = { AWS_REGION: 'eu-west-1' };

describe('loadConfig', () => {
  it('applies defaults and freezes the result', () => {
    const config = loadConfig(base);
    expect(config).toMatchObject({ farm: '*', dryRun: false, region: 'eu-west-1', stateTable: '', logLevel: 'INFO' });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.defaults)).toBe(true);
  });

  it('reads stack params and farm defaults', () => {
    const config = loadConfig({
      ...base,
      SPOTFARM_FARM: 'ml',
      SPOTFARM_DRY_RUN: 'true',
      SPOTFARM_STATE_TABLE: 'spotfarm-prod-state',
      SPOTFARM_DEFAULTS: 'swapRatio=0.9, minDwell=1h',
    });
    expect(config).toMatchObject({ farm: 'ml', dryRun: true, stateTable: 'spotfarm-prod-state' });
    expect(config.defaults).toMatchObject({ swapRatio: 0.9, minDwell: 3600 });
  });

  it('treats empty values (unset params) as defaults', () => {
    expect(loadConfig({ ...base, SPOTFARM_DRY_RUN: '', SPOTFARM_FARM: '' })).toMatchObject({ dryRun: false, farm: '*' });
  });

  it.each([
    { env: { SPOTFARM_DRY_RUN: 'yes' }, message: /SPOTFARM_DRY_RUN: expected one of true, false \(got "yes"\)/ },
    { env: { SPOTFARM_DRYRUN: 'true' }, message: /unknown field SPOTFARM_DRYRUN/ },
    { env: { SPOTFARM_LOG_LEVEL: 'LOUD' }, message: /SPOTFARM_LOG_LEVEL: expected one of DEBUG, INFO, WARN, ERROR, SILENT/ },
    { env: { SPOTFARM_PRICE_CHECK_RATE: 'every 5 minutes' }, message: /SPOTFARM_PRICE_CHECK_RATE/ },
    { env: { SPOTFARM_DEFAULTS: 'swapRatio=high' }, message: /SPOTFARM_DEFAULTS swapRatio=high: expected a decimal number from 0.0001 to 100/ },
    { env: { SPOTFARM_DEFAULTS: 'swapRatio' }, message: /SPOTFARM_DEFAULTS swapRatio: expected name=value/ },
    { env: { AWS_REGION: '' }, message: /AWS_REGION is not set/ },
  ])('rejects $env with a message naming the variable', ({ env, message }) => {
    expect(() => loadConfig({ ...base, ...env })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, ...env })).toThrow(message);
  });
});
