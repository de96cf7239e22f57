/**
 * On-demand last: the agent learns at start whether its group is the farm's on-demand group (tagged
 * spotfarm:role=on-demand) and then takes new work after the farm's other instances (worker/policy.ts planReceive;
 * test/worker/busy-first.test.ts shows the order it makes). Against moto: the group's tags, read once. A refused read
 * (no autoscaling:DescribeAutoScalingGroups on the instance role) only costs the order, with a warning saying so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { createImdsClient, runWorker, type WorkerOptions } from '../../worker/index';
import { receiveOrder } from '../../worker/receive-order';
import { startMoto, type MotoServer } from '../support/moto';
import { startFakeImds, type FakeImds } from '../../worker/fake-imds';
import { clients, collectLog, createGroup, createQueue, until } from './farm';

const FAST = { receiveWaitSeconds: 1, metadataPollSeconds: 0.1 } satisfies Partial<WorkerOptions>;

describe('on-demand last: the agent reads its group role on moto', () => {
  let moto: MotoServer;
  let sqs: SQSClient;
  let autoScaling: AutoScalingClient;
  let ec2: EC2Client;
  const servers: FakeImds[] = [];

  beforeAll(async () => {
    moto = await startMoto();
    ({ sqs, autoScaling, ec2 } = clients(moto.endpoint));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await moto?.stop();
  });

  /** Runs an agent on the one instance of a new group tagged `tags` until it has looked; returns its receive_order line. */
  async function orderOf(name: string, tags: Record<string, string>) {
    const { instanceId } = await createGroup(autoScaling, ec2, name, { 'spotfarm:farm': 'ml', ...tags });
    const imds = await startFakeImds({ instanceId });
    servers.push(imds);
    const queueUrl = await createQueue(sqs, `${name}-jobs`, 30, []);
    const { log, events } = collectLog();
    const handle = runWorker({ ...FAST, queueUrl, sqs, autoScaling, metadata: createImdsClient({ endpoint: imds.endpoint }), process: async () => undefined, log });
    await until(() => events('receive_order').length > 0 || events('exit').length > 0);
    handle.stop();
    await handle.done;
    return events('receive_order');
  }

  it("an instance of the farm's on-demand group takes new work last", async () => {
    // Act
    const lines = await orderOf('od-workers', { 'spotfarm:role': 'on-demand' });
    // Assess
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', group: 'od-workers', last: true });
    expect(String(lines[0]!.reason)).toContain("the farm's on-demand group");
  });

  it('an instance of the spot group, or of an untagged group, receives busy-first only', async () => {
    // Act
    const spot = await orderOf('spot-workers', { 'spotfarm:role': 'spot' });
    const plain = await orderOf('plain-workers', {});
    // Assess
    expect(spot[0]).toMatchObject({ group: 'spot-workers', last: false });
    expect(plain[0]).toMatchObject({ group: 'plain-workers', last: false });
    expect(String(plain[0]!.reason)).toContain('not tagged spotfarm:role');
  });
});

describe('receiveOrder when the group cannot be read', () => {
  it('a refused DescribeAutoScalingGroups leaves the order busy-first and says what to grant', async () => {
    // Prepare
    const client = new AutoScalingClient({ region: 'us-east-1' });
    const mock = mockClient(client);
    mock.on(DescribeAutoScalingGroupsCommand).rejects(Object.assign(new Error('User is not authorized to perform: autoscaling:DescribeAutoScalingGroups'), { name: 'AccessDenied' }));
    // Act
    const order = await receiveOrder(client, 'od-workers');
    // Assess
    expect(order).toMatchObject({ last: false, failed: true });
    expect(order.reason).toMatch(/AccessDenied.*grant autoscaling:DescribeAutoScalingGroups/);
    mock.restore();
  });

  it('a read that never answers gives up after the timeout and leaves the order busy-first', async () => {
    // Prepare: a reply that never comes (a lost reply: the call hangs).
    const client = new AutoScalingClient({ region: 'us-east-1' });
    const mock = mockClient(client);
    mock.on(DescribeAutoScalingGroupsCommand).callsFake(() => new Promise(() => {}));
    // Act
    // (Without the timeout this await never ends and the test times out.)
    const order = await receiveOrder(client, 'od-workers', 200);
    // Assess
    expect(order).toMatchObject({ last: false, failed: true });
    expect(order.reason).toMatch(/TimeoutError: no answer within 0.2s/);
    mock.restore();
  });

  it('a group that is gone leaves the order busy-first', async () => {
    // Prepare
    const client = new AutoScalingClient({ region: 'us-east-1' });
    const mock = mockClient(client);
    mock.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
    // Act
    const order = await receiveOrder(client, 'gone');
    // Assess
    expect(order).toMatchObject({ last: false, failed: false });
    mock.restore();
  });
});
