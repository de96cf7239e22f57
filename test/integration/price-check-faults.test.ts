/**
 * Throttling and 5xx injected on every AWS call of the real `price-check` handler, against moto server: the
 * first attempt of every request fails (alternately Throttling and 503), inside the SDK's retry middleware, so
 * what is tested is the SDK's real retry of our real calls. The swap completes once, and is recorded once.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CreateOrUpdateTagsCommand, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeLaunchTemplateVersionsCommand } from '@aws-sdk/client-ec2';
import { startMoto, type MotoServer } from '../support/moto';
import { buildDemoFarm, clientsFor, type DemoFarm } from '../../scripts/lib/demo-farm';
import { clocked, lambdaContext } from '../support/lambda';
import type { PriceCheckSummary } from '../../src/market/run';

type Handler = (event: unknown, context: unknown) => Promise<PriceCheckSummary>;

/** The part of the SDK's middleware stack used here, the same for every client. */
interface MiddlewareStack {
  add(
    middleware: (next: (args: unknown) => Promise<unknown>, context: object) => (args: unknown) => Promise<unknown>,
    options: { step: string; name: string; priority?: string },
  ): void;
}

describe('price-check with throttling and 5xx on every call', () => {
  let moto: MotoServer;
  let farm: DemoFarm;
  let handler: Handler;
  const calls = new Map<string, number>();
  const attempts = new Map<string, number>();

  beforeAll(async () => {
    moto = await startMoto();
    farm = await buildDemoFarm({ endpoint: moto.endpoint, spotDesired: 2 });
    vi.stubEnv('AWS_ENDPOINT_URL', moto.endpoint);
    vi.stubEnv('SPOTFARM_STATE_TABLE', farm.stateTable);
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
    const { resetConfigCache } = await import('../../src/config');
    resetConfigCache();
    ({ handler } = (await import('../../functions/price-check')) as unknown as { handler: Handler });
    handler = clocked(handler, await import('../../src/clock'));
    // Spot "dear" at once (swapRatio tiny, one check confirms): the next check falls back. (moto keeps groups at
    // their desired capacity, so capacity failures alone would not: the group is never short.)
    await clientsFor(moto.endpoint).autoscaling.send(
      new CreateOrUpdateTagsCommand({
        Tags: [
          ['spotfarm:swapRatio', '0.0001'],
          ['spotfarm:hysteresis', '0'],
          ['spotfarm:confirmChecks', '1'],
        ].map(([Key, Value]) => ({ Key, Value, PropagateAtLaunch: false, ResourceId: farm.spotGroup, ResourceType: 'auto-scaling-group' })),
      }),
    );

    const { autoScalingClient } = await import('../../src/aws/autoscaling');
    const { ec2Client } = await import('../../src/aws/ec2');
    const { dynamoClient } = await import('../../src/aws/state-store');
    let n = 0;
    for (const client of [autoScalingClient, ec2Client, dynamoClient]) {
      const seen = new WeakSet<object>();
      (client.middlewareStack as unknown as MiddlewareStack).add(
        (next, context) => async (args) => {
          const name = String((context as { commandName?: string }).commandName);
          attempts.set(name, (attempts.get(name) ?? 0) + 1);
          if (!seen.has(context)) {
            // The first attempt of every request fails, the way AWS answers when it throttles or hiccups.
            seen.add(context);
            calls.set(name, (calls.get(name) ?? 0) + 1);
            n++;
            const throttle = n % 2 === 0;
            throw Object.assign(new Error(throttle ? 'Rate exceeded' : 'Service Unavailable'), {
              name: throttle ? 'Throttling' : 'ServiceUnavailable',
              $fault: throttle ? 'client' : 'server',
              $metadata: { httpStatusCode: throttle ? 400 : 503 },
              ...(throttle ? { $retryable: { throttling: true } } : {}),
            });
          }
          return next(args);
        },
        // Inside the retry loop: the deserialize step runs once per attempt.
        { step: 'deserialize', name: 'injectFaults', priority: 'high' },
      );
    }
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await moto?.stop();
  });

  it('every call is retried by the SDK and the swap completes exactly once', async () => {
    // Act
    const summary = await handler({ time: '2026-03-02T10:00:00Z' }, lambdaContext('price-check'));
    // Assess: the fall-back happened
    expect(summary.groups.find((g) => g.asgName === farm.spotGroup)).toMatchObject({ outcome: 'swapped', action: 'swapToOnDemand' });
    // ... every request was attempted twice: once failed, once answered
    expect(calls.size).toBeGreaterThan(5);
    for (const [name, count] of calls) expect(attempts.get(name), name).toBe(2 * count);
    expect(calls.get('CreateLaunchTemplateCommand')).toBe(1);
    expect(calls.get('UpdateAutoScalingGroupCommand')).toBe(1);
    // ... and its effect is there once: one on-demand copy (spotfarm's own template), the group pinned to it, and
    // the owner's template untouched
    const { autoscaling, ec2 } = clientsFor(moto.endpoint);
    const versions = await ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateName: farm.spotTemplate }));
    expect(versions.LaunchTemplateVersions).toHaveLength(1);
    const group = (await autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [farm.spotGroup] }))).AutoScalingGroups![0]!;
    expect(group.LaunchTemplate?.LaunchTemplateName).toMatch(/^spotfarm-on-demand-lt-/);
    expect(group.LaunchTemplate?.Version).toBe('1');
    const { readMarketState } = await import('../../src/market/state');
    const { state } = await readMarketState(farm.stateTable, farm.spotGroup);
    expect(state).toMatchObject({ market: 'on-demand', lastFallbackTrigger: 'price' });
    expect(state?.pending).toBeUndefined();
  });
});
