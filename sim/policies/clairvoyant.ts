/**
 * The clairvoyant: the cheapest farm that could have run the trace with no wait, knowing the future, computed, not
 * simulated. It is the bound spotfarm is measured against (the oracle, with no boot and no idle slot, cannot be
 * reached by any farm).
 *
 * Its rules: every job starts at its arrival; at each moment the farm has ceil(running jobs / slots) instances
 * (jobs pack perfectly, as if they could move between instances); every launch pays `boot_seconds` of the new
 * instance's price before it serves; an instance pays its own pool's price (a spot pool's price at each moment, or
 * its type's on-demand price) and moves to another pool only by a new launch, which pays another boot; a spot
 * instance may run only while its pool's price is at or below the max price (`canLaunchSpot`, src/pools.ts; the
 * type's on-demand price, as spotfarm and the recipe set it); a dip in demand is bridged (the instance kept, idle)
 * when that is cheaper than a new boot.
 *
 * Free rides, as EC2 bills: a spot instance EC2 interrupts within its first hour is not billed at all (EC2 user
 * guide, "Billing for interrupted Spot Instances"; sim/cloud/ec2.ts), and a price interruption is known in advance
 * (the price passing the max price: the warning, the instance taken two minutes later). So where a pool's price
 * passes the max within the hour after a launch, the bound may launch there and ride the instance to its warning
 * for nothing, as the simulated farms do by accident (spotfarm on default: 3,082 such instances, $35.45). Only
 * when the scenario interrupts for price (`interruptions.price_above_max`, the default). The oracle knows no free
 * ride, so the bound can cost less than it.
 *
 * How: demand is split into layers (layer k is needed while ceil(running / slots) >= k). Instances are
 * interchangeable, so each layer is one instance slot over time and is solved alone by a dynamic program over its
 * segments (cut at its busy intervals and at every price change), with one state per place it may use plus "off":
 *   stay in a state: pay its price over the segment (spot only below its max price, "off" only when not needed);
 *   enter a pool: pay a boot in it (the old instance serves while the new one boots, so the boot is extra);
 *   ride free: launch into a spot pool whose price passes the max within the hour, serve to the warning for
 *   nothing, then enter a pool or go off (segments are also cut at the first moment each such ride can start).
 * O(layers x segments x states): 0.15-0.7 s per bundled scenario on a loaded two-core machine.
 *
 * The farm's group limits hold, as they hold for every simulated policy: the spot group runs at most
 * `farm.spot.max` instances (spot, or on-demand after a swap) and the on-demand group at most `farm.on_demand.max`
 * (on-demand only). Layers are nested (layer k is needed only while every layer below it is), so the first
 * `spot.max` layers are the spot group's and may use every place; the next `on_demand.max` are the on-demand
 * group's and use only on-demand places. So no more than `spot.max` instances run on spot at any moment, and the
 * demand above it is paid at on-demand. Beyond both maxima the farm is full: jobs wait, first in first out, for
 * the first slot to free (a slot frees when its job ends), and start then; the bound reports those waits
 * (`wait_p50_s` ...) and runs the layers of the jobs as they start. No bundled scenario gets there.
 *
 * What the split gives away: it is the cheapest plan among those that keep layer k's instance in layer k. A plan
 * that runs a short burst above `spot.max` on spot while a lower layer sits out a spot-priced stretch on on-demand
 * (because its own move back to spot is not worth a boot) is not in it: the bound can be a little dearer than the
 * true optimum under the limits, never cheaper than a farm could be. The other way, a pool change inside the spot
 * group overlaps the old instance with the new one's boot, so during that boot the group holds one more than its
 * max when all its layers are up; the bound allows it (a minute or two, a few times a day).
 *
 * Not modelled: the groups' min sizes (the bound starts and ends with no instance), capacity storms (a pool without
 * capacity), interruptions other than the price passing the max (random ones are not known in advance, so they
 * give no free ride either), and Auto Scaling's one-minute billing minimum (every launch pays a boot of more than a
 * minute anyway).
 */
