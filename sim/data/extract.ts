/**
 * Rebuilds the small data extracts the repository bundles, from the project's shared data folder
 * (../shared/data beside the repository, or SPOTFARM_SHARED_DATA). Deterministic: running it again gives the
 * same bytes. Run: `npx tsx sim/data/extract.ts`.
 *
 * Writes:
 *   scenarios/data/spot-c3.xlarge-us-east-1-2015-05.csv.gz   2015-05-01..05-12, c3.xlarge, us-east-1a/b/e
 *   bench/data/spot-c3.xlarge-us-east-1-2015-05-month.csv.gz  the whole of May 2015, same cut (the 30-day bench)
 *   scenarios/data/spot-c5a.2xlarge-us-east-1-2023.csv.gz    the whole 2023 series, re-headed and sorted
 *   scenarios/data/spot-r3.large-us-east-1-2015-04.csv.gz    2015-04-11..04-17, r3.large, us-east-1a/b/e
 *   scenarios/data/lcg-2005-24h-96h.csv.gz                   LCG jobs submitted in [24 h, 96 h), run time <= 1 h
 *   sim/data/spot-advisor.csv.gz                             Linux interruption buckets, both advisor snapshots
 *   sim/data/instance-types.txt                              every instance type named in the shared data
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';

const repo = resolve(__dirname, '../..');
const shared = process.env.SPOTFARM_SHARED_DATA ?? resolve(repo, '../shared/data');
if (!existsSync(shared)) {
  throw new Error(`shared data not found at ${shared}: set SPOTFARM_SHARED_DATA to the data folder`);
}

function read(path: string): string {
  const bytes = readFileSync(resolve(shared, path));
  return (path.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8').replace(/\r\n/g, '\n');
}

function writeGz(path: string, text: string): void {
  writeFileSync(resolve(repo, path), gzipSync(Buffer.from(text), { level: 9 }));
  console.log(`${path}: ${text.split('\n').length - 2} rows`);
}

/** Rows of one instance type in [from, to), plus, per AZ, the last change before the window (the price carried into it). */
function cut2015(instanceType: string, fromIso: string, toIso: string): string {
  const from = Date.parse(fromIso);
  const to = Date.parse(toIso);
  const lines = read('spot-history-2015-us-east-1/us-east-1_spot_2015.csv.gz').trim().split('\n');
  const out = ['timestamp,instance_type,availability_zone,spot_price'];
  const carried = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const [ts, type, az] = line.split(',') as [string, string, string];
    if (type !== instanceType) continue;
    const t = Date.parse(ts);
    if (t < from) carried.set(az, line);
    else if (t < to) {
      const before = carried.get(az);
      if (before !== undefined) {
        out.push(before);
        carried.delete(az);
      }
      out.push(line);
    }
  }
  return out.join('\n') + '\n';
}

// 1. The spiky 2015 series: c3.xlarge in its three AZs, 2015-05-01T00:00Z .. 2015-05-12T00:00Z.
writeGz('scenarios/data/spot-c3.xlarge-us-east-1-2015-05.csv.gz', cut2015('c3.xlarge', '2015-05-01T00:00:00Z', '2015-05-12T00:00:00Z'));
// The same cut for the whole of May: the simulator's 30-day speed bench (bench/backtest.ts).
writeGz('bench/data/spot-c3.xlarge-us-east-1-2015-05-month.csv.gz', cut2015('c3.xlarge', '2015-05-01T00:00:00Z', '2015-06-01T00:00:00Z'));

// 1b. r3.large in its three AZs, 2015-04-11T00:00Z .. 2015-04-17T00:00Z: us-east-1b sits at exactly its on-demand
//     price ($0.175) from 04-11 19:48 to 04-13 19:46 (above it before) while 1a and 1e cost a tenth of it
//     (scenarios/pool-at-on-demand.yaml); then all three calm (scenarios/pool-storm.yaml).
writeGz('scenarios/data/spot-r3.large-us-east-1-2015-04.csv.gz', cut2015('r3.large', '2015-04-11T00:00:00Z', '2015-04-17T00:00:00Z'));

