/**
 * The farm inside a simulated world: SQS semantics (visibility, receive count, dead-letter), the worker agent's
 * rules (heartbeat, hand-back on a notice), billing, interruptions.
 */
import { describe, expect, it } from 'vitest';
import * as asg from '../../sim/cloud/autoscaling-api';
import { FINISH_MARGIN_SECONDS, INTERRUPTION_NOTICE_SECONDS, METADATA_POLL_SECONDS } from '../../worker/rules';
import { T0, testScenario } from './support/scenario';
import { alive, group, world } from './support/world';

describe('SQS semantics and the worker model', () => {
  it('workers pull messages as slots free up; a completed job is deleted and its wait recorded', async () => {
    // Prepare: one on-demand instance with 2 slots, booting 60 s; three 100 s jobs at t=0.
    const w = world(testScenario({ jobs: [0, 0, 0].map((at) => ({ at, runtime: 100 })) }));
    group(w, { spot: false, desired: 1 });
    // Act
    await w.runUntil(T0 + 3600);
    // Assess: two start at boot (t=62: ASG action delay 2 s + boot 60 s), the third when a slot frees.
    expect(w.completed).toBe(3);
    expect([...w.waits].sort((a, b) => a - b)).toEqual([62, 62, 162]);
    expect(w.done).toBe(true);
  });

  it('a message held by a dead instance comes back when its (heartbeat-extended) visibility expires', async () => {
    // Prepare: visibility 600 s, heartbeat extends by 600 s when less than half is left (every 300 s).
    const w = world(testScenario({ jobs: [{ at: 0, runtime: 5000 }], farm: { visibilityTimeout: 600 } }), 'plain');
    const name = group(w, { spot: false, desired: 1 });
    await w.runUntil(T0 + 62 + 700);
    expect(w.inflight).toBe(1);
    // Act: the instance dies without handing back (plain worker) at start + 700 s.
    const [instance] = alive(w, name);
    w.terminateEc2(instance!, 'test');
    // Assess: extensions at +300 and +600 took the deadline to start + 600 + 2 x 300 = start + 1200.
    await w.runUntil(T0 + 62 + 1199);
    expect(w.visible).toBe(0);
    await w.runUntil(T0 + 62 + 1200);
    expect(w.visible + w.inflight).toBe(1);
    expect(w.inflight === 1 || w.visible === 1).toBe(true);
  });

  it('a message received more than max_receive_count times goes to the dead-letter queue', async () => {
    // Prepare: maxReceiveCount 3; every instance dies under the job (plain workers, interrupted by price).
    const w = world(
      testScenario({ jobs: [{ at: 0, runtime: 100_000 }], farm: { maxReceiveCount: 3, visibilityTimeout: 60 }, duration: 60, drainLimit: 40_000 }),
      'plain',
    );
    const name = group(w, { spot: false, desired: 1 });
    for (let round = 0; round < 6; round++) {
      await w.runUntil(w.now + 400);
      for (const i of alive(w, name)) if (i.running.size) w.terminateEc2(i, 'test');
    }
    await w.runUntil(T0 + 10_000);
    // Assess: 3 receives, then the 4th receive moves it to the DLQ; it counts as lost, never silently dropped.
    expect(w.deadLettered).toBe(1);
    expect(w.completed).toBe(0);
    expect(w.queueCounts(w.queues.get('farm-jobs-dlq')!).visible).toBe(1);
  });

  it('on an interruption warning the agent lets jobs that can finish finish and hands the others back at once', async () => {
    // Prepare: spot instance; a short and a long job; the price rises above on-demand at t=300 (warning).
    const s = testScenario({
      jobs: [{ at: 0, runtime: 300 }, { at: 0, runtime: 5000 }],
      spot: { 'us-east-1a': [[-60, 0.05], [300, 0.5], [2000, 0.05]] },
    });
    const w = world(s, 'agent');
    group(w, { spot: true, desired: 1 });
    await w.runUntil(T0 + 300);
    expect(w.interruptions).toBe(1);
    expect(w.inflight).toBe(2);
    // Act / Assess: the agent sees the notice on its next metadata poll (within METADATA_POLL_SECONDS); the short
    // job (finishes at 62+300=362 <= 420-15) keeps running, the long one is handed back at visibility 0.
    await w.runUntil(T0 + 300 + METADATA_POLL_SECONDS);
    expect(w.visible).toBe(1);
    await w.runUntil(T0 + 300 + INTERRUPTION_NOTICE_SECONDS);
    expect(w.completed).toBe(1);
    expect(FINISH_MARGIN_SECONDS).toBeGreaterThan(0);
  });

  it('an agent hand-back re-sends the message: the copy starts at receive count 0, so interruptions never dead-letter it', async () => {
    // Fails on 0ada686: a hand-back reset the visibility and kept the count, so with max_receive_count 1 the
    // second receive dead-lettered the job. The agent side: test/worker/hand-back.test.ts (same rule, moto).
    // Prepare: one long job; the spot price passes the max price three times while it runs.
    const s = testScenario({
      jobs: [{ at: 0, runtime: 2000 }],
      spot: { 'us-east-1a': [[-60, 0.05], [300, 0.5], [400, 0.05], [900, 0.5], [1000, 0.05], [1500, 0.5], [1600, 0.05]] },
      farm: { maxReceiveCount: 1 },
      drainLimit: 20_000,
    });
    const w = world(s, 'agent');
    group(w, { spot: true, desired: 1 });
    // Act
    await w.runUntil(T0 + 20_000);
    // Assess: three hand-backs, each a new message received once; then it completes.
    expect(w.interruptions).toBe(3);
    expect(w.work.handBacksOf(0)).toBe(3);
    expect(w.work.receiveCountOf(0)).toBe(1);
    expect(w.work.resent).toBe(3);
    expect(w.deadLettered).toBe(0);
    expect(w.completed).toBe(1);
  });

  it('a plain worker (the recipe) keeps its messages until the instance dies; they return after the visibility timeout', async () => {
    const s = testScenario({
      jobs: [{ at: 0, runtime: 5000 }],
      spot: { 'us-east-1a': [[-60, 0.05], [300, 0.5], [2000, 0.05]] },
      farm: { visibilityTimeout: 600 },
    });
    const w = world(s, 'plain');
    group(w, { spot: true, desired: 1 });
    await w.runUntil(T0 + 420);
    expect(w.inflight).toBe(1);
    // Started at 62, died at 420 (one extension at 362): deadline 62 + 600 + 300 = 962.
    await w.runUntil(T0 + 961);
    expect(w.visible).toBe(0);
    await w.runUntil(T0 + 962);
    expect(w.visible + w.inflight).toBe(1);
  });

  it('every submitted job ends completed, dead-lettered or still queued', async () => {
    const jobs = Array.from({ length: 200 }, (_, k) => ({ at: k * 7, runtime: 50 + (k % 13) * 40 }));
    const s = testScenario({ jobs, rate: 0.5, farm: { maxReceiveCount: 2 }, drainLimit: 600 });
    const w = world(s, 'plain');
    group(w, { spot: true, desired: 4 });
    await w.runUntil(T0 + 10_000);
    expect(w.completed + w.deadLettered + w.stillQueued).toBe(200);
  });
});

