/**
 * The fault-injection suite (issue 15): every function and the worker against moto server through the
 * fault-injecting proxy (test/support/aws-proxy.ts), which answers 20% of AWS calls (seeded) with a throttling
 * error, a 5xx, a reset before the request reaches moto, a reset after moto did it (a lost reply), or a delay.
 * Each function is invoked 50 times; an invocation may fail (Lambda would retry it, and the schedules run again),
 * but the farm must converge to the right state with no partial swap, no duplicated mutation and no lost message.
 * Prints its figures. Nothing asserts on speed.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CreateOrUpdateTagsCommand, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeLaunchTemplateVersionsCommand } from '@aws-sdk/client-ec2';
import { startMoto, type MotoServer } from '../support/moto';
import { startAwsProxy, type AwsProxy, type Fault, type FaultRule } from '../support/aws-proxy';
import { buildDemoFarm, clientsFor, type DemoFarm } from '../../scripts/lib/demo-farm';
import { lambdaContext } from '../support/lambda';
import { runWorker } from '../../worker/index';
import { createQueue, messagesLeft } from '../worker/farm';

type Handler = (event: unknown, context: unknown) => Promise<unknown>;

const INVOCATIONS = 50;
const FAULT_RATE = 0.2;
const SEED = 20_261_201;

/** One in five calls faulted, the kind drawn from the same seeded RNG. */
const FAULTS: FaultRule = {
  probability: FAULT_RATE,
  fault: (_call, random): Fault => {
    const kinds: Fault[] = [
      { kind: 'throttle' },
      { kind: 'serverError' },
      { kind: 'resetBefore' },
      { kind: 'resetAfter' },
      { kind: 'delay', ms: 100 },
      { kind: 'delayReply', ms: 100 },
    ];
    return kinds[Math.floor(random() * kinds.length)]!;
  },
};

/** Calls that change something (everything but reads). */
const MUTATING = /^(?!Describe|Get|List|Query|Scan|Receive|BatchGet)/;

interface Figures {
  invocations: number;
  failedInvocations: number;
  faultsInjected: number;
  converged: boolean;
  duplicatedMutations: number;
  messagesLost: number;
}

const seconds = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

