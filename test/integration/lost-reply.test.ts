/**
 * A reply that never comes (src/aws/http.ts): the functions' SDK clients give an unanswered call up after
 * REQUEST_TIMEOUT_MS and retry it, so one reply lost on the way costs a retry, not the invocation. The queue scaler
 * against moto through the fault-injecting proxy, with the first DescribeAutoScalingGroups reply held for two
 * minutes (moto answered; the answer is lost): the invocation completes and sizes the group. Without the bound
 * the call waits until the handler's own Lambda-timeout guard (middy) fails the invocation: the tick is lost.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CreateOrUpdateTagsCommand, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { startMoto, type MotoServer } from '../support/moto';
import { startAwsProxy, type AwsProxy } from '../support/aws-proxy';
import { buildDemoFarm, clientsFor } from '../../scripts/lib/demo-farm';
import { lambdaContext } from '../support/lambda';
import { REQUEST_TIMEOUT_MS } from '../../src/aws/http';

type Handler = (event: unknown, context: unknown) => Promise<unknown>;

describe('a lost reply costs a retry, not the invocation', () => {
  let moto: MotoServer;
  let proxy: AwsProxy;

  beforeAll(async () => {
    moto = await startMoto();
    proxy = await startAwsProxy({ target: moto.endpoint });
    vi.stubEnv('AWS_ENDPOINT_URL', proxy.endpoint);
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await proxy?.stop();
    await moto?.stop();
  });

  it('queue-scaler: the first DescribeAutoScalingGroups reply held two minutes, the invocation retries it and sizes the group', { timeout: 60_000 }, async () => {
    // Prepare: 6 messages, 2 per instance -> 3 instances.
    const farm = await buildDemoFarm({ endpoint: moto.endpoint, farm: 'lost', spotDesired: 1, messages: 6, stateTable: 'lost-reply-state' });
    const direct = clientsFor(moto.endpoint);
    await direct.autoscaling.send(
      new CreateOrUpdateTagsCommand({
        Tags: [{ Key: 'spotfarm:backlogPerInstance', Value: '2', PropagateAtLaunch: false, ResourceId: farm.spotGroup, ResourceType: 'auto-scaling-group' }],
      }),
    );
    vi.stubEnv('SPOTFARM_FARM', farm.farm);
    vi.stubEnv('SPOTFARM_STATE_TABLE', farm.stateTable);
    const { resetConfigCache } = await import('../../src/config');
    resetConfigCache();
    const { handler } = (await import('../../functions/queue-scaler')) as { handler: Handler };
    proxy.resetCounts();
    proxy.setRules([{ operation: 'DescribeAutoScalingGroups', times: 1, fault: { kind: 'delayReply', ms: 120_000 } }]);
    // Act
    try {
      await handler(
        {
          version: '0',
          id: 'lost-reply-1',
          'detail-type': 'Scheduled Event',
          source: 'aws.events',
          account: '123456789012',
          time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
          region: 'us-east-1',
          resources: ['arn:aws:events:us-east-1:123456789012:rule/spotfarm-test-queue-scaler'],
          detail: {},
        },
        lambdaContext('queue-scaler'),
      );
    } finally {
      proxy.setRules([]);
    }
    // Assess: the held reply was given up and the call made again; the group is sized from the backlog.
    const counts = proxy.counts()['autoscaling:DescribeAutoScalingGroups'];
    expect(counts?.faults.delayReply).toBe(1);
    expect(counts?.forwarded).toBeGreaterThanOrEqual(2);
    const group = (await direct.autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [farm.spotGroup] }))).AutoScalingGroups![0]!;
    expect(group.DesiredCapacity).toBe(3);
    expect(REQUEST_TIMEOUT_MS).toBeLessThan(60_000);
  });
});
