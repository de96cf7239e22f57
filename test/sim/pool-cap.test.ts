/**
 * Fidelity of the simulated cloud for steering pools with a mixed group's spot max price (InstancesDistribution
 * SpotMaxPrice): Auto Scaling launches spot only in pools priced at or under it ("If your maximum price is lower
 * than the Spot price ..., your Spot Instances are not launched", API_InstancesDistribution), running instances
 * keep the max price they launched with (an update applies to new launches: aws.md §2.4), and `''` removes it.
 */
import { describe, expect, it } from 'vitest';
import * as asg from '../../sim/cloud/autoscaling-api';
import * as ec2 from '../../sim/cloud/ec2-api';
import { StepSeries } from '../../sim/market';
import { T0, testScenario } from './support/scenario';
import { alive, world } from './support/world';

function mixedGroup(w: ReturnType<typeof world>, desired: number, spotMaxPrice?: string): void {
  const lt = ec2.createLaunchTemplate(w, { LaunchTemplateName: 'mixed-lt', LaunchTemplateData: { ImageId: 'ami-1', InstanceType: 'c3.xlarge' } });
  asg.createAutoScalingGroup(w, {
    AutoScalingGroupName: 'mixed',
    MinSize: 0,
    MaxSize: 20,
    DesiredCapacity: desired,
    MixedInstancesPolicy: {
      LaunchTemplate: { LaunchTemplateSpecification: { LaunchTemplateId: lt.LaunchTemplate!.LaunchTemplateId!, Version: '1' } },
      InstancesDistribution: { OnDemandBaseCapacity: 0, OnDemandPercentageAboveBaseCapacity: 0, ...(spotMaxPrice ? { SpotMaxPrice: spotMaxPrice } : {}) },
    },
  });
}

const setMax = (w: ReturnType<typeof world>, value: string) => {
  const g = asg.describeAutoScalingGroups(w, { AutoScalingGroupNames: ['mixed'] }).AutoScalingGroups![0]!;
  asg.updateAutoScalingGroup(w, {
    AutoScalingGroupName: 'mixed',
    MixedInstancesPolicy: { ...g.MixedInstancesPolicy, InstancesDistribution: { ...g.MixedInstancesPolicy!.InstancesDistribution, SpotMaxPrice: value } },
  });
};

const perAz = (w: ReturnType<typeof world>) =>
  alive(w, 'mixed').reduce<Record<string, number>>((m, i) => ({ ...m, [i.az]: (m[i.az] ?? 0) + 1 }), {});

