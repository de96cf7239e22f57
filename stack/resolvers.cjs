/**
 * Serverless variable resolvers (`${file(stack/resolvers.cjs):name}`) for the few template values that are
 * shaped from a param rather than copied from it. Bad values resolve to something harmless here: the stack
 * plugin's param validation then fails the command with the param's name.
 */
'use strict';

const { list, deadLetterQueueName } = require('./params.cjs');

async function instanceTypes(resolveVariable) {
  return list(await resolveVariable('param:instanceTypes'));
}

/** A comma-separated list param without the spaces users type after commas. */
const tidyList = (name) => async ({ resolveVariable }) => list(await resolveVariable(`param:${name}`)).join(',');

module.exports = {
  subnets: tidyList('subnets'),
  securityGroups: tidyList('securityGroups'),
  /**
   * The farm's work queue name: the queueName param when given; otherwise the stack's own queue when it creates
   * the farm, or '*' (no particular queue) when it adopts one.
   */
  async queueName({ resolveVariable }) {
    const given = String((await resolveVariable('param:queueName')) ?? '').trim();
    if (given !== '') return given;
    if (String(await resolveVariable('param:farmMode')).trim() !== 'create') return '*';
    const service = await resolveVariable('self:service');
    const stage = await resolveVariable('sls:stage');
    return `${service}-${stage}-jobs`;
  },
  /** The work queue's dead-letter queue: `<name>-dlq`, or `<name>-dlq.fifo` for a FIFO queue. */
  async deadLetterQueueName(context) {
    return deadLetterQueueName(await module.exports.queueName(context));
  },
  /** 'true' for a FIFO work queue (its name ends in .fifo), else 'false'. */
  async queueIsFifo(context) {
    return String((await module.exports.queueName(context)).endsWith('.fifo'));
  },
  /** The first of instanceTypes: the type of the launch templates and launch configurations. */
  async firstInstanceType({ resolveVariable }) {
    return (await instanceTypes(resolveVariable))[0] ?? 'c5.large';
  },
  /** instanceTypes as a mixed instances policy's overrides: [{InstanceType}, ...]. */
  async instanceTypeOverrides({ resolveVariable }) {
    return (await instanceTypes(resolveVariable)).map((type) => ({ InstanceType: type }));
  },
};
