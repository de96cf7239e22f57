/**
 * Fidelity of the simulated cloud for steering pools with a mixed group's spot max price (InstancesDistribution
 * SpotMaxPrice): Auto Scaling launches spot only in pools priced at or under it ("If your maximum price is lower
 * than the Spot price ..., your Spot Instances are not launched", API_InstancesDistribution), running instances
 * keep the max price they launched with (an update applies to new launches: aws.md §2.4), and `''` removes it.
 */
import { describe, expect, it } from 'vitest';
import * as asg from '../../sim/cloud/autoscaling-api';
import * as ec2 from '../../sim/cloud/ec2-api';
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
