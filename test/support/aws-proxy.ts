/**
 * A fault-injecting HTTP proxy in front of moto server, for integration tests.
 *
 * Point the SDK at it (`AWS_ENDPOINT_URL=proxy.endpoint`) and every AWS call goes through it. Per request, the first
 * rule that fires can delay the request, delay the reply, answer with the service's own throttling error, answer
 * 5xx, reset the connection before the request reaches moto, reset it after moto handled it (a lost reply: the
 * mutation happened, the caller does not know), refuse the call (AccessDenied in the service's shape), or answer
 * in moto's place with a body the test gives (what AWS answers and moto cannot). Every
 * request is counted per operation, with what was done to it, so a test can say "3 writes reached moto" or "the
 * fault suite injected 41 faults".
 *
 * Error shapes follow the service's protocol, so that the real SDK parses them into the error a real AWS answer
 * gives (name, $fault, retryability):
 * - awsQuery (Auto Scaling, SNS, IAM, STS, CloudFormation): `<ErrorResponse><Error><Type/><Code/><Message/></Error>`
 *   https://docs.aws.amazon.com/autoscaling/ec2/APIReference/CommonErrors.html (Throttling, 400)
 * - ec2Query: `<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>`
 *   https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html (RequestLimitExceeded,
 *   UnauthorizedOperation) and https://docs.aws.amazon.com/AWSEC2/latest/APIReference/throttling.html (503)
 * - awsJson 1.0/1.1 (DynamoDB, SQS, CloudWatch, Pricing): `{"__type": "...#Code", "message": ...}`; SQS, being
 *   "query compatible", also sends `x-amzn-query-error: Code;Sender`
 *   https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/CommonErrors.html (ThrottlingException,
 *   AccessDeniedException) and https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html
 *
 * The service of a request is read from its SigV4 credential scope (`Credential=AKID/date/region/SERVICE/...`),
 * which is also how moto routes it; the operation from `X-Amz-Target` (JSON protocols) or `Action=` (query).
 *
 * SQS: the SDK sends a call to the host of its QueueUrl (useQueueUrlAsEndpoint), not to AWS_ENDPOINT_URL. The
 * proxy forwards the caller's Host header, so queue URLs moto hands out through it (GetQueueUrl, CreateQueue)
 * name the proxy; a URL obtained from moto directly bypasses it: rewrite it with
 * `queueUrl.replace(moto.endpoint, proxy.endpoint)`.
 */
