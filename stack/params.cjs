/**
 * The stack's params, checked before anything is packaged: a bad value fails `serverless package` (and every
 * other command) with a message that names the param, instead of a CloudFormation rollback twenty minutes
 * into a deploy. Plain CommonJS because the Serverless Framework loads it (stack/plugin.cjs) without a
 * TypeScript step; types in params.d.cts.
 */
'use strict';

const FARM_MODES = ['adopt', 'create'];
const MARKET_STYLES = ['launch-template', 'launch-configuration', 'mixed-instances'];
const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT'];
/**
 * EventBridge schedule expressions: `rate(1 minute)`, `rate(5 minutes)` (the unit singular for 1, plural above, as
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html says), or a six-field
 * `cron(...)`. The same shape the framework's own schema checks, so a bad rate is named here first.
 */
const RATE = /^rate\((?:1 (?:minute|hour|day)|(?:[2-9]|[1-9]\d+) (?:minutes|hours|days))\)$/;
const CRON = /^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$/;
/** SQS names: letters, digits, '-' and '_', at most 80 characters including a FIFO queue's `.fifo` suffix. */
const QUEUE_NAME = /^(?=.{1,80}$)[A-Za-z0-9_-]+(\.fifo)?$/;

/**
 * The settings grammar of the functions themselves (src/settings.ts), loaded through tsx (a dev dependency, like
 * the framework): one parser, so `defaults` fails here exactly when it would fail every invocation after a deploy.
 */
