/** SQS, Pricing and SNS commands answered from a World. */
import type { PutEventsCommandInput } from '@aws-sdk/client-eventbridge';
import type { GetProductsCommandInput } from '@aws-sdk/client-pricing';
import type { PublishCommandInput } from '@aws-sdk/client-sns';
import type {
  CreateQueueCommandInput,
  GetQueueAttributesCommandInput,
  GetQueueUrlCommandInput,
  SendMessageCommandInput,
} from '@aws-sdk/client-sqs';
import { awsError } from './errors';
import { ACCOUNT_ID, type PlainQueue, type World } from './world';

function queueOrThrow(world: World, url: string | undefined): PlainQueue {
  const queue = url ? world.queueByUrl(url) : undefined;
  if (!queue) throw awsError('sqs', 'QueueDoesNotExist', 'The specified queue does not exist.');
  return queue;
}

export function getQueueUrl(world: World, input: GetQueueUrlCommandInput) {
  const queue = input.QueueName ? world.queues.get(input.QueueName) : undefined;
  if (!queue) throw awsError('sqs', 'QueueDoesNotExist', 'The specified queue does not exist.');
  return { QueueUrl: queue.url };
}

export function createQueue(world: World, input: CreateQueueCommandInput) {
  if (!input.QueueName) throw awsError('sqs', 'InvalidParameterValue', 'QueueName is required.');
  return { QueueUrl: world.createQueue(input.QueueName, input.Attributes ?? {}).url };
}

export function sendMessage(world: World, input: SendMessageCommandInput) {
  const queue = queueOrThrow(world, input.QueueUrl);
  if (queue.farm) throw awsError('sqs', 'UnsupportedOperation', 'the simulated farm queue takes its messages from the scenario trace');
  queue.visible++;
  return { MessageId: world.newId('', 8), MD5OfMessageBody: '' };
}

const COUNT_ATTRIBUTES = ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'];

export function getQueueAttributes(world: World, input: GetQueueAttributesCommandInput) {
  const queue = queueOrThrow(world, input.QueueUrl);
  const names = input.AttributeNames ?? [];
  const counts = world.queueCounts(queue);
  const all: Record<string, string> = {
    ...queue.attributes,
    ApproximateNumberOfMessages: String(counts.visible),
    ApproximateNumberOfMessagesNotVisible: String(counts.notVisible),
    ApproximateNumberOfMessagesDelayed: String(counts.delayed),
    QueueArn: `arn:aws:sqs:${world.scenario.region}:${ACCOUNT_ID}:${queue.name}`,
  };
  const wanted = names.includes('All') ? Object.keys(all) : names;
  const Attributes: Record<string, string> = {};
  for (const name of wanted) {
    if (all[name] !== undefined) Attributes[name] = all[name]!;
    else if (!COUNT_ATTRIBUTES.includes(name) && !['Policy', 'DelaySeconds', 'MessageRetentionPeriod'].includes(name)) {
      throw awsError('sqs', 'InvalidAttributeName', `Unknown Attribute ${name}.`);
    }
  }
  return { Attributes };
}

const LOCATIONS: Record<string, string> = {
  'us-east-1': 'US East (N. Virginia)',
  'us-east-2': 'US East (Ohio)',
  'us-west-1': 'US West (N. California)',
  'us-west-2': 'US West (Oregon)',
  'eu-west-1': 'EU (Ireland)',
  'eu-central-1': 'EU (Frankfurt)',
  'ap-northeast-1': 'Asia Pacific (Tokyo)',
  'ap-southeast-1': 'Asia Pacific (Singapore)',
  'ap-southeast-2': 'Asia Pacific (Sydney)',
  'ap-south-1': 'Asia Pacific (Mumbai)',
};

/**
 * The Price List answer for the scenario's on-demand prices, in the real shape: each PriceList item a JSON
 * string of {product, serviceCode, terms: {OnDemand: {...priceDimensions...pricePerUnit.USD}}}.
 */
