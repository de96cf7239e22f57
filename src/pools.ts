/**
 * Rules about pools (instance type x Availability Zone) that the decisions and the simulated cloud must agree
 * on. The backtest is only worth trusting if the simulated cloud launches and interrupts spot instances by the
 * same rule spotfarm uses to predict where Auto Scaling will put them, so both import it from here.
 */

/**
 * Whether a pool can launch (and keep) a spot instance at `spotPrice` under the max price `maxPrice` (USD/h):
 * yes when the spot price is at or below the max price.
 *
 * - EC2 interrupts for price only when "the Spot price is higher than your maximum price"
 *   (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-interruptions.html, "Price").
 * - Auto Scaling does not launch spot "if your maximum price is lower than the Spot price"
 *   (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_InstancesDistribution.html, SpotMaxPrice;
 *   the launch configuration's SpotPrice and the template's MaxPrice say the same).
 *
 * So at spot == max price a pool launches and its instances stay, paying the max price: with the default max
 * price (on-demand) that is a spot instance costing as much as on-demand, the case a decision must catch itself.
 */
export function canLaunchSpot(spotPrice: number, maxPrice: number): boolean {
  return spotPrice <= maxPrice;
}
