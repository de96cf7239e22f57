/**
 * The gather phase: read-only AWS calls that build one observation of the managed farms. Every handler starts
 * here and asks only for the parts it needs. Describe calls scale with pages, not with groups: one paginated
 * group listing, one spot price query for all pools, one instance query, one launch-configuration query, one
 * query per template alias ($Latest, $Default) for every template, and numbered template versions once per
 * container (they never change).
 *
 * Beyond the groups, each part is read by the wrappers its caller passes (`prices: { describeSpotPrices,
 * onDemandPrice }`), not by wrappers imported here: a function's bundle then carries only the SDK clients of what
 * it reads (the queue scaler, which reads groups and queues, carries no EC2, Pricing or SNS client).
 */
import { describeManagedGroups, type describeLaunchConfigurations } from './aws/autoscaling';
import type { describeInstanceMarkets, describeSpotPrices, describeTemplateVersions, templateVersionKey } from './aws/ec2';
import type { onDemandPrice, OnDemandPrice } from './aws/pricing';
import type { getQueueDepth } from './aws/sqs';
import type { Config } from './config';
import { errorMessage, GroupConfigError } from './errors';
import { logger } from './log';
import type { GroupSnapshot, LaunchDetails, Market, Pool, QueueDepth } from './model';
import { readGroupTags, type GroupRole, type GroupSettings } from './settings';

/** What new instances of a group get: a mixed-instances policy can split between the two. */
export type LaunchMarket = Market | 'mixed';

export interface GroupObservation {
  group: GroupSnapshot;
  farm: string;
  role: GroupRole;
  queue: string | undefined;
  settings: GroupSettings;
  /** Market of the launch source; undefined when it could not be read (see problems). */
  launch: LaunchDetails | undefined;
  market: LaunchMarket | undefined;
  instanceTypes: string[];
  /** Spot price per pool of the group (USD/h); a pool AWS does not price is absent. */
  spotPrices: { instanceType: string; availabilityZone: string; spot: number }[];
  onDemandPrices: Record<string, OnDemandPrice | undefined>;
  /** Market of each running instance, when asked for. */
  instanceMarkets: Record<string, Market>;
  /** Why the group cannot be managed as it stands (missing launch template, ...). Empty when fine. */
  problems: string[];
}

export interface FarmObservation {
  farm: string;
  queueName: string | undefined;
  queue: QueueDepth | undefined;
  queueError: string | undefined;
  groups: GroupObservation[];
}

export interface Observation {
  at: Date;
  region: string;
  farms: FarmObservation[];
  /** Groups skipped whole because their spotfarm tags are wrong. */
  skipped: { groupName: string; error: string }[];
}

/** What to read beyond the groups and their tags: each part is there when its caller passes the readers. */
export interface ObserveOptions {
  /** Each group's launch configuration or template (market, instance types). */
  launchSources?: {
    describeLaunchConfigurations: typeof describeLaunchConfigurations;
    describeTemplateVersions: typeof describeTemplateVersions;
    templateVersionKey: typeof templateVersionKey;
  };
  /** Spot prices of every pool and on-demand prices (needs launchSources: pools come from instance types). */
  prices?: { describeSpotPrices: typeof describeSpotPrices; onDemandPrice: typeof onDemandPrice };
  /** Each farm's queue depth. */
  queues?: { getQueueDepth: typeof getQueueDepth };
  /** The market of every running instance. */
  instanceMarkets?: { describeInstanceMarkets: typeof describeInstanceMarkets };
  /** Only this farm (a manual invoke may narrow it); default the stack's. */
  farm?: string;
}

