/**
 * The market controller's gather phase, read-only: on top of `observeFarms` (groups, launch sources, prices),
 * each spot group's stored market state, its spot capacity failures (its own scaling-activity history, plus the
 * failures the interruption function recorded from events, one per activity id)
 * and the interruptions recorded in its pools. `plan` uses it too, so plan shows what the next check would do.
 */
import { describeFailedLaunches, describeLaunchConfigurations, type FailedLaunch } from '../aws/autoscaling';
import type { Config } from '../config';
import { groupSpotPrice, isPriceInterruption, type GroupPrice } from '../prices';
import { describeInstanceMarkets, describeLaunchTimes, describeSpotPrices, describeSpotPriceSteps, describeTemplateVersions, templateVersionKey, type PriceSteps } from '../aws/ec2';
import { onDemandPrice } from '../aws/pricing';
import type { MarketInput, MarketSignals } from './decide';
import { BREAKER_MIN_INTERRUPTIONS, capLevel, type PoolSignal } from './pools';
import { QUIET_PERIOD_SECONDS, readMarketState, type MarketOriginals, type VersionedMarketState } from './state';
import { isRunning } from '../model';
import { observeFarms, type GroupObservation, type Observation, type ObserveOptions } from '../observe';
import type { OnDemandGroupFacts } from '../route';
import { isCapacityFailure, isOnDemandLaunchFailure, readCapacityFailures, readPoolInterruptions } from '../records';

/** What the market controller reads beyond the groups (observeFarms): launch sources and prices. */
export const MARKET_READS = {
  launchSources: { describeLaunchConfigurations, describeTemplateVersions, templateVersionKey },
  prices: { describeSpotPrices, onDemandPrice },
} satisfies ObserveOptions;

/** A launch refused because the spot price is above the max price (what a pool cap causes on purpose). */
const CAPPED = /SpotMaxPriceTooLow|Spot request price of .* is lower than/i;

/** What one group's market decision is made on. */
export interface GroupMarketView {
  group: GroupObservation;
  stored: VersionedMarketState;
  input: MarketInput;
  /** The failures counted, for the log and plan. */
  capacityFailureMessages: string[];
  /** Failed on-demand launches since the group fell back (within `capacityWindow`), for the log and plan. */
  onDemandFailureMessages: string[];
  /** The pool the breaker figures come from (the worst one), if any was interrupted. */
  breakerPool: string | undefined;
}

/** The group's launch source in the form a fall-back remembers (what the market controller returns to). */
export function originalsOf(g: GroupObservation): MarketOriginals | undefined {
  const launch = g.group.launch;
  switch (launch.style) {
    case 'launch-configuration':
      return { style: 'launch-configuration', name: launch.name };
    case 'launch-template':
      return {
        style: 'launch-template',
        templateId: launch.template.id,
        templateName: launch.template.name,
        version: launch.template.version,
        resolvedVersion: g.launch?.resolvedVersion,
      };
    case 'mixed-instances':
      return {
        style: 'mixed-instances',
        onDemandPercentageAboveBaseCapacity: launch.onDemandPercentageAboveBaseCapacity,
        fallback: g.settings.mixedFallback,
      };
    case 'none':
      return undefined;
  }
}

/** The group's price as src/prices.ts defines it. */
export function priceOf(g: GroupObservation): GroupPrice {
  const onDemand: Record<string, number | undefined> = {};
  for (const [type, price] of Object.entries(g.onDemandPrices)) onDemand[type] = price?.usdPerHour;
  return groupSpotPrice(g.instanceTypes, g.spotPrices, onDemand, g.launch?.spotMaxPrice);
}

export function priceSignals(g: GroupObservation): Pick<MarketSignals, 'ratio' | 'spotPrice' | 'onDemandPrice' | 'launchableAzs'> {
  const price = priceOf(g);
  return { ratio: price.ratio, spotPrice: price.spotPrice, onDemandPrice: price.onDemandPrice, launchableAzs: price.launchableAzs };
}

