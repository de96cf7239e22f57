/**
 * On-demand prices from the AWS Price List Query API (us-east-1 endpoint, whatever the priced region), cached
 * for the container's life. When the API fails or cannot be reached, the bundled table made from real price
 * data (ondemand-fallback.json, see its PROVENANCE) answers, and the log says so once per container.
 */
import { GetProductsCommand, PricingClient } from '@aws-sdk/client-pricing';
import { errorMessage } from '../errors';
import { logger } from '../log';
import fallbackTable from './ondemand-fallback.json';

// The Price List API lives in a few regions only; us-east-1 answers for every priced region.
export const pricingClient = new PricingClient({ region: 'us-east-1', maxAttempts: 2 });

export type PriceSource = 'pricing-api' | 'fallback-table';

export interface OnDemandPrice {
  usdPerHour: number;
  source: PriceSource;
  /** For the fallback table: the date of the data. */
  asOf?: string;
}

const cache = new Map<string, OnDemandPrice | undefined>();
let apiUnavailable: string | undefined;

/** Forget cached prices and API failures (tests and the backtest use one process for many runs). */
export function resetPriceCache(): void {
  cache.clear();
  apiUnavailable = undefined;
}

/**
 * The Linux on-demand price of `instanceType` in `region`, or undefined when neither the API nor the bundled
 * table knows it. After one API failure the container uses the table for the rest of its life rather than
 * paying a timeout on every call.
 */
export async function onDemandPrice(
  instanceType: string,
  region: string,
  client: PricingClient = pricingClient,
): Promise<OnDemandPrice | undefined> {
  const key = `${region}|${instanceType}`;
  if (cache.has(key)) return cache.get(key);
  let price: OnDemandPrice | undefined;
  if (apiUnavailable === undefined) {
    try {
      const usd = await getProductsPrice(instanceType, region, client);
      price = usd === undefined ? undefined : { usdPerHour: usd, source: 'pricing-api' };
    } catch (error) {
      apiUnavailable = errorMessage(error);
      logger.warn('the Pricing API failed; on-demand prices come from the bundled table for this container', {
        error: apiUnavailable,
        tableAsOf: fallbackTable.asOf,
      });
    }
  }
  price ??= fallbackPrice(instanceType, region);
  cache.set(key, price);
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
  const response = await client.send(
    new GetProductsCommand({
      ServiceCode: 'AmazonEC2',
      FormatVersion: 'aws_v1',
      MaxResults: 10,
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
  const prices = (response.PriceList ?? []).flatMap((item: unknown) => hourlyOnDemandPrices(JSON.parse(String(item))));
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
