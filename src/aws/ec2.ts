/** EC2: spot prices, launch template versions, instance markets. The only module that talks to EC2. */
import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  CreateTagsCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  DescribeSpotPriceHistoryCommand,
  DescribeSubnetsCommand,
  EC2Client,
  TerminateInstancesCommand,
  type Instance,
  type LaunchTemplateVersion,
  type RequestLaunchTemplateData,
  type SpotPrice,
} from '@aws-sdk/client-ec2';
import { aws, AwsCallError, errorMessage } from '../errors';
import type { LaunchDetails, Market, Pool, TemplateRef } from '../model';
import { poolKey } from '../model';
import { requestHandler } from './http';

export const ec2Client = new EC2Client({ maxAttempts: 6, retryMode: 'adaptive', requestHandler });

/** Spot prices are for this product: the Linux price, which the Linux on-demand price is compared with. */
export const PRODUCT_DESCRIPTION = 'Linux/UNIX';

/** Every DescribeSpotPriceHistory row of the types over [from, to], one paginated call (Linux/UNIX). */
async function spotPriceRows(types: string[], from: Date, to: Date, doing: string, client: EC2Client): Promise<SpotPrice[]> {
  const rows: SpotPrice[] = [];
  let nextToken: string | undefined;
  do {
    const page = await aws(doing, () =>
      client.send(
        new DescribeSpotPriceHistoryCommand({
          InstanceTypes: types as never,
          ProductDescriptions: [PRODUCT_DESCRIPTION],
          StartTime: from,
          EndTime: to,
          MaxResults: 1000,
          NextToken: nextToken,
        }),
      ),
    );
    rows.push(...(page.SpotPriceHistory ?? []));
    nextToken = page.NextToken || undefined;
  } while (nextToken);
  return rows;
}

/**
 * The spot price in effect at `now` for every pool, in as few calls as the API allows: one paginated
 * DescribeSpotPriceHistory over all the instance types, with StartTime = EndTime = now. AWS then returns, per
 * (type, AZ), the last change at or before StartTime, which is the current price. Pools the API does not price
 * (type not offered in that AZ) are absent from the map. Keys: poolKey().
 */
export async function describeSpotPrices(
  pools: Pool[],
  now: Date,
  client: EC2Client = ec2Client,
): Promise<Map<string, number>> {
  const wanted = new Set(pools.map(poolKey));
  const types = [...new Set(pools.map((p) => p.instanceType))].sort();
  const latest = new Map<string, { price: number; at: number }>();
  if (types.length === 0) return new Map();
  for (const row of await spotPriceRows(types, now, now, `describing spot price history of ${types.join(', ')}`, client)) {
    if (!row.InstanceType || !row.AvailabilityZone || !row.SpotPrice) continue;
    const key = poolKey({ instanceType: row.InstanceType, availabilityZone: row.AvailabilityZone });
    if (!wanted.has(key)) continue;
    const at = row.Timestamp?.getTime() ?? 0;
    // Order is not guaranteed: keep the newest change at or before now.
    if (at > now.getTime()) continue;
    const seen = latest.get(key);
    if (!seen || at >= seen.at) latest.set(key, { price: Number(row.SpotPrice), at });
  }
  return new Map([...latest].map(([key, { price }]) => [key, price]));
}

/** What one version of a launch template launches, with the version's data. */
export type TemplateVersionDetails = LaunchDetails & { data: LaunchTemplateVersion };

const refKey = (ref: TemplateRef): string => `${ref.id ?? ''}|${ref.name ?? ''}|${ref.version}`;

// A numbered template version never changes, so a warm container reads it once.
const numberedVersions = new Map<string, TemplateVersionDetails>();

/** Forget cached template versions (tests and the backtest run many accounts in one process). */
export function resetTemplateCache(): void {
  numberedVersions.clear();
}

function details(version: LaunchTemplateVersion): TemplateVersionDetails {
  const options = version.LaunchTemplateData?.InstanceMarketOptions;
  const market: Market = options?.MarketType === 'spot' ? 'spot' : 'on-demand';
  const maxPrice = options?.SpotOptions?.MaxPrice;
  return {
    market,
    instanceType: version.LaunchTemplateData?.InstanceType,
    spotMaxPrice: maxPrice ? Number(maxPrice) : undefined,
    resolvedVersion: version.VersionNumber,
    data: version,
  };
}