export async function gatherMarket(observation: Observation, config: Readonly<Config>, now: Date): Promise<GroupMarketView[]> {
  const groups = observation.farms.flatMap((f) => f.groups);
  const spotGroups = groups.filter((g) => g.role === 'spot' && g.problems.length === 0);
  const table = config.stateTable;

  const longestWindow = Math.max(0, ...spotGroups.map((g) => g.settings.capacityWindow));
  // Each managed spot group's own history (DescribeScalingActivities with AutoScalingGroupName), not the whole
  // account's: the account pages grow with every group, and in-progress activities come first whatever their age.
  const failed = new Map<string, FailedLaunch[]>(
    await Promise.all(
      spotGroups.map(async (g) => [g.group.name, await describeFailedLaunches(g.group.name, new Date(now.getTime() - longestWindow * 1000))] as const),
    ),
  );

  // Pools are shared between groups (a farm's spot and fallback groups, several farms): read each once.
  const poolReads = new Map<string, Promise<Map<string, number>>>();
  /** Interrupted instance id -> when it was warned (epoch ms), in the pool over the last `windowSeconds`. */
  const interruptedIn = (type: string, az: string, windowSeconds: number): Promise<Map<string, number>> => {
    const key = `${type}|${az}|${windowSeconds}`;
    let read = poolReads.get(key);
    if (!read) {
      read =
        table === ''
          ? Promise.resolve(new Map<string, number>())
          : readPoolInterruptions(table, type, az, new Date(now.getTime() - windowSeconds * 1000), now).then(
              (records) =>
                new Map(
                  records.map((r) => [
                    (r.data as { instanceId?: string } | null)?.instanceId ?? r.sk.split('#').pop() ?? r.sk,
                    Date.parse(r.at),
                  ]),
                ),
            );
      poolReads.set(key, read);
    }
    return read;
  };
  // Spot price history over the longest breaker window, read once (one call for every pool) and only when some
  // pool had interruptions: it tells the old market's price interruptions from capacity storms.
  const longestBreakerWindow = Math.max(0, ...spotGroups.map((g) => g.settings.breakerWindow));
  let history: Promise<Map<string, PriceSteps>> | undefined;
  const priceHistory = (): Promise<Map<string, PriceSteps>> => {
    history ??= describeSpotPriceSteps(
      spotGroups.flatMap((g) => g.instanceTypes.flatMap((instanceType) => g.group.availabilityZones.map((availabilityZone) => ({ instanceType, availabilityZone })))),
      new Date(now.getTime() - (longestBreakerWindow + 120) * 1000),
      now,
    );
    return history;
  };

  return Promise.all(
    groups.map(async (g): Promise<GroupMarketView> => {
      const managed = g.role === 'spot' && g.problems.length === 0;
      const stored: VersionedMarketState =
        managed && table !== '' ? await readMarketState(table, g.group.name) : { state: undefined, version: 0, others: {} };
      const running = g.group.instances.filter(isRunning);

      const since = new Date(now.getTime() - g.settings.capacityWindow * 1000);
      // While the group launches on-demand (fallen back), its failed launches are on-demand failures: they say
      // nothing about spot and must not keep the group off spot.
      const onDemandSince = stored.state?.market === 'on-demand' ? Date.parse(stored.state.since) : Infinity;
      const counts = (at: string, message: string) => {
        const t = Date.parse(at);
        return t >= since.getTime() && t < onDemandSince && isCapacityFailure(message);
      };
      const failures = new Map<string, string>();
      // Failed launches since the fall-back that were on-demand ones: the fall-back did not restore capacity
      // (issue 14). A group fallen back through the on-demand group still launches spot by its own source, so only
      // the failures it says were on-demand count there.
      const onDemandFailures = new Map<string, string>();
      const launchesOnDemand = stored.state?.market === 'on-demand' && !throughOnDemandGroup(stored, g);
      for (const f of failed.get(g.group.name) ?? []) {
        if (counts(f.time, f.message)) failures.set(f.activityId, f.message);
        const t = Date.parse(f.time);
        if (t >= since.getTime() && t >= onDemandSince && isOnDemandLaunchFailure(f.message, launchesOnDemand)) onDemandFailures.set(f.activityId, f.message);
      }
      if (managed && table !== '') {
        for (const r of await readCapacityFailures(table, g.group.name, since, now)) {
          if (counts(r.at, r.data.message)) failures.set(r.data.id, r.data.message);
        }
      }
      // Under spotfarm's pool cap, launches refused in the capped pools for their price are the cap working.
      if (stored.state?.poolCap) {
        for (const [id, message] of failures) if (CAPPED.test(message)) failures.delete(id);
      }

      // The breaker over the group's pools: interruptions per instance-hour of the whole group (issue 3's rule;
      // the interruption function applies the same threshold to one pool's interruptions when a warning comes).
      // Price interruptions (the pool at or above the max price) are left out: the price rule weighs those.
      let interruptions = 0;
      let instances = running.length;
      let breakerPool: string | undefined;
      const pools: PoolSignal[] = [];
      if (managed) {
        let most = 0;
        // Instances launched under a pool cap keep the cap as their max price for life, after the cap is lifted
        // too: an interruption is a price interruption if the price passed the cap, while the cap is on and for a
        // day after it was lifted (the instances of this farm live hours). The warning does not say which max
        // price the instance had; a capacity interruption that happens to come while the price is between the
        // cap and the group's own max price is then not counted, which errs toward keeping the group on spot.
        const liftedAt = stored.state?.poolCapLiftedAt === undefined ? -Infinity : Date.parse(stored.state.poolCapLiftedAt);
        const capInWindow = stored.state?.poolCap !== undefined || liftedAt >= now.getTime() - QUIET_PERIOD_SECONDS * 1000;
        for (const type of g.instanceTypes) {
          const od = g.onDemandPrices[type]?.usdPerHour;
          const current = g.launch?.spotMaxPrice ?? od;
          const cap = stored.state?.poolCap?.to ?? (od !== undefined ? capLevel(od, g.settings) : undefined);
          const maxPrice = capInWindow && cap !== undefined && current !== undefined ? Math.min(current, cap) : current;
          for (const az of g.group.availabilityZones) {
            const spot = g.spotPrices.find((p) => p.instanceType === type && p.availabilityZone === az)?.spot;
            const inPool = running.filter((i) => i.type === type && i.availabilityZone === az).length;
            const pool: PoolSignal = {
              pool: `${type}|${az}`,
              instanceType: type,
              availabilityZone: az,
              ratio: spot !== undefined && od !== undefined && od > 0 ? spot / od : undefined,
              interruptions: 0,
              instances: inPool,
            };
            pools.push(pool);
            const warned = await interruptedIn(type, az, g.settings.breakerWindow);
            if (warned.size === 0) continue;
            const steps = (await priceHistory()).get(`${type}|${az}`);
            const storm = [...warned.values()].filter((at) => !isPriceInterruption(steps, at, maxPrice)).length;
            pool.interruptions = storm;
            if (storm >= BREAKER_MIN_INTERRUPTIONS) {
              // Enough interruptions to weigh: measure the exposure they happened in from launch times, read only
              // now (a pool launched minutes ago has not been exposed for a whole window): one DescribeInstances for
              // the pool's running and warned instances.
              const inThisPool = running.filter((r) => r.type === type && r.availabilityZone === az && !warned.has(r.id));
              const launched = await describeLaunchTimes([...inThisPool.map((r) => r.id), ...warned.keys()]);
              const start = now.getTime() - g.settings.breakerWindow * 1000;
              // An instance EC2 no longer lists (terminated over an hour ago, so launched before the window, as far
              // as a rate in it goes) counts from the window's start. A launch time after this check's clock (the
              // clocks differ by moments) is an instance launched just now: no exposure yet, never a whole window.
              const from = (id: string) => {
                const at = launched.get(id);
                return at === undefined ? start : Math.max(start, Math.min(at, now.getTime()));
              };
              let ms = 0;
              for (const i of inThisPool) ms += now.getTime() - from(i.id);
              for (const [id, at] of warned) ms += Math.max(0, Math.min(now.getTime(), at + 120_000) - from(id));
              pool.instanceHours = ms / 3_600_000;
            }
            interruptions += storm;
            if (storm > most) {
              most = storm;
              breakerPool = `${type}|${az}`;
            }
          }
        }
        instances = Math.max(running.length, interruptions);
      }

      // A launch-template group capped by a copy in spotfarm's own template: what the owner's `$Latest` or
      // `$Default` is now, so the copy follows what the owner publishes (one more Describe call while capped).
      const capSource = stored.state?.poolCap?.source;
      let capSourceVersion: number | undefined;
      if (managed && capSource?.style === 'launch-template' && (capSource.version === '$Latest' || capSource.version === '$Default')) {
        const ref = { id: capSource.templateId, name: capSource.templateName, version: capSource.version };
        const read = (await describeTemplateVersions([ref])).get(templateVersionKey(ref));
        if (read && !(read instanceof Error)) capSourceVersion = read.resolvedVersion;
      }

      // Mixed instances: the overrides and each type's on-demand price (type drops and a multi-type cap), and the
      // prices of the types spotfarm dropped, which the group no longer lists (one more DescribeSpotPriceHistory
      // while a type is out; on-demand prices are cached).
      const launch = g.group.launch;
      const mixed = managed && launch.style === 'mixed-instances' ? launch : undefined;
      const onDemandByType: Record<string, number | undefined> = {};
      for (const [type, price] of Object.entries(g.onDemandPrices)) onDemandByType[type] = price?.usdPerHour;
      const droppedPools: PoolSignal[] = [];
      const droppedTypes = Object.keys(stored.state?.droppedTypes ?? {}).filter((t) => !g.instanceTypes.includes(t));
      if (mixed && droppedTypes.length > 0) {
        const wanted = droppedTypes.flatMap((instanceType) => g.group.availabilityZones.map((availabilityZone) => ({ instanceType, availabilityZone })));
        const spot = await describeSpotPrices(wanted, now);
        for (const type of droppedTypes) {
          const od = (await onDemandPrice(type, config.region))?.usdPerHour;
          onDemandByType[type] = od;
          for (const az of g.group.availabilityZones) {
            const price = spot.get(`${type}|${az}`);
            droppedPools.push({
              pool: `${type}|${az}`,
              instanceType: type,
              availabilityZone: az,
              ratio: price !== undefined && od !== undefined && od > 0 ? price / od : undefined,
              interruptions: 0,
              instances: running.filter((i) => i.type === type && i.availabilityZone === az).length,
            });
          }
        }
      }

      const input: MarketInput = {
        asgName: g.group.name,
        farm: g.farm,
        role: g.role,
        observed: throughOnDemandGroup(stored, g) ? 'on-demand' : g.market,
        current: originalsOf(g),
        problems: g.problems,
        signals: {
          ...priceSignals(g),
          capacityFailures: failures.size,
          ...(onDemandFailures.size > 0 ? { onDemandFailures: onDemandFailures.size, onDemandFailure: [...onDemandFailures.values()][0]! } : {}),
          shortfall: Math.max(0, g.group.desired - running.length),
          fallbackRoom: fallbackRoom(groups, g),
          onDemandGroups: onDemandGroupsOf(groups, g),
          interruptions,
          instances,
          ...(managed ? { pools, instanceTypes: g.instanceTypes, spotMaxPrice: g.launch?.spotMaxPrice } : {}),
          ...(capSourceVersion !== undefined ? { capSourceVersion } : {}),
          ...(mixed ? { overrides: mixed.overrides ?? [], onDemandByType, ...(droppedPools.length ? { droppedPools } : {}) } : {}),
        },
        state: stored.state,
      };
      return {
        group: g,
        stored,
        input,
        capacityFailureMessages: [...failures.values()],
        onDemandFailureMessages: [...onDemandFailures.values()],
        breakerPool,
      };
    }),
  );
}

