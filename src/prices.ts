import { canLaunchSpot } from './pools';

/**
 * Which spot price of a multi-AZ, multi-type group is compared with on-demand, and why.
 *
 * A group's new instances land in its pools (instance type x AZ). Auto Scaling spreads a group evenly across
 * its AZs, and within one AZ a mixed-instances group's allocation strategy picks the cheapest healthy types.
 * An AZ whose price is above the group's spot max price (on-demand unless the group sets one) cannot launch
 * spot at all: Auto Scaling's launches there fail and it places the instances in the other AZs, and instances
 * already there are interrupted. At the max price exactly, spot launches and stays (canLaunchSpot, src/pools.ts). So the price a group pays for its next instance is:
 *
 *   ratio(pool)  = spot(type, az) / onDemand(type)           (per type, so types of different sizes compare)
 *   ratio(az)    = min over the group's types of ratio(pool)
 *   ratio(group) = mean of ratio(az) over the AZs that can launch (spot <= max price);
 *                  when no AZ can, the mean over all AZs (then >= 1 for the default max price)
 *
 * Comparing the cheapest AZ alone would keep a group on spot while most of its instances pay a spike; the most
 * expensive alone would swap on a spike in one AZ the group can route around. The mean over the launchable AZs
 * follows where Auto Scaling actually puts the instances.
 */
export interface PoolPrice {
  instanceType: string;
  availabilityZone: string;
  spot: number;
}

export interface GroupPrice {
  /** Spot / on-demand as defined above; undefined when no pool has both prices. */
  ratio: number | undefined;
  /** ratio x the on-demand price of the group's first priced type: the spot price a user would quote. */
  spotPrice: number | undefined;
  /** On-demand price of the group's first priced type. */
  onDemandPrice: number | undefined;
  perAz: Record<string, { ratio: number; instanceType: string; spot: number; launchable: boolean }>;
  /** AZs where spot is at or below the max price; the ratio is their mean. */
  launchableAzs: number;
}

/**
 * @param spotMaxPrice the group's spot max price in USD/h when it sets one (launch configuration SpotPrice,
 *   template MaxPrice, policy SpotMaxPrice); default: each type's on-demand price.
 */
export function groupSpotPrice(
  instanceTypes: readonly string[],
  pools: readonly PoolPrice[],
  onDemand: Readonly<Record<string, number | undefined>>,
  spotMaxPrice?: number,
): GroupPrice {
  const perAz: GroupPrice['perAz'] = {};
  for (const pool of pools) {
    const od = onDemand[pool.instanceType];
    if (!instanceTypes.includes(pool.instanceType) || od === undefined || od <= 0) continue;
    const ratio = pool.spot / od;
    const launchable = canLaunchSpot(pool.spot, spotMaxPrice ?? od);
    const best = perAz[pool.availabilityZone];
    // A launchable pool beats any unlaunchable one; among equals, the cheaper relative to on-demand.
    if (!best || (launchable && !best.launchable) || (launchable === best.launchable && ratio < best.ratio)) {
      perAz[pool.availabilityZone] = { ratio, instanceType: pool.instanceType, spot: pool.spot, launchable };
    }
  }
  const azs = Object.values(perAz);
  const launchable = azs.filter((a) => a.launchable);
  const counted = launchable.length > 0 ? launchable : azs;
  const ratio = counted.length > 0 ? counted.reduce((sum, a) => sum + a.ratio, 0) / counted.length : undefined;
  const firstType = instanceTypes.find((t) => onDemand[t] !== undefined);
  const onDemandPrice = firstType ? onDemand[firstType] : undefined;
  return {
    ratio,
    spotPrice: ratio !== undefined && onDemandPrice !== undefined ? ratio * onDemandPrice : undefined,
    onDemandPrice,
    perAz,
    launchableAzs: launchable.length,
  };
}

/** The price in effect at `at` (epoch ms) of a step series sorted oldest first; undefined before its start. */
export function priceAt(steps: readonly { at: number; price: number }[], at: number): number | undefined {
  let price: number | undefined;
  for (const step of steps) {
    if (step.at > at) break;
    price = step.price;
  }
  return price;
}

/**
 * Whether an interruption warned at `warnedAt` (epoch ms) was the old market's price interruption: the pool's
 * spot price above the max price (canLaunchSpot false) when the warning came or when the instance was taken two
 * minutes later.
 * Those are price signals, which the price rule weighs; the interruption breaker counts only the others.
 */
export function isPriceInterruption(
  steps: readonly { at: number; price: number }[] | undefined,
  warnedAt: number,
  maxPrice: number | undefined,
): boolean {
  if (!steps || maxPrice === undefined) return false;
  return [warnedAt, warnedAt + 120_000].some((t) => {
    const price = priceAt(steps, t);
    return price !== undefined && !canLaunchSpot(price, maxPrice);
  });
}