export async function observeFarms(config: Config, now: Date, options: ObserveOptions = {}): Promise<Observation> {
  const { prices, queues, instanceMarkets, launchSources } = options;
  const farmFilter = options.farm ?? config.farm;
  const snapshots = await describeManagedGroups(farmFilter);

  const skipped: Observation['skipped'] = [];
  const groups: GroupObservation[] = [];
  for (const group of snapshots) {
    try {
      const tags = readGroupTags(group.name, group.tags, config.defaults);
      groups.push({
        group,
        farm: tags.farm,
        role: tags.role,
        queue: tags.queue,
        settings: tags.settings,
        launch: undefined,
        market: undefined,
        instanceTypes: [],
        spotPrices: [],
        onDemandPrices: {},
        instanceMarkets: {},
        problems: [],
      });
    } catch (error) {
      if (!(error instanceof GroupConfigError)) throw error;
      logger.error('skipping group: its spotfarm tags are invalid', { asgName: group.name, error: error.message });
      skipped.push({ groupName: group.name, error: error.message });
    }
  }

  if (launchSources) await readLaunchSources(groups, launchSources);

  if (prices) {
    const pools: Pool[] = groups.flatMap((g) =>
      g.instanceTypes.flatMap((instanceType) =>
        g.group.availabilityZones.map((availabilityZone) => ({ instanceType, availabilityZone })),
      ),
    );
    const spot = await prices.describeSpotPrices(pools, now);
    const types = [...new Set(groups.flatMap((g) => g.instanceTypes))];
    const od = new Map(await Promise.all(types.map(async (t) => [t, await prices.onDemandPrice(t, config.region)] as const)));
    for (const g of groups) {
      for (const instanceType of g.instanceTypes) {
        g.onDemandPrices[instanceType] = od.get(instanceType);
        if (od.get(instanceType) === undefined) g.problems.push(`no on-demand price known for ${instanceType} in ${config.region}`);
        for (const availabilityZone of g.group.availabilityZones) {
          const price = spot.get(`${instanceType}|${availabilityZone}`);
          if (price !== undefined) g.spotPrices.push({ instanceType, availabilityZone, spot: price });
        }
      }
    }
  }

  if (instanceMarkets) {
    const names = groups.filter((g) => g.group.instances.length > 0).map((g) => g.group.name);
    const markets = names.length > 0 ? await instanceMarkets.describeInstanceMarkets(names) : new Map<string, Market>();
    for (const g of groups) {
      for (const instance of g.group.instances) {
        const market = markets.get(instance.id);
        if (market) g.instanceMarkets[instance.id] = market;
      }
    }
  }

  const farmNames = [...new Set(groups.map((g) => g.farm))].sort();
  const farms: FarmObservation[] = [];
  for (const farm of farmNames) {
    const members = groups.filter((g) => g.farm === farm);
    const queueNames = [...new Set(members.flatMap((g) => (g.queue ? [g.queue] : [])))];
    const farmObservation: FarmObservation = { farm, queueName: queueNames[0], queue: undefined, queueError: undefined, groups: members };
    if (queueNames.length > 1) {
      farmObservation.queueError = `the groups of farm ${farm} name different queues (${queueNames.join(', ')}); tag them all with the same spotfarm:queue`;
    } else if (queues && queueNames[0]) {
      try {
        farmObservation.queue = await queues.getQueueDepth(queueNames[0]);
      } catch (error) {
        farmObservation.queueError = errorMessage(error);
      }
    }
    farms.push(farmObservation);
  }
  return { at: now, region: config.region, farms, skipped };
}

/** Reads each group's launch configuration or template version: its market and instance types. */
async function readLaunchSources(groups: GroupObservation[], readers: NonNullable<ObserveOptions['launchSources']>): Promise<void> {
  const { describeLaunchConfigurations, describeTemplateVersions, templateVersionKey } = readers;
  const lcNames = groups.flatMap((g) => (g.group.launch.style === 'launch-configuration' ? [g.group.launch.name] : []));
  const lcs = lcNames.length > 0 ? await describeLaunchConfigurations([...new Set(lcNames)]) : new Map<string, LaunchDetails>();
  const templateRefs = groups.flatMap((g) =>
    g.group.launch.style === 'launch-template' || g.group.launch.style === 'mixed-instances' ? [g.group.launch.template] : [],
  );
  const templates = templateRefs.length > 0 ? await describeTemplateVersions(templateRefs) : new Map();
  for (const g of groups) {
    const launch = g.group.launch;
    switch (launch.style) {
      case 'none':
        g.problems.push('the group has no launch configuration, launch template or mixed-instances policy');
        break;
      case 'launch-configuration': {
        const details = lcs.get(launch.name);
        if (!details) {
          g.problems.push(`launch configuration ${launch.name} does not exist`);
          break;
        }
        g.launch = details;
        g.market = details.market;
        g.instanceTypes = details.instanceType ? [details.instanceType] : [];
        break;
      }
      case 'launch-template':
      case 'mixed-instances': {
        const details = templates.get(templateVersionKey(launch.template));
        if (details === undefined || details instanceof Error) {
          const label = launch.template.name ?? launch.template.id;
          g.problems.push(
            details instanceof Error ? details.message : `launch template ${label} version ${launch.template.version} cannot be read`,
          );
          break;
        }
        g.launch = details;
        if (launch.style === 'launch-template') {
          g.market = details.market;
          g.instanceTypes = details.instanceType ? [details.instanceType] : [];
        } else {
          const percent = launch.onDemandPercentageAboveBaseCapacity;
          g.market = percent >= 100 ? 'on-demand' : percent <= 0 && launch.onDemandBaseCapacity === 0 ? 'spot' : 'mixed';
          g.instanceTypes = launch.overrideTypes.length > 0 ? launch.overrideTypes : details.instanceType ? [details.instanceType] : [];
          // A mixed group's max price is its policy's SpotMaxPrice (spotfarm steers pools with it).
          g.launch = { ...details, spotMaxPrice: launch.spotMaxPrice ?? details.spotMaxPrice };
        }
        break;
      }
    }
    if (g.launch && g.instanceTypes.length === 0) g.problems.push('no instance type found in the launch source');
  }
}