import { request as httpRequest, createServer, Agent, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { mulberry32 } from '../../sim/rng';

/** What the proxy does to one request. */
export type Fault =
  /** Wait `ms` before forwarding (the request reaches moto late). */
  | { kind: 'delay'; ms: number }
  /** Forward at once, hold moto's answer `ms` before sending it. */
  | { kind: 'delayReply'; ms: number }
  /** The service's throttling error (Throttling, RequestLimitExceeded, ThrottlingException). */
  | { kind: 'throttle' }
  /** A 5xx with the service's error shape (default 503 ServiceUnavailable). */
  | { kind: 'serverError'; status?: 500 | 502 | 503 | 504 }
  /** TCP reset before anything reaches moto. */
  | { kind: 'resetBefore' }
  /** Forward, let moto do it, then reset instead of replying: a lost reply. */
  | { kind: 'resetAfter' }
  /** Refuse the call, by default with the service's access-denied error. */
  | { kind: 'refuse'; code?: string; message?: string; status?: number }
  /**
   * Answer in moto's place with this body (nothing reaches moto): what AWS answers and moto cannot, e.g. a
   * DescribeScalingActivities page holding a failed launch (moto launches never fail). The body must be in the
   * service's own protocol (XML for query services); the SDK parses it like any reply.
   */
  | { kind: 'answer'; body: string; status?: number; contentType?: string };

export type FaultKind = Fault['kind'];

/** One request, as rules see it. */
export interface ProxyCall {
  /** SigV4 service name: autoscaling, ec2, dynamodb, sqs, sns, monitoring, pricing, ... ('' if unsigned). */
  service: string;
  /** The API operation (e.g. `UpdateAutoScalingGroup`, `PutItem`), '' for non-API requests. */
  operation: string;
  /** The raw request body (form-encoded for query protocols, JSON otherwise). */
  body: string;
  /** How many requests for this operation came before this one (0-based). */
  index: number;
}

export interface FaultRule {
  /** Operations the rule applies to (exact name, list, or pattern); all API calls if absent. */
  operation?: string | readonly string[] | RegExp;
  /** SigV4 service names the rule applies to; all if absent. */
  service?: string | readonly string[];
  /** Extra condition on the call (e.g. the body names one group). */
  when?: (call: ProxyCall) => boolean;
  /** Let the first `skip` matching calls through untouched. */
  skip?: number;
  /** Fire at most this many times. */
  times?: number;
  /** Fire with this probability (from the proxy's seeded RNG); always if absent. */
  probability?: number;
  /** What to do, or a choice made per call (e.g. a random fault kind from the same seeded RNG). */
  fault: Fault | ((call: ProxyCall, random: () => number) => Fault);
}

/** What happened to the requests of one operation. */
export interface OperationCounts {
  /** Requests seen. */
  requests: number;
  /** Requests that reached moto (including those whose reply was then delayed or lost). */
  forwarded: number;
  /** Faults injected, by kind. */
  faults: Partial<Record<FaultKind, number>>;
}

export interface AwsProxy {
  /** e.g. http://127.0.0.1:40124: set AWS_ENDPOINT_URL to it. */
  endpoint: string;
  port: number;
  /** Replaces the rules (in order: the first rule that fires decides). */
  setRules(rules: readonly FaultRule[]): void;
  /** Counts per `service:operation` (e.g. `autoscaling:UpdateAutoScalingGroup`). */
  counts(): Record<string, OperationCounts>;
  /** Total faults injected (all kinds, or one kind). */
  faultsInjected(kind?: FaultKind): number;
  /** Requests of one operation that reached moto (any service if `service` is absent). */
  forwarded(operation: string, service?: string): number;
  /** Clears the counts (the rules and the RNG stay). */
  resetCounts(): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface AwsProxyOptions {
  /** moto's endpoint, e.g. `moto.endpoint`. */
  target: string;
  rules?: readonly FaultRule[];
  /** Seed of the RNG behind `probability` and random fault choices, so a failing run can be replayed. */
  seed?: number;
  port?: number;
}

/** Creates the proxy; `start()` it before use and `stop()` it after. */
export function createAwsProxy(options: AwsProxyOptions): AwsProxy {
  const target = new URL(options.target);
  const random = mulberry32(options.seed ?? 1);
  let rules: readonly FaultRule[] = options.rules ?? [];
  const fired = new Map<FaultRule, { matched: number; fired: number }>();
  const counts = new Map<string, OperationCounts>();
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  // moto answers one keep-alive connection per proxy connection's worth of requests; a pool keeps it cheap.
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  let server: Server | undefined;
  let port = options.port ?? 0;

  const countsOf = (key: string): OperationCounts => {
    let entry = counts.get(key);
    if (!entry) {
      entry = { requests: 0, forwarded: 0, faults: {} };
      counts.set(key, entry);
    }
    return entry;
  };

  const sleep = (ms: number) =>
    new Promise<void>((done) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        done();
      }, ms);
      timers.add(timer);
    });

  function choose(call: ProxyCall): Fault | undefined {
    if (call.operation === '') return undefined;
    for (const rule of rules) {
      if (!matches(rule, call)) continue;
      const state = fired.get(rule) ?? { matched: 0, fired: 0 };
      fired.set(rule, state);
      state.matched++;
      if (rule.skip !== undefined && state.matched <= rule.skip) continue;
      if (rule.times !== undefined && state.fired >= rule.times) continue;
      if (rule.probability !== undefined && !(random() < rule.probability)) continue;
      state.fired++;
      return typeof rule.fault === 'function' ? rule.fault(call, random) : rule.fault;
    }
    return undefined;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const service = serviceOf(req);
    const operation = operationOf(req, body);
    const key = `${service}:${operation}`;
    const entry = countsOf(key);
    const call: ProxyCall = { service, operation, body: body.toString('utf8'), index: entry.requests };
    entry.requests++;
    const fault = choose(call);
    if (fault) entry.faults[fault.kind] = (entry.faults[fault.kind] ?? 0) + 1;

    switch (fault?.kind) {
      case 'resetBefore':
        req.socket.resetAndDestroy();
        return;
      case 'throttle':
        send(res, throttlingError(service));
        return;
      case 'serverError':
        send(res, serverError(service, fault.status ?? 503));
        return;
      case 'refuse':
        send(res, refusal(service, fault));
        return;
      case 'answer':
        send(res, { status: fault.status ?? 200, headers: { 'content-type': fault.contentType ?? 'text/xml' }, body: Buffer.from(fault.body, 'utf8') });
        return;
      case 'delay':
        await sleep(fault.ms);
        break;
      default:
        break;
    }

    const reply = await forward(req, body);
    entry.forwarded++;
    if (fault?.kind === 'resetAfter') {
      req.socket.resetAndDestroy();
      return;
    }
    if (fault?.kind === 'delayReply') await sleep(fault.ms);
    send(res, reply);
  }

  function forward(req: IncomingMessage, body: Buffer): Promise<Reply> {
    return new Promise((resolveReply, reject) => {
      // The caller's Host stays: moto builds SQS queue URLs from it, so URLs it hands out point at the proxy too.
      const headers = { ...req.headers, 'content-length': String(body.length) };
      delete headers.connection;
      delete headers['transfer-encoding'];
      const upstream = httpRequest(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent },
        (response) => {
          readBody(response).then(
            (payload) => {
              const out: Record<string, string | string[]> = {};
              for (const [name, value] of Object.entries(response.headers)) {
                if (value === undefined || ['connection', 'transfer-encoding', 'content-length', 'keep-alive'].includes(name)) continue;
                out[name] = value;
              }
              resolveReply({ status: response.statusCode ?? 502, headers: out, body: payload });
            },
            reject,
          );
        },
      );
      upstream.on('error', reject);
      upstream.end(body);
    });
  }

  return {
    get endpoint() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    setRules(next) {
      rules = next;
    },
    counts() {
      return Object.fromEntries([...counts].map(([key, value]) => [key, { ...value, faults: { ...value.faults } }]));
    },
    faultsInjected(kind) {
      let total = 0;
      for (const entry of counts.values()) {
        for (const [k, n] of Object.entries(entry.faults)) if (kind === undefined || k === kind) total += n;
      }
      return total;
    },
    forwarded(operation, service) {
      let total = 0;
      for (const [key, entry] of counts) {
        const [s, op] = key.split(':');
        if (op === operation && (service === undefined || s === service)) total += entry.forwarded;
      }
      return total;
    },
    resetCounts() {
      counts.clear();
    },
    async start() {
      if (server) return;
      server = createServer((req, res) => {
        handle(req, res).catch((error: unknown) => {
          // moto unreachable or the client went away: a 502 the SDK treats as transient, never a hang.
          if (!res.headersSent && !res.destroyed) send(res, serverError(serviceOf(req), 502, String(error)));
        });
      });
      server.keepAliveTimeout = 5000;
      server.on('connection', (socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
      await new Promise<void>((done, fail) => {
        server!.once('error', fail);
        server!.listen(port, '127.0.0.1', () => {
          const address = server!.address();
          if (address && typeof address !== 'string') port = address.port;
          done();
        });
      });
    },
    async stop() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const closing = server;
      server = undefined;
      if (!closing) return;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((done) => closing.close(() => done()));
      agent.destroy();
    },
  };
}

