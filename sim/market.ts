/**
 * The market: one spot price step function per pool (instance type x AZ) and an on-demand price per type.
 * A step function's price holds from t[i] until t[i+1]; the first point is the price carried into the window.
 */
import { canLaunchSpot } from '../src/pools';

export class StepSeries {
  /** Epoch seconds, ascending. */
  readonly t: Float64Array;
  readonly price: Float64Array;
  /** cum[i] = integral of the price from t[0] to t[i], in USD-hours... i.e. USD when the price is USD/h. */
  private readonly cum: Float64Array;
  /** The highest price in the series (a cap at or above it changes nothing). */
  private readonly highest: number;
  private readonly cappedCum = new Map<number, Float64Array>();

  constructor(times: ArrayLike<number>, prices: ArrayLike<number>) {
    if (times.length === 0) throw new Error('a price series needs at least one point');
    if (times.length !== prices.length) throw new Error('price series: times and prices differ in length');
    this.t = Float64Array.from(times);
    this.price = Float64Array.from(prices);
    for (let i = 1; i < this.t.length; i++) {
      if (this.t[i]! < this.t[i - 1]!) throw new Error('price series: times must be ascending');
    }
    this.highest = this.price.reduce((m, p) => Math.max(m, p), -Infinity);
    this.cum = new Float64Array(this.t.length);
    for (let i = 1; i < this.t.length; i++) {
      this.cum[i] = this.cum[i - 1]! + (this.price[i - 1]! * (this.t[i]! - this.t[i - 1]!)) / 3600;
    }
  }

  /** Index of the step in force at time `at` (the last point at or before it; 0 before the first point). */
  indexAt(at: number): number {
    const t = this.t;
    if (at < t[0]!) return 0;
    let lo = 0;
    let hi = t.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (t[mid]! <= at) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** The price in force at `at` (the first price before the series starts). */
  at(at: number): number {
    return this.price[this.indexAt(at)]!;
  }

  /** Cost in USD of running for [from, to] at this hourly price. */
  integral(from: number, to: number): number {
    if (to <= from) return 0;
    return this.cumulativeTo(to) - this.cumulativeTo(from);
  }

  /**
   * Cost in USD of running for [from, to] at this hourly price (capped at `cap`), counting only the steps whose
   * price passes `keep`.
   */
  integralWhere(from: number, to: number, keep: (price: number) => boolean, cap = Infinity): number {
    if (to <= from) return 0;
    let total = 0;
    let i = this.indexAt(from);
    let start = from;
    while (start < to) {
      const end = i + 1 < this.t.length ? Math.min(this.t[i + 1]!, to) : to;
      if (end > start && keep(this.price[i]!)) total += (Math.min(this.price[i]!, cap) * (end - start)) / 3600;
      start = Math.max(start, end);
      i++;
      if (i >= this.t.length) break;
    }
    return total;
  }

  /**
   * Cost in USD of running for [from, to] at this hourly price capped at `cap`: what a spot instance whose maximum
   * price is `cap` pays (it never pays more than its maximum price; see sim/cloud/ec2.ts). A capped cumulative sum
   * per cap, built on first use: an instance's cap is one of a few (the on-demand price, a pool cap).
   */
  integralCapped(from: number, to: number, cap: number): number {
    if (to <= from) return 0;
    if (!(cap < this.highest)) return this.integral(from, to);
    let cum = this.cappedCum.get(cap);
    if (!cum) {
      cum = new Float64Array(this.t.length);
      for (let i = 1; i < this.t.length; i++) cum[i] = cum[i - 1]! + (Math.min(this.price[i - 1]!, cap) * (this.t[i]! - this.t[i - 1]!)) / 3600;
      this.cappedCum.set(cap, cum);
    }
    const at = (x: number): number => {
      if (x <= this.t[0]!) return ((x - this.t[0]!) * Math.min(this.price[0]!, cap)) / 3600;
      const i = this.indexAt(x);
      return cum[i]! + (Math.min(this.price[i]!, cap) * (x - this.t[i]!)) / 3600;
    };
    return at(to) - at(from);
  }

  private cumulativeTo(at: number): number {
    const t = this.t;
    if (at <= t[0]!) return ((at - t[0]!) * this.price[0]!) / 3600;
    const i = this.indexAt(at);
    return this.cum[i]! + (this.price[i]! * (at - t[i]!)) / 3600;
  }

  /**
   * The first time in [from, until) when this pool cannot launch or keep spot under `maxPrice` (the price above
   * it, by the rule spotfarm's decisions use: canLaunchSpot in src/pools.ts), or null.
   */
  firstUnlaunchable(maxPrice: number, from: number, until: number): number | null {
    let i = this.indexAt(from);
    if (!canLaunchSpot(this.price[i]!, maxPrice)) return from;
    for (i++; i < this.t.length && this.t[i]! < until; i++) {
      if (!canLaunchSpot(this.price[i]!, maxPrice)) return this.t[i]!;
    }
    return null;
  }

  /** Change points in (from, to], with the price in force at `from` first: DescribeSpotPriceHistory's answer. */
  window(from: number, to: number): { t: number; price: number }[] {
    const out: { t: number; price: number }[] = [];
    const i0 = this.indexAt(from);
    out.push({ t: Math.min(this.t[i0]!, from), price: this.price[i0]! });
    for (let i = i0 + 1; i < this.t.length && this.t[i]! <= to; i++) out.push({ t: this.t[i]!, price: this.price[i]! });
    return out;
  }
}

export interface Pool {
  instanceType: string;
  availabilityZone: string;
}

export function poolKey(instanceType: string, availabilityZone: string): string {
  return `${instanceType}/${availabilityZone}`;
}

export class Market {
  readonly spot = new Map<string, StepSeries>();
  readonly onDemand = new Map<string, number>();

  constructor(
    readonly region: string,
    readonly instanceTypes: readonly string[],
    readonly availabilityZones: readonly string[],
  ) {}

  setSpot(instanceType: string, availabilityZone: string, series: StepSeries): void {
    this.spot.set(poolKey(instanceType, availabilityZone), series);
  }

  spotSeries(instanceType: string, availabilityZone: string): StepSeries {
    const series = this.spot.get(poolKey(instanceType, availabilityZone));
    if (!series) throw new Error(`no spot price series for ${instanceType} in ${availabilityZone}`);
    return series;
  }

  spotPrice(instanceType: string, availabilityZone: string, at: number): number {
    return this.spotSeries(instanceType, availabilityZone).at(at);
  }

  onDemandPrice(instanceType: string): number {
    const price = this.onDemand.get(instanceType);
    if (price === undefined) throw new Error(`no on-demand price for ${instanceType}`);
    return price;
  }

  /**
   * The cheapest way to run one instance at each moment: min over pools of the spot price, and the on-demand
   * price, as one step function from `from` to `to`. The oracle prices jobs on it.
   */
  cheapestSeries(from: number, to: number): StepSeries {
    const times = new Set<number>([from]);
    for (const series of this.spot.values()) {
      for (const point of series.window(from, to)) if (point.t > from) times.add(point.t);
    }
    const sorted = [...times].sort((a, b) => a - b);
    const prices = sorted.map((at) => {
      let best = Infinity;
      for (const type of this.instanceTypes) {
        best = Math.min(best, this.onDemandPrice(type));
        for (const az of this.availabilityZones) {
          const series = this.spot.get(poolKey(type, az));
          if (series) best = Math.min(best, series.at(at));
        }
      }
      return best;
    });
    return new StepSeries(sorted, prices);
  }
}
