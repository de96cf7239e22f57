/**
 * The simulated cloud bills spot instances as AWS does (sim/cloud/ec2.ts):
 * - an instance EC2 interrupts in its first hour is not charged at all; later it pays the seconds used (EC2 User
 *   Guide, "Billing for interrupted Spot Instances"); one that its group or the user terminates pays the seconds
 *   used, 60 s at least;
 * - a spot instance never pays more than its maximum price, even while the pool's price passes it during the
 *   two-minute notice (Spot whitepaper, "How Spot Instances Work"; SpotMarketOptions.MaxPrice).
 */
import { describe, expect, it } from 'vitest';
import * as asg from '../../sim/cloud/autoscaling-api';
import { FREE_INTERRUPTED_SECONDS } from '../../sim/cloud/ec2';
import type { Instance } from '../../sim/cloud/resources';
import { T0, testScenario } from './support/scenario';
import { group, world } from './support/world';

const ON_DEMAND = 0.21;

/** One spot instance launched at T0 in a pool at $0.05 whose price jumps to `spike` at `spikeAt` seconds. */
async function oneInstance(spikeAt: number, spike: number, runFor = spikeAt + 600) {
  const w = world(testScenario({ spot: { 'us-east-1a': [[-60, 0.05], [spikeAt, spike]] }, onDemand: ON_DEMAND, duration: runFor, drainLimit: 0 }));
  group(w, { desired: 1 });
  await w.runUntil(T0 + runFor);
  w.ec2.closeAllBilling(T0 + runFor);
  const instances = [...w.instances.values()];
  return { w, instances, first: instances[0] as Instance };
}

describe('spot billing', () => {
  it('an instance EC2 interrupts in its first hour costs nothing', async () => {
    const { first } = await oneInstance(1800, 1.0);
    expect(first.ec2State).toBe('terminated');
    expect(first.endT - first.launchT).toBeLessThan(FREE_INTERRUPTED_SECONDS);
    expect(first.freeOfCharge).toBe(true);
    expect(first.cost).toBe(0);
  });

  it('after its first hour an interrupted instance pays the seconds used, at most its maximum price during the notice', async () => {
    const spikeAt = 7200;
    const { first } = await oneInstance(spikeAt, 1.0);
    expect(first.ec2State).toBe('terminated');
    expect(first.freeOfCharge).toBeFalsy();
    const beforeSpike = (0.05 * (T0 + spikeAt - first.launchT)) / 3600;
    const notice = (Math.min(1.0, first.maxPrice) * (first.endT - (T0 + spikeAt))) / 3600;
    expect(first.maxPrice).toBe(ON_DEMAND);
    expect(first.endT - (T0 + spikeAt)).toBe(120);
    expect(first.cost).toBeCloseTo(beforeSpike + notice, 10);
    // Uncapped, the notice alone would have cost 1.00 x 120 s.
    expect(first.cost).toBeLessThan(beforeSpike + (1.0 * 120) / 3600);
  });

  it('an instance its group terminates in the first hour pays the seconds used, 60 s at least', async () => {
    const w = world(testScenario({ spot: { 'us-east-1a': [[-60, 0.05]] }, onDemand: ON_DEMAND, duration: 3600, drainLimit: 0 }));
    const name = group(w, { desired: 1 });
    await w.runUntil(T0 + 600);
    asg.setDesiredCapacity(w, { AutoScalingGroupName: name, DesiredCapacity: 0 });
    await w.runUntil(T0 + 900);
    const [first] = [...w.instances.values()];
    expect(first!.ec2State).toBe('terminated');
    expect(first!.freeOfCharge).toBeFalsy();
    expect(first!.cost).toBeCloseTo((0.05 * Math.max(60, first!.endT - first!.launchT)) / 3600, 10);
    expect(first!.cost).toBeGreaterThan(0);
  });
});