import { FREE_INTERRUPTED_SECONDS } from '../cloud/ec2';
import { poolKey, StepSeries } from '../market';
import { canLaunchSpot } from '../../src/pools';
import type { CostBreakdown, PolicySummary } from '../result';
import type { Scenario } from '../scenario';

/** One place an instance can be: a type on on-demand, or a spot pool. */
interface Place {
  market: 'spot' | 'on-demand';
  type: string;
  series: StepSeries | undefined;
  onDemand: number;
  /** The type's max price (on-demand): a spot instance may run only while its pool's price is at or below it. */
  maxPrice: number;
  /**
   * Spot: the times its price passes the max price (EC2 warns then), ascending; a launch while the price is above
   * it fails. For the free rides (canLaunchSpot, src/pools.ts: at or below the max price launches and stays).
   */
  passes?: Float64Array;
}

/**
 * A spot instance EC2 interrupts within FREE_INTERRUPTED_SECONDS of its launch is not billed (sim/cloud/ec2.ts);
 * EC2 takes it two minutes after the warning, so the warning must come within this long of the launch.
 */
const FREE_RIDE_SECONDS = FREE_INTERRUPTED_SECONDS - 120;

export interface ClairvoyantResult {
  summary: PolicySummary;
  /** Layers of demand: the most instances the farm needs at once (ceil(running / slots) at its peak). */
  layers: number;
  /** Jobs that waited for a slot because the farm was full (both groups at their max); 0 below the limits. */
  jobsWaited: number;
}

/** Seconds, USD: a cumulative price integral along the layer's chosen states, for pricing slots on it. */
interface LayerPath {
  /** Segment start times, ascending, and the cumulative cost at each (busy time is priced on it). */
  t: Float64Array;
  cum: Float64Array;
  /** Hourly price in force from t[i]. */
  rate: Float64Array;
}

export function clairvoyant(scenario: Scenario): PolicySummary {
  return clairvoyantRun(scenario).summary;
}