describe('billing', () => {
  it('bills on-demand per second with a 60 s minimum', async () => {
    const w = world(testScenario({ onDemand: 0.36 }));
    const name = group(w, { spot: false, desired: 2 });
    await w.runUntil(T0 + 10);
    const [a, b] = alive(w, name);
    // Act: one lives 8 s, the other 1000 s.
    w.terminateEc2(a!, 'test');
    await w.runUntil(T0 + 1002);
    w.terminateEc2(b!, 'test');
    // Assess
    expect(a!.cost).toBeCloseTo((60 * 0.36) / 3600, 12);
    expect(b!.cost).toBeCloseTo((1000 * 0.36) / 3600, 12);
  });

  it('bills spot at the pool price of each moment', async () => {
    const s = testScenario({ spot: { 'us-east-1a': [[-60, 0.1], [602, 0.2]] }, priceAboveMax: false });
    const w = world(s);
    const name = group(w, { spot: true, desired: 1 });
    await w.runUntil(T0 + 1202);
    const [i] = alive(w, name);
    w.terminateEc2(i!, 'test');
    // Launched at t=2: 600 s at 0.1, 600 s at 0.2.
    expect(i!.cost).toBeCloseTo((600 * 0.1 + 600 * 0.2) / 3600, 12);
  });
});