/** Creates and starts a proxy in one step. */
export async function startAwsProxy(options: AwsProxyOptions): Promise<AwsProxy> {
  const proxy = createAwsProxy(options);
  await proxy.start();
  return proxy;
}

interface Reply {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

function send(res: ServerResponse, reply: Reply): void {
  res.writeHead(reply.status, { ...reply.headers, 'content-length': String(reply.body.length) });
  res.end(reply.body);
}

function readBody(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => done(Buffer.concat(chunks)));
    stream.on('error', fail);
  });
}

/** The SigV4 service of a request: `Credential=AKID/20260301/us-east-1/ec2/aws4_request`. */
export function serviceOf(req: Pick<IncomingMessage, 'headers'>): string {
  const auth = String(req.headers.authorization ?? '');
  const match = /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\//.exec(auth);
  return match?.[1] ?? '';
}

/** The operation: `X-Amz-Target: DynamoDB_20120810.PutItem` or `Action=PutItem` in the query or form body. */
export function operationOf(req: Pick<IncomingMessage, 'headers' | 'url'>, body: Buffer): string {
  const target = req.headers['x-amz-target'];
  if (typeof target === 'string' && target !== '') return target.slice(target.lastIndexOf('.') + 1);
  const query = new URL(req.url ?? '/', 'http://x').searchParams.get('Action');
  if (query) return query;
  const type = String(req.headers['content-type'] ?? '');
  if (type.includes('x-www-form-urlencoded')) return new URLSearchParams(body.toString('utf8')).get('Action') ?? '';
  return '';
}