export function clairvoyantRun(scenario: Scenario): ClairvoyantResult {
  const { arrival, runtime } = scenario.workload;
  const n = arrival.length;
  const slots = scenario.farm.slotsPerInstance;
  const boot = scenario.farm.bootSeconds;
  const market = scenario.market;
  const spotLayers = scenario.farm.spot.max;
  const maxLayers = spotLayers + scenario.farm.onDemand.max;

  // When each job starts: at its arrival, or, when the farm is full, when a slot frees (first in first out).
  const start = startTimes(arrival, runtime, maxLayers * slots);
  const waits: number[] = [];
  let jobsWaited = 0;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(start[i]!)) continue;
    const wait = start[i]! - arrival[i]!;
    waits.push(wait);
    if (wait > 0) jobsWaited++;
  }
  const started = waits.length;

  // Running jobs over time: +1 at the start, -1 at the end (ends first at equal times: no artificial peak).
  const times = new Float64Array(2 * started);
  const deltas = new Int8Array(2 * started);
  for (let i = 0, j = 0; i < n; i++) {
    if (!Number.isFinite(start[i]!)) continue;
    times[2 * j] = start[i]!;
    deltas[2 * j] = 1;
    times[2 * j + 1] = start[i]! + runtime[i]!;
    deltas[2 * j + 1] = -1;
    j++;
  }
  const order = Array.from({ length: 2 * started }, (_, i) => i).sort((a, b) => times[a]! - times[b]! || deltas[a]! - deltas[b]!);

  // Slot j (1-based) is busy while running >= j; it belongs to layer ceil(j / slots).
  const slotOpen: number[] = [];
  const slotBusy: [number, number][][] = []; // per slot: [from, to] intervals
  const layerOpen: number[] = [];
  const layerBusy: [number, number][][] = [];
  let running = 0;
  let end = scenario.start + scenario.duration;
  for (const e of order) {
    const t = times[e]!;
    end = Math.max(end, t);
    if (deltas[e]! > 0) {
      running++;
      slotOpen[running] = t;
      if ((running - 1) % slots === 0) layerOpen[(running - 1) / slots + 1] = t;
    } else {
      (slotBusy[running] ??= []).push([slotOpen[running]!, t]);
      if ((running - 1) % slots === 0) {
        const k = (running - 1) / slots + 1;
        (layerBusy[k] ??= []).push([layerOpen[k]!, t]);
      }
      running--;
    }
  }

  const places: Place[] = [];
  for (const type of scenario.instanceTypes) {
    const od = market.onDemandPrice(type);
    places.push({ market: 'on-demand', type, series: undefined, onDemand: od, maxPrice: od });
    for (const az of scenario.availabilityZones) {
      const series = market.spot.get(poolKey(type, az));
      if (!series) continue;
      const passes: number[] = [];
      for (let i = 0; i < series.t.length; i++) {
        if (!canLaunchSpot(series.price[i]!, od) && (i === 0 || canLaunchSpot(series.price[i - 1]!, od))) passes.push(series.t[i]!);
      }
      places.push({ market: 'spot', type, series, onDemand: od, maxPrice: od, passes: Float64Array.from(passes) });
    }
  }
  const freeRides = scenario.interruptions.priceAboveMax;
  // The on-demand group's layers: on-demand places only.
  const onDemandPlaces = places.filter((p) => !p.series);
  const from = scenario.start - boot;
  const cheapest = market.cheapestSeries(from, end);
  // Every price change point in the run, once: segments cut there have constant prices. And one boot after each:
  // a launch into a pool that just turned cheap boots at the new price and serves from then.
  // With free rides, also the first moment a launch is taken by a price passing the max within its first hour (the
  // earliest a free ride into that pool can start serving).
  const rideStarts = (p: Place) => (freeRides ? [...(p.passes ?? [])].map((t) => t - FREE_RIDE_SECONDS + boot + 1) : []);
  const priceTimes = [
    ...new Set(places.flatMap((p) => (p.series ? [...p.series.window(from, end).flatMap((w) => [w.t, w.t + boot]), ...rideStarts(p)] : []))),
  ]
    .filter((t) => t > from && t < end)
    .sort((a, b) => a - b);

  const total: CostBreakdown = { busy_usd: 0, idle_usd: 0, boot_usd: 0, rework_usd: 0, on_demand_premium_usd: 0 };
  let cost = 0;
  let spotSeconds = 0;
  let onDemandSeconds = 0;
  const layers = layerBusy.length - 1;
  for (let k = 1; k <= layers; k++) {
    const busy = layerBusy[k] ?? [];
    if (busy.length === 0) continue;
    // Layers above the spot group's max are the on-demand group's: no spot there, so no spot price cut either.
    const spotGroup = k <= spotLayers;
    const solved = solveLayer(busy, spotGroup ? places : onDemandPlaces, spotGroup ? priceTimes : [], boot, spotGroup && freeRides);
    cost += solved.cost;
    total.boot_usd += solved.boot;
    spotSeconds += solved.spotSeconds;
    onDemandSeconds += solved.onDemandSeconds;
    total.on_demand_premium_usd += solved.onDemandSegments.reduce(
      (sum, [a, b, price]) => sum + Math.max(0, (price * (b - a)) / 3600 - cheapest.integral(a, b)),
      0,
    );
    // Busy: each job's share of its layer's instance (1/slots of its price) while it runs.
    for (let j = (k - 1) * slots + 1; j <= k * slots; j++) {
      for (const [a, b] of slotBusy[j] ?? []) total.busy_usd += pathIntegral(solved.path, a, b) / slots;
    }
  }
  total.idle_usd = Math.max(0, cost - total.busy_usd - total.boot_usd);
  return {
    layers,
    jobsWaited,
    summary: {
      cost_usd: cost,
      jobs_submitted: n,
      jobs_completed: started,
      jobs_lost: n - started,
      wait_p50_s: percentile(waits, 50),
      wait_p95_s: percentile(waits, 95),
      wait_max_s: waits.length === 0 ? null : waits.reduce((a, b) => Math.max(a, b), 0),
      spot_instance_hours: spotSeconds / 3600,
      on_demand_instance_hours: onDemandSeconds / 3600,
      swaps: null,
      interruptions: null,
      max_backlog: null,
      cost_breakdown: total,
    },
  };
}

interface SolvedLayer {
  cost: number;
  boot: number;
  spotSeconds: number;
  onDemandSeconds: number;
  /** [from, to, hourly price] of every on-demand stretch. */
  onDemandSegments: [number, number, number][];
  path: LayerPath;
}