describe('a pool cap by the spot max price (mixed instances)', () => {
  // us-east-1b sits at exactly on-demand (0.21); the other two are cheap.
  const scenario = () =>
    testScenario({
      spot: { 'us-east-1a': [[-60, 0.05]], 'us-east-1b': [[-60, 0.21]], 'us-east-1e': [[-60, 0.05]] },
      duration: 7200,
    });

  it('without a cap the pool at on-demand gets its share; with one, new launches avoid it and running instances stay', async () => {
    const w = world(scenario());
    mixedGroup(w, 6);
    await w.runUntil(T0 + 10);
    expect(perAz(w)).toEqual({ 'us-east-1a': 2, 'us-east-1b': 2, 'us-east-1e': 2 });
    const inB = alive(w, 'mixed').filter((i) => i.az === 'us-east-1b');

    // Act: cap at 0.189 (0.9 x on-demand), then grow the group.
    setMax(w, '0.189');
    asg.setDesiredCapacity(w, { AutoScalingGroupName: 'mixed', DesiredCapacity: 12 });
    await w.runUntil(T0 + 3600);

    // Assess: the six new instances went to a and e; the two in b still run, never warned.
    expect(perAz(w)).toEqual({ 'us-east-1a': 5, 'us-east-1b': 2, 'us-east-1e': 5 });
    expect(inB.every((i) => i.ec2State !== 'terminated' && i.warnedAt === Infinity)).toBe(true);
    const g = asg.describeAutoScalingGroups(w, { AutoScalingGroupNames: ['mixed'] }).AutoScalingGroups![0]!;
    expect(g.MixedInstancesPolicy!.InstancesDistribution!.SpotMaxPrice).toBe('0.189');
    expect(g.MixedInstancesPolicy!.InstancesDistribution!.OnDemandPercentageAboveBaseCapacity).toBe(0);
    // Launches tried in b first (the AZ with fewest instances) are refused with AWS's message.
    expect(w.groups.get('mixed')!.activities.some((a) => a.StatusCode === 'Failed' && /Spot request price of 0.189 is lower than/.test(a.StatusMessage ?? ''))).toBe(true);
  });

  it("'' removes the cap: the pool launches again", async () => {
    const w = world(scenario());
    mixedGroup(w, 3, '0.189');
    await w.runUntil(T0 + 10);
    expect(perAz(w)['us-east-1b']).toBeUndefined();
    setMax(w, '');
    asg.setDesiredCapacity(w, { AutoScalingGroupName: 'mixed', DesiredCapacity: 6 });
    await w.runUntil(T0 + 600);
    expect(perAz(w)['us-east-1b']).toBeGreaterThan(0);
    const g = asg.describeAutoScalingGroups(w, { AutoScalingGroupNames: ['mixed'] }).AutoScalingGroups![0]!;
    expect(g.MixedInstancesPolicy!.InstancesDistribution!.SpotMaxPrice).toBeUndefined();
  });
});

/**
 * The same max-price semantics through a launch template's `InstanceMarketOptions.SpotOptions.MaxPrice` (the cap is
 * a copy in spotfarm's own template the group is pointed at) and a launch configuration's `SpotPrice` (a copy of
 * the configuration): a spot launch happens only in pools priced at or below the max price ("MaxPrice: The maximum
 * hourly price you're willing to pay for a Spot Instance", EC2 API LaunchTemplateSpotMarketOptionsRequest; "SpotPrice:
 * The maximum hourly price to be paid for any Spot Instance launched to fulfill the request. Spot Instances are
 * launched when the price you specify exceeds the current Spot price", Auto Scaling API CreateLaunchConfiguration;
 * at the price itself they launch: src/pools.ts canLaunchSpot), and each running instance keeps the max price it
 * launched with ("Existing instances continue to run with the configuration that they were originally launched
 * with", Auto Scaling API UpdateAutoScalingGroup), so EC2 interrupts it for price only above its own max price
 * ("the Spot price is higher than your maximum price", EC2 user guide, Spot Instance interruptions).
 */
