/**
 * The spot market taking instances back: when each new spot instance gets its rebalance recommendation and
 * two-minute warning, storms that interrupt part of a pool and leave it without capacity for a while, and why a
 * spot launch fails now (no capacity in the pool, or the price above the max price). Draws are keyed by pool and
 * launch ordinal (sim/rng.ts), so every policy's world sees the same interruptions where its pools match.
 */
import { INTERRUPTION_NOTICE_SECONDS, METADATA_POLL_SECONDS } from '../../worker/rules';
import { canLaunchSpot } from '../../src/pools';
import { poolKey } from '../market';
import { SPOT_INTERRUPTION } from './ec2';
import { exponential, keyedUniform } from '../rng';
import type { Scenario } from '../scenario';
import type { Instance } from './resources';
import type { World } from './world';

export class SpotInterruptions {
  /** Spot launches so far per pool: an instance's ordinal in its pool keys its draws. */
  private readonly poolOrdinals = new Map<string, number>();
  /** Until when a storm left a pool without spot capacity. */
  private readonly poolUnavailableUntil = new Map<string, number>();
  /** Until when an on-demand storm left a pool without on-demand capacity. */
  private readonly onDemandUnavailableUntil = new Map<string, number>();

  constructor(private readonly world: World) {}

  /**
   * Draws when the market takes a new spot instance back: a rate per instance-hour (exponential lifetime keyed
   * by the pool's launch ordinal, so policies share draws), or the first time the pool's price rises above the
   * instance's max price (the old market). Storms are applied when they happen.
   */
  plan(instance: Instance): void {
    const world = this.world;
    const scenario = world.scenario;
    const pool = poolKey(instance.type, instance.az);
    const ordinal = (this.poolOrdinals.get(pool) ?? 0) + 1;
    this.poolOrdinals.set(pool, ordinal);
    instance.ordinal = ordinal;
    const seed = scenario.seed;
    let warnAt = Infinity;
    let cause = '';
    let rebalance = false;
    const rate = scenario.interruptions.rate.get(instance.type) ?? 0;
    if (rate > 0) {
      const t = instance.launchT + (exponential(keyedUniform(seed, 'rate', pool, ordinal)) / rate) * 3600;
      if (t < warnAt) {
        warnAt = t;
        cause = 'interruption rate';
        rebalance = keyedUniform(seed, 'rebalance', pool, ordinal) < scenario.interruptions.rebalanceFraction;
      }
    }
    if (scenario.interruptions.priceAboveMax) {
      const t = world.market.spotSeries(instance.type, instance.az).firstUnlaunchable(instance.maxPrice, instance.launchT, Math.min(warnAt, world.endT));
      if (t !== null && t < warnAt) {
        warnAt = t;
        cause = `spot price above the max price ${instance.maxPrice}`;
        rebalance = false;
      }
    }
    if (warnAt < world.endT) {
      world.at(warnAt, () => this.warn(instance, cause));
      if (rebalance) {
        const lead = scenario.interruptions.rebalanceLead * (0.5 + keyedUniform(seed, 'rebalance-lead', pool, ordinal));
        const at = Math.max(instance.launchT, warnAt - lead);
        world.at(at, () => this.recommendRebalance(instance));
      }
    }
  }

  private recommendRebalance(instance: Instance): void {
    const world = this.world;
    if (instance.ec2State === 'terminated' || instance.warnedAt !== Infinity) return;
    world.hooks.onRebalanceRecommendation?.(instance);
    const group = instance.group;
    if (group?.capacityRebalance && !instance.replaced && (instance.lifecycle === 'InService' || instance.lifecycle === 'Pending')) {
      // Capacity Rebalancing: launch a replacement now, terminate the at-risk instance once it is in service.
      instance.replaced = true;
      world.reconcile(group);
      world.at(world.now + world.scenario.farm.bootSeconds, () => {
        if (instance.ec2State !== 'terminated' && instance.group === group) {
          world.terminateByGroup(instance, 'rebalance', 'an instance was taken out of service in response to an EC2 instance rebalance recommendation.');
        }
      });
    }
  }

