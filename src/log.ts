/**
 * One structured JSON logger (Powertools) for every function. Decisions are logged with `logDecision` so each
 * has the same fields: group, action, reason and the figures behind it.
 */
import { Logger } from '@aws-lambda-powertools/logger';

// The level is read straight from the environment (config.ts validates the same variable) so that logging
// works even while the configuration itself is being reported as invalid.
export const logger = new Logger({
  serviceName: 'spotfarm',
  logLevel: (process.env.SPOTFARM_LOG_LEVEL as 'INFO' | undefined) ?? 'INFO',
});

export function logDecision(fields: {
  asgName: string;
  action: string;
  reason: string;
  dryRun?: boolean;
  [figure: string]: unknown;
}): void {
  // `message` is the logger's own key: Powertools drops a field of that name with a WARN line of its own (one
  // per capacity failure, whose AWS message was lost). It is logged as `awsMessage`.
  const { message, ...rest } = fields;
  logger.info('decision', message === undefined ? rest : { ...rest, awsMessage: message });
}