/**
 * What the given launch template versions launch, in as few calls as the API allows: `$Latest` and `$Default`
 * for every template in one account-wide call each (paginated), numbered versions once per container (they are
 * immutable), one call per template for the numbered versions not yet read. A version that cannot be read maps
 * to an Error naming it; a failed call throws.
 */
export async function describeTemplateVersions(
  refs: TemplateRef[],
  client: EC2Client = ec2Client,
): Promise<Map<string, TemplateVersionDetails | Error>> {
  const out = new Map<string, TemplateVersionDetails | Error>();
  const missing = (ref: TemplateRef) =>
    new Error(`launch template ${ref.name ?? ref.id ?? 'unknown'} has no version ${ref.version} (or does not exist)`);

  for (const alias of ['$Latest', '$Default'] as const) {
    const wanted = refs.filter((r) => r.version === alias);
    if (wanted.length === 0) continue;
    const found: LaunchTemplateVersion[] = [];
    let nextToken: string | undefined;
    do {
      const page = await aws(`describing the ${alias} version of every launch template`, () =>
        client.send(new DescribeLaunchTemplateVersionsCommand({ Versions: [alias], MaxResults: 200, NextToken: nextToken })),
      );
      found.push(...(page.LaunchTemplateVersions ?? []));
      nextToken = page.NextToken || undefined;
    } while (nextToken);
    for (const ref of wanted) {
      const version = found.find((v) => (ref.id ? v.LaunchTemplateId === ref.id : v.LaunchTemplateName === ref.name));
      out.set(refKey(ref), version ? details(version) : missing(ref));
    }
  }

  const byTemplate = new Map<string, TemplateRef[]>();
  for (const ref of refs) {
    if (ref.version === '$Latest' || ref.version === '$Default') continue;
    const cached = numberedVersions.get(refKey(ref));
    if (cached) {
      out.set(refKey(ref), cached);
      continue;
    }
    const template = ref.id ?? `name:${ref.name}`;
    byTemplate.set(template, [...(byTemplate.get(template) ?? []), ref]);
  }
  for (const group of byTemplate.values()) {
    const first = group[0]!;
    const label = first.name ?? first.id ?? 'unknown';
    const versions = [...new Set(group.map((r) => r.version))];
    let page;
    try {
      page = await client.send(
        new DescribeLaunchTemplateVersionsCommand({
          LaunchTemplateId: first.id,
          LaunchTemplateName: first.id ? undefined : first.name,
          Versions: versions,
        }),
      );
    } catch (error) {
      // A template or version that is gone is the group's problem (plan: misconfigured), not the whole check's.
      const name = error instanceof Error ? error.name : '';
      if (!/^InvalidLaunchTemplate(Id|Name)\.|NotFound|VersionNotFound/.test(name)) {
        throw new AwsCallError(`describing launch template ${label} versions ${versions.join(', ')}`, error);
      }
      for (const ref of group) out.set(refKey(ref), new Error(`launch template ${label} version ${ref.version} cannot be read: ${errorMessage(error)}`));
      continue;
    }
    for (const ref of group) {
      const version = page.LaunchTemplateVersions?.find((v) => String(v.VersionNumber) === ref.version);
      if (!version) {
        out.set(refKey(ref), missing(ref));
        continue;
      }
      const read = details(version);
      numberedVersions.set(refKey(ref), read);
      out.set(refKey(ref), read);
    }
  }
  return out;
}

/** One version of one launch template (a swap reads the version in use). Throws if it cannot be read. */
export async function describeTemplateVersion(template: TemplateRef, client: EC2Client = ec2Client): Promise<TemplateVersionDetails> {
  const label = template.name ?? template.id ?? 'unknown';
  const page = await aws(`describing launch template ${label} version ${template.version}`, () =>
    client.send(
      new DescribeLaunchTemplateVersionsCommand({
        LaunchTemplateId: template.id,
        LaunchTemplateName: template.id ? undefined : template.name,
        Versions: [template.version],
      }),
    ),
  );
  const version = page.LaunchTemplateVersions?.[0];
  if (!version) throw new Error(`launch template ${label} has no version ${template.version}`);
  return details(version);
}

