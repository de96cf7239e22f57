/**
 * Stack-level configuration: serverless params become SPOTFARM_* environment variables (serverless.yml), read
 * and validated once per cold start, then frozen. Never changed per request.
 */
import * as z from 'zod/mini';
import { ConfigError } from './errors';
import { formatIssues } from './validation';
import { parseDefaults, type GroupSettings } from './settings';

export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';

export interface Config {
  /** The farm this stack manages (`spotfarm:farm` tag value), or `*` for every tagged farm. */
  farm: string;
  /** Decide and log, mutate nothing. A manual invoke can also ask for it with {"dryRun": true}. */
  dryRun: boolean;
  region: string;
  /** DynamoDB table with controller state and decision records; empty = none (plan only). */
  stateTable: string;
  /** SNS topic for swaps and breaker trips; empty = no notifications. */
  topicArn: string;
  logLevel: LogLevel;
  /** Schedule rates, as deployed (shown by `plan`; the schedules themselves live in serverless.yml). */
  priceCheckRate: string;
  queueScalerRate: string;
  /** Farm defaults, before each group's tags override them. */
  defaults: Readonly<GroupSettings>;
  /** Days decision and interruption records live in the state table. */
  recordTtlDays: number;
  /**
   * This stack's name (`<service>-<stage>`): the signals one controller sends another on the default event bus
   * carry it, and this stack's rules match only their own. Empty: signals go out unnamed (tests, invoke local).
   */
  stack: string;
}

const RATE = /^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\))$/;

const EnvSchema = z.strictObject({
  SPOTFARM_FARM: z._default(z.string().check(z.minLength(1), z.maxLength(256)), '*'),
  SPOTFARM_DRY_RUN: z._default(z.enum(['true', 'false']), 'false'),
  SPOTFARM_STATE_TABLE: z._default(z.string(), ''),
  SPOTFARM_TOPIC_ARN: z._default(z.string().check(z.regex(/^(arn:aws[\w-]*:sns:[\w-]+:\d{12}:[\w-]+)?$/)), ''),
  SPOTFARM_LOG_LEVEL: z._default(z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT']), 'INFO'),
  SPOTFARM_PRICE_CHECK_RATE: z._default(z.string().check(z.regex(RATE)), 'rate(5 minutes)'),
  SPOTFARM_QUEUE_SCALER_RATE: z._default(z.string().check(z.regex(RATE)), 'rate(1 minute)'),
  SPOTFARM_DEFAULTS: z._default(z.string(), ''),
  SPOTFARM_RECORD_TTL_DAYS: z._default(z.string().check(z.regex(/^\d+$/)), '14'),
  SPOTFARM_STACK: z._default(z.string().check(z.regex(/^[\w-]{0,128}$/)), ''),
  // Where the middleware records refused events (src/middleware.ts); set by stack/plugin.cjs in the template.
  SPOTFARM_FAILURE_QUEUE_URL: z._default(z.string().check(z.regex(/^(https?:\/\/\S+)?$/)), ''),
});

/**
 * Validates the environment strictly: a misspelt SPOTFARM_* variable is an error, not a silently ignored
 * setting. Throws ConfigError listing every problem at once.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const ours: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    // Empty strings come from unset serverless params; treat them as "use the default".
    if (key.startsWith('SPOTFARM_') && value !== undefined && value !== '') ours[key] = value;
  }
  // The worker agent's and the test harness's own variables are not stack config.
  delete ours.SPOTFARM_IMDS_ENDPOINT;
  const parsed = EnvSchema.safeParse(ours);
  if (!parsed.success) {
    throw new ConfigError(`invalid spotfarm configuration: ${formatIssues(parsed.error.issues, '', ours)}`);
  }
  const e = parsed.data;
  const { settings, problems } = parseDefaults(e.SPOTFARM_DEFAULTS, (key) => `SPOTFARM_DEFAULTS ${key}`);
  if (problems.length > 0) throw new ConfigError(`invalid spotfarm configuration: ${problems.join('; ')}`);
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!region) throw new ConfigError('invalid spotfarm configuration: AWS_REGION is not set');
  return Object.freeze({
    farm: e.SPOTFARM_FARM,
    dryRun: e.SPOTFARM_DRY_RUN === 'true',
    region,
    stateTable: e.SPOTFARM_STATE_TABLE,
    topicArn: e.SPOTFARM_TOPIC_ARN,
    logLevel: e.SPOTFARM_LOG_LEVEL,
    priceCheckRate: e.SPOTFARM_PRICE_CHECK_RATE,
    queueScalerRate: e.SPOTFARM_QUEUE_SCALER_RATE,
    defaults: Object.freeze(settings),
    recordTtlDays: Number(e.SPOTFARM_RECORD_TTL_DAYS),
    stack: e.SPOTFARM_STACK,
  });
}

let cached: Readonly<Config> | undefined;

/** The configuration of this container, loaded on first use (cold start). */
export function getConfig(): Readonly<Config> {
  cached ??= loadConfig();
  return cached;
}

/** For tests and the backtest, which run many configurations in one process. */
export function resetConfigCache(): void {
  cached = undefined;
}
