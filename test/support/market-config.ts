/** The controller configuration the market controller's unit tests run with (one farm wildcard, no dry run). */
import type { Config } from '../../src/config';
import { DEFAULT_SETTINGS } from '../../src/settings';

export const marketTestConfig: Readonly<Config> = {
  farm: '*',
  dryRun: false,
  region: 'us-east-1',
  stateTable: 'spotfarm-test-state',
  topicArn: 'arn:aws:sns:us-east-1:123456789012:spotfarm-alerts',
  logLevel: 'SILENT',
  priceCheckRate: 'rate(5 minutes)',
  queueScalerRate: 'rate(1 minute)',
  defaults: DEFAULT_SETTINGS,
  recordTtlDays: 14,
  stack: '',
};
