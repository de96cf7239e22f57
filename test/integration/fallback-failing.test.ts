/**
 * A fall-back whose on-demand launches fail, against moto server through the fault proxy (issue 14): moto's
 * launches never fail, so once the group has fallen back the proxy answers DescribeScalingActivities for it the
 * way AWS does when the on-demand launch is refused (StatusCode Failed, EC2's reason in StatusMessage;
 * ../shared/reference/aws.md §2.13 and §3.6). The real price-check handler reads it as "the fall-back did not
 * restore capacity": one SNS message, the state records it, no swap back and no retry of the swap.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CreateOrUpdateTagsCommand } from '@aws-sdk/client-auto-scaling';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { startAwsProxy, type AwsProxy } from '../support/aws-proxy';
import { startMoto, type MotoServer } from '../support/moto';
import { buildDemoFarm, clientsFor, type DemoFarm } from '../../scripts/lib/demo-farm';
import { clocked, lambdaContext } from '../support/lambda';
import type { PriceCheckSummary } from '../../src/market/run';
import type { MarketState } from '../../src/market/state';

type Handler = (event: unknown, context: unknown) => Promise<PriceCheckSummary>;

const T0 = Date.parse('2026-03-02T10:00:00Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

const REFUSAL =
  'We currently do not have sufficient c5.large capacity in the Availability Zone you requested (us-east-1a). Our system will be working on provisioning additional capacity. You can currently get c5.large capacity by not specifying an Availability Zone in your request or choosing us-east-1b. Launching EC2 instance failed.';

/** A DescribeScalingActivities reply (awsQuery XML) holding one failed launch of `group` at `time`. */
function failedLaunchPage(group: string, time: string): string {
  const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return `<DescribeScalingActivitiesResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">
  <DescribeScalingActivitiesResult>
    <Activities>
      <member>
        <ActivityId>5e3b2a1c-0f4d-4c1e-9b7a-2d6f8e9a0b1c</ActivityId>
        <AutoScalingGroupName>${group}</AutoScalingGroupName>
        <Description>${escape(`Launching a new EC2 instance.  Status Reason: ${REFUSAL}`)}</Description>
        <Cause>${escape(`At ${time} an instance was started in response to a difference between desired and actual capacity, increasing the capacity from 1 to 2.`)}</Cause>
        <StartTime>${time}</StartTime>
        <EndTime>${time}</EndTime>
        <StatusCode>Failed</StatusCode>
        <StatusMessage>${escape(REFUSAL)}</StatusMessage>
        <Progress>100</Progress>
        <Details>{&quot;Subnet ID&quot;:&quot;subnet-0a1b2c3d&quot;,&quot;Availability Zone&quot;:&quot;us-east-1a&quot;}</Details>
      </member>
    </Activities>
  </DescribeScalingActivitiesResult>
  <ResponseMetadata><RequestId>7c1d9b2e-3f4a-4b5c-8d6e-9f0a1b2c3d4e</RequestId></ResponseMetadata>
</DescribeScalingActivitiesResponse>`;
}

