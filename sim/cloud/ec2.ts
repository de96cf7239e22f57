/**
 * EC2's side of an instance's life: it is listed, boots, runs, and is terminated (by its group, an API call or
 * the spot market), and it is billed per second meanwhile. Terminated instances stay visible for a while, then
 * drop out of the listing.
 */
import { poolKey, type StepSeries } from '../market';
import { emptyBreakdown, type CostBreakdown } from '../result';
import type { Instance } from './resources';
import type { World } from './world';

/** Terminated instances stay visible in DescribeInstances this long. */
export const TERMINATED_VISIBLE_SECONDS = 3600;

/** One pool's closed billing: instance-seconds by market and what they cost. */
export interface PoolUsage {
  spotSeconds: number;
  onDemandSeconds: number;
  cost: number;
  /** Spot spend while the pool's spot price was at or above the type's on-demand price. */
  spotCostAtOrAboveOnDemand: number;
}


/** The reason EC2 gives when it takes a spot instance back (spot-interruptions.ts). */
export const SPOT_INTERRUPTION = 'spot interruption';
/**
 * A Linux Spot Instance that EC2 interrupts in its first hour is not charged at all; later, it pays the seconds
 * used (EC2 User Guide, "Billing for interrupted Spot Instances":
 * https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/billing-for-interrupted-spot-instances.html). One that
 * the user (or Auto Scaling) stops or terminates pays the seconds used.
 */
export const FREE_INTERRUPTED_SECONDS = 3600;

export class Ec2 {
  /** Cost of the instances whose billing has closed. */
  private closedCost = 0;
  /** What the instances EC2 interrupted in their first hour would have cost (they are billed nothing). */
  freeInterruptedUsd = 0;
  /** How many such instances. */
  freeInterrupted = 0;
  /** Where the money of closed instances went (sim/result.ts CostBreakdown). */
  readonly breakdown: CostBreakdown = emptyBreakdown();
  private cheapest: StepSeries | undefined;
  /** Per pool ("type/az"), the instances whose billing has closed: where the money went. */
  readonly pools = new Map<string, PoolUsage>();

  constructor(private readonly world: World) {}

  /** A new instance is listed and boots; a spot instance also learns when the market will take it back. */
  run(instance: Instance): void {
    this.world.instances.set(instance.id, instance);
    this.world.at(instance.readyT, () => this.ready(instance));
    if (instance.market === 'spot') this.world.spotInterruptions.plan(instance);
  }

  private ready(instance: Instance): void {
    if (instance.ec2State !== 'pending') return;
    instance.ec2State = 'running';
    if (instance.lifecycle === 'Pending') instance.lifecycle = 'InService';
    if (instance.warnedAt === Infinity) this.world.workers.start(instance);
  }

  /** EC2 takes the instance away now (`reason` 'spot interruption': EC2 reclaimed it, see FREE_INTERRUPTED_SECONDS). */
  terminate(instance: Instance, reason: string): void {
    if (instance.ec2State === 'terminated') return;
    if (reason === SPOT_INTERRUPTION && instance.market === 'spot' && this.world.now - instance.launchT < FREE_INTERRUPTED_SECONDS) {
      instance.freeOfCharge = true;
    }
    this.world.workers.kill(instance);
    this.closeBilling(instance, this.world.now);
    instance.ec2State = 'terminated';
    this.world.autoScaling.memberTerminated(instance);
  }

  runningInstances(): Instance[] {
    return [...this.world.instances.values()].filter((i) => i.ec2State !== 'terminated');
  }