describe('interruptions', () => {
  it('the price rising above the max price warns, then takes the instance 2 minutes later; launches fail meanwhile', async () => {
    const s = testScenario({ spot: { 'us-east-1a': [[-60, 0.05], [600, 0.3], [1800, 0.05]] } });
    const w = world(s);
    const name = group(w, { spot: true, desired: 1 });
    await w.runUntil(T0 + 600);
    const [i] = alive(w, name);
    expect(i!.warnedAt).toBe(T0 + 600);
    await w.runUntil(T0 + 720);
    expect(i!.ec2State).toBe('terminated');
    // The group notices after the health check delay and tries to replace it: no capacity at that price.
    await w.runUntil(T0 + 1000);
    const failed = w.groups.get(name)!.activities.filter((a) => a.StatusCode === 'Failed');
    expect(failed.length).toBeGreaterThan(0);
    expect(failed[0]!.StatusMessage).toMatch(/Your Spot request price of 0.21 is lower than the minimum required Spot request fulfillment price of 0.3000/);
    await w.runUntil(T0 + 1900);
    expect(alive(w, name)).toHaveLength(1);
  });

  it('at a spot price equal to the max price spot launches and stays (canLaunchSpot); a cent above, it fails', async () => {
    // The price sits at on-demand (the default max price) from the start, then moves a cent above it.
    const s = testScenario({ spot: { 'us-east-1a': [[-60, 0.21], [1800, 0.22]] }, duration: 3600 });
    const w = world(s);
    const name = group(w, { spot: true, desired: 2 });
    await w.runUntil(T0 + 1799);
    const at = alive(w, name);
    expect(at).toHaveLength(2);
    expect(at.every((i) => i.market === 'spot' && i.warnedAt === Infinity)).toBe(true);
    expect(w.groups.get(name)!.activities.filter((a) => a.StatusCode === 'Failed')).toHaveLength(0);
    // Above the max price: both are warned, and replacements fail with AWS's message.
    await w.runUntil(T0 + 1800);
    expect(at.every((i) => i.warnedAt === T0 + 1800)).toBe(true);
    await w.runUntil(T0 + 2400);
    const failed = w.groups.get(name)!.activities.filter((a) => a.StatusCode === 'Failed');
    expect(failed[0]?.StatusMessage).toMatch(/Spot request price of 0.21 is lower than the minimum required Spot request fulfillment price of 0.2200/);
  });

  it('rate-based draws are the same in two worlds for the k-th instance of a pool (common random numbers)', async () => {
    const s = testScenario({ rate: 2, priceAboveMax: false, duration: 7200 });
    const draws = async (extra: boolean) => {
      const w = world(s);
      group(w, { spot: true, desired: 3 });
      if (extra) group(w, { name: 'other', spot: false, desired: 2 });
      await w.runUntil(T0 + 30);
      return alive(w).filter((i) => i.market === 'spot').map((i) => [i.ordinal, i.launchT]);
    };
    expect(await draws(false)).toEqual(await draws(true));
    const a = world(s);
    group(a, { spot: true, desired: 3 });
    await a.runUntil(T0 + 7200);
    const b = world(s);
    group(b, { spot: true, desired: 3 });
    group(b, { name: 'other', spot: false, desired: 2 });
    await b.runUntil(T0 + 7200);
    const warned = (w: typeof a) => [...w.instances.values()].filter((i) => i.market === 'spot' && i.warnedAt < Infinity).map((i) => i.warnedAt - i.launchT).sort();
    expect(warned(a)).toEqual(warned(b));
    expect(warned(a).length).toBeGreaterThan(0);
  });

  it('a storm interrupts a fraction of the pool and leaves it without capacity for a while', async () => {
    const s = testScenario({
      spot: { 'us-east-1a': [[-60, 0.05]], 'us-east-1b': [[-60, 0.05]] },
      storms: [{ at: T0 + 600, availabilityZone: 'us-east-1a', instanceType: 'c3.xlarge', fraction: 0.5, unavailableFor: 1800 }],
    });
    const w = world(s);
    const name = group(w, { spot: true, desired: 8 });
    await w.runUntil(T0 + 599);
    expect(alive(w, name).filter((i) => i.az === 'us-east-1a')).toHaveLength(4);
    await w.runUntil(T0 + 600);
    expect(alive(w, name).filter((i) => i.warnedAt === T0 + 600)).toHaveLength(2);
    // Replacements go to the other AZ while us-east-1a has no capacity.
    await w.runUntil(T0 + 1200);
    const a = alive(w, name).filter((i) => i.az === 'us-east-1a');
    expect(a).toHaveLength(2);
    expect(alive(w, name)).toHaveLength(8);
    expect(w.marks.some((m) => m.kind === 'storm')).toBe(true);
  });

  it('with Capacity Rebalancing a rebalance recommendation launches a replacement before the at-risk instance goes', async () => {
    const s = testScenario({ rate: 1, rebalanceFraction: 1, priceAboveMax: false, duration: 20_000, drainLimit: 0 });
    const w = world(s);
    const name = group(w, { spot: true, desired: 2, capacityRebalance: true });
    await w.runUntil(T0 + 20_000);
    const g = w.groups.get(name)!;
    // Never below desired by more than the instances already warned, and replacements happened.
    expect([...w.instances.values()].length).toBeGreaterThan(2);
    expect(alive(w, name).length).toBeGreaterThanOrEqual(g.desired - 1);
  });
});