/** One layer's cheapest plan: a state (pool or off) per segment, by dynamic programming, then read back. */
function solveLayer(busy: [number, number][], places: Place[], priceTimes: number[], boot: number, freeRides: boolean): SolvedLayer {
  // Segment boundaries: the busy intervals' ends and the price changes in the layer's span.
  const first = busy[0]![0];
  const cuts: number[] = [];
  let p = lowerBound(priceTimes, first);
  for (const [a, b] of busy) {
    while (p < priceTimes.length && priceTimes[p]! < a) cuts.push(priceTimes[p++]!);
    cuts.push(a);
    while (p < priceTimes.length && priceTimes[p]! < b) cuts.push(priceTimes[p++]!);
    cuts.push(b);
  }
  const bounds = dedupe(cuts);
  const segs = bounds.length - 1;
  // needed[s]: segment s lies inside a busy interval.
  const needed = new Uint8Array(segs);
  {
    let i = 0;
    for (let s = 0; s < segs; s++) {
      const mid = (bounds[s]! + bounds[s + 1]!) / 2;
      while (i < busy.length && busy[i]![1] <= mid) i++;
      needed[s] = i < busy.length && busy[i]![0] <= mid ? 1 : 0;
    }
  }
  const S = places.length + 1; // state 0: off
  const OFF = 0;
  /** cameFrom code: the segment begins where a free ride ended (rideStart, ridePlace, rideFrom say which). */
  const FREE = S;
  const INF = Number.POSITIVE_INFINITY;
  // Free rides: a spot instance EC2 interrupts within its first hour is not billed at all, and a price interruption
  // is known in advance. arrive[i]: the cheapest cost with a free ride ending at bounds[i] (the layer must be
  // served by a launch, or be off, from there); the ride began at segment rideStart[i], in place ridePlace[i],
  // after state rideFrom[i] (FREE: right after another ride).
  const arrive = new Float64Array(segs + 1).fill(INF);
  const rideStart = new Int32Array(segs + 1);
  const ridePlace = new Int16Array(segs + 1);
  const rideFrom = new Int16Array(segs + 1);
  let endRide = { cost: INF, start: 0, place: 0, from: 0 };
  let value = new Float64Array(S).fill(INF);
  value[OFF] = 0;
  let next = new Float64Array(S);
  // from[s * S + x]: the state before segment s when in state x during it.
  const cameFrom = new Int16Array(segs * S);
  // Segments advance in time: one cursor per spot series instead of a search per lookup.
  const cursor = new Int32Array(S);
  const rate = new Float64Array(S);
  const priceAt = (at: number): void => {
    for (let x = 1; x < S; x++) {
      const place = places[x - 1]!;
      const series = place.series;
      if (!series) {
        rate[x] = place.onDemand;
        continue;
      }
      let i = cursor[x]!;
      while (i + 1 < series.t.length && series.t[i + 1]! <= at) i++;
      cursor[x] = i;
      rate[x] = series.price[i]!;
    }
  };
  const price = (x: number, at: number): number => {
    const place = places[x - 1]!;
    return place.series ? place.series.at(at) : place.onDemand;
  };
  const bootCost = (x: number, at: number): number => {
    const place = places[x - 1]!;
    return place.series ? place.series.integral(at - boot, at) : (place.onDemand * boot) / 3600;
  };
  for (let s = 0; s < segs; s++) {
    const a = bounds[s]!;
    const b = bounds[s + 1]!;
    // The cheapest state before this segment, and the cheapest other than it: a launch into x comes from the
    // cheapest state that is not x itself (staying in x needs no launch).
    let best = OFF;
    for (let x = 1; x < S; x++) if (value[x]! < value[best]!) best = x;
    let second = best === OFF ? 1 : OFF;
    for (let x = 0; x < S; x++) if (x !== best && value[x]! < value[second]!) second = x;
    next.fill(INF);
    const free = arrive[s]!;
    // Off: free, but only when the layer is not needed.
    if (!needed[s]) {
      next[OFF] = value[best]!;
      cameFrom[s * S + OFF] = best;
      if (free < next[OFF]!) {
        next[OFF] = free;
        cameFrom[s * S + OFF] = FREE;
      }
    }
    // A free ride starting here: launched a boot before `a` into a spot pool whose price passes the max price (EC2
    // warns then, and takes the instance two minutes later) within the first hour: nothing billed. It serves the
    // layer from `a` to the warning, from the cheapest state so far (the old instance stops at `a`).
    if (freeRides) {
      const startCost = Math.min(value[best]!, free);
      const startFrom = free < value[best]! ? FREE : best;
      for (let x = 1; x < S && startCost < INF; x++) {
        const place = places[x - 1]!;
        if (!place.series || !place.passes) continue;
        const launchAt = a - boot;
        // The launch must succeed, the instance serve, and the warning come in time for EC2 to take it within the hour.
        if (!canLaunchSpot(place.series.at(launchAt), place.maxPrice)) continue;
        const next = upperBound(place.passes, launchAt);
        const warned = next < place.passes.length ? place.passes[next]! : INF;
        if (warned <= a || warned >= launchAt + FREE_RIDE_SECONDS) continue;
        // The ride serves until the last segment boundary at or before the warning.
        const end = upperBound(bounds, warned) - 1;
        if (end <= s) continue;
        if (end >= segs) {
          if (startCost < endRide.cost) endRide = { cost: startCost, start: s, place: x, from: startFrom };
        } else if (startCost < arrive[end]!) {
          arrive[end] = startCost;
          rideStart[end] = s;
          ridePlace[end] = x;
          rideFrom[end] = startFrom;
        }
      }
    }
    priceAt(a);
    for (let x = 1; x < S; x++) {
      // Spot only while the pool can launch and keep spot: at or below the max price (canLaunchSpot, the rule the
      // decisions and the simulated cloud share).
      if (places[x - 1]!.series && !canLaunchSpot(rate[x]!, places[x - 1]!.maxPrice)) continue;
      const other = best === x ? second : best;
      let v = value[x]!;
      let from = x;
      // A launch pays a boot, so it can only win when the state it comes from is cheaper to begin with.
      if (value[other]! < v) {
        const launched = value[other]! + bootCost(x, a);
        if (launched < v) {
          v = launched;
          from = other;
        }
      }
      // A launch as a free ride ends (booted while the ridden instance serves out its warning).
      if (free < v) {
        const launched = free + bootCost(x, a);
        if (launched < v) {
          v = launched;
          from = FREE;
        }
      }
      if (v === INF) continue;
      next[x] = v + (rate[x]! * (b - a)) / 3600;
      cameFrom[s * S + x] = from;
    }
    [value, next] = [next, value];
  }
  // Read the plan back from the cheapest final state (or a free ride to the end). states[s] < 0: a free ride in
  // place -states[s].
  let state = OFF;
  for (let x = 1; x < S; x++) if (value[x]! < value[state]!) state = x;
  const states = new Int16Array(segs);
  let cost = value[state]!;
  let s = segs - 1;
  /** A free ride ends at bounds[rideEnd]: read it back, then what came before it. */
  let rideEnd = -1;
  if (endRide.cost < cost) {
    cost = endRide.cost;
    states.fill(-endRide.place, endRide.start, segs);
    s = endRide.start - 1;
    if (endRide.from === FREE) rideEnd = endRide.start;
    else state = endRide.from;
  }
  while (s >= 0 || rideEnd >= 0) {
    if (rideEnd >= 0) {
      const e = rideEnd;
      rideEnd = -1;
      states.fill(-ridePlace[e]!, rideStart[e]!, e);
      s = rideStart[e]! - 1;
      if (rideFrom[e] === FREE) rideEnd = rideStart[e]!;
      else state = rideFrom[e]!;
      continue;
    }
    states[s] = state;
    const from = cameFrom[s * S + state]!;
    if (from === FREE) rideEnd = s;
    else state = from;
    s--;
  }
  let bootUsd = 0;
  let spotSeconds = 0;
  let onDemandSeconds = 0;
  const onDemandSegments: [number, number, number][] = [];
  const pathT = new Float64Array(segs + 1);
  const pathCum = new Float64Array(segs + 1);
  const pathRate = new Float64Array(segs + 1);
  let prev = OFF;
  for (let s = 0; s < segs; s++) {
    const x = states[s]!;
    const a = bounds[s]!;
    const b = bounds[s + 1]!;
    pathT[s] = a;
    pathRate[s] = x <= OFF ? 0 : price(x, a);
    pathCum[s + 1] = pathCum[s]! + (pathRate[s]! * (b - a)) / 3600;
    if (x < 0) {
      // A free ride: spot hours (its boot too), nothing billed. Two rides in a row in one pool read as one here.
      spotSeconds += (x !== prev ? boot : 0) + (b - a);
      prev = x;
      continue;
    }
    if (x !== OFF && x !== prev) {
      bootUsd += bootCost(x, a);
      if (places[x - 1]!.series) spotSeconds += boot;
      else {
        onDemandSeconds += boot;
        onDemandSegments.push([a - boot, a, places[x - 1]!.onDemand]);
      }
    }
    if (x !== OFF) {
      if (places[x - 1]!.series) spotSeconds += b - a;
      else {
        onDemandSeconds += b - a;
        onDemandSegments.push([a, b, places[x - 1]!.onDemand]);
      }
    }
    prev = x;
  }
  pathT[segs] = bounds[segs]!;
  return {
    cost,
    boot: bootUsd,
    spotSeconds,
    onDemandSeconds,
    onDemandSegments,
    path: { t: pathT, cum: pathCum, rate: pathRate },
  };
}