/**
 * A mixed-instances group fallen back through the farm's on-demand group: the fall-back left its launch source
 * alone, so its launch source still says spot. That is not drift: the group is on on-demand by the state.
 */
function throughOnDemandGroup(stored: VersionedMarketState, g: GroupObservation): boolean {
  const o = stored.state?.originals;
  return stored.state?.market === 'on-demand' && g.group.launch.style === 'mixed-instances' && o?.style === 'mixed-instances' && o.fallback === 'on-demand-group';
}

/** What the farm's on-demand fallback group(s) can still add: max - desired, summed; 0 without one. */
function fallbackRoom(groups: readonly GroupObservation[], spot: GroupObservation): number {
  return groups
    .filter((g) => g.farm === spot.farm && g.role === 'on-demand')
    .reduce((room, g) => room + Math.max(0, g.group.max - g.group.desired), 0);
}

/** The farm's on-demand fallback groups (their max says whether the farm has a route to on-demand, src/route.ts). */
function onDemandGroupsOf(groups: readonly GroupObservation[], spot: GroupObservation): OnDemandGroupFacts[] {
  return groups
    .filter((g) => g.farm === spot.farm && g.role === 'on-demand')
    .map((g) => ({ name: g.group.name, max: g.group.max, desired: g.group.desired }));
}

/**
 * One group's view, read afresh: the group (launch source, prices, instances), the farm's on-demand groups (their
 * room decides a capacity fall-back) and the stored state. A check that lost its claim re-reads this whole view,
 * never the state alone: comparing the winner's state with its own stale view of the group is how a check once
 * took spotfarm's own swap for a change made outside it. Undefined when the group is not managed (any more).
 */
export async function observeGroupMarket(
  config: Readonly<Config>,
  now: Date,
  farm: string,
  groupName: string,
): Promise<GroupMarketView | undefined> {
  const observation = await observeFarms(config, now, { farm, ...MARKET_READS, instanceMarkets: { describeInstanceMarkets } });
  return (await gatherMarket(narrowTo(observation, groupName), config, now)).find((v) => v.input.asgName === groupName);
}

/** The observation cut down to one group and its farm's on-demand groups. */
export function narrowTo(observation: Observation, groupName: string): Observation {
  return {
    ...observation,
    farms: observation.farms
      .filter((f) => f.groups.some((g) => g.group.name === groupName))
      .map((f) => ({ ...f, groups: f.groups.filter((g) => g.group.name === groupName || g.role === 'on-demand') })),
  };
}
