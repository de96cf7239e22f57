/**
 * The races of issue 11 against moto server, through the project's delaying proxy (test/support/aws-proxy.ts), with
 * the real handlers: a slow claim racing a retried earlier tick; 20 rounds of 4 parallel price checks; 10 parallel
 * copies of a breaker-tripping warning. Each ends with exactly one swap, the state matching the group's launch
 * source, and the group back on spot once spot is cheap again. The handlers' wall clock (src/clock.ts) is set by
 * the test, so the dwell between rounds passes without waiting.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  CreateOrUpdateTagsCommand,
  DescribeAutoScalingGroupsCommand,
  UpdateAutoScalingGroupCommand,
  type AutoScalingGroup,
} from '@aws-sdk/client-auto-scaling';
import { DescribeLaunchTemplateVersionsCommand } from '@aws-sdk/client-ec2';
import { startMoto, type MotoServer } from '../support/moto';
import { startAwsProxy, type AwsProxy } from '../support/aws-proxy';
import { buildDemoFarm, clientsFor, type DemoFarm } from '../../scripts/lib/demo-farm';
import { lambdaContext } from '../support/lambda';
import type { PriceCheckSummary } from '../../src/market/run';
import type { InterruptionResult } from '../../src/interruption/summary';

type Handler<R> = (event: unknown, context: unknown) => Promise<R>;

const ACCOUNT = '123456789012';
const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
const envelope = (source: string, detailType: string, id: string, timeMs: number, detail: unknown, resources: string[] = []) => ({
  version: '0',
  id,
  'detail-type': detailType,
  source,
  account: ACCOUNT,
  time: iso(timeMs),
  region: 'us-east-1',
  resources,
  detail,
});
const tick = (id: string, timeMs: number) =>
  envelope('aws.events', 'Scheduled Event', id, timeMs, {}, [`arn:aws:events:us-east-1:${ACCOUNT}:rule/spotfarm-test-price-check`]);
const warning = (instanceId: string, timeMs: number, id: string) =>
  envelope('aws.ec2', 'EC2 Spot Instance Interruption Warning', id, timeMs, { 'instance-id': instanceId, 'instance-action': 'terminate' }, [
    `arn:aws:ec2:us-east-1:${ACCOUNT}:instance/${instanceId}`,
  ]);

describe('races between checks, through a delaying proxy in front of moto (issue 11)', () => {
  let moto: MotoServer;
  let proxy: AwsProxy;
  let farm: DemoFarm;
  let priceCheck: Handler<PriceCheckSummary>;
  let interruption: Handler<InterruptionResult>;
  let setWallClock: (next: () => number) => void;
  let clients: ReturnType<typeof clientsFor>;
  /**
   * The handlers' wall clock, moved by the test. It starts at moto's clock once the farm is built: moto stamps
   * LaunchTime with its own (real) clock, and the market controller measures a pool's exposure from launch times,
   * so the instances must have been launched before the handlers' now (they then age as the test moves it).
   */
  let now = 0;

  const group = async (name: string): Promise<AutoScalingGroup> =>
    (await clients.autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }))).AutoScalingGroups![0]!;
  /**
   * What new instances of the spot group launch as: the market of the template version it names (the owner's
   * template on spot, spotfarm's own `spotfarm-on-demand-<id>` after a fall-back).
   */
  const launches = async (): Promise<'spot' | 'on-demand'> => {
    const { LaunchTemplateId, LaunchTemplateName, Version } = (await group(farm.spotGroup)).LaunchTemplate!;
    const versions = await clients.ec2.send(
      new DescribeLaunchTemplateVersionsCommand(
        LaunchTemplateId ? { LaunchTemplateId, Versions: [Version!] } : { LaunchTemplateName, Versions: [Version!] },
      ),
    );
    return versions.LaunchTemplateVersions![0]!.LaunchTemplateData!.InstanceMarketOptions?.MarketType === 'spot' ? 'spot' : 'on-demand';
  };
  const stored = async () => {
    const { readMarketState } = await import('../../src/market/state');
    return (await readMarketState(farm.stateTable, farm.spotGroup)).state;
  };
  const tag = (pairs: Record<string, string>) =>
    clients.autoscaling.send(
      new CreateOrUpdateTagsCommand({
        Tags: Object.entries(pairs).map(([Key, Value]) => ({ Key, Value, PropagateAtLaunch: false, ResourceId: farm.spotGroup, ResourceType: 'auto-scaling-group' })),
      }),
    );
  /** Spot dear (every check falls back) or cheap (every check past the dwell returns). */
  const spotIs = (price: 'dear' | 'cheap') => tag({ 'spotfarm:swapRatio': price === 'dear' ? '0.0001' : '50' });
  const swaps = (results: PromiseSettledResult<PriceCheckSummary>[]) =>
    results.flatMap((r) => (r.status === 'fulfilled' ? r.value.groups : [])).filter((g) => g.asgName === farm.spotGroup && g.outcome === 'swapped');

  beforeAll(async () => {
    moto = await startMoto();
    proxy = await startAwsProxy({ target: moto.endpoint, seed: 11 });
    farm = await buildDemoFarm({ endpoint: moto.endpoint, spotDesired: 4 });
    now = Math.ceil(Date.now() / 1000) * 1000;
    clients = clientsFor(moto.endpoint);
    await tag({ 'spotfarm:hysteresis': '0', 'spotfarm:confirmChecks': '1', 'spotfarm:minDwell': '30m' });
    vi.stubEnv('AWS_ENDPOINT_URL', proxy.endpoint);
    vi.stubEnv('SPOTFARM_STATE_TABLE', farm.stateTable);
    vi.stubEnv('SPOTFARM_LOG_LEVEL', 'SILENT');
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
    const { resetConfigCache } = await import('../../src/config');
    resetConfigCache();
    ({ setWallClock } = await import('../../src/clock'));
    setWallClock(() => now);
    ({ handler: priceCheck } = (await import('../../functions/price-check')) as unknown as { handler: Handler<PriceCheckSummary> });
    ({ handler: interruption } = (await import('../../functions/interruption')) as unknown as { handler: Handler<InterruptionResult> });
  }, 120_000);

  afterAll(async () => {
    (await import('../../src/clock')).resetWallClock();
    vi.unstubAllEnvs();
    await proxy?.stop();
    await moto?.stop();
  });

  beforeEach(() => {
    proxy.setRules([]);
    proxy.resetCounts();
  });

  it('a fresh tick whose claim is slowed 4 s and a retried tick from two minutes earlier: one swap, and the group returns to spot', async () => {
    // Prepare: spot dear; the fresh tick's writes of the state are held 4 s at the proxy.
    await spotIs('dear');
    now += 3_600_000;
    proxy.setRules([{ operation: 'PutItem', when: (call) => call.body.includes('price-check:fresh-tick'), times: 1, fault: { kind: 'delay', ms: 4_000 } }]);
    // Act: the fresh tick starts first; the retry of the tick two minutes older runs at full speed meanwhile.
    const fresh = priceCheck(tick('fresh-tick', now), lambdaContext('price-check'));
    await new Promise((r) => setTimeout(r, 300));
    const retried = priceCheck(tick('retried-tick', now - 120_000), lambdaContext('price-check'));
    const results = await Promise.allSettled([fresh, retried]);
    // Assess: one swap, and the state says what the group launches.
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(swaps(results)).toHaveLength(1);
    // One on-demand copy, in spotfarm's own template (made with the template the first time).
    expect(proxy.forwarded('CreateLaunchTemplate') + proxy.forwarded('CreateLaunchTemplateVersion')).toBe(1);
    expect(await launches()).toBe('on-demand');
    expect(await stored()).toMatchObject({ market: 'on-demand' });
    expect((await stored())?.pending).toBeUndefined();
    // Act: spot is cheap again; past the dwell, one check returns the group.
    await spotIs('cheap');
    now += 25 * 3_600_000;
    const back = await priceCheck(tick('after-dwell', now), lambdaContext('price-check'));
    // Assess: the group is back on spot (the old code "followed" a move back to spot that never happened, then
    // left the group on on-demand for good as "moved outside spotfarm").
    expect(back.groups.find((g) => g.asgName === farm.spotGroup)).toMatchObject({ outcome: 'swapped', action: 'swapToSpot' });
    expect(await launches()).toBe('spot');
    expect(await stored()).toMatchObject({ market: 'spot' });
  });

  it('20 rounds of 4 parallel checks: exactly one swap each round, the state always matching the group', async () => {
    // Prepare: every write to the state table and every swap call is delayed at random (0-400 ms), seeded.
    proxy.setRules([
      { operation: ['PutItem', 'GetItem', 'UpdateAutoScalingGroup', 'CreateLaunchTemplate', 'CreateLaunchTemplateVersion'], fault: (_call, random) => ({ kind: 'delay', ms: Math.floor(random() * 400) }) },
    ]);
    for (let round = 1; round <= 20; round++) {
      // Odd rounds: spot is dear and the group on spot; even rounds: spot cheap, past the dwell, on on-demand.
      const before = await launches();
      await spotIs(before === 'spot' ? 'dear' : 'cheap');
      now += 25 * 3_600_000;
      const created = proxy.forwarded('CreateLaunchTemplateVersion') + proxy.forwarded('UpdateAutoScalingGroup');
      // Act
      const results = await Promise.allSettled(
        [0, 1, 2, 3].map((i) => priceCheck(tick(`round-${round}-${i}`, now - i * 1_000), lambdaContext('price-check'))),
      );
      // Assess
      expect(results.filter((r) => r.status === 'rejected'), `round ${round}`).toEqual([]);
      expect(swaps(results), `round ${round}`).toHaveLength(1);
      expect(proxy.forwarded('CreateLaunchTemplateVersion') + proxy.forwarded('UpdateAutoScalingGroup') - created, `round ${round}: swap calls`).toBeGreaterThan(0);
      const after = await launches();
      expect(after, `round ${round}`).not.toBe(before);
      const state = await stored();
      expect(state?.market, `round ${round}`).toBe(after);
      expect(state?.pending, `round ${round}`).toBeUndefined();
    }
  }, 240_000);

  it('10 parallel copies of a breaker-tripping warning: one trip, one signal, one swap, no cover from the breaker; back on spot later', async () => {
    // Prepare: the group on spot, spot cheap; the default breaker of 0.25 per instance-hour; two interruptions
    // already in, in the group's one AZ (a trip moves the group only when no good pool is left: src/market/pools.ts).
    // The market controller measures the pool's exposure from launch times: the three warned instances ran the
    // whole hour, and so, by moto's clock, did the replacements it launched for them (stamped long before the
    // handlers' now), with the pool's fourth: 3 interruptions in 7 instance-hours, 0.43 per instance-hour.
    if ((await launches()) !== 'spot') {
      await spotIs('cheap');
      now += 25 * 3_600_000;
      await priceCheck(tick('reset-to-spot', now), lambdaContext('price-check'));
    }
    await spotIs('cheap');
    await tag({ 'spotfarm:breakerInterruptions': '0.25' });
    now += 25 * 3_600_000;
    const spot = await group(farm.spotGroup);
    const od = await group(farm.onDemandGroup);
    const byZone = new Map<string, string[]>();
    for (const i of spot.Instances!.filter((x) => x.LifecycleState === 'InService')) byZone.set(i.AvailabilityZone!, [...(byZone.get(i.AvailabilityZone!) ?? []), i.InstanceId!]);
    const [zone, pool] = [...byZone.entries()].find(([, ids]) => ids.length >= 4)!;
    expect(pool).toBeDefined();
    await clients.autoscaling.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: farm.spotGroup, AvailabilityZones: [zone] }));
    await interruption(warning(pool[0]!, now, 'warn-first'), lambdaContext('interruption'));
    await interruption(warning(pool[1]!, now + 1_000, 'warn-second'), lambdaContext('interruption'));
    proxy.resetCounts();
    proxy.setRules([{ operation: ['PutItem', 'DescribeAutoScalingGroups'], fault: (_call, random) => ({ kind: 'delay', ms: Math.floor(random() * 300) }) }]);
    // Act: the tripping warning, delivered ten times at once.
    const copies = await Promise.allSettled(Array.from({ length: 10 }, () => interruption(warning(pool[2]!, now + 5_000, 'warn-trip'), lambdaContext('interruption'))));
    // Assess: one trip recorded and signalled; the breaker set no desired capacity.
    expect(copies.map((c) => c.status)).toEqual(Array(10).fill('fulfilled'));
    const requested = copies.flatMap((c) => (c.status === 'fulfilled' ? c.value.actions : [])).filter((a) => a.kind === 'requestMarketCheck');
    expect(requested.filter((a) => a.outcome === 'done')).toHaveLength(1);
    expect(proxy.forwarded('PutEvents')).toBe(1);
    expect(proxy.forwarded('SetDesiredCapacity')).toBe(0);
    expect((await group(farm.onDemandGroup)).DesiredCapacity).toBe(od.DesiredCapacity);
    // Act: EventBridge delivers the signal at least once: ten deliveries at once.
    const signal = { stack: '', farm: farm.farm, group: farm.spotGroup, trigger: 'breaker', reason: 'interruption breaker' };
    const checks = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => priceCheck(envelope('spotfarm', 'Market Check Requested', `signal-${i % 2}`, now + 6_000, signal), lambdaContext('price-check'))),
    );
    // Assess: exactly one swap, by the market controller's own breaker rule.
    expect(checks.filter((c) => c.status === 'rejected')).toEqual([]);
    expect(swaps(checks)).toHaveLength(1);
    expect(await launches()).toBe('on-demand');
    expect(await stored()).toMatchObject({ market: 'on-demand', lastFallbackTrigger: 'breaker', backoff: 0 });
    // Act: the storm passes (past the breaker window and the dwell), spot is cheap: the group returns.
    now += 25 * 3_600_000;
    const back = await priceCheck(tick('storm-over', now), lambdaContext('price-check'));
    expect(back.groups.find((g) => g.asgName === farm.spotGroup)).toMatchObject({ outcome: 'swapped', action: 'swapToSpot' });
    expect(await launches()).toBe('spot');
  }, 120_000);
});
