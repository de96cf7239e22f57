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

export interface Table {
  name: string;
  hashKey: string;
  rangeKey?: string | undefined;
  /** Items by hash key value, then by full key: a Query reads one partition, as DynamoDB does. */
  partitions: Map<string, Map<string, Item>>;
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

function partitionOf(table: Table, item: Item): Map<string, Item> {
  const h = JSON.stringify(scalar(item[table.hashKey]) ?? null);
  let partition = table.partitions.get(h);
  if (!partition) table.partitions.set(h, (partition = new Map()));
  return partition;
}

function keyOf(table: Table, item: Item, what: string): string {
  const h = scalar(item[table.hashKey]);
  if (h === undefined) {
    throw awsError('dynamodb', 'ValidationException', `One or more parameter values were invalid: Missing the key ${table.hashKey} in the ${what}`);
  }
  if (!table.rangeKey) return JSON.stringify([h]);
  const r = scalar(item[table.rangeKey]);
  if (r === undefined) {
    throw awsError('dynamodb', 'ValidationException', `One or more parameter values were invalid: Missing the key ${table.rangeKey} in the ${what}`);
  }
  return JSON.stringify([h, r]);
}

function equal(a: AttributeValue | undefined, b: AttributeValue | undefined): boolean {
  if (!a || !b) return false;
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
  const key = keyOf(table, input.Key ?? {}, 'Key');
  const item = partitionOf(table, input.Key ?? {}).get(key);
  return item ? { Item: structuredClone(item) } : {};
}

export function putItem(tables: Tables, input: PutItemCommandInput) {
  const table = tables.get(input.TableName);
  const item = input.Item ?? {};
  const key = keyOf(table, item, 'item');
  const partition = partitionOf(table, item);
  const current = partition.get(key);
  checkCondition(input, current);
  partition.set(key, structuredClone(item));
  return input.ReturnValues === 'ALL_OLD' && current ? { Attributes: current } : {};
}

export function deleteItem(tables: Tables, input: DeleteItemCommandInput) {
  const table = tables.get(input.TableName);
  const key = keyOf(table, input.Key ?? {}, 'Key');
  const partition = partitionOf(table, input.Key ?? {});
  const current = partition.get(key);
  checkCondition(input, current);
  partition.delete(key);
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
  let rangeTest: (item: Item) => boolean = () => true;
  if (tokens.length > 3) {
    if (tokens[3]?.toUpperCase() !== 'AND' || !table.rangeKey) throw new NotImplementedInSimulator(`Query KeyConditionExpression "${expression}"`);
    const rest = tokens.slice(4);
    const rk = table.rangeKey;
    if (rest[0] === 'begins_with' && rest[1] === '(' && rest[3] === ',' && rest[5] === ')' && rest.length === 6) {
      if (resolveName(rest[2]!, ctx, expression) !== rk) throw new NotImplementedInSimulator(`Query KeyConditionExpression "${expression}"`);
      const prefix = resolveValue(rest[4]!, ctx).S ?? '';
      rangeTest = (item) => (item[rk]?.S ?? '').startsWith(prefix);
    } else if (rest.length === 5 && rest[1]?.toUpperCase() === 'BETWEEN' && rest[3]?.toUpperCase() === 'AND') {
      if (resolveName(rest[0]!, ctx, expression) !== rk) throw new NotImplementedInSimulator(`Query KeyConditionExpression "${expression}"`);
      const lo = resolveValue(rest[2]!, ctx);
      const hi = resolveValue(rest[4]!, ctx);
      rangeTest = (item) => compare(item[rk], lo) >= 0 && compare(item[rk], hi) <= 0;
    } else if (rest.length === 3 && ['=', '<', '<=', '>', '>='].includes(rest[1]!)) {
      if (resolveName(rest[0]!, ctx, expression) !== rk) throw new NotImplementedInSimulator(`Query KeyConditionExpression "${expression}"`);
      const v = resolveValue(rest[2]!, ctx);
      const op = rest[1]!;
      rangeTest = (item) => {
        const c = compare(item[rk], v);
        return op === '=' ? c === 0 : op === '<' ? c < 0 : op === '<=' ? c <= 0 : op === '>' ? c > 0 : c >= 0;
      };
    } else {
      throw new NotImplementedInSimulator(`Query KeyConditionExpression "${expression}"`);
    }
  }
  const partition = table.partitions.get(JSON.stringify(scalar(hashValue) ?? null));
  let items = [...(partition?.values() ?? [])].filter((item) => equal(item[table.hashKey], hashValue) && rangeTest(item));
  if (table.rangeKey) {
    const rk = table.rangeKey;
    items.sort((a, b) => compare(a[rk], b[rk]));
  }
  if (input.ScanIndexForward === false) items.reverse();
  if (input.ExclusiveStartKey) {
    const startKey = keyOf(table, input.ExclusiveStartKey, 'ExclusiveStartKey');
    const index = items.findIndex((item) => keyOf(table, item, 'item') === startKey);
    items = index >= 0 ? items.slice(index + 1) : items;
  }
  let last: Item | undefined;
  if (input.Limit !== undefined && items.length > input.Limit) {
    items = items.slice(0, input.Limit);
    const tail = items[items.length - 1]!;
    last = { [table.hashKey]: tail[table.hashKey]!, ...(table.rangeKey ? { [table.rangeKey]: tail[table.rangeKey]! } : {}) };
  }
  const out = items.map((item) => structuredClone(item));
  if (input.Select === 'COUNT') return { Count: out.length, ScannedCount: out.length, ...(last ? { LastEvaluatedKey: last } : {}) };
  return { Items: out, Count: out.length, ScannedCount: out.length, ...(last ? { LastEvaluatedKey: last } : {}) };
}