describe('Auto Scaling semantics', () => {
  it('balances launches across AZs', async () => {
    const s = testScenario({ spot: { 'us-east-1a': [[-60, 0.05]], 'us-east-1b': [[-60, 0.05]], 'us-east-1e': [[-60, 0.05]] } });
    const w = world(s);
    const name = group(w, { spot: true, desired: 7 });
    await w.runUntil(T0 + 5);
    const perAz = alive(w, name).reduce<Record<string, number>>((m, i) => ({ ...m, [i.az]: (m[i.az] ?? 0) + 1 }), {});
    expect(Object.values(perAz).sort()).toEqual([2, 2, 3]);
  });

  it('never scales in protected instances, and terminates them once unprotected', async () => {
    const w = world(testScenario({ jobs: [{ at: 100, runtime: 1000 }] }), 'agent');
    const name = group(w, { spot: false, desired: 2 });
    await w.runUntil(T0 + 200);
    const busy = alive(w, name).find((i) => i.running.size > 0)!;
    expect(busy.protected).toBe(true);
    asg.setDesiredCapacity(w, { AutoScalingGroupName: name, DesiredCapacity: 0 });
    await w.runUntil(T0 + 300);
    expect(alive(w, name)).toEqual([busy]);
    await w.runUntil(T0 + 1200);
    expect(alive(w, name)).toEqual([]);
    expect(w.completed).toBe(1);
  });

  it('scale-in balances zones before anything else: the fullest zone with an unprotected instance loses one (AWS default termination policy)', async () => {
    // Prepare: an on-demand instance, a return to spot, three spot instances; zones set by hand so the fullest
    // zone (us-east-1b, three spot instances) is not the one with the outdated on-demand instance.
    const w = world(testScenario({ spot: { 'us-east-1a': [[-60, 0.05]], 'us-east-1b': [[-60, 0.05]] } }));
    const name = group(w, { spot: false, desired: 1 });
    await w.runUntil(T0 + 100);
    const lt = [...w.launchTemplates.values()][0]!;
    lt.versions.set(2, { data: { ...lt.versions.get(1)!.data, InstanceMarketOptions: { MarketType: 'spot' } }, created: w.now });
    lt.latestVersion = 2;
    asg.updateAutoScalingGroup(w, { AutoScalingGroupName: name, LaunchTemplate: { LaunchTemplateId: lt.id, Version: '2' }, DesiredCapacity: 4 });
    await w.runUntil(T0 + 200);
    for (const i of alive(w, name)) i.az = i.market === 'on-demand' ? 'us-east-1a' : 'us-east-1b';

    // Act
    asg.setDesiredCapacity(w, { AutoScalingGroupName: name, DesiredCapacity: 3 });
    await w.runUntil(T0 + 300);

    // Assess: zone balance comes first, the outdated instance in the other zone stays.
    const left = alive(w, name);
    expect(left.map((i) => `${i.az} ${i.market}`).sort()).toEqual(['us-east-1a on-demand', 'us-east-1b spot', 'us-east-1b spot']);
  });

  it('scale-in skips a zone whose instances are all protected, and protected instances leave as they go idle', async () => {
    // Prepare: two instances per zone; both in us-east-1a run jobs (protected by the agent), us-east-1b's idle.
    const w = world(
      testScenario({ spot: { 'us-east-1a': [[-60, 0.05]], 'us-east-1b': [[-60, 0.05]] }, jobs: [{ at: 100, runtime: 1000 }, { at: 100, runtime: 2000 }], farm: { slotsPerInstance: 1 } }),
      'agent',
    );
    const name = group(w, { spot: false, desired: 4 });
    await w.runUntil(T0 + 90);
    const inA = alive(w, name).filter((i) => i.az === 'us-east-1a');
    for (const i of alive(w, name)) i.az = inA.includes(i) ? 'us-east-1a' : 'us-east-1b';
    // The two jobs go to whichever instances pull first: move them so both busy ones are in us-east-1a.
    await w.runUntil(T0 + 150);
    const busy = alive(w, name).filter((i) => i.protected);
    expect(busy).toHaveLength(2);
    for (const i of alive(w, name)) i.az = busy.includes(i) ? 'us-east-1a' : 'us-east-1b';

    // Act: down to zero while two instances work.
    asg.setDesiredCapacity(w, { AutoScalingGroupName: name, DesiredCapacity: 0 });
    await w.runUntil(T0 + 200);

    // Assess: only the unprotected (idle) ones left at once; each busy one leaves when its job ends.
    expect(alive(w, name).map((i) => i.id).sort()).toEqual(busy.map((i) => i.id).sort());
    await w.runUntil(T0 + 1200);
    expect(alive(w, name)).toHaveLength(1);
    await w.runUntil(T0 + 2200);
    expect(alive(w, name)).toHaveLength(0);
    expect(w.completed).toBe(2);
  });

  it('after a return to spot, on-demand instances leave first on scale-in', async () => {
    const w = world(testScenario());
    const name = group(w, { spot: false, desired: 2 });
    await w.runUntil(T0 + 100);
    // Swap the template back to spot (a new version with market options), grow, then shrink.
    const g = w.groups.get(name)!;
    const lt = [...w.launchTemplates.values()][0]!;
    lt.versions.set(2, { data: { ...lt.versions.get(1)!.data, InstanceMarketOptions: { MarketType: 'spot' } }, created: w.now });
    lt.latestVersion = 2;
    asg.updateAutoScalingGroup(w, { AutoScalingGroupName: name, LaunchTemplate: { LaunchTemplateId: lt.id, Version: '2' }, DesiredCapacity: 4 });
    expect(w.swaps).toBe(1);
    await w.runUntil(T0 + 200);
    expect(alive(w, name).map((i) => i.market).sort()).toEqual(['on-demand', 'on-demand', 'spot', 'spot']);
    asg.setDesiredCapacity(w, { AutoScalingGroupName: name, DesiredCapacity: 2 });
    await w.runUntil(T0 + 300);
    expect(alive(w, name).map((i) => i.market)).toEqual(['spot', 'spot']);
    expect(g.market).toBe('spot');
  });
});
