/**
 * A fake EC2 instance metadata service (IMDSv2 only) on 127.0.0.1, for the worker's tests and for
 * trying the worker on a laptop: a session token from PUT /latest/api/token, 401 on a GET without
 * it, and a spot/instance-action and rebalance recommendation switched on and off either from code
 * or over HTTP:
 *
 *   npx tsx worker/fake-imds.ts [--port 1338] [--instance-id i-... | --group NAME]
 *   curl -X POST 'http://127.0.0.1:1338/spotfarm/interrupt?in=120'   # notice, deadline in 120 s
 *   curl -X POST  http://127.0.0.1:1338/spotfarm/rebalance
 *   curl -X POST  http://127.0.0.1:1338/spotfarm/clear
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

export interface FakeImds {
  endpoint: string;
  instanceId: string;
  /** Schedules (or with undefined, clears) an interruption `seconds` from now. */
  setInstanceAction(seconds: number | undefined, action?: string): void;
  setRebalance(on: boolean): void;
  /** Serves `text` verbatim as spot/instance-action (for answers IMDS should never give), undefined for 404. */
  setInstanceActionRaw(text: string | undefined): void;
  /** Forgets every session token, as IMDS does when one expires: the next GET gets 401. */
  expireTokens(): void;
  /** Every request, as "METHOD path status". */
  requests: string[];
  close(): Promise<void>;
}

export async function startFakeImds(options: { instanceId?: string; port?: number } = {}): Promise<FakeImds> {
  const instanceId = options.instanceId ?? 'i-0123456789abcdef0';
  const tokens = new Set<string>();
  let issued = 0;
  let instanceAction: string | undefined;
  let rebalance: string | undefined;
  const requests: string[] = [];

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, body = ''): void => {
      requests.push(`${req.method} ${req.url} ${status}`);
      res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
    };
    if (req.method === 'PUT' && req.url === '/latest/api/token') {
      const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21_600) return send(400);
      const token = `token-${++issued}`;
      tokens.add(token);
      return send(200, token);
    }
    // Control routes for people trying the worker by hand; never part of the real IMDS.
    if (req.method === 'POST' && req.url?.startsWith('/spotfarm/')) {
      const url = new URL(req.url, 'http://fake');
      if (url.pathname === '/spotfarm/interrupt') {
        fake.setInstanceAction(Number(url.searchParams.get('in') ?? '120'), url.searchParams.get('action') ?? 'terminate');
        return send(200, `${instanceAction}\n`);
      }
      if (url.pathname === '/spotfarm/rebalance') {
        fake.setRebalance(true);
        return send(200, `${rebalance}\n`);
      }
      if (url.pathname === '/spotfarm/clear') {
        fake.setInstanceAction(undefined);
        fake.setRebalance(false);
        return send(200, 'cleared\n');
      }
      return send(404);
    }
    if (req.method !== 'GET') return send(405);
    const token = req.headers['x-aws-ec2-metadata-token'];
    if (typeof token !== 'string' || !tokens.has(token)) return send(401);
    switch (req.url) {
      case '/latest/meta-data/instance-id':
        return send(200, instanceId);
      case '/latest/meta-data/spot/instance-action':
        return instanceAction === undefined ? send(404) : send(200, instanceAction);
      case '/latest/meta-data/events/recommendations/rebalance':
        return rebalance === undefined ? send(404) : send(200, rebalance);
      default:
        return send(404);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;

  const fake: FakeImds = {
    endpoint: `http://127.0.0.1:${port}`,
    instanceId,
    requests,
    setInstanceAction(seconds, action = 'terminate') {
      instanceAction =
        seconds === undefined
          ? undefined
          : JSON.stringify({ action, time: new Date(Date.now() + seconds * 1000).toISOString().replace(/\.\d+Z$/, 'Z') });
    },
    setInstanceActionRaw(text) {
      instanceAction = text;
    },
    expireTokens() {
      tokens.clear();
    },
    setRebalance(on) {
      rebalance = on ? JSON.stringify({ noticeTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }) : undefined;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return fake;
}

/** The first instance of an Auto Scaling group (through AWS_ENDPOINT_URL, e.g. `npm run local`'s moto). */
async function instanceOf(group: string): Promise<string> {
  const { AutoScalingClient, DescribeAutoScalingGroupsCommand } = await import('@aws-sdk/client-auto-scaling');
  const client = new AutoScalingClient({ region: process.env.AWS_REGION ?? 'us-east-1' });
  const out = await client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group] }));
  const id = out.AutoScalingGroups?.[0]?.Instances?.[0]?.InstanceId;
  if (id === undefined) throw new Error(`auto scaling group ${group} has no instance (is AWS_ENDPOINT_URL set?)`);
  return id;
}

if (typeof require !== 'undefined' && require.main === module) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '1338' },
      'instance-id': { type: 'string' },
      group: { type: 'string' },
    },
  });
  const group = values.group;
  Promise.resolve(group === undefined ? values['instance-id'] : instanceOf(group))
    .then((instanceId) => startFakeImds({ port: Number(values.port), ...(instanceId ? { instanceId } : {}) }))
    .then(
      (fake) => {
        console.log(`fake instance metadata on ${fake.endpoint} (instance ${fake.instanceId}); for the worker:`);
        console.log(`  export SPOTFARM_IMDS_ENDPOINT=${fake.endpoint}`);
        console.log(`interrupt:  curl -X POST '${fake.endpoint}/spotfarm/interrupt?in=120'`);
        console.log(`rebalance:  curl -X POST ${fake.endpoint}/spotfarm/rebalance`);
        console.log(`clear:      curl -X POST ${fake.endpoint}/spotfarm/clear`);
      },
      (error: unknown) => {
        console.error(`fake-imds: ${error instanceof Error ? error.message : String(error)}`);
        process.exitCode = 1;
      },
    );
}
