/**
 * A fake EC2 instance metadata service (IMDSv2 only) on 127.0.0.1 for worker tests: a session token
 * from PUT /latest/api/token, 401 on a GET without it, and a spot/instance-action and rebalance
 * recommendation the test switches on and off.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeImds {
  endpoint: string;
  /** Schedules (or with undefined, clears) an interruption `seconds` from now. */
  setInstanceAction(seconds: number | undefined, action?: string): void;
  setRebalance(on: boolean): void;
  /** Every request, as "METHOD path status". */
  requests: string[];
  close(): Promise<void>;
}

export async function startFakeImds(options: { instanceId?: string } = {}): Promise<FakeImds> {
  const instanceId = options.instanceId ?? 'i-0123456789abcdef0';
  const tokens = new Set<string>();
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
      const token = `token-${tokens.size + 1}`;
      tokens.add(token);
      return send(200, token);
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
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    setInstanceAction(seconds, action = 'terminate') {
      instanceAction =
        seconds === undefined
          ? undefined
          : JSON.stringify({ action, time: new Date(Date.now() + seconds * 1000).toISOString().replace(/\.\d+Z$/, 'Z') });
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
}