/**
 * Each job's start: its arrival while fewer than `capacity` slots are busy, else the moment the earliest-freed slot
 * frees, in arrival order (first in first out). Infinity when the farm has no slot at all (both maxima 0).
 */
function startTimes(arrival: Float64Array, runtime: Float64Array, capacity: number): Float64Array {
  const n = arrival.length;
  const start = Float64Array.from(arrival);
  if (capacity <= 0) return start.fill(Number.POSITIVE_INFINITY);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => arrival[a]! - arrival[b]! || a - b);
  // A min-heap of the busy slots' free times; below capacity a job takes a free slot at its arrival.
  const heap: number[] = [];
  for (const i of order) {
    if (heap.length === capacity) {
      const free = heap[0]!;
      if (free > arrival[i]!) start[i] = free;
      heapReplaceTop(heap, start[i]! + runtime[i]!);
    } else {
      // Slots freed before this arrival stay in the heap until they are needed: a full heap's top is the earliest.
      heapPush(heap, start[i]! + runtime[i]!);
    }
  }
  return start;
}

function heapPush(heap: number[], value: number): void {
  heap.push(value);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent]! <= value) break;
    heap[i] = heap[parent]!;
    i = parent;
  }
  heap[i] = value;
}

function heapReplaceTop(heap: number[], value: number): void {
  const n = heap.length;
  let i = 0;
  for (;;) {
    const left = 2 * i + 1;
    if (left >= n) break;
    const child = left + 1 < n && heap[left + 1]! < heap[left]! ? left + 1 : left;
    if (heap[child]! >= value) break;
    heap[i] = heap[child]!;
    i = child;
  }
  heap[i] = value;
}

/** Nearest-rank percentile (as the simulated policies' waits are reported); null for none. */
function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** The first index whose value is above x (sorted ascending). */
function upperBound(sorted: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** USD the layer's instance costs over [a, b] along its chosen path. */
function pathIntegral(path: LayerPath, a: number, b: number): number {
  return cumAt(path, b) - cumAt(path, a);
}

function cumAt(path: LayerPath, at: number): number {
  const t = path.t;
  let lo = 0;
  let hi = t.length - 1;
  if (at <= t[0]!) return 0;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (t[mid]! <= at) lo = mid;
    else hi = mid - 1;
  }
  return path.cum[lo]! + (path.rate[lo]! * (at - t[lo]!)) / 3600;
}

function lowerBound(sorted: number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function dedupe(sorted: number[]): number[] {
  const out: number[] = [];
  for (const t of sorted) if (out.length === 0 || t > out[out.length - 1]!) out.push(t);
  return out;
}