describe('a pool cap by a capped copy (launch template MaxPrice, launch configuration SpotPrice)', () => {
  // b sits at on-demand (0.21); a rises to 0.20 at 30 min: above the cap (0.189), below on-demand.
  const scenario = () =>
    testScenario({
      spot: { 'us-east-1a': [[-60, 0.05], [1800, 0.2]], 'us-east-1b': [[-60, 0.21]], 'us-east-1e': [[-60, 0.05]] },
      duration: 7200,
    });
  const byAz = (instances: ReturnType<typeof alive>) => instances.reduce<Record<string, number>>((m, i) => ({ ...m, [i.az]: (m[i.az] ?? 0) + 1 }), {});

  type Lever = { name: string; build: (w: ReturnType<typeof world>) => void; cap: (w: ReturnType<typeof world>) => void };
  const levers: Lever[] = [
    {
      name: "launch template: the group pointed at a version of spotfarm's own template with MaxPrice 0.189",
      build: (w) => {
        const lt = ec2.createLaunchTemplate(w, { LaunchTemplateName: 'owner', LaunchTemplateData: { ImageId: 'ami-1', InstanceType: 'c3.xlarge', InstanceMarketOptions: { MarketType: 'spot' } } });
        asg.createAutoScalingGroup(w, { AutoScalingGroupName: 'g', MinSize: 0, MaxSize: 20, DesiredCapacity: 3, LaunchTemplate: { LaunchTemplateId: lt.LaunchTemplate!.LaunchTemplateId!, Version: '$Latest' } });
      },
      cap: (w) => {
        const copy = ec2.createLaunchTemplate(w, {
          LaunchTemplateName: 'spotfarm-capped-owner',
          LaunchTemplateData: { ImageId: 'ami-1', InstanceType: 'c3.xlarge', InstanceMarketOptions: { MarketType: 'spot', SpotOptions: { MaxPrice: '0.189' } } },
        });
        asg.updateAutoScalingGroup(w, { AutoScalingGroupName: 'g', LaunchTemplate: { LaunchTemplateId: copy.LaunchTemplate!.LaunchTemplateId!, Version: '1' } });
      },
    },
    {
      name: 'launch configuration: the group pointed at a copy with SpotPrice 0.189',
      build: (w) => {
        asg.createLaunchConfiguration(w, { LaunchConfigurationName: 'lc', ImageId: 'ami-1', InstanceType: 'c3.xlarge', SpotPrice: '0.21' });
        asg.createAutoScalingGroup(w, { AutoScalingGroupName: 'g', MinSize: 0, MaxSize: 20, DesiredCapacity: 3, LaunchConfigurationName: 'lc' });
      },
      cap: (w) => {
        asg.createLaunchConfiguration(w, { LaunchConfigurationName: 'lc-spotfarm-max-0.1890', ImageId: 'ami-1', InstanceType: 'c3.xlarge', SpotPrice: '0.189' });
        asg.updateAutoScalingGroup(w, { AutoScalingGroupName: 'g', LaunchConfigurationName: 'lc-spotfarm-max-0.1890' });
      },
    },
  ];

  it.each(levers)('$name: new launches avoid the pool at on-demand; each instance keeps the max price it launched with', async ({ build, cap }) => {
    // Prepare: one instance per AZ, b's at exactly on-demand (launches: at the max price, not above it).
    const w = world(scenario());
    build(w);
    await w.runUntil(T0 + 10);
    expect(byAz(alive(w, 'g'))).toEqual({ 'us-east-1a': 1, 'us-east-1b': 1, 'us-east-1e': 1 });
    const [firstA] = alive(w, 'g').filter((i) => i.az === 'us-east-1a');
    const [firstB] = alive(w, 'g').filter((i) => i.az === 'us-east-1b');

    // Act 1: the cap, then six more instances.
    cap(w);
    asg.setDesiredCapacity(w, { AutoScalingGroupName: 'g', DesiredCapacity: 9 });
    await w.runUntil(T0 + 600);

    // Assess 1: none in b; the launch tried there is refused with AWS's message; b's instance still runs.
    expect(byAz(alive(w, 'g'))).toEqual({ 'us-east-1a': 4, 'us-east-1b': 1, 'us-east-1e': 4 });
    expect(w.groups.get('g')!.activities.some((a) => a.StatusCode === 'Failed' && /Spot request price of 0.189 is lower than/.test(a.StatusMessage ?? ''))).toBe(true);
    const cappedInA = alive(w, 'g').filter((i) => i.az === 'us-east-1a' && i !== firstA);
    expect(cappedInA.map((i) => i.maxPrice)).toEqual([0.189, 0.189, 0.189]);

    // Act 2: a rises to 0.20 at 30 min, above the cap and below on-demand.
    await w.runUntil(T0 + 2400);

    // Assess 2: a's capped instances are interrupted for price; a's first instance (max price on-demand) and b's stay.
    expect(cappedInA.every((i) => i.warnedAt !== Infinity)).toBe(true);
    expect(firstA!.warnedAt).toBe(Infinity);
    expect(firstA!.ec2State).not.toBe('terminated');
    expect(firstB!.warnedAt).toBe(Infinity);
    expect(firstB!.ec2State).not.toBe('terminated');
  });
});

