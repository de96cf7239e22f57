/**
 * Which spot price of a multi-AZ, multi-type group is compared with on-demand, and why.
 *
 * A group's new instances land in its pools (instance type x AZ). Auto Scaling spreads a group evenly across
 * its AZs, and within one AZ a mixed-instances group's allocation strategy picks the cheapest healthy types.
 * So the price a group pays for the next instance is, per AZ, its cheapest type, and across AZs the average:
 *
 *   ratio(pool)  = spot(type, az) / onDemand(type)         (per type, so types of different sizes compare)
 *   ratio(az)    = min over the group's types of ratio(pool)
 *   ratio(group) = mean over the group's AZs of ratio(az)     (AZs without a price are left out)
 *
 * Comparing the cheapest AZ would keep a group on spot while most of its instances pay the spike; comparing
 * the most expensive would swap on a spike in one AZ the group barely uses. The mean follows the AZ balance.
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
  perAz: Record<string, { ratio: number; instanceType: string; spot: number }>;
}

export function groupSpotPrice(
  instanceTypes: readonly string[],
  pools: readonly PoolPrice[],
  onDemand: Readonly<Record<string, number | undefined>>,
): GroupPrice {
  const perAz: GroupPrice['perAz'] = {};
  for (const pool of pools) {
    const od = onDemand[pool.instanceType];
    if (!instanceTypes.includes(pool.instanceType) || od === undefined || od <= 0) continue;
    const ratio = pool.spot / od;
    const best = perAz[pool.availabilityZone];
    if (!best || ratio < best.ratio) {
      perAz[pool.availabilityZone] = { ratio, instanceType: pool.instanceType, spot: pool.spot };
    }
  }
  const ratios = Object.values(perAz).map((a) => a.ratio);
  const ratio = ratios.length > 0 ? ratios.reduce((a, b) => a + b, 0) / ratios.length : undefined;
  const firstType = instanceTypes.find((t) => onDemand[t] !== undefined);
  const onDemandPrice = firstType ? onDemand[firstType] : undefined;
  return {
    ratio,
    spotPrice: ratio !== undefined && onDemandPrice !== undefined ? ratio * onDemandPrice : undefined,
    onDemandPrice,
    perAz,
  };
}
