/**
 * The state table (DynamoDB): controller state per group with a version attribute, and time-keyed records
 * (decisions, interruptions, capacity failures) that expire with a TTL.
 *
 * Keys: pk (S) + sk (S). Group state: pk `group#<name>`, sk `state`. Records: pk `group#<name>` or
 * `pool#<type>|<az>`, sk `<kind>#<ISO time>#<id>`, so a time window is one Query with BETWEEN.
 *
 * Only these DynamoDB patterns are used (the backtest's simulated cloud emulates exactly these):
 * GetItem; PutItem with `attribute_not_exists(pk)` or `#version = :expected`; Query with
 * `pk = :pk AND sk BETWEEN :from AND :to` or `pk = :pk AND begins_with(sk, :prefix)`.
 */
import { DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { AwsCallError, aws, SpotfarmError } from '../errors';
import { requestHandler } from './http';

export const dynamoClient = new DynamoDBClient({ maxAttempts: 5, requestHandler });

/** Another invocation changed the state since we read it: re-read and re-decide. */
export class StaleStateError extends SpotfarmError {}

export interface Versioned<T> {
  data: T | undefined;
  /** 0 when nothing is stored yet. */
  version: number;
}

export const groupKey = (groupName: string): string => `group#${groupName}`;
export const poolRecordKey = (instanceType: string, availabilityZone: string): string =>
  `pool#${instanceType}|${availabilityZone}`;

/** A versioned state item (pk, sk) for optimistic concurrency; `what` names it in errors. */
interface ItemRef {
  pk: string;
  sk: string;
  what: string;
}

async function getVersioned<T>(table: string, ref: ItemRef, client: DynamoDBClient): Promise<Versioned<T>> {
  const { Item } = await aws(`reading the ${ref.what} from table ${table}`, () =>
    client.send(new GetItemCommand({ TableName: table, Key: marshall({ pk: ref.pk, sk: ref.sk }), ConsistentRead: true })),
  );
  if (!Item) return { data: undefined, version: 0 };
  const item = unmarshall(Item) as { data: string; version: number };
  return { data: JSON.parse(item.data) as T, version: item.version };
}

/**
 * Writes the item if nobody else wrote it since `expectedVersion` was read (0: it must not exist yet).
 * Throws StaleStateError on a lost race. Returns the new version.
 */
async function putVersioned<T>(
  table: string,
  ref: ItemRef,
  data: T,
  expectedVersion: number,
  client: DynamoDBClient,
): Promise<number> {
  const version = expectedVersion + 1;
  const conditional =
    expectedVersion === 0
      ? { ConditionExpression: 'attribute_not_exists(pk)' }
      : {
          ConditionExpression: '#version = :expected',
          ExpressionAttributeNames: { '#version': 'version' },
          ExpressionAttributeValues: marshall({ ':expected': expectedVersion }),
        };
  try {
    await client.send(
      new PutItemCommand({
        TableName: table,
        Item: marshall({ pk: ref.pk, sk: ref.sk, version, data: JSON.stringify(data) }),
        ...conditional,
      }),
    );
  } catch (error) {
    if (error instanceof Error && error.name === 'ConditionalCheckFailedException') {
      throw new StaleStateError(`${ref.what} changed since version ${expectedVersion} was read`, { cause: error });
    }
    throw new AwsCallError(`writing the ${ref.what} to table ${table}`, error);
  }
  return version;
}

const groupItem = (groupName: string): ItemRef => ({ pk: groupKey(groupName), sk: 'state', what: `state of group ${groupName}` });

export async function getGroupState<T>(
  table: string,
  groupName: string,
  client: DynamoDBClient = dynamoClient,
): Promise<Versioned<T>> {
  return getVersioned<T>(table, groupItem(groupName), client);
}

/**
 * Writes the group's state if nobody else wrote since `expectedVersion` was read (optimistic concurrency).
 * Throws StaleStateError on a lost race. Returns the new version.
 */
export async function putGroupState<T>(
  table: string,
  groupName: string,
  data: T,
  expectedVersion: number,
  client: DynamoDBClient = dynamoClient,
): Promise<number> {
  return putVersioned(table, groupItem(groupName), data, expectedVersion, client);
}

export interface StoredRecord<T> {
  pk: string;
  sk: string;
  /** ISO time of the thing recorded (event time, not wall clock). */
  at: string;
  data: T;
}

/** `<kind>#<ISO time>#<id>`: sorts by time within a kind. */
export const recordSortKey = (kind: string, at: string, id: string): string => `${kind}#${at}#${id}`;

/**
 * Stores a record once: a second put of the same key (a duplicate or replayed event) is refused and returns
 * false, which is how handlers stay idempotent.
 */
export async function putRecordOnce<T>(
  table: string,
  record: StoredRecord<T>,
  ttlDays: number,
  client: DynamoDBClient = dynamoClient,
): Promise<boolean> {
  const ttl = Math.floor(Date.parse(record.at) / 1000) + ttlDays * 86_400;
  try {
    await client.send(
      new PutItemCommand({
        TableName: table,
        Item: marshall({ pk: record.pk, sk: record.sk, at: record.at, ttl, data: JSON.stringify(record.data) }),
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return false;
    throw new AwsCallError(`recording ${record.sk} of ${record.pk} in table ${table}`, error);
  }
}

/** Records of one kind under `pk` whose time lies in [from, to]. */
export async function queryRecords<T>(
  table: string,
  pk: string,
  kind: string,
  from: Date,
  to: Date,
  client: DynamoDBClient = dynamoClient,
): Promise<StoredRecord<T>[]> {
  return queryAll<T>(table, pk, `reading ${kind} records of ${pk} from table ${table}`, client, {
    KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
    ExpressionAttributeValues: marshall({
      ':pk': pk,
      ':from': `${kind}#${from.toISOString()}`,
      // '~' sorts after every character of an id, so the upper bound includes records at exactly `to`.
      ':to': `${kind}#${to.toISOString()}#~`,
    }),
  });
}

/** The newest `limit` records of one kind under `pk`. */
export async function latestRecords<T>(
  table: string,
  pk: string,
  kind: string,
  limit: number,
  client: DynamoDBClient = dynamoClient,
): Promise<StoredRecord<T>[]> {
  return queryAll<T>(
    table,
    pk,
    `reading the latest ${kind} records of ${pk} from table ${table}`,
    client,
    {
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: marshall({ ':pk': pk, ':prefix': `${kind}#` }),
      ScanIndexForward: false,
      Limit: limit,
    },
    limit,
  );
}

async function queryAll<T>(
  table: string,
  _pk: string,
  doing: string,
  client: DynamoDBClient,
  query: Omit<ConstructorParameters<typeof QueryCommand>[0], 'TableName'>,
  limit = Infinity,
): Promise<StoredRecord<T>[]> {
  const out: StoredRecord<T>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await aws(doing, () =>
      client.send(new QueryCommand({ TableName: table, ...query, ExclusiveStartKey: startKey as never })),
    );
    for (const item of page.Items ?? []) {
      const row = unmarshall(item) as { pk: string; sk: string; at: string; data: string };
      out.push({ pk: row.pk, sk: row.sk, at: row.at, data: JSON.parse(row.data) as T });
      if (out.length >= limit) return out;
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return out;
}

/** A farm's items (the queue scaler's capacity state: sk `capacity`). */
export const farmKey = (farm: string): string => `farm#${farm}`;

const farmItem = (farm: string, section: string): ItemRef => ({ pk: farmKey(farm), sk: section, what: `${section} state of farm ${farm}` });

/** A farm's state item (`farm#<farm>`, sk `<section>`), versioned like a group's. */
export async function getFarmState<T>(
  table: string,
  farm: string,
  section: string,
  client: DynamoDBClient = dynamoClient,
): Promise<Versioned<T>> {
  return getVersioned<T>(table, farmItem(farm, section), client);
}

/**
 * Writes a farm's state item if nobody wrote it since `expectedVersion` (same conditions as putGroupState).
 * Throws StaleStateError on a lost race. Returns the new version.
 */
export async function putFarmState<T>(
  table: string,
  farm: string,
  section: string,
  data: T,
  expectedVersion: number,
  client: DynamoDBClient = dynamoClient,
): Promise<number> {
  return putVersioned(table, farmItem(farm, section), data, expectedVersion, client);
}