function settingsModule() {
  const tsx = require('tsx/cjs/api');
  return tsx.require('../src/settings.ts', __filename);
}
// What user data puts between single quotes: a quote or a line break would end the shell string early.
const SHELL_SAFE = /^[^'\n\r]*$/;

/** `a, b,,c` -> ['a', 'b', 'c']. */
function list(value) {
  return String(value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function isInt(value, min, max) {
  if (!/^\d+$/.test(String(value ?? ''))) return false;
  const n = Number(value);
  return n >= min && n <= max;
}

/**
 * Every problem with the params, each as `param "name" ...: why`; empty when all is well.
 * Takes the resolved values as strings (what `${param:...}` gives), keyed by param name.
 * @param {Record<string, unknown>} raw
 * @returns {string[]}
 */
function validateParams(raw) {
  const p = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, v == null ? '' : String(v).trim()]));
  const problems = [];
  const bad = (name, why) => problems.push(`param "${name}" (${JSON.stringify(p[name] ?? '')}): ${why}`);
  const oneOf = (name, values) => {
    if (!values.includes(p[name])) bad(name, `unknown value; expected one of ${values.join(', ')}`);
  };

  oneOf('farmMode', FARM_MODES);
  oneOf('logLevel', LOG_LEVELS);
  const { problems: defaultsProblems } = settingsModule().parseDefaults(p.defaults ?? '', (key) => key);
  if (defaultsProblems.length > 0) bad('defaults', defaultsProblems.join('; '));
  oneOf('marketStyle', MARKET_STYLES);
  oneOf('dryRun', ['true', 'false']);
  oneOf('capacityRebalance', ['true', 'false']);
  oneOf('dashboard', ['true', 'false']);
  oneOf('backlogAlarms', ['true', 'false']);
  if (!/^(\*|[A-Za-z0-9][A-Za-z0-9_.-]{0,63})$/.test(p.farm)) {
    bad('farm', "expected '*' or a name of letters, digits, '.', '_' and '-' (at most 64)");
  }
  for (const name of ['priceCheckRate', 'queueScalerRate', 'interruptionSweepRate']) {
    if (!RATE.test(p[name]) && !CRON.test(p[name])) {
      bad(name, 'expected rate(1 minute), rate(N minutes|hours|days) with N >= 2, or cron(six fields)');
    }
  }
  if (!isInt(p.recordTtlDays, 1, 3650)) bad('recordTtlDays', 'expected whole days from 1 to 3650');
  if (p.alertEmail !== '' && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(p.alertEmail)) {
    bad('alertEmail', 'expected an email address, or empty for no subscription');
  }
  if (!/^[\w+=,.@-]{1,64}$/.test(p.workerRoleName)) bad('workerRoleName', 'expected an IAM role name (at most 64 characters)');
  if (p.queueName !== '*' && !QUEUE_NAME.test(p.queueName)) {
    bad('queueName', "expected an SQS queue name (letters, digits, '-', '_', a FIFO queue's .fifo suffix, at most 80), or '*' when adopting");
  }

  // The rest describes the farm the stack creates; when adopting, the user's own groups carry it.
  if (p.farmMode !== 'create') return problems;

  if (p.farm === '*') bad('farm', "a new farm needs a name: '*' only makes sense when adopting every tagged farm");
  if (p.queueName === '*') bad('queueName', 'a new farm needs a queue name, not a wildcard');
  // The dead-letter queue of a FIFO queue is FIFO too, named <name>-dlq.fifo: it must fit in 80 characters.
  else if (p.queueName.endsWith('.fifo') && p.queueName.length + 4 > 80) {
    bad('queueName', 'at most 76 characters for a new FIFO farm queue: its dead-letter queue adds "-dlq"');
  }
  const subnets = list(p.subnets);
  if (subnets.length === 0) {
    bad('subnets', 'empty subnet list: a new farm needs at least one subnet id (comma-separated)');
  } else {
    const wrong = subnets.filter((s) => !/^subnet-[0-9a-f]{8,17}$/.test(s));
    if (wrong.length > 0) bad('subnets', `not subnet ids: ${wrong.join(', ')}`);
  }
  const groups = list(p.securityGroups).filter((s) => !/^sg-[0-9a-f]{8,17}$/.test(s));
  if (groups.length > 0) bad('securityGroups', `not security group ids: ${groups.join(', ')}`);

  const sizesOk = ['minSize', 'maxSize', 'onDemandMaxSize'].map((name) => {
    const ok = isInt(p[name], 0, 10000);
    if (!ok) bad(name, 'expected a whole number of instances from 0 to 10000');
    return ok;
  });
  if (sizesOk[0] && sizesOk[1] && Number(p.maxSize) < Number(p.minSize)) {
    bad('maxSize', `max < min: maxSize ${p.maxSize} is below minSize ${p.minSize}`);
  }
  if (sizesOk[1] && Number(p.maxSize) === 0) bad('maxSize', 'a farm of at most 0 instances never runs a job');

  const types = list(p.instanceTypes);
  const wrongTypes = types.filter((t) => !/^[a-z][a-z0-9-]*\.[a-z0-9]+$/.test(t));
  if (types.length === 0) bad('instanceTypes', 'expected at least one instance type, e.g. c5.large');
  else if (wrongTypes.length > 0) bad('instanceTypes', `not instance types: ${wrongTypes.join(', ')}`);
  else if (p.marketStyle === 'mixed-instances' && types.length > 40) {
    bad('instanceTypes', 'a mixed instances policy takes at most 40 instance types');
  } else if (p.marketStyle !== 'mixed-instances' && types.length > 1) {
    bad('instanceTypes', `marketStyle ${p.marketStyle} launches one instance type; use marketStyle=mixed-instances for several`);
  }
  if (!/^(ami-[0-9a-f]{8,17}|\{\{resolve:ssm:[^}]+\}\})$/.test(p.imageId)) {
    bad('imageId', 'expected an AMI id (ami-...) or an SSM dynamic reference {{resolve:ssm:/path}}');
  }

  if (p.spotMaxPrice !== '' && !(/^\d+(\.\d+)?$/.test(p.spotMaxPrice) && Number(p.spotMaxPrice) >= 0.001)) {
    bad('spotMaxPrice', 'expected a price in USD per hour of at least 0.001, or empty for the on-demand price cap');
  }
  if (p.marketStyle === 'launch-configuration' && p.spotMaxPrice === '') {
    bad('spotMaxPrice', 'marketStyle launch-configuration needs a spot price: a launch configuration is spot only when it names one');
  }

  if (!isInt(p.visibilityTimeout, 0, 43200)) bad('visibilityTimeout', 'expected seconds from 0 to 43200 (12 h)');
  if (!isInt(p.maxReceiveCount, 1, 1000)) bad('maxReceiveCount', 'expected receives from 1 to 1000');
  const highOk = isInt(p.backlogHigh, 1, 1_000_000);
  const lowOk = isInt(p.backlogLow, 0, 1_000_000);
  if (!highOk) bad('backlogHigh', 'expected a whole number of messages of at least 1');
  if (!lowOk) bad('backlogLow', 'expected a whole number of messages');
  if (highOk && lowOk && Number(p.backlogLow) >= Number(p.backlogHigh)) {
    bad('backlogLow', `must be below backlogHigh (${p.backlogHigh}), or the two alarms overlap`);
  }

  if (p.workerCommand === '') bad('workerCommand', 'a new farm needs the command its workers run per message');
  else if (!SHELL_SAFE.test(p.workerCommand)) {
    bad('workerCommand', "no single quotes or line breaks (user data quotes it); put a longer command in a script on the image");
  }
  if (!isInt(p.workerSlots, 1, 1000)) bad('workerSlots', 'expected jobs at once per instance from 1 to 1000');
  if (p.workerBundle !== '' && !/^(s3|https):\/\/[^\s']+$/.test(p.workerBundle)) {
    bad('workerBundle', 'expected an s3:// or https:// URL of spotfarm-worker.cjs, or empty to build from git');
  }
  if (p.workerBundle === '' && !/^https:\/\/[^\s']+$/.test(p.spotfarmGit)) {
    bad('spotfarmGit', 'with an empty workerBundle the instances build the agent from git: expected an https:// URL');
  }
  if (!/^[A-Za-z0-9._/-]{1,200}$/.test(p.spotfarmRef)) bad('spotfarmRef', 'expected a branch or tag name');
  return problems;
}

/** The S3 object user data downloads, when workerBundle is an s3:// URL: {bucket, key}. */
function s3Bundle(workerBundle) {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(String(workerBundle ?? '').trim());
  return match ? { bucket: match[1], key: match[2] } : undefined;
}

/** The names validateParams checks: every param serverless.yml declares (test/stack/params.test.ts holds it to that). */
const PARAM_NAMES = [
  'farm', 'dryRun', 'logLevel', 'priceCheckRate', 'queueScalerRate', 'interruptionSweepRate', 'defaults', 'recordTtlDays',
  'farmMode', 'marketStyle', 'subnets', 'securityGroups', 'instanceTypes', 'imageId', 'minSize', 'maxSize',
  'onDemandMaxSize', 'spotMaxPrice', 'capacityRebalance', 'queueName', 'visibilityTimeout', 'maxReceiveCount',
  'backlogHigh', 'backlogLow', 'workerCommand', 'workerSlots', 'workerBundle', 'spotfarmGit', 'spotfarmRef',
  'alertEmail', 'workerRoleName', 'dashboard', 'backlogAlarms',
];

/** A FIFO queue's dead-letter queue must be FIFO too: `jobs.fifo` -> `jobs-dlq.fifo`, `jobs` -> `jobs-dlq`. */
function deadLetterQueueName(queueName) {
  const name = String(queueName ?? '').trim();
  return name.endsWith('.fifo') ? `${name.slice(0, -'.fifo'.length)}-dlq.fifo` : `${name}-dlq`;
}

module.exports = { validateParams, list, s3Bundle, deadLetterQueueName, PARAM_NAMES, FARM_MODES, MARKET_STYLES, LOG_LEVELS };
