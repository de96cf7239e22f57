/**
 * The DynamoDB patterns the state store uses, and nothing else: GetItem, PutItem (optionally conditional:
 * attribute_not_exists / attribute_exists / `a = :v`, combined with AND, OR and parentheses), Query on the
 * key (`pk = :pk`, optionally `AND sk BETWEEN :a AND :b`, `AND begins_with(sk, :p)` or a comparison), and
 * DeleteItem. Any other expression fails loudly, so a gap in the emulation is noticed rather than guessed at.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type {
  DeleteItemCommandInput,
  GetItemCommandInput,
  PutItemCommandInput,
  QueryCommandInput,
} from '@aws-sdk/client-dynamodb';
import { awsError, NotImplementedInSimulator } from './errors';

type Item = Record<string, AttributeValue>;

/**
 * One partition, stored the way DynamoDB stores it: items in sort-key order, so a Query reads a contiguous range
 * found by binary search ("Query results are always sorted by the sort key value",
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.KeyConditionExpressions.html), and the
 * cost of a Query is the items it returns, not the size of the partition.
 */
interface Partition {
  /** Items by sort key value (its typed scalar as a string; '' for a table without a sort key). */
  byKey: Map<string, Item>;
  /** The same items, ascending by sort key. */
  order: Item[];
}

export interface Table {
  name: string;
  hashKey: string;
  rangeKey?: string | undefined;
  /** Partitions by partition key value: a Query reads one partition, as DynamoDB does. */
  partitions: Map<string, Partition>;
}

export class Tables {
  readonly tables = new Map<string, Table>();

  create(name: string, hashKey: string, rangeKey?: string): Table {
    const table: Table = { name, hashKey, rangeKey, partitions: new Map() };
    this.tables.set(name, table);
    return table;
  }

  get(name: string | undefined): Table {
    const table = name ? this.tables.get(name) : undefined;
    if (!table) throw awsError('dynamodb', 'ResourceNotFoundException', 'Requested resource not found');
    return table;
  }
}

function scalar(v: AttributeValue | undefined): string | number | undefined {
  if (!v) return undefined;
  if (v.S !== undefined) return v.S;
  if (v.N !== undefined) return Number(v.N);
  if (v.B !== undefined) return Buffer.from(v.B).toString('base64');
  return undefined;
}

/** The typed scalar of a key attribute as a map key: S and N never collide ("1" vs 1). */
function scalarKey(v: AttributeValue | undefined): string | undefined {
  if (!v) return undefined;
  if (v.S !== undefined) return `S${v.S}`;
  if (v.N !== undefined) return `N${Number(v.N)}`;
  if (v.B !== undefined) return `B${Buffer.from(v.B).toString('base64')}`;
  return undefined;
}

function missingKey(name: string, what: string): Error {
  return awsError('dynamodb', 'ValidationException', `One or more parameter values were invalid: Missing the key ${name} in the ${what}`);
}

/** The partition and sort key values of `item` (a full item or a Key), validated as DynamoDB does. */
function keyOf(table: Table, item: Item, what: string): { hash: string; range: string } {
  const hash = scalarKey(item[table.hashKey]);
  if (hash === undefined) throw missingKey(table.hashKey, what);
  if (!table.rangeKey) return { hash, range: '' };
  const range = scalarKey(item[table.rangeKey]);
  if (range === undefined) throw missingKey(table.rangeKey, what);
  return { hash, range };
}

function partitionOf(table: Table, hash: string, create: boolean): Partition | undefined {
  let partition = table.partitions.get(hash);
  if (!partition && create) table.partitions.set(hash, (partition = { byKey: new Map(), order: [] }));
  return partition;
}