export function getProducts(world: World, input: GetProductsCommandInput) {
  if (input.ServiceCode !== 'AmazonEC2') return { PriceList: [], FormatVersion: 'aws_v1' };
  const want: Record<string, string> = {};
  for (const f of input.Filters ?? []) if (f.Field && f.Value !== undefined) want[f.Field] = f.Value;
  const region = world.scenario.region;
  const attributes = (type: string): Record<string, string> => ({
    instanceType: type,
    regionCode: region,
    location: LOCATIONS[region] ?? region,
    operatingSystem: 'Linux',
    tenancy: 'Shared',
    preInstalledSw: 'NA',
    capacitystatus: 'Used',
    licenseModel: 'No License required',
    usagetype: `BoxUsage:${type}`,
    operation: 'RunInstances',
    marketoption: 'OnDemand',
    servicecode: 'AmazonEC2',
  });
  const list: string[] = [];
  for (const [type, price] of world.market.onDemand) {
    const attrs = attributes(type);
    const matches = Object.entries(want).every(([field, value]) => {
      if (field === 'productFamily') return value === 'Compute Instance';
      const actual = attrs[field];
      return actual === undefined || actual.toLowerCase() === value.toLowerCase();
    });
    if (!matches) continue;
    const sku = `SIM${type.replace(/\W/g, '').toUpperCase()}`;
    const term = `${sku}.JRTCKXETXF`;
    list.push(
      JSON.stringify({
        product: { productFamily: 'Compute Instance', sku, attributes: attrs },
        serviceCode: 'AmazonEC2',
        terms: {
          OnDemand: {
            [term]: {
              offerTermCode: 'JRTCKXETXF',
              sku,
              effectiveDate: new Date(world.scenario.start * 1000).toISOString(),
              termAttributes: {},
              priceDimensions: {
                [`${term}.6YS6EN2CT7`]: {
                  rateCode: `${term}.6YS6EN2CT7`,
                  description: `$${price} per On Demand Linux ${type} Instance Hour`,
                  unit: 'Hrs',
                  beginRange: '0',
                  endRange: 'Inf',
                  appliesTo: [],
                  pricePerUnit: { USD: price.toFixed(10) },
                },
              },
            },
          },
        },
        version: 'sim',
        publicationDate: new Date(world.scenario.start * 1000).toISOString(),
      }),
    );
  }
  return { PriceList: list, FormatVersion: 'aws_v1' };
}

export function publish(world: World, input: PublishCommandInput) {
  const topicArn = input.TopicArn ?? input.TargetArn;
  if (!topicArn) throw awsError('sns', 'InvalidParameter', 'Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter');
  if (input.Message === undefined) throw awsError('sns', 'InvalidParameter', 'Invalid parameter: Message');
  world.published.push({ t: world.now, topicArn, subject: input.Subject, message: input.Message });
  return { MessageId: world.newId('', 8) };
}

/**
 * EventBridge PutEvents on the default bus, as the EventBridge API reference describes it
 * (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html): 1 to 10 entries, else a
 * ValidationException for the call; each entry needs Source, DetailType and a Detail that is a JSON object, else
 * that entry alone fails (ErrorCode "InvalidArgument") and counts in FailedEntryCount while the others go through
 * (HTTP 200 either way). Accepted entries go to the world's bus hook, which delivers them to matching rules.
 */
export function putEvents(world: World, input: PutEventsCommandInput) {
  const entries = input.Entries ?? [];
  if (entries.length < 1 || entries.length > 10) {
    throw awsError('eventbridge', 'ValidationException', `1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10 and greater than or equal to 1`);
  }
  let failed = 0;
  const out = entries.map((entry) => {
    let detail: unknown;
    try {
      detail = entry.Detail === undefined ? undefined : JSON.parse(entry.Detail);
    } catch {
      detail = undefined;
    }
    if (!entry.Source || !entry.DetailType || typeof detail !== 'object' || detail === null || Array.isArray(detail)) {
      failed++;
      return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameter Detail is not valid. Reason: Source, DetailType and a JSON object Detail are required.' };
    }
    const id = `${world.newId('', 8)}-0000-0000-0000-000000000000`;
    const time = entry.Time ? Math.floor(new Date(entry.Time).getTime() / 1000) : world.now;
    world.hooks.onBusEvent?.({ id, source: entry.Source, detailType: entry.DetailType, detail: detail as Record<string, unknown>, time });
    return { EventId: id };
  });
  return { FailedEntryCount: failed, Entries: out };
}
