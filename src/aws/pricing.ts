/**
 * On-demand prices from the AWS Price List Query API (us-east-1 endpoint, whatever the priced region), cached
 * for the container's life. When the API fails or cannot be reached, the bundled table made from real price
 * data (ondemand-fallback.json, see its PROVENANCE) answers until the API is tried again RETRY_AFTER_MS later:
 * one failure (a throttle, a timeout) must not pin a warm container to a table for the rest of its life.
 */
import { GetProductsCommand, PricingClient } from '@aws-sdk/client-pricing';
import { errorMessage } from '../errors';
import { logger } from '../log';
import fallbackTable from './ondemand-fallback.json';
import { requestHandler } from './http';

// The Price List API lives in a few regions only; us-east-1 answers for every priced region.
export const pricingClient = new PricingClient({ region: 'us-east-1', maxAttempts: 2, requestHandler });

export type PriceSource = 'pricing-api' | 'fallback-table';

export interface OnDemandPrice {
  usdPerHour: number;
  source: PriceSource;
  /** For the fallback table: the date of the data. */
  asOf?: string;
}

/** After a Pricing API failure, the bundled table answers for this long before the API is asked again. */
export const RETRY_AFTER_MS = 15 * 60_000;

/** API answers for the container's life; table answers until `until` (epoch ms). */
const cache = new Map<string, { price: OnDemandPrice | undefined; until: number }>();
/** While set and in the future, the API is not asked (it failed at `since`). */
let apiDown: { until: number; error: string } | undefined;

/** Forget cached prices and API failures (tests and the backtest use one process for many runs). */
export function resetPriceCache(): void {
  cache.clear();
  apiDown = undefined;
}

/**
 * The Linux on-demand price of `instanceType` in `region`, or undefined when neither the API nor the bundled
 * table knows it. After an API failure the table answers for RETRY_AFTER_MS (no timeout paid on every call),
 * then the API is tried again; a price the API gave is kept for the container's life.
 */
export async function onDemandPrice(
  instanceType: string,
  region: string,
  client: PricingClient = pricingClient,
  now: number = Date.now(),
): Promise<OnDemandPrice | undefined> {
  const key = `${region}|${instanceType}`;
  const cached = cache.get(key);
  if (cached && cached.until > now) return cached.price;
  if (!apiDown || apiDown.until <= now) {
    try {
      const usd = await getProductsPrice(instanceType, region, client);
      const price: OnDemandPrice | undefined = usd === undefined ? undefined : { usdPerHour: usd, source: 'pricing-api' };
      if (apiDown) logger.info('the Pricing API answers again', { after: apiDown.error });
      apiDown = undefined;
      // A type the API does not price is asked again later too (the table may know it meanwhile).
      cache.set(key, { price: price ?? fallbackPrice(instanceType, region), until: price ? Infinity : now + RETRY_AFTER_MS });
      return cache.get(key)!.price;
    } catch (error) {
      apiDown = { until: now + RETRY_AFTER_MS, error: errorMessage(error) };
      logger.warn('the Pricing API failed; on-demand prices come from the bundled table until it is tried again', {
        error: apiDown.error,
        retryAt: new Date(apiDown.until).toISOString(),
        tableAsOf: fallbackTable.asOf,
      });
    }
  }
  const price = fallbackPrice(instanceType, region);
  cache.set(key, { price, until: apiDown?.until ?? now + RETRY_AFTER_MS });
  return price;
}

/** The bundled table's price, and the date of its data. */
export function fallbackPrice(instanceType: string, region: string): OnDemandPrice | undefined {
  const regions = fallbackTable.regions as Record<string, Record<string, number>>;
  const usd = regions[region]?.[instanceType];
  if (usd === undefined) return undefined;
  const asOf = region === 'us-east-1' ? fallbackTable.asOf['us-east-1'] : fallbackTable.asOf.otherRegions;
  return { usdPerHour: usd, source: 'fallback-table', asOf };
}

async function getProductsPrice(instanceType: string, region: string, client: PricingClient): Promise<number | undefined> {
  const filter = (Field: string, Value: string) => ({ Type: 'TERM_MATCH' as const, Field, Value });
  const items: unknown[] = [];
  let nextToken: string | undefined;
  // Several products match (license and capacity-reservation variants); follow every page (GetProducts API
  // reference: MaxResults 1-100, NextToken) so the plain product is never on a page not read.
  do {
    const response = await client.send(
      new GetProductsCommand({
        ServiceCode: 'AmazonEC2',
        FormatVersion: 'aws_v1',
        MaxResults: 100,
        NextToken: nextToken,
        Filters: [
          filter('instanceType', instanceType),
          filter('regionCode', region),
          filter('operatingSystem', 'Linux'),
          filter('tenancy', 'Shared'),
          filter('preInstalledSw', 'NA'),
          filter('capacitystatus', 'Used'),
        ],
      }),
    );
    items.push(...(response.PriceList ?? []));
    nextToken = response.NextToken || undefined;
  } while (nextToken);
  const prices = items.flatMap((item: unknown) => hourlyOnDemandPrices(JSON.parse(String(item))));
  // Several products can match (e.g. license variants); the lowest non-zero hourly price is the plain one.
  const positive = prices.filter((p: number) => p > 0);
  return positive.length > 0 ? Math.min(...positive) : undefined;
}

/** terms.OnDemand[*].priceDimensions[*].pricePerUnit.USD, iterating rather than hard-coding term codes. */
export function hourlyOnDemandPrices(product: unknown): number[] {
  const terms = (product as { terms?: { OnDemand?: Record<string, { priceDimensions?: Record<string, unknown> }> } })
    .terms?.OnDemand;
  const out: number[] = [];
  for (const term of Object.values(terms ?? {})) {
    for (const dimension of Object.values(term.priceDimensions ?? {})) {
      const d = dimension as { unit?: string; pricePerUnit?: { USD?: string } };
      if (d.unit === 'Hrs' && d.pricePerUnit?.USD !== undefined) out.push(Number(d.pricePerUnit.USD));
    }
  }
  return out;
}
