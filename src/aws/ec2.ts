/** EC2: spot prices, launch template versions, instance markets. The only module that talks to EC2. */
import {
  CreateLaunchTemplateVersionCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplateVersionsCommand,
  DescribeSpotPriceHistoryCommand,
  EC2Client,
  type LaunchTemplateVersion,
  type RequestLaunchTemplateData,
} from '@aws-sdk/client-ec2';
import { aws } from '../errors';
import type { LaunchDetails, Market, Pool, TemplateRef } from '../model';
import { poolKey } from '../model';

export const ec2Client = new EC2Client({ maxAttempts: 6, retryMode: 'adaptive' });

/** Spot prices are for this product: the Linux price, which the Linux on-demand price is compared with. */
export const PRODUCT_DESCRIPTION = 'Linux/UNIX';

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
  let nextToken: string | undefined;
  do {
    const page = await aws(`describing spot price history of ${types.join(', ')}`, () =>
      client.send(
        new DescribeSpotPriceHistoryCommand({
          InstanceTypes: types as never,
          ProductDescriptions: [PRODUCT_DESCRIPTION],
          StartTime: now,
          EndTime: now,
          MaxResults: 1000,
          NextToken: nextToken,
        }),
      ),
    );
    for (const row of page.SpotPriceHistory ?? []) {
      if (!row.InstanceType || !row.AvailabilityZone || !row.SpotPrice) continue;
      const key = poolKey({ instanceType: row.InstanceType, availabilityZone: row.AvailabilityZone });
      if (!wanted.has(key)) continue;
      const at = row.Timestamp?.getTime() ?? 0;
      // Order is not guaranteed: keep the newest change at or before now.
      if (at > now.getTime()) continue;
      const seen = latest.get(key);
      if (!seen || at >= seen.at) latest.set(key, { price: Number(row.SpotPrice), at });
    }
    nextToken = page.NextToken || undefined;
  } while (nextToken);
  return new Map([...latest].map(([key, { price }]) => [key, price]));
}

/** What one version of a launch template launches. Throws AwsCallError if the template or version is gone. */
export async function describeTemplateVersion(
  template: TemplateRef,
  client: EC2Client = ec2Client,
): Promise<LaunchDetails & { data: LaunchTemplateVersion }> {
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
  if (!version) {
    throw new Error(`launch template ${label} has no version ${template.version}`);
  }
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

/** The settings of a launch template version, in the form CreateLaunchTemplateVersion takes them. */
export type TemplateData = RequestLaunchTemplateData;

/** The data of one template version (a number, `$Latest` or `$Default`), with the number it resolved to. */
export async function describeTemplateData(
  template: TemplateRef,
  client: EC2Client = ec2Client,
): Promise<{ data: TemplateData; versionNumber: number | undefined }> {
  const details = await describeTemplateVersion(template, client);
  // Describe answers with the response shape, which matches the request shape field for field.
  return { data: structuredClone(details.data.LaunchTemplateData ?? {}) as TemplateData, versionNumber: details.resolvedVersion };
}

/**
 * Adds a version to a launch template and returns its number. `clientToken` makes a retry of the same swap
 * return the version the first attempt created instead of adding another.
 */
export async function createLaunchTemplateVersion(
  template: TemplateRef,
  data: TemplateData,
  description: string,
  clientToken: string,
  client: EC2Client = ec2Client,
): Promise<number> {
  const label = template.name ?? template.id ?? 'unknown';
  const result = await aws(`creating a version of launch template ${label}`, () =>
    client.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateId: template.id,
        LaunchTemplateName: template.id ? undefined : template.name,
        LaunchTemplateData: data,
        VersionDescription: description.slice(0, 255),
        ClientToken: clientToken.slice(0, 128),
      }),
    ),
  );
  const version = result.LaunchTemplateVersion?.VersionNumber;
  if (version === undefined) throw new Error(`launch template ${label}: CreateLaunchTemplateVersion returned no version number`);
  return version;
}