  /** Drops terminated instances that DescribeInstances no longer shows (keeps memory flat on long runs). */
  purgeTerminated(): void {
    for (const [id, instance] of this.world.instances) {
      if (instance.ec2State === 'terminated' && instance.endT + TERMINATED_VISIBLE_SECONDS < this.world.now && !instance.group) {
        this.world.instances.delete(id);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Billing.

  /** The run is over at `t`: instances still up are billed until then. */
  closeAllBilling(t: number): void {
    for (const instance of this.world.instances.values()) {
      if (instance.ec2State !== 'terminated') this.closeBilling(instance, t);
    }
  }

  private closeBilling(instance: Instance, t: number): void {
    if (instance.endT !== Infinity) return;
    // Jobs still running when the run ends are busy time up to now.
    for (const job of instance.running) this.chargeSlot(instance, this.world.work.startOf(job), t, 'busy');
    instance.endT = t;
    if (instance.freeOfCharge) {
      // Its slots' time was charged as jobs ended; none of it is billed.
      instance.busyUsd = 0;
      instance.reworkUsd = 0;
    }
    if (instance.freeOfCharge) {
      this.freeInterruptedUsd += this.costOf(instance, t);
      this.freeInterrupted++;
    }
    instance.cost = instance.freeOfCharge ? 0 : this.costOf(instance, t);
    this.closedCost += instance.cost;
    this.split(instance, t);
    const seconds = Math.max(60, t - instance.launchT);
    if (instance.market === 'spot') this.world.spotSeconds += seconds;
    else this.world.onDemandSeconds += seconds;
    const key = poolKey(instance.type, instance.az);
    let pool = this.pools.get(key);
    if (!pool) this.pools.set(key, (pool = { spotSeconds: 0, onDemandSeconds: 0, cost: 0, spotCostAtOrAboveOnDemand: 0 }));
    pool.cost += instance.cost;
    if (instance.market === 'spot') {
      pool.spotSeconds += seconds;
      const market = this.world.market;
      const onDemand = market.onDemandPrice(instance.type);
      // What it paid while the pool's price was at or above on-demand (at most its maximum price, nothing if free).
      if (!instance.freeOfCharge) {
        pool.spotCostAtOrAboveOnDemand += market
          .spotSeries(instance.type, instance.az)
          .integralWhere(instance.launchT, Math.max(t, instance.launchT + 60), (price) => price >= onDemand, instance.maxPrice);
      }
    } else pool.onDemandSeconds += seconds;
  }

  /** Charges one slot's time on an attempt, [from, to], as busy (it completed) or rework (it will run again). */
  chargeSlot(instance: Instance, from: number, to: number, kind: 'busy' | 'rework'): void {
    const usd = this.priceIntegral(instance, from, to) / instance.slots;
    if (kind === 'busy') instance.busyUsd += usd;
    else instance.reworkUsd += usd;
  }

  /** A closed instance's cost in parts: boot (and the billing minimum), its slots' attempts, the idle rest. */
  private split(instance: Instance, t: number): void {
    const b = this.breakdown;
    const up = Math.min(instance.readyT, t);
    // The 60 s billing minimum of an instance gone within a minute is a cost of launching it: boot.
    const boot = instance.freeOfCharge ? 0 : instance.cost - this.priceIntegral(instance, up, t);
    b.boot_usd += boot;
    b.busy_usd += instance.busyUsd;
    b.rework_usd += instance.reworkUsd;
    b.idle_usd += instance.cost - boot - instance.busyUsd - instance.reworkUsd;
    if (instance.market === 'on-demand') {
      const to = Math.max(t, instance.launchT + 60);
      this.cheapest ??= this.world.market.cheapestSeries(this.world.scenario.start, this.world.options.horizon);
      b.on_demand_premium_usd += Math.max(0, instance.cost - this.cheapest.integral(instance.launchT, to));
    }
  }

  /** USD the instance's price comes to over [from, to] (no billing minimum). */
  private priceIntegral(instance: Instance, from: number, to: number): number {
    if (to <= from) return 0;
    const market = this.world.market;
    if (instance.market === 'spot') return market.spotSeries(instance.type, instance.az).integralCapped(from, to, instance.maxPrice);
    return (market.onDemandPrice(instance.type) * (to - from)) / 3600;
  }

  /**
   * Per-second billing with a 60 s minimum, at the instance's market price at each moment; a spot instance pays
   * the pool's price but never more than its maximum price. AWS: "you never pay more than the Spot price that is in
   * effect", and a Spot Instance launches and keeps running only while that price is at most its maximum price
   * (Spot whitepaper, "How Spot Instances Work"; the MaxPrice of SpotMarketOptions is "the maximum hourly price
   * that you're willing to pay"). The price can pass the maximum only during the two-minute notice before EC2
   * takes the instance back (the old market's price spikes in the bundled 2015 history): in that market an
   * instance paid the price set at the start of its hour, which was below its bid, so the cap is what it paid.
   */
  costOf(instance: Instance, until: number): number {
    const from = instance.launchT;
    const to = Math.max(until, from + 60);
    return this.priceIntegral(instance, from, to);
  }

  /** Cost so far: closed instances plus running ones up to now. */
  costSoFar(): number {
    let cost = this.closedCost;
    for (const instance of this.world.instances.values()) {
      if (instance.endT === Infinity) cost += this.costOf(instance, this.world.now);
    }
    return cost;
  }
}
