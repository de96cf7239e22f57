/**
 * spotfarm's local Serverless plugin: what serverless.yml cannot say once for every function.
 *
 * - Validates the params (stack/params.cjs) on every command, so a bad one fails `serverless package` with its
 *   name instead of failing later in CloudFormation.
 * - Gives every function bounded async retries, a bounded event age and the failure queue as its on-failure
 *   destination, unless its own block says otherwise: functions added later are covered without anyone
 *   remembering to copy three settings.
 * - Gives every EventBridge rule target (schedules, event patterns) a retry policy and the failure queue as its
 *   dead-letter queue: an event EventBridge cannot deliver to Lambda (throttling, a deleted function) leaves a
 *   trace too.
 * - Points SPOTFARM_FAILURE_QUEUE_URL at the failure queue, where the functions record a malformed or misrouted
 *   EventBridge event themselves instead of failing it through two pointless async retries (src/middleware.ts).
 * - Points SPOTFARM_TOPIC_ARN at the alert topic in the packaged template only: serverless.yml keeps it a
 *   plain empty string, so `serverless invoke local` resolves it without a deployed stack (no notifications).
 * - Makes the farm's queues FIFO when queueName ends in .fifo.
 * - Lets the worker role read the agent bundle when workerBundle is an s3:// URL (only that object).
 */
'use strict';

const { validateParams, s3Bundle } = require('./params.cjs');

const FAILURE_QUEUE = 'FailureQueue';
const TOPIC = 'AlertTopic';

class SpotfarmStackPlugin {
  constructor(serverless) {
    this.serverless = serverless;
    // The framework checks its own config schema (service.validate) before any hook runs, so a bad rate would be
    // reported as "functions.price-check.events.0.schedule". Checking the params first names the param instead.
    const service = serverless.service;
    if (service && typeof service.validate === 'function' && !service.spotfarmParamsFirst) {
      const frameworkValidate = service.validate.bind(service);
      service.spotfarmParamsFirst = true;
      service.validate = async (...args) => {
        this.checkParams();
        return frameworkValidate(...args);
      };
    }
    this.hooks = {
      initialize: () => this.initialize(),
      'after:aws:package:finalize:mergeCustomProviderResources': () => this.finishTemplate(),
    };
  }

  settings() {
    const custom = (this.serverless.service.custom ?? {}).spotfarm;
    if (!custom || typeof custom !== 'object' || !custom.params) {
      throw new this.serverless.classes.Error('spotfarm stack plugin: custom.spotfarm.params is missing from serverless.yml');
    }
    return custom;
  }

  /** Throws the framework's error listing every invalid param; once per command. */
  checkParams() {
    if (this.paramsChecked) return;
    const custom = this.settings();
    const problems = validateParams(custom.params);
    if (problems.length > 0) {
      throw new this.serverless.classes.Error(
        `spotfarm: ${problems.length === 1 ? 'a param is' : `${problems.length} params are`} invalid:\n  ` +
          problems.join('\n  '),
      );
    }
    this.paramsChecked = true;
  }

  initialize() {
    const custom = this.settings();
    this.checkParams();
    const async = custom.async ?? {};
    // One object for all functions: the framework adds one sqs:SendMessage statement per distinct object.
    const onFailure = { type: 'sqs', arn: { 'Fn::GetAtt': [FAILURE_QUEUE, 'Arn'] } };
    for (const fn of Object.values(this.serverless.service.functions ?? {})) {
      if (fn.maximumRetryAttempts == null) fn.maximumRetryAttempts = Number(async.maximumRetryAttempts ?? 2);
      if (fn.maximumEventAge == null) fn.maximumEventAge = Number(async.maximumEventAge ?? 3600);
      fn.destinations = { ...(fn.destinations ?? {}) };
      if (fn.destinations.onFailure == null) fn.destinations.onFailure = onFailure;
    }
  }

  finishTemplate() {
    const custom = this.settings();
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    const resources = template.Resources;
    const ruleRetry = custom.ruleRetry ?? {};

    // A FIFO work queue (queueName ends in .fifo) and its dead-letter queue, which SQS requires to be FIFO too
    // (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html). Set
    // here at package time, where the name is known, rather than by a template condition that cfn-lint evaluates both ways.
    if (String(custom.queueIsFifo) === 'true') {
      for (const id of ['WorkQueue', 'WorkQueueDeadLetters']) {
        if (resources[id]) resources[id].Properties.FifoQueue = true;
      }
    }

    const rules = [];
    for (const [id, resource] of Object.entries(resources)) {
      if (resource.Type === 'AWS::Lambda::Function') {
        const variables = ((resource.Properties.Environment ??= {}).Variables ??= {});
        if (resources[TOPIC]) variables.SPOTFARM_TOPIC_ARN = { Ref: TOPIC };
        // The middleware records refused events there itself (no retries): the queue's URL is its Ref.
        if (resources[FAILURE_QUEUE]) variables.SPOTFARM_FAILURE_QUEUE_URL = { Ref: FAILURE_QUEUE };
      }
      if (resource.Type === 'AWS::Events::Rule') {
        rules.push(id);
        for (const target of resource.Properties.Targets ?? []) {
          target.RetryPolicy ??= {
            MaximumRetryAttempts: Number(ruleRetry.maximumRetryAttempts ?? 8),
            MaximumEventAgeInSeconds: Number(ruleRetry.maximumEventAge ?? 3600),
          };
          target.DeadLetterConfig ??= { Arn: { 'Fn::GetAtt': [FAILURE_QUEUE, 'Arn'] } };
        }
      }
    }
    if (rules.length > 0 && resources[FAILURE_QUEUE]) {
      resources.FailureQueueEventsPolicy = {
        Type: 'AWS::SQS::QueuePolicy',
        Properties: {
          Queues: [{ Ref: FAILURE_QUEUE }],
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Sid: 'UndeliverableRuleEvents',
                Effect: 'Allow',
                Principal: { Service: 'events.amazonaws.com' },
                Action: 'sqs:SendMessage',
                Resource: { 'Fn::GetAtt': [FAILURE_QUEUE, 'Arn'] },
                // Only this stack's rules may drop events here.
                Condition: { ArnEquals: { 'aws:SourceArn': rules.map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] })) } },
              },
            ],
          },
        },
      };
    }

    const bundle = s3Bundle(custom.params.workerBundle);
    const workerPolicy = resources.WorkerRole?.Properties?.Policies?.[0]?.PolicyDocument;
    if (bundle && workerPolicy) {
      workerPolicy.Statement.push({
        Sid: 'AgentBundle',
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: { 'Fn::Sub': `arn:\${AWS::Partition}:s3:::${bundle.bucket}/${bundle.key}` },
      });
    }
  }
}

module.exports = SpotfarmStackPlugin;