describe(`fault suite: ${INVOCATIONS} invocations per function at ${FAULT_RATE * 100}% injected faults`, () => {
  let moto: MotoServer;
  let proxy: AwsProxy;
  const figures: Record<string, Figures> = {};

  /** Runs `count` invocations, each may fail; returns how many failed. */
  async function invoke(handler: Handler, name: string, events: (i: number) => unknown): Promise<number> {
    let failed = 0;
    for (let i = 0; i < INVOCATIONS; i++) {
      try {
        await handler(events(i), lambdaContext(name));
      } catch {
        failed++;
      }
    }
    return failed;
  }

  async function loadHandler(name: string, farm: DemoFarm): Promise<Handler> {
    vi.stubEnv('SPOTFARM_FARM', farm.farm);
    vi.stubEnv('SPOTFARM_STATE_TABLE', farm.stateTable);
    const { resetConfigCache } = await import('../../src/config');
    resetConfigCache();
    return ((await import(`../../functions/${name}`)) as { handler: Handler }).handler;
  }

  /** Faults on for one phase; returns what the proxy injected and what mutations reached moto. */
  async function phase<T>(run: () => Promise<T>): Promise<{ result: T; faults: number; mutations: Record<string, number> }> {
    proxy.resetCounts();
    proxy.setRules([FAULTS]);
    try {
      const result = await run();
      const mutations: Record<string, number> = {};
      for (const [key, counts] of Object.entries(proxy.counts())) {
        const operation = key.split(':')[1] ?? '';
        if (MUTATING.test(operation) && counts.forwarded > 0) mutations[operation] = counts.forwarded;
      }
      return { result, faults: proxy.faultsInjected(), mutations };
    } finally {
      proxy.setRules([]);
    }
  }

  beforeAll(async () => {
    moto = await startMoto();
    proxy = await startAwsProxy({ target: moto.endpoint, seed: SEED });
    vi.stubEnv('AWS_ENDPOINT_URL', proxy.endpoint);
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    const rows = Object.entries(figures).map(([name, f]) => ({ name, ...f }));
    // The figures the issue asks for, whatever the assertions said.
    console.log(
      `fault suite (seed ${SEED}, ${FAULT_RATE * 100}% faults):\n` +
        rows
          .map(
            (r) =>
              `  ${r.name.padEnd(13)} invocations ${r.invocations}, failed ${r.failedInvocations}, faults injected ${r.faultsInjected}, ` +
              `converged ${r.converged ? 'yes' : 'NO'}, duplicated mutations ${r.duplicatedMutations}, messages lost ${r.messagesLost}`,
          )
          .join('\n') +
        `\n  total         invocations ${rows.reduce((s, r) => s + r.invocations, 0)}, faults injected ${rows.reduce((s, r) => s + r.faultsInjected, 0)}`,
    );
    await proxy?.stop();
    await moto?.stop();
  });

  it('price-check: spot dear, one fall-back to on-demand, once, whole', { timeout: 120_000 }, async () => {
    // Prepare: spot "dear" at once (tiny swapRatio, one confirming check)
    const farm = await buildDemoFarm({ endpoint: moto.endpoint, farm: 'market', spotDesired: 2, stateTable: 'fault-state' });
    const direct = clientsFor(moto.endpoint);
    await direct.autoscaling.send(
      new CreateOrUpdateTagsCommand({
        Tags: [
          ['spotfarm:swapRatio', '0.0001'],
          ['spotfarm:hysteresis', '0'],
          ['spotfarm:confirmChecks', '1'],
        ].map(([Key, Value]) => ({ Key, Value, PropagateAtLaunch: false, ResourceId: farm.spotGroup, ResourceType: 'auto-scaling-group' })),
      }),
    );
    const handler = await loadHandler('price-check', farm);
    // Ticks five minutes apart, ending now (event time is data, and never in the future).
    const start = Date.now() - INVOCATIONS * 300_000;
    // Act
    const { result: failed, faults, mutations } = await phase(() =>
      invoke(handler, 'price-check', (i) => ({
        version: '0',
        id: `fault-tick-${i}`,
        'detail-type': 'Scheduled Event',
        source: 'aws.events',
        account: '123456789012',
        time: seconds(start + i * 300_000),
        region: 'us-east-1',
        resources: ['arn:aws:events:us-east-1:123456789012:rule/spotfarm-test-price-check'],
        detail: {},
      })),
    );
    // Assess: the group runs the on-demand copy, made once in spotfarm's own template (the owner's template gets
    // no version: issue 14, item 4), and the state agrees
    const group = (await direct.autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [farm.spotGroup] }))).AutoScalingGroups![0]!;
    const copyId = group.LaunchTemplate?.LaunchTemplateId;
    const versions = copyId ? ((await direct.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: copyId }))).LaunchTemplateVersions ?? []) : [];
    const ownerVersions = (await direct.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateName: farm.spotTemplate }))).LaunchTemplateVersions ?? [];
    const pinned = group.LaunchTemplate?.LaunchTemplateName === farm.spotTemplate ? undefined : versions.find((v) => String(v.VersionNumber) === group.LaunchTemplate?.Version);
    const { readMarketState } = await import('../../src/market/state');
    const { state } = await readMarketState(farm.stateTable, farm.spotGroup);
    const duplicated = Math.max(0, versions.length - 1) + Math.max(0, ownerVersions.length - 1);
    figures['price-check'] = {
      invocations: INVOCATIONS,
      failedInvocations: failed,
      faultsInjected: faults,
      converged: pinned !== undefined && pinned.LaunchTemplateData?.InstanceMarketOptions === undefined && state?.market === 'on-demand' && state.pending === undefined,
      duplicatedMutations: duplicated,
      messagesLost: 0,
    };
    expect(faults).toBeGreaterThan(0);
    expect(versions).toHaveLength(1);
    expect(ownerVersions).toHaveLength(1);
    expect(pinned).toBeDefined();
    expect(pinned?.LaunchTemplateData?.InstanceMarketOptions).toBeUndefined();
    expect(state).toMatchObject({ market: 'on-demand' });
    expect(state?.pending).toBeUndefined();
    expect((mutations.CreateLaunchTemplate ?? 0) + (mutations.CreateLaunchTemplateVersion ?? 0)).toBeGreaterThanOrEqual(1);
  });

  it('queue-scaler: the spot group converges to the backlog, within bounds', async () => {
    // Prepare: 6 messages, 2 per instance -> 3 instances
    const farm = await buildDemoFarm({ endpoint: moto.endpoint, farm: 'scale', spotDesired: 1, messages: 6, stateTable: 'fault-state' });
    const direct = clientsFor(moto.endpoint);
    await direct.autoscaling.send(
      new CreateOrUpdateTagsCommand({
        Tags: [{ Key: 'spotfarm:backlogPerInstance', Value: '2', PropagateAtLaunch: false, ResourceId: farm.spotGroup, ResourceType: 'auto-scaling-group' }],
      }),
    );
    const handler = await loadHandler('queue-scaler', farm);
    const start = Date.now() - INVOCATIONS * 60_000;
    // Act
    const { result: failed, faults } = await phase(() =>
      invoke(handler, 'queue-scaler', (i) => ({
        version: '0',
        id: `fault-scale-${i}`,
        'detail-type': 'Scheduled Event',
        source: 'aws.events',
        account: '123456789012',
        time: seconds(start + i * 60_000),
        region: 'us-east-1',
        resources: ['arn:aws:events:us-east-1:123456789012:rule/spotfarm-test-queue-scaler'],
        detail: {},
      })),
    );
    // Assess
    const group = (await direct.autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [farm.spotGroup] }))).AutoScalingGroups![0]!;
    const onDemand = (await direct.autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [farm.onDemandGroup] }))).AutoScalingGroups![0]!;
    const lost = 6 - (await messagesLeft(direct.sqs, farm.queueUrl));
    figures['queue-scaler'] = {
      invocations: INVOCATIONS,
      failedInvocations: failed,
      faultsInjected: faults,
      converged: group.DesiredCapacity === 3 && (onDemand.DesiredCapacity ?? 0) === 0,
      // More capacity than the backlog asks for would be a mutation applied twice.
      duplicatedMutations: Math.max(0, (group.DesiredCapacity ?? 0) - 3) + (onDemand.DesiredCapacity ?? 0),
      messagesLost: lost,
    };
    expect(faults).toBeGreaterThan(0);
    expect(group.DesiredCapacity).toBe(3);
    expect(onDemand.DesiredCapacity ?? 0).toBe(0);
    expect(lost).toBe(0);
  });

  it('interruption: each warned instance detached once, replaced once, desired unchanged', async () => {
    // Prepare
    const farm = await buildDemoFarm({ endpoint: moto.endpoint, farm: 'intr', spotDesired: 3, stateTable: 'fault-state' });
    const direct = clientsFor(moto.endpoint);
    const before = (await direct.autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [farm.spotGroup] }))).AutoScalingGroups![0]!;
    const warned = (before.Instances ?? []).map((i) => i.InstanceId!);
    const handler = await loadHandler('interruption', farm);
    // Act: 50 warnings, each instance's repeated (duplicates and redeliveries), dated now
    const { result: failed, faults } = await phase(() =>
      invoke(handler, 'interruption', (i) => {
        const instanceId = warned[i % warned.length]!;
        return {
          version: '0',
          id: `fault-warn-${instanceId}`,
          'detail-type': 'EC2 Spot Instance Interruption Warning',
          source: 'aws.ec2',
          account: '123456789012',
          time: seconds(Date.now()),
          region: 'us-east-1',
          resources: [`arn:aws:ec2:us-east-1:123456789012:instance/${instanceId}`],
          detail: { 'instance-id': instanceId, 'instance-action': 'terminate' },
        };
      }),
    );
    // Assess: none of the warned instances is in the group, the group still wants 3 and has 3 others
    const after = (await direct.autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [farm.spotGroup] }))).AutoScalingGroups![0]!;
    const members = (after.Instances ?? []).map((i) => i.InstanceId!);
    const stillIn = warned.filter((id) => members.includes(id));
    figures.interruption = {
      invocations: INVOCATIONS,
      failedInvocations: failed,
      faultsInjected: faults,
      converged: stillIn.length === 0 && after.DesiredCapacity === 3 && members.length === 3,
      // An instance detached twice would have launched two replacements: more members or desired than 3.
      duplicatedMutations: Math.max(0, members.length - 3) + Math.max(0, (after.DesiredCapacity ?? 0) - 3),
      messagesLost: 0,
    };
    expect(faults).toBeGreaterThan(0);
    expect(stillIn).toEqual([]);
    expect(after.DesiredCapacity).toBe(3);
    expect(members).toHaveLength(3);
  });

  it('plan: read-only under faults, the same answer every time it answers', { timeout: 120_000 }, async () => {
    // Prepare
    const farm = await buildDemoFarm({ endpoint: moto.endpoint, farm: 'plan', spotDesired: 1, stateTable: 'fault-state' });
    const handler = await loadHandler('plan', farm);
    const answers = new Set<string>();
    // Act
    // Ten at a time: plan is read-only, so concurrent runs are what a user typing it twice does.
    const { result: failed, faults, mutations } = await phase(async () => {
      let failures = 0;
      const one = async () => {
        try {
          const plan = (await handler({}, lambdaContext('plan'))) as { farms?: { farm: string; groups: { asgName: string }[] }[] };
          answers.add(JSON.stringify((plan.farms ?? []).map((f) => [f.farm, f.groups.map((g) => g.asgName).sort()])));
        } catch {
          failures++;
        }
      };
      for (let i = 0; i < INVOCATIONS; i += 10) await Promise.all(Array.from({ length: 10 }, one));
      return failures;
    });
    // Assess
    figures.plan = {
      invocations: INVOCATIONS,
      failedInvocations: failed,
      faultsInjected: faults,
      converged: answers.size === 1,
      duplicatedMutations: Object.values(mutations).reduce((a, b) => a + b, 0),
      messagesLost: 0,
    };
    expect(faults).toBeGreaterThan(0);
    expect(mutations).toEqual({});
    expect(answers.size).toBe(1);
  });

  it('worker: 50 messages completed exactly once, none lost', async () => {
    // Prepare: a 5 s lease, so a message whose receive reply was lost comes back soon
    const direct = clientsFor(moto.endpoint);
    const bodies = Array.from({ length: INVOCATIONS }, (_, i) => `job-${i}`);
    const queueUrl = (await createQueue(direct.sqs, 'fault-jobs', 5, bodies)).replace(moto.endpoint, proxy.endpoint);
    const completions = new Map<string, number>();
    const { SQSClient } = await import('@aws-sdk/client-sqs');
    const sqs = new SQSClient({ endpoint: proxy.endpoint, region: 'us-east-1', maxAttempts: 5 });
    // Act
    const { result: summary, faults } = await phase(async () => {
      const handle = runWorker({
        queueUrl,
        slots: 4,
        sqs,
        metadata: false,
        receiveWaitSeconds: 1,
        // One worker alone: busy-first's idle delay (30 s between receives when a lost reply leaves it idle) only
        // adds wait here, and this test is about faults, not about where work lands.
        idleReceiveDelaySeconds: 0,
        failureBackoffBaseSeconds: 1,
        log: () => {},
        process: async (message) => {
          await new Promise((r) => setTimeout(r, 20));
          completions.set(message.Body ?? '', (completions.get(message.Body ?? '') ?? 0) + 1);
        },
      });
      const deadline = Date.now() + 90_000;
      while (Date.now() < deadline && (completions.size < bodies.length || (await messagesLeft(direct.sqs, queueUrl.replace(proxy.endpoint, moto.endpoint))) > 0)) {
        await new Promise((r) => setTimeout(r, 200));
      }
      handle.stop();
      return handle.done;
    });
    // Assess
    const left = await messagesLeft(direct.sqs, queueUrl.replace(proxy.endpoint, moto.endpoint));
    const twice = [...completions.values()].filter((n) => n > 1).length;
    const lost = bodies.filter((b) => !completions.has(b)).length;
    figures.worker = {
      invocations: INVOCATIONS,
      failedInvocations: summary.failed,
      faultsInjected: faults,
      converged: lost === 0 && left === 0,
      duplicatedMutations: twice,
      messagesLost: lost,
    };
    expect(faults).toBeGreaterThan(0);
    expect(lost).toBe(0);
    expect(twice).toBe(0);
    expect(left).toBe(0);
  });
});