/**
 * Dropping an instance type's override from a mixed-instances policy: Auto Scaling launches no instance of that
 * type, and those running stay ("When you update the launch template or overrides in the UpdateAutoScalingGroup
 * API call, existing Amazon EC2 instances continue to run. When scaling out occurs, Amazon EC2 Auto Scaling
 * launches instances to match the new settings", Auto Scaling API reference, LaunchTemplate); put back, the type
 * launches again.
 */
describe('a type dropped from a mixed-instances policy (multi-type groups)', () => {
  it('new launches avoid the dropped type in every AZ; its running instances stay; restored, it launches again', async () => {
    // Prepare: c3.xlarge cheap in both AZs; c4.xlarge cheaper still (so Auto Scaling picks it) until dropped.
    const scenario = testScenario({ spot: { 'us-east-1a': [[-60, 0.05]], 'us-east-1b': [[-60, 0.05]] }, duration: 7200 });
    for (const az of ['us-east-1a', 'us-east-1b']) scenario.market.setSpot('c4.xlarge', az, new StepSeries([T0 - 60], [0.03]));
    scenario.market.onDemand.set('c4.xlarge', 0.199);
    const w = world(scenario);
    const lt = ec2.createLaunchTemplate(w, { LaunchTemplateName: 'multi-lt', LaunchTemplateData: { ImageId: 'ami-1', InstanceType: 'c3.xlarge' } });
    const overrides = [{ InstanceType: 'c4.xlarge', WeightedCapacity: '1' }, { InstanceType: 'c3.xlarge', WeightedCapacity: '1' }];
    const policy = (o: typeof overrides) => ({
      LaunchTemplate: { LaunchTemplateSpecification: { LaunchTemplateId: lt.LaunchTemplate!.LaunchTemplateId!, Version: '1' }, Overrides: o },
      InstancesDistribution: { OnDemandBaseCapacity: 0, OnDemandPercentageAboveBaseCapacity: 0 },
    });
    asg.createAutoScalingGroup(w, { AutoScalingGroupName: 'multi', MinSize: 0, MaxSize: 20, DesiredCapacity: 2, MixedInstancesPolicy: policy(overrides) });
    await w.runUntil(T0 + 10);
    const first = alive(w, 'multi');
    expect(first.map((i) => i.type)).toEqual(['c4.xlarge', 'c4.xlarge']);

    // Act 1: drop c4.xlarge, grow the group.
    asg.updateAutoScalingGroup(w, { AutoScalingGroupName: 'multi', MixedInstancesPolicy: policy([overrides[1]!]) });
    asg.setDesiredCapacity(w, { AutoScalingGroupName: 'multi', DesiredCapacity: 6 });
    await w.runUntil(T0 + 600);

    // Assess 1: the four new ones are c3.xlarge, spread over both AZs; the c4.xlarge ones still run.
    const types = (list: ReturnType<typeof alive>) => list.reduce<Record<string, number>>((m, i) => ({ ...m, [i.type]: (m[i.type] ?? 0) + 1 }), {});
    expect(types(alive(w, 'multi'))).toEqual({ 'c4.xlarge': 2, 'c3.xlarge': 4 });
    expect(first.every((i) => i.ec2State !== 'terminated')).toBe(true);

    // Act 2 / Assess 2: restored at its place, the next launches are c4.xlarge again.
    asg.updateAutoScalingGroup(w, { AutoScalingGroupName: 'multi', MixedInstancesPolicy: policy(overrides) });
    asg.setDesiredCapacity(w, { AutoScalingGroupName: 'multi', DesiredCapacity: 8 });
    await w.runUntil(T0 + 1200);
    expect(types(alive(w, 'multi'))).toEqual({ 'c4.xlarge': 4, 'c3.xlarge': 4 });
  });
});
