/**
 * The `plan` report: a pure function of one observation. It shows, per farm and group, what spotfarm sees
 * (market style and market, sizes, types and AZs, prices, cost now) and, as the other functions land, what
 * they would do. It never mutates anything.
 */
import type { CapacityPlan } from './capacity/plan';
import { groupSpotPrice } from './prices';
import { isRunning } from './model';
import { noRouteToOnDemand, onDemandGroupFull, type OnDemandGroupFacts } from './route';
import type { FarmObservation, GroupObservation, Observation } from './observe';
import { describeSettings } from './settings';

export interface PlanGroup {
  name: string;
  role: 'spot' | 'on-demand';
  status: 'ok' | 'misconfigured';
  problems: string[];
  marketStyle: string;
  /** Market of new instances: spot, on-demand, or mixed (a mixed-instances policy that splits). */
  market: string | null;
  size: { min: number; desired: number; max: number; inService: number; pending: number };
  instanceTypes: string[];
  availabilityZones: string[];
  /** USD/h per AZ and type; absent where AWS has no price. */
  spotPrices: Record<string, Record<string, number>>;
  /** USD/h per type, with where it came from. */
  onDemandPrices: Record<string, { usdPerHour: number; source: string; asOf?: string } | null>;
  /** The group's spot price over on-demand, as the market controller compares it (README: "Which spot price"). */
  spotToOnDemandRatio: number | null;
  /** Running instances at their market's price now, USD/h. */
  estimatedCostPerHour: number | null;
  instancesByMarket: { spot: number; onDemand: number; unknown: number };
  settings: Record<string, string | number>;
  /** Added by the other functions' planners (market, capacity, interruptions). */
  [section: string]: unknown;
}

export interface PlanFarm {
  farm: string;
  queue: { name: string | null; visible?: number; inFlight?: number; delayed?: number; error?: string };
  groups: PlanGroup[];
  /**
   * What the owner should know about the farm as a whole, in plain words with what to do: a spot group with no
   * route to on-demand (src/route.ts), or one whose on-demand group is at its max now. Empty when none.
   */
  warnings: string[];
  /** The queue scaler's section (src/capacity/plan.ts planCapacity), added by functions/plan.ts. */
  capacity?: CapacityPlan;
  [section: string]: unknown;
}

export interface Plan {
  generatedAt: string;
  region: string;
  dryRun: true;
  farms: PlanFarm[];
  skippedGroups: { groupName: string; error: string }[];
  notes: string[];
}

const round = (n: number, digits = 6) => Math.round(n * 10 ** digits) / 10 ** digits;

export function planGroup(g: GroupObservation): PlanGroup {
  const running = g.group.instances.filter(isRunning);
  const inService = running.filter((i) => i.lifecycleState === 'InService').length;
  const onDemand: Record<string, number | undefined> = {};
  for (const [type, price] of Object.entries(g.onDemandPrices)) onDemand[type] = price?.usdPerHour;
  const price = groupSpotPrice(g.instanceTypes, g.spotPrices, onDemand, g.launch?.spotMaxPrice);

  const spotPrices: Record<string, Record<string, number>> = {};
  for (const p of g.spotPrices) (spotPrices[p.availabilityZone] ??= {})[p.instanceType] = p.spot;

  let cost = 0;
  let costKnown = true;
  const byMarket = { spot: 0, onDemand: 0, unknown: 0 };
  for (const instance of running) {
    const market = g.instanceMarkets[instance.id] ?? (g.market === 'mixed' ? undefined : g.market);
    const od = onDemand[instance.type];
    if (market === 'spot') {
      byMarket.spot++;
      const spot = g.spotPrices.find((p) => p.instanceType === instance.type && p.availabilityZone === instance.availabilityZone)?.spot;
      if (spot === undefined) costKnown = false;
      else cost += spot;
    } else if (market === 'on-demand') {
      byMarket.onDemand++;
      if (od === undefined) costKnown = false;
      else cost += od;
    } else {
      byMarket.unknown++;
      costKnown = false;
    }
  }

  return {
    name: g.group.name,
    role: g.role,
    status: g.problems.length === 0 ? 'ok' : 'misconfigured',
    problems: g.problems,
    marketStyle: g.group.launch.style,
    market: g.market ?? null,
    size: { min: g.group.min, desired: g.group.desired, max: g.group.max, inService, pending: running.length - inService },
    instanceTypes: g.instanceTypes,
    availabilityZones: g.group.availabilityZones,
    spotPrices,
    onDemandPrices: Object.fromEntries(
      Object.entries(g.onDemandPrices).map(([type, p]) => [type, p ? { ...p } : null]),
    ),
    spotToOnDemandRatio: price.ratio === undefined ? null : Number(price.ratio.toPrecision(4)),
    estimatedCostPerHour: costKnown ? round(cost, 4) : null,
    instancesByMarket: byMarket,
    settings: describeSettings(g.settings),
  };
}

export function planFarm(f: FarmObservation): PlanFarm {
  return {
    farm: f.farm,
    queue: {
      name: f.queueName ?? null,
      ...(f.queue ?? {}),
      ...(f.queueError ? { error: f.queueError } : {}),
      ...(!f.queueName ? { error: 'no group of this farm is tagged spotfarm:queue' } : {}),
    },
    groups: f.groups.map(planGroup),
    warnings: farmWarnings(f),
  };
}

/** The farm's route to on-demand, per spot group (src/route.ts): said once per group, the missing route first. */
export function farmWarnings(f: FarmObservation): string[] {
  const onDemand: OnDemandGroupFacts[] = f.groups
    .filter((g) => g.role === 'on-demand')
    .map((g) => ({ name: g.group.name, max: g.group.max, desired: g.group.desired }));
  const out: string[] = [];
  for (const g of f.groups) {
    if (g.role !== 'spot') continue;
    const spot = { name: g.group.name, style: g.group.launch.style, mixedFallback: g.settings.mixedFallback };
    const said = noRouteToOnDemand(spot, f.farm, onDemand) ?? onDemandGroupFull(spot, f.farm, onDemand);
    if (said) out.push(said);
  }
  return out;
}

export function buildPlan(observation: Observation, farmFilter: string): Plan {
  const notes: string[] = [];
  if (observation.farms.length === 0) {
    notes.push(
      farmFilter === '*'
        ? 'no managed group found: tag an Auto Scaling group spotfarm:farm=<farm> to opt it in'
        : `no managed group found for farm ${farmFilter}: tag its groups spotfarm:farm=${farmFilter}`,
    );
  }
  const fallback = observation.farms.some((f) =>
    f.groups.some((g) => Object.values(g.onDemandPrices).some((p) => p?.source === 'fallback-table')),
  );
  if (fallback) notes.push('on-demand prices come from the bundled fallback table: the Pricing API did not answer');
  for (const farm of observation.farms) {
    // The question a plan raises: what would spotfarm have done here? The backtest answers it on the farm's own
    // last month (README, "Backtest your own farm").
    notes.push(
      `backtest farm ${farm.farm} on its last 30 days: npx spotfarm scenario from-account --farm ${farm.farm} --region ${observation.region} --out scenario-${farm.farm} && npx spotfarm backtest scenario-${farm.farm}/scenario.yaml`,
    );
  }
  return {
    generatedAt: observation.at.toISOString(),
    region: observation.region,
    dryRun: true,
    farms: observation.farms.map(planFarm),
    skippedGroups: observation.skipped,
    notes,
  };
}