// 2. The calm 2023 series: same rows, our header and column order, oldest first.
{
  const lines = read(
    'spot-history-2023-c5a.2xlarge-us-east-1/spot_price_history_c5a.2xlarge_us-east-1_2023-11-11_to_2023-12-30.csv',
  )
    .trim()
    .split('\n');
  const rows = lines.slice(1).map((line) => {
    const [ts, type, , price, az] = line.split(',') as [string, string, string, string, string];
    const iso = new Date(Date.parse(ts.replace(' ', 'T'))).toISOString().replace(/\.000Z$/, 'Z');
    return { iso, type, az, price: Number(price).toFixed(4) };
  });
  rows.sort((a, b) => (a.az < b.az ? -1 : a.az > b.az ? 1 : a.iso < b.iso ? -1 : a.iso > b.iso ? 1 : 0));
  const out = ['timestamp,instance_type,availability_zone,spot_price'];
  for (const r of rows) out.push(`${r.iso},${r.type},${r.az},${r.price}`);
  writeGz('scenarios/data/spot-c5a.2xlarge-us-east-1-2023.csv.gz', out.join('\n') + '\n');
}

// 3. The LCG trace: jobs submitted in [24 h, 96 h) of the log with a run time of at most one hour, as
//    submit_s,runtime_s with the log's own submit offsets (so a scenario's `from: 24h` means what it says).
{
  const out = ['submit_s,runtime_s'];
  for (const line of read('workload-traces/LCG-2005-1.swf.gz').split('\n')) {
    if (line.startsWith(';') || line.trim() === '') continue;
    const f = line.trim().split(/\s+/);
    const submit = Number(f[1]);
    const runtime = Number(f[3]);
    if (submit >= 24 * 3600 && submit < 96 * 3600 && runtime >= 0 && runtime <= 3600) out.push(`${submit},${runtime}`);
  }
  writeGz('scenarios/data/lcg-2005-24h-96h.csv.gz', out.join('\n') + '\n');
}

// 4. Spot Instance Advisor buckets (Linux), both snapshots, every region.
{
  const lines = read('spot-advisor/spot-advisor_flat_linux.csv').trim().split('\n');
  const out = ['snapshot,region,instance_type,interruption_index'];
  for (const line of lines.slice(1)) {
    const [snapshot, region, os, type, index] = line.split(',') as [string, string, string, string, string];
    if (os === 'Linux') out.push(`${snapshot},${region},${type},${index}`);
  }
  writeGz('sim/data/spot-advisor.csv.gz', out.join('\n') + '\n');
}

// 5. Known instance types: every type the on-demand tables or the advisor name.
{
  const types = new Set<string>();
  const add = (path: string, column: string) => {
    const [header, ...rows] = read(path).trim().split('\n');
    const index = header!.split(',').indexOf(column);
    for (const row of rows) {
      const value = row.split(',')[index];
      if (value && /^[a-z0-9-]+\.[a-z0-9-]+$/.test(value)) types.add(value);
    }
  };
  add('ondemand-prices/ec2instances-info_ondemand_linux_2015-08-02_2017-11-12.csv', 'instance_type');
  add('ondemand-prices/ec2instances-info_opszero_ondemand_spotavg_2024-04-04_selected-types.csv', 'instance_type');
  add('ondemand-prices/karpenter_us-east-1_ondemand_latest.csv', 'instance_type');
  add('spot-advisor/spot-advisor_flat_linux.csv', 'instance_type');
  const sorted = [...types].sort();
  writeFileSync(resolve(repo, 'sim/data/instance-types.txt'), sorted.join('\n') + '\n');
  console.log(`sim/data/instance-types.txt: ${sorted.length} types`);
}
