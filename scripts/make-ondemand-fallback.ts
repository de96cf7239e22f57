/**
 * Builds the bundled on-demand price fallback table (src/aws/ondemand-fallback.json) from the real price data
 * in shared/data/ondemand-prices. Rerun: `npx tsx scripts/make-ondemand-fallback.ts ../shared/data/ondemand-prices`
 *   - us-east-1: every type, from the table Karpenter generates from the AWS Pricing API (2026-07-20).
 *   - other regions: the 40 selected types of the ec2instances.info 2024-04-04 snapshot, plain region codes only.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? '../shared/data/ondemand-prices';
const rows = (file: string) =>
  readFileSync(join(dir, file), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => line.split(','));

const regions: Record<string, Record<string, number>> = {};
const put = (region: string, type: string, price: number) => {
  if (!Number.isFinite(price) || price <= 0) return;
  (regions[region] ??= {})[type] = price;
};

let usEast1AsOf = '';
for (const [generatedAt, , region, type, price] of rows('karpenter_us-east-1_ondemand_latest.csv')) {
  usEast1AsOf = generatedAt!;
  put(region!, type!, Number(price));
}
for (const [type, region, , , , price] of rows('ec2instances-info_opszero_ondemand_spotavg_2024-04-04_selected-types.csv')) {
  // Skip Local Zones and Wavelength zones (us-east-1-bos-1): they are not regions.
  if (!/^[a-z]{2}(-gov)?-[a-z]+-\d$/.test(region!) || region === 'us-east-1') continue;
  put(region!, type!, Number(price));
}

const sorted = Object.fromEntries(
  Object.keys(regions)
    .sort()
    .map((r) => [r, Object.fromEntries(Object.entries(regions[r]!).sort(([a], [b]) => a.localeCompare(b)))]),
);
const table = {
  description: 'Linux on-demand USD/hour, shared tenancy. Fallback when the Pricing API is unreachable.',
  asOf: { 'us-east-1': usEast1AsOf, otherRegions: '2024-04-04' },
  regions: sorted,
};
writeFileSync('src/aws/ondemand-fallback.json', JSON.stringify(table) + '\n');
const count = Object.values(regions).reduce((n, r) => n + Object.keys(r).length, 0);
console.log(`wrote src/aws/ondemand-fallback.json: ${Object.keys(regions).length} regions, ${count} prices`);