/** The key `describeTemplateVersions` answers a reference under. */
export const templateVersionKey = refKey;

/**
 * Market of each running instance (`InstanceLifecycle === 'spot'`; absent means on-demand), for the given
 * groups, in one paginated call filtered by the group tag Auto Scaling puts on its instances.
 */
export async function describeInstanceMarkets(
  groupNames: string[],
  client: EC2Client = ec2Client,
): Promise<Map<string, Market>> {
  const out = new Map<string, Market>();
  for (let i = 0; i < groupNames.length; i += 200) {
    const names = groupNames.slice(i, i + 200);
    let nextToken: string | undefined;
    do {
      const page = await aws(`describing instances of auto scaling groups ${names.join(', ')}`, () =>
        client.send(
          new DescribeInstancesCommand({
            Filters: [
              { Name: 'tag:aws:autoscaling:groupName', Values: names },
              { Name: 'instance-state-name', Values: ['pending', 'running'] },
            ],
            MaxResults: 1000,
            NextToken: nextToken,
          }),
        ),
      );
      for (const reservation of page.Reservations ?? []) {
        for (const instance of reservation.Instances ?? []) {
          if (instance.InstanceId) out.set(instance.InstanceId, instance.InstanceLifecycle === 'spot' ? 'spot' : 'on-demand');
        }
      }
      nextToken = page.NextToken || undefined;
    } while (nextToken);
  }
  return out;
}

/**
 * When each of the given instances was launched (epoch ms), terminated ones included while EC2 still lists them
 * (about an hour after termination): DescribeInstances filtered by instance-id, 200 ids a call. A filter, not
 * InstanceIds: an id EC2 no longer lists is left out instead of failing the call (InvalidInstanceID.NotFound). By
 * id, not by the group tag: a warned instance spotfarm detached has left its group. EC2 API Reference,
 * DescribeInstances: "If you specify an instance ID that is not valid, an error is returned" (InstanceIds), and
 * "Recently terminated instances might appear in the returned results. This interval is usually less than one
 * hour." Modelled in sim/cloud/ec2-api.ts (test/sim/cloud-sdk.test.ts).
 */
export async function describeLaunchTimes(instanceIds: string[], client: EC2Client = ec2Client): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (let i = 0; i < instanceIds.length; i += 200) {
    const ids = instanceIds.slice(i, i + 200);
    let nextToken: string | undefined;
    do {
      const page = await aws(`describing the launch times of instances ${ids.join(', ')}`, () =>
        client.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: ids }], MaxResults: 1000, NextToken: nextToken })),
      );
      for (const reservation of page.Reservations ?? []) {
        for (const instance of reservation.Instances ?? []) {
          if (instance.InstanceId && instance.LaunchTime) out.set(instance.InstanceId, instance.LaunchTime.getTime());
        }
      }
      nextToken = page.NextToken || undefined;
    } while (nextToken);
  }
  return out;
}

/** What the interruption handling needs of one EC2 instance. */
export interface InstanceDetails {
  id: string;
  type: string;
  availabilityZone: string;
  /** pending | running | shutting-down | terminated | stopping | stopped */
  state: string;
  market: Market;
  tags: Record<string, string>;
}

function instanceDetails(instance: Instance): InstanceDetails {
  const tags: Record<string, string> = {};
  for (const tag of instance.Tags ?? []) if (tag.Key) tags[tag.Key] = tag.Value ?? '';
  return {
    id: instance.InstanceId ?? '',
    type: instance.InstanceType ?? 'unknown',
    availabilityZone: instance.Placement?.AvailabilityZone ?? 'unknown',
    state: instance.State?.Name ?? 'unknown',
    market: instance.InstanceLifecycle === 'spot' ? 'spot' : 'on-demand',
    tags,
  };
}

const isInstanceNotFound = (error: unknown): boolean =>
  error instanceof AwsCallError && (error.awsName === 'InvalidInstanceID.NotFound' || error.awsName === 'InvalidInstanceID.Malformed');

/** One instance, or undefined when EC2 no longer knows it (terminated instances vanish after about an hour). */
export async function describeInstance(instanceId: string, client: EC2Client = ec2Client): Promise<InstanceDetails | undefined> {
  try {
    const page = await aws(`describing instance ${instanceId}`, () =>
      client.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] })),
    );
    const instance = page.Reservations?.[0]?.Instances?.[0];
    return instance ? instanceDetails(instance) : undefined;
  } catch (error) {
    if (isInstanceNotFound(error)) return undefined;
    throw error;
  }
}