  /** The two-minute warning; EC2 takes the instance at warnedAt + 120 s. */
  private warn(instance: Instance, cause: string): void {
    const world = this.world;
    if (instance.ec2State === 'terminated' || instance.warnedAt !== Infinity) return;
    instance.warnedAt = world.now;
    instance.interruptAt = world.now + INTERRUPTION_NOTICE_SECONDS;
    world.interruptions++;
    world.marks.push({ t: world.now, kind: 'interruption', detail: `${instance.id} (${instance.type} ${instance.az}): ${cause}` });
    // The agent sees the notice on its next metadata poll (every METADATA_POLL_SECONDS, at its own phase).
    const seen = world.now + keyedUniform(world.scenario.seed, 'imds-phase', instance.id) * METADATA_POLL_SECONDS;
    const deadline = instance.interruptAt;
    world.at(seen, () => {
      if (instance.ec2State !== 'terminated') world.workers.drain(instance, deadline);
    });
    const group = instance.group;
    if (group?.capacityRebalance && !instance.replaced && instance.lifecycle !== 'Terminated') {
      // With Capacity Rebalancing, the final notice also makes the group launch a replacement at once.
      instance.replaced = true;
      world.reconcile(group);
    }
    world.hooks.onInterruptionWarning?.(instance);
    world.at(instance.interruptAt, () => world.terminateEc2(instance, SPOT_INTERRUPTION));
  }

  storm(storm: Scenario['interruptions']['storms'][number]): void {
    const world = this.world;
    const pool = poolKey(storm.instanceType, storm.availabilityZone);
    if (storm.market === 'on-demand') {
      // On-demand instances are never taken back; only launches fail while it lasts.
      this.onDemandUnavailableUntil.set(pool, storm.at + storm.unavailableFor);
      world.marks.push({ t: world.now, kind: 'storm', detail: `${pool}: no on-demand capacity for ${Math.round(storm.unavailableFor / 60)} min` });
      return;
    }
    this.poolUnavailableUntil.set(pool, storm.at + storm.unavailableFor);
    const victims = [...world.instances.values()]
      .filter((i) => i.market === 'spot' && i.type === storm.instanceType && i.az === storm.availabilityZone && i.ec2State !== 'terminated' && i.warnedAt === Infinity)
      .map((i) => ({ i, key: keyedUniform(world.scenario.seed, 'storm', storm.at, pool, i.ordinal) }))
      .sort((a, b) => a.key - b.key);
    const n = Math.round(storm.fraction * victims.length);
    world.marks.push({
      t: world.now,
      kind: 'storm',
      detail: `${pool}: ${n} of ${victims.length} spot instances interrupted, no capacity for ${Math.round(storm.unavailableFor / 60)} min`,
    });
    for (const { i } of victims.slice(0, n)) {
      world.hooks.onRebalanceRecommendation?.(i);
      this.warn(i, 'storm');
    }
  }

  /**
   * Why an on-demand launch of `type` in `az` fails now; null if it succeeds. EC2's InsufficientInstanceCapacity
   * wording (../shared/reference/aws.md §3.6, "We currently do not have sufficient <type> capacity ...").
   */
  onDemandLaunchProblem(type: string, az: string): string | null {
    const now = this.world.now;
    if (now >= (this.onDemandUnavailableUntil.get(poolKey(type, az)) ?? -Infinity)) return null;
    const others = this.world.scenario.availabilityZones.filter((z) => z !== az && now >= (this.onDemandUnavailableUntil.get(poolKey(type, z)) ?? -Infinity));
    return (
      `We currently do not have sufficient ${type} capacity in the Availability Zone you requested (${az}). ` +
      `Our system will be working on provisioning additional capacity. You can currently get ${type} capacity by not ` +
      `specifying an Availability Zone in your request or choosing ${others.join(', ') || 'another Availability Zone'}. ` +
      `Launching EC2 instance failed.`
    );
  }

  /** Why a spot launch of `type` in `az` at `price` under `maxPrice` fails now; null if it succeeds. */
  launchProblem(type: string, az: string, price: number, maxPrice: number): string | null {
    const world = this.world;
    const now = world.now;
    const until = this.poolUnavailableUntil.get(poolKey(type, az)) ?? -Infinity;
    if (now < until) {
      const others = world.scenario.availabilityZones.filter((z) => z !== az && now >= (this.poolUnavailableUntil.get(poolKey(type, z)) ?? -Infinity));
      return (
        `We currently do not have sufficient ${type} capacity in the Availability Zone you requested (${az}). ` +
        `Our system will be working on provisioning additional capacity. You can currently get ${type} capacity by not ` +
        `specifying an Availability Zone in your request or choosing ${others.join(', ') || 'another Availability Zone'}. ` +
        `Launching EC2 instance failed.`
      );
    }
    if (world.scenario.interruptions.priceAboveMax && !canLaunchSpot(price, maxPrice)) {
      return (
        `Your Spot request price of ${maxPrice} is lower than the minimum required Spot request fulfillment price of ` +
        `${price.toFixed(4)}. Launching EC2 instance failed.`
      );
    }
    return null;
  }
}