describe('price-check: a fall-back whose on-demand launches fail (moto + fault proxy)', () => {
  let moto: MotoServer;
  let proxy: AwsProxy;
  let farm: DemoFarm;
  let handler: Handler;
  let clients: ReturnType<typeof clientsFor>;
  let inboxUrl: string;
  let readMarketState: typeof import('../../src/market/state').readMarketState;

  const invoke = (payload: unknown) => handler(payload, lambdaContext('price-check'));
  const state = async (): Promise<MarketState | undefined> => (await readMarketState(farm.stateTable, farm.spotGroup)).state;
  const subjects = async (): Promise<string[]> => {
    const out: string[] = [];
    for (;;) {
      const page = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: inboxUrl, MaxNumberOfMessages: 10 }));
      if (!page.Messages?.length) return out;
      for (const m of page.Messages) {
        out.push((JSON.parse(m.Body!) as { Subject?: string }).Subject ?? '');
        await clients.sqs.send(new DeleteMessageCommand({ QueueUrl: inboxUrl, ReceiptHandle: m.ReceiptHandle }));
      }
    }
  };

  beforeAll(async () => {
    moto = await startMoto();
    proxy = await startAwsProxy({ target: moto.endpoint });
    farm = await buildDemoFarm({ endpoint: moto.endpoint, spotDesired: 2 });
    clients = clientsFor(moto.endpoint);
    // moto prices spot at 0.00001 USD/h: a tiny swapRatio makes the price rule fall back after two checks.
    await clients.autoscaling.send(
      new CreateOrUpdateTagsCommand({
        Tags: Object.entries({ 'spotfarm:farm': farm.farm, 'spotfarm:role': 'spot', 'spotfarm:swapRatio': '0.0001', 'spotfarm:hysteresis': '0' }).map(
          ([Key, Value]) => ({ Key, Value, PropagateAtLaunch: false, ResourceId: farm.spotGroup, ResourceType: 'auto-scaling-group' }),
        ),
      }),
    );
    const sns = new SNSClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const topic = await sns.send(new CreateTopicCommand({ Name: 'spotfarm-alerts' }));
    inboxUrl = (await clients.sqs.send(new CreateQueueCommand({ QueueName: 'alerts-inbox' }))).QueueUrl!;
    const inboxArn = (await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: inboxUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    await sns.send(new SubscribeCommand({ TopicArn: topic.TopicArn, Protocol: 'sqs', Endpoint: inboxArn }));

    vi.stubEnv('AWS_ENDPOINT_URL', proxy.endpoint);
    vi.stubEnv('SPOTFARM_STATE_TABLE', farm.stateTable);
    vi.stubEnv('SPOTFARM_TOPIC_ARN', topic.TopicArn!);
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
    const { resetConfigCache } = await import('../../src/config');
    resetConfigCache();
    ({ handler } = (await import('../../functions/price-check')) as unknown as { handler: Handler });
    handler = clocked(handler, await import('../../src/clock'));
    ({ readMarketState } = await import('../../src/market/state'));
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await proxy?.stop();
    await moto?.stop();
  });

  it('falls back, reads the refused on-demand launch as a signal, tells once, and neither swaps back nor retries', async () => {
    // Prepare: two checks with spot "above" on-demand x swapRatio: the group falls back.
    await invoke({ time: at(0) });
    await invoke({ time: at(5) });
    expect(await state()).toMatchObject({ market: 'on-demand', lastFallbackTrigger: 'price' });
    expect(await subjects()).toContain(`spotfarm: ${farm.spotGroup} now launches on-demand`);
    const updatesAfterFallBack = proxy.forwarded('UpdateAutoScalingGroup');
    // The on-demand launch after the fall-back is refused (what AWS would list; moto never fails a launch).
    proxy.setRules([
      {
        service: 'autoscaling',
        operation: 'DescribeScalingActivities',
        when: (call) => call.body.includes(`AutoScalingGroupName=${encodeURIComponent(farm.spotGroup)}`),
        fault: { kind: 'answer', body: failedLaunchPage(farm.spotGroup, at(7)) },
      },
    ]);

    // Act
    const first = await invoke({ time: at(10) });
    const second = await invoke({ time: at(15) });

    // Assess
    const reason = first.groups.find((g) => g.asgName === farm.spotGroup)?.reason ?? '';
    expect(reason).toMatch(/the fall-back did not restore capacity: 1 on-demand launch\(es\) failed .*We currently do not have sufficient c5\.large capacity/);
    expect(reason).toMatch(/dwell left/);
    expect(second.groups.find((g) => g.asgName === farm.spotGroup)?.reason).toMatch(/did not restore capacity/);
    expect(await state()).toMatchObject({ market: 'on-demand', fallbackFailing: { since: expect.any(String), message: REFUSAL } });
    const told = await subjects();
    expect(told).toEqual([`spotfarm: ${farm.spotGroup} fell back to on-demand, but its on-demand launches fail`]);
    expect(proxy.forwarded('UpdateAutoScalingGroup')).toBe(updatesAfterFallBack);
    expect(proxy.faultsInjected('answer')).toBeGreaterThanOrEqual(2);
  });
});