/**
 * Instances carrying a tag key (any value) in the given states, following every page: one call per 1000
 * instances, whatever the number of groups.
 */
export async function describeTaggedInstances(
  tagKey: string,
  states: string[],
  client: EC2Client = ec2Client,
): Promise<InstanceDetails[]> {
  const out: InstanceDetails[] = [];
  let nextToken: string | undefined;
  do {
    const page = await aws(`describing instances tagged ${tagKey}`, () =>
      client.send(
        new DescribeInstancesCommand({
          Filters: [
            { Name: 'tag-key', Values: [tagKey] },
            { Name: 'instance-state-name', Values: states },
          ],
          MaxResults: 1000,
          NextToken: nextToken,
        }),
      ),
    );
    for (const reservation of page.Reservations ?? []) {
      for (const instance of reservation.Instances ?? []) if (instance.InstanceId) out.push(instanceDetails(instance));
    }
    nextToken = page.NextToken || undefined;
  } while (nextToken);
  return out;
}

/** Adds or overwrites tags on instances. */
export async function createInstanceTags(
  instanceIds: string[],
  tags: Record<string, string>,
  client: EC2Client = ec2Client,
): Promise<void> {
  await aws(`tagging ${instanceIds.join(', ')} with ${Object.keys(tags).join(', ')}`, () =>
    client.send(
      new CreateTagsCommand({ Resources: instanceIds, Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }),
    ),
  );
}

/** Terminates instances outside any group. Returns false when EC2 no longer knows one of them. */
export async function terminateInstances(instanceIds: string[], client: EC2Client = ec2Client): Promise<boolean> {
  try {
    await aws(`terminating ${instanceIds.join(', ')}`, () => client.send(new TerminateInstancesCommand({ InstanceIds: instanceIds })));
    return true;
  } catch (error) {
    if (isInstanceNotFound(error)) return false;
    throw error;
  }
}

/** The settings of a launch template version, in the form CreateLaunchTemplateVersion takes them. */
export type TemplateData = RequestLaunchTemplateData;

/** The data of one template version (a number, `$Latest` or `$Default`), with the number it resolved to. */
export async function describeTemplateData(
  template: TemplateRef,
  client: EC2Client = ec2Client,
): Promise<{ data: TemplateData; versionNumber: number | undefined; templateId: string | undefined }> {
  const details = await describeTemplateVersion(template, client);
  // Describe answers with the response shape, which matches the request shape field for field.
  return {
    data: structuredClone(details.data.LaunchTemplateData ?? {}) as TemplateData,
    versionNumber: details.resolvedVersion,
    templateId: details.data.LaunchTemplateId,
  };
}

/** A template's own tags (by id), or undefined when it does not exist. */
export async function describeTemplateTags(templateId: string, client: EC2Client = ec2Client): Promise<Record<string, string> | undefined> {
  try {
    const page = await aws(`describing launch template ${templateId}`, () =>
      client.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: [templateId] })),
    );
    const template = page.LaunchTemplates?.[0];
    if (!template) return undefined;
    return Object.fromEntries((template.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
  } catch (error) {
    if (error instanceof AwsCallError && /^InvalidLaunchTemplate(Id|Name)\./.test(error.awsName ?? '')) return undefined;
    throw error;
  }
}

/**
 * A version of the named template holding `data`: the template is created with it (tagged `tags`) the first
 * time, later calls add a version. Returns the template's id and the version's number. `clientToken` makes a
 * retry of the same request return what the first attempt made.
 */
export async function ensureLaunchTemplateVersion(
  name: string,
  data: TemplateData,
  description: string,
  tags: Record<string, string>,
  clientToken: string,
  client: EC2Client = ec2Client,
): Promise<{ templateId: string; version: number }> {
  try {
    const created = await aws(`creating launch template ${name}`, () =>
      client.send(
        new CreateLaunchTemplateCommand({
          LaunchTemplateName: name,
          LaunchTemplateData: data,
          VersionDescription: description.slice(0, 255),
          TagSpecifications: [{ ResourceType: 'launch-template', Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }],
          ClientToken: `${clientToken}-create`.slice(0, 128),
        }),
      ),
    );
    const id = created.LaunchTemplate?.LaunchTemplateId;
    if (!id) throw new Error(`launch template ${name}: CreateLaunchTemplate returned no id`);
    return { templateId: id, version: created.LaunchTemplate?.LatestVersionNumber ?? 1 };
  } catch (error) {
    if (!(error instanceof AwsCallError && /AlreadyExists/.test(error.awsName ?? ''))) throw error;
  }
  return addLaunchTemplateVersion(name, data, description, clientToken, client);
}