/** First index in `order` whose sort key is >= v (strict: > v). */
function bound(order: Item[], rk: string, v: AttributeValue, strict: boolean): number {
  let lo = 0;
  let hi = order.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compare(order[mid]![rk], v);
    if (c < 0 || (strict && c === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function store(table: Table, partition: Partition, range: string, item: Item): void {
  const had = partition.byKey.has(range);
  partition.byKey.set(range, item);
  if (!table.rangeKey) {
    partition.order = [item];
    return;
  }
  const rk = table.rangeKey;
  const at = bound(partition.order, rk, item[rk]!, false);
  if (had) partition.order[at] = item;
  else partition.order.splice(at, 0, item);
}

function unstore(table: Table, partition: Partition, range: string): void {
  const item = partition.byKey.get(range);
  if (!item) return;
  partition.byKey.delete(range);
  if (!table.rangeKey) partition.order = [];
  else partition.order.splice(bound(partition.order, table.rangeKey, item[table.rangeKey]!, false), 1);
}

function equal(a: AttributeValue | undefined, b: AttributeValue | undefined): boolean {
  if (!a || !b) return false;
  if (a.S !== undefined || b.S !== undefined) return a.S === b.S;
  if (a.N !== undefined || b.N !== undefined) return a.N !== undefined && b.N !== undefined && Number(a.N) === Number(b.N);
  return JSON.stringify(a) === JSON.stringify(b);
}

function compare(a: AttributeValue | undefined, b: AttributeValue | undefined): number {
  const x = scalar(a);
  const y = scalar(b);
  if (x === undefined || y === undefined) return NaN;
  if (typeof x === 'number' && typeof y === 'number') return x - y;
  const xs = String(x);
  const ys = String(y);
  return xs < ys ? -1 : xs > ys ? 1 : 0;
}

interface Context {
  names: Record<string, string>;
  values: Record<string, AttributeValue>;
}

function tokenize(expression: string): string[] {
  const tokens = expression.match(/#[\w]+|:[\w]+|[A-Za-z_][\w.]*|<>|<=|>=|[()=,<>]/g) ?? [];
  const stripped = expression.replace(/#[\w]+|:[\w]+|[A-Za-z_][\w.]*|<>|<=|>=|[()=,<>]|\s+/g, '');
  if (stripped) throw new NotImplementedInSimulator(`DynamoDB expression "${expression}" (unexpected "${stripped}")`);
  return tokens;
}

function resolveName(token: string, ctx: Context, expression: string): string {
  if (token.startsWith('#')) {
    const name = ctx.names[token];
    if (name === undefined) throw awsError('dynamodb', 'ValidationException', `Value provided in ExpressionAttributeNames unused or missing: ${token}`);
    return name;
  }
  if (/^[A-Za-z_]\w*$/.test(token)) return token;
  throw new NotImplementedInSimulator(`DynamoDB expression "${expression}" (attribute path ${token})`);
}

function resolveValue(token: string, ctx: Context): AttributeValue {
  const value = ctx.values[token];
  if (value === undefined) throw awsError('dynamodb', 'ValidationException', `An expression attribute value used in expression is not defined; attribute value: ${token}`);
  return value;
}

/** Evaluates a condition expression of the supported grammar against an item (undefined = no item). */
export function evaluateCondition(expression: string, item: Item | undefined, ctx: Context): boolean {
  const tokens = tokenize(expression);
  let pos = 0;
  const peek = () => tokens[pos];
  const next = () => tokens[pos++];
  const expect = (t: string) => {
    if (next() !== t) throw new NotImplementedInSimulator(`DynamoDB condition expression "${expression}"`);
  };
  const attr = (name: string) => item?.[name];

  const parseOr = (): boolean => {
    let v = parseAnd();
    while (peek()?.toUpperCase() === 'OR') {
      next();
      const r = parseAnd();
      v = v || r;
    }
    return v;
  };
  const parseAnd = (): boolean => {
    let v = parseUnary();
    while (peek()?.toUpperCase() === 'AND') {
      next();
      const r = parseUnary();
      v = v && r;
    }
    return v;
  };
  const parseUnary = (): boolean => {
    if (peek()?.toUpperCase() === 'NOT') {
      next();
      return !parseUnary();
    }
    return parseTerm();
  };
  const parseTerm = (): boolean => {
    const token = next();
    if (token === undefined) throw new NotImplementedInSimulator(`DynamoDB condition expression "${expression}"`);
    if (token === '(') {
      const v = parseOr();
      expect(')');
      return v;
    }
    if (token === 'attribute_not_exists' || token === 'attribute_exists') {
      expect('(');
      const name = resolveName(next() ?? '', ctx, expression);
      expect(')');
      const exists = attr(name) !== undefined;
      return token === 'attribute_exists' ? exists : !exists;
    }
    if (peek() === '(') throw new NotImplementedInSimulator(`DynamoDB condition expression "${expression}" (function ${token})`);
    const left = resolveName(token, ctx, expression);
    const op = next();
    const right = resolveValue(next() ?? '', ctx);
    const l = attr(left);
    switch (op) {
      case '=':
        return equal(l, right);
      case '<>':
        return !equal(l, right);
      case '<':
        return compare(l, right) < 0;
      case '<=':
        return compare(l, right) <= 0;
      case '>':
        return compare(l, right) > 0;
      case '>=':
        return compare(l, right) >= 0;
      default:
        throw new NotImplementedInSimulator(`DynamoDB condition expression "${expression}" (operator ${op})`);
    }
  };
  const result = parseOr();
  if (pos !== tokens.length) throw new NotImplementedInSimulator(`DynamoDB condition expression "${expression}"`);
  return result;
}

function context(input: { ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: Record<string, AttributeValue> }): Context {
  return { names: input.ExpressionAttributeNames ?? {}, values: input.ExpressionAttributeValues ?? {} };
}

function checkCondition(input: PutItemCommandInput | DeleteItemCommandInput, current: Item | undefined): void {
  if (!input.ConditionExpression) return;
  if (!evaluateCondition(input.ConditionExpression, current, context(input))) {
    throw awsError('dynamodb', 'ConditionalCheckFailedException', 'The conditional request failed');
  }
}

export function getItem(tables: Tables, input: GetItemCommandInput) {
  if (input.ProjectionExpression) throw new NotImplementedInSimulator('GetItemCommand ProjectionExpression');
  const table = tables.get(input.TableName);
  const { hash, range } = keyOf(table, input.Key ?? {}, 'Key');
  const item = partitionOf(table, hash, false)?.byKey.get(range);
  return item ? { Item: structuredClone(item) } : {};
}

export function putItem(tables: Tables, input: PutItemCommandInput) {
  const table = tables.get(input.TableName);
  const item = input.Item ?? {};
  const { hash, range } = keyOf(table, item, 'item');
  const partition = partitionOf(table, hash, true)!;
  const current = partition.byKey.get(range);
  checkCondition(input, current);
  store(table, partition, range, structuredClone(item));
  return input.ReturnValues === 'ALL_OLD' && current ? { Attributes: current } : {};
}

export function deleteItem(tables: Tables, input: DeleteItemCommandInput) {
  const table = tables.get(input.TableName);
  const { hash, range } = keyOf(table, input.Key ?? {}, 'Key');
  const partition = partitionOf(table, hash, false);
  const current = partition?.byKey.get(range);
  checkCondition(input, current);
  if (partition) unstore(table, partition, range);
  return input.ReturnValues === 'ALL_OLD' && current ? { Attributes: current } : {};
}

export function query(tables: Tables, input: QueryCommandInput) {
  if (input.FilterExpression) throw new NotImplementedInSimulator('QueryCommand FilterExpression');
  if (input.IndexName) throw new NotImplementedInSimulator('QueryCommand IndexName');
  const table = tables.get(input.TableName);
  const expression = input.KeyConditionExpression;
  if (!expression) throw new NotImplementedInSimulator('QueryCommand without KeyConditionExpression');
  const ctx = context(input);
  const tokens = tokenize(expression);
  // pk = :v [AND (sk BETWEEN :a AND :b | begins_with(sk, :p) | sk <op> :v)]
  const hashName = resolveName(tokens[0] ?? '', ctx, expression);
  if (hashName !== table.hashKey || tokens[1] !== '=') throw new NotImplementedInSimulator(`Query KeyConditionExpression "${expression}"`);
  const hashValue = resolveValue(tokens[2] ?? '', ctx);
  const partition = partitionOf(table, scalarKey(hashValue) ?? '', false);
  const order = partition?.order ?? [];
  // The key condition is a contiguous range [start, end) of the partition's sort order.
  let start = 0;
  let end = order.length;
  if (tokens.length > 3) {
    if (tokens[3]?.toUpperCase() !== 'AND' || !table.rangeKey) throw new NotImplementedInSimulator(`Query KeyConditionExpression "${expression}"`);
    const rest = tokens.slice(4);
    const rk = table.rangeKey;
    if (rest[0] === 'begins_with' && rest[1] === '(' && rest[3] === ',' && rest[5] === ')' && rest.length === 6) {
      if (resolveName(rest[2]!, ctx, expression) !== rk) throw new NotImplementedInSimulator(`Query KeyConditionExpression "${expression}"`);
      const prefix = resolveValue(rest[4]!, ctx).S ?? '';
      // Every string that starts with the prefix sorts at or after it, and they are contiguous.
      start = bound(order, rk, { S: prefix }, false);
      end = start;
      while (end < order.length && (order[end]![rk]?.S ?? '').startsWith(prefix)) end++;
    } else if (rest.length === 5 && rest[1]?.toUpperCase() === 'BETWEEN' && rest[3]?.toUpperCase() === 'AND') {
      if (resolveName(rest[0]!, ctx, expression) !== rk) throw new NotImplementedInSimulator(`Query KeyConditionExpression "${expression}"`);
      start = bound(order, rk, resolveValue(rest[2]!, ctx), false);
      end = Math.max(start, bound(order, rk, resolveValue(rest[4]!, ctx), true));
    } else if (rest.length === 3 && ['=', '<', '<=', '>', '>='].includes(rest[1]!)) {
      if (resolveName(rest[0]!, ctx, expression) !== rk) throw new NotImplementedInSimulator(`Query KeyConditionExpression "${expression}"`);
      const v = resolveValue(rest[2]!, ctx);
      const op = rest[1]!;
      if (op === '=' || op === '>=') start = bound(order, rk, v, false);
      if (op === '>') start = bound(order, rk, v, true);
      if (op === '=' || op === '<=') end = bound(order, rk, v, true);
      if (op === '<') end = bound(order, rk, v, false);
    } else {
      throw new NotImplementedInSimulator(`Query KeyConditionExpression "${expression}"`);
    }
  }
  const forward = input.ScanIndexForward !== false;
  if (input.ExclusiveStartKey) {
    const after = input.ExclusiveStartKey;
    keyOf(table, after, 'ExclusiveStartKey');
    // Resume just past the start key's position in the scan direction (the item itself may be gone).
    if (table.rangeKey) {
      const rk = table.rangeKey;
      if (forward) start = Math.max(start, bound(order, rk, after[rk]!, true));
      else end = Math.min(end, bound(order, rk, after[rk]!, false));
    } else {
      start = end;
    }
  }
  const limit = input.Limit ?? Infinity;
  const count = Math.max(0, end - start);
  const take = Math.min(count, limit);
  const items: Item[] = [];
  for (let i = 0; i < take; i++) items.push(order[forward ? start + i : end - 1 - i]!);
  let last: Item | undefined;
  if (count > limit && items.length) {
    const tail = items[items.length - 1]!;
    last = { [table.hashKey]: tail[table.hashKey]!, ...(table.rangeKey ? { [table.rangeKey]: tail[table.rangeKey]! } : {}) };
  }
  if (input.Select === 'COUNT') return { Count: items.length, ScannedCount: items.length, ...(last ? { LastEvaluatedKey: last } : {}) };
  const out = items.map((item) => structuredClone(item));
  return { Items: out, Count: out.length, ScannedCount: out.length, ...(last ? { LastEvaluatedKey: last } : {}) };
}