type Protocol = 'query' | 'ec2' | 'json';

/** Query-XML services known here; anything else signed is taken for a JSON protocol. */
function protocolOf(service: string): Protocol {
  if (service === 'ec2') return 'ec2';
  if (['autoscaling', 'sns', 'iam', 'sts', 'cloudformation'].includes(service)) return 'query';
  return 'json';
}

/** The `__type` namespace of a JSON service's errors (what the real service sends; the SDK keeps the part after #). */
const JSON_NAMESPACE: Record<string, string> = {
  dynamodb: 'com.amazonaws.dynamodb.v20120810',
  sqs: 'com.amazonaws.sqs',
  monitoring: 'com.amazonaws.cloudwatch.v2010_08_01',
  pricing: 'com.amazonaws.pricing.v20171015',
};

let requestCounter = 0;

function errorReply(service: string, status: number, code: string, message: string, type: 'Sender' | 'Receiver'): Reply {
  const requestId = `proxy-${++requestCounter}-0000-0000-0000-000000000000`;
  const protocol = protocolOf(service);
  if (protocol === 'ec2') {
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`;
    return { status, headers: { 'content-type': 'text/xml;charset=UTF-8' }, body: Buffer.from(body) };
  }
  if (protocol === 'query') {
    const body = `<ErrorResponse xmlns="http://${service}.amazonaws.com/doc/"><Error><Type>${type}</Type><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
    return { status, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId }, body: Buffer.from(body) };
  }
  const namespace = JSON_NAMESPACE[service] ?? `com.amazonaws.${service || 'unknown'}`;
  const headers: Record<string, string> = { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': requestId };
  if (service === 'sqs') headers['x-amzn-query-error'] = `${code};${type}`;
  return { status, headers, body: Buffer.from(JSON.stringify({ __type: `${namespace}#${code}`, message })) };
}

function throttlingError(service: string): Reply {
  switch (protocolOf(service)) {
    case 'ec2':
      return errorReply(service, 503, 'RequestLimitExceeded', 'Request limit exceeded.', 'Sender');
    case 'query':
      return errorReply(service, 400, 'Throttling', 'Rate exceeded', 'Sender');
    default:
      return errorReply(service, 400, 'ThrottlingException', 'Rate exceeded', 'Sender');
  }
}

function serverError(service: string, status: number, message = 'Service Unavailable'): Reply {
  const code = status === 500 ? (protocolOf(service) === 'json' ? 'InternalServerError' : 'InternalFailure') : 'ServiceUnavailable';
  return errorReply(service, status, code, message, 'Receiver');
}

function refusal(service: string, fault: Extract<Fault, { kind: 'refuse' }>): Reply {
  const protocol = protocolOf(service);
  const code = fault.code ?? (protocol === 'ec2' ? 'UnauthorizedOperation' : protocol === 'query' ? 'AccessDenied' : 'AccessDeniedException');
  const status = fault.status ?? (protocol === 'json' ? 400 : 403);
  return errorReply(service, status, code, fault.message ?? 'User is not authorized to perform this operation (injected by the test proxy)', 'Sender');
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function matches(rule: FaultRule, call: ProxyCall): boolean {
  if (rule.service !== undefined) {
    const services = typeof rule.service === 'string' ? [rule.service] : rule.service;
    if (!services.includes(call.service)) return false;
  }
  if (rule.operation !== undefined) {
    const op = rule.operation;
    const ok = typeof op === 'string' ? op === call.operation : op instanceof RegExp ? op.test(call.operation) : op.includes(call.operation);
    if (!ok) return false;
  }
  return rule.when === undefined || rule.when(call);
}