/** Whether a launch template of this name exists (its id), read with DescribeLaunchTemplates. */
export async function findLaunchTemplateId(name: string, client: EC2Client = ec2Client): Promise<string | undefined> {
  try {
    const page = await aws(`describing launch template ${name}`, () => client.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: [name] })));
    return page.LaunchTemplates?.[0]?.LaunchTemplateId;
  } catch (error) {
    if (error instanceof AwsCallError && /^InvalidLaunchTemplate(Id|Name)\./.test(error.awsName ?? '')) return undefined;
    throw error;
  }
}

/** A new version of an existing template (by name) holding `data`; `clientToken` makes a retry return the same version. */
export async function addLaunchTemplateVersion(
  name: string,
  data: TemplateData,
  description: string,
  clientToken: string,
  client: EC2Client = ec2Client,
): Promise<{ templateId: string; version: number }> {
  const result = await aws(`creating a version of launch template ${name}`, () =>
    client.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateName: name,
        LaunchTemplateData: data,
        VersionDescription: description.slice(0, 255),
        ClientToken: clientToken.slice(0, 128),
      }),
    ),
  );
  const version = result.LaunchTemplateVersion;
  if (version?.VersionNumber === undefined || !version.LaunchTemplateId) {
    throw new Error(`launch template ${name}: CreateLaunchTemplateVersion returned no version`);
  }
  return { templateId: version.LaunchTemplateId, version: version.VersionNumber };
}

/** One pool's spot price changes, oldest first; the first is the price in effect at the window's start. */
export type PriceSteps = { at: number; price: number }[];

/**
 * Spot price history of the pools over [from, to], in one paginated call for all their types (AWS includes the
 * last change before `from`, so every pool has the price in effect over the whole window). Keys: poolKey().
 */
export async function describeSpotPriceSteps(
  pools: Pool[],
  from: Date,
  to: Date,
  client: EC2Client = ec2Client,
): Promise<Map<string, PriceSteps>> {
  const wanted = new Set(pools.map(poolKey));
  const types = [...new Set(pools.map((p) => p.instanceType))].sort();
  const steps = new Map<string, PriceSteps>();
  if (types.length === 0) return steps;
  const doing = `describing spot price history of ${types.join(', ')} since ${from.toISOString()}`;
  for (const row of await spotPriceRows(types, from, to, doing, client)) {
    if (!row.InstanceType || !row.AvailabilityZone || !row.SpotPrice || !row.Timestamp) continue;
    const key = poolKey({ instanceType: row.InstanceType, availabilityZone: row.AvailabilityZone });
    if (!wanted.has(key)) continue;
    let list = steps.get(key);
    if (!list) steps.set(key, (list = []));
    list.push({ at: row.Timestamp.getTime(), price: Number(row.SpotPrice) });
  }
  for (const list of steps.values()) list.sort((a, b) => a.at - b.at);
  return steps;
}

/**
 * The availability zone of each subnet (a VPC group's AZs are its subnets' AZs). Subnets that do not exist are
 * absent from the map; EC2 then refuses the whole call with InvalidSubnetID.NotFound, which surfaces as
 * AwsCallError naming the subnets.
 */
export async function describeSubnetZones(subnetIds: string[], client: EC2Client = ec2Client): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < subnetIds.length; i += 200) {
    const ids = subnetIds.slice(i, i + 200);
    const page = await aws(`describing subnets ${ids.join(', ')}`, () => client.send(new DescribeSubnetsCommand({ SubnetIds: ids })));
    for (const subnet of page.Subnets ?? []) {
      if (subnet.SubnetId && subnet.AvailabilityZone) out.set(subnet.SubnetId, subnet.AvailabilityZone);
    }
  }
  return out;
}
