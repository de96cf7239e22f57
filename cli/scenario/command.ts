/**
 * `spotfarm scenario from-account --farm NAME [--days N] [--region R] --out DIR [--quiet]`: reads one farm from the
 * account (read-only) and writes DIR/scenario.yaml with its data, which `spotfarm backtest` runs as is.
 *
 * Exit codes: 0 written; 1 the account could not be read (a missing permission names the IAM action); 2 bad usage.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SingleBar } from 'cli-progress';
import { regionalClients, resolvedRegion, type RegionalClients } from '../../src/aws/regional-clients';
import { SpotfarmError } from '../../src/errors';
import { buildScenario, FILES } from './build';
import { FarmReadError, MissingPermissionError, readAccount, READ_STEPS } from './read-account';

export const SCENARIO_USAGE = `Usage:
  spotfarm scenario from-account --farm NAME [--days N] [--region R] --out DIR [--quiet]

Reads one farm from your AWS account, read-only (Describe, Get and List calls only), and writes DIR/scenario.yaml
with its data (spot prices, on-demand prices, the job trace) for \`spotfarm backtest DIR/scenario.yaml\`:
what spotfarm would have done for your farm over the last N days, and what it would have cost.

Options:
  --farm NAME     the farm: its groups carry the tag spotfarm:farm=NAME
  --days N        the window, whole days back from now (default 30, at most 90: spot price history keeps 90 days)
  --region R      the farm's Region (default: the SDK's, from AWS_REGION or the profile)
  --out DIR       where to write scenario.yaml, spot-prices.csv, on-demand.csv and jobs.csv.gz
  --quiet         no progress bar (it is also off when stdout is not a terminal)
  -h, --help      this text

Permissions: autoscaling:DescribeAutoScalingGroups, autoscaling:DescribeLaunchConfigurations, autoscaling:DescribeScalingActivities,
ec2:DescribeLaunchTemplateVersions, ec2:DescribeSubnets, ec2:DescribeSpotPriceHistory, sqs:GetQueueUrl,
sqs:GetQueueAttributes, cloudwatch:GetMetricData, pricing:GetProducts (optional: the bundled table answers without).
`;

interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  /** The terminal the progress bar draws on; none (or not a TTY): no bar. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
}

export interface ScenarioCommandDeps {
  /** Clients to read with (tests pass their own); default one set in --region. */
  clients?: (region: string | undefined) => RegionalClients;
  now?: () => Date;
}

class UsageError extends Error {}

/** Runs `spotfarm scenario ...` with `argv` after the word "scenario"; returns the exit code. */
export async function scenarioMain(argv: string[], io: Io, deps: ScenarioCommandDeps = {}): Promise<number> {
  let options: { farm: string; days: number; region: string | undefined; out: string; quiet: boolean };
  try {
    const parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        farm: { type: 'string' },
        days: { type: 'string' },
        region: { type: 'string' },
        out: { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    const v = parsed.values;
    if (v.help) {
      io.out(SCENARIO_USAGE);
      return 0;
    }
    const [sub, ...rest] = parsed.positionals;
    if (sub !== 'from-account') throw new UsageError(sub ? `unknown scenario command "${sub}" (known: from-account)` : 'scenario needs a command: from-account');
    if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
    if (!v.farm?.trim()) throw new UsageError('--farm NAME is required (the value of the groups\' spotfarm:farm tag)');
    if (!v.out?.trim()) throw new UsageError('--out DIR is required');
    const days = v.days === undefined ? 30 : Number(v.days);
    if (!/^\d+$/.test(v.days ?? '30') || days < 1 || days > 90) {
      throw new UsageError(`--days must be a whole number from 1 to 90 (DescribeSpotPriceHistory keeps 90 days), got "${v.days}"`);
    }
    options = { farm: v.farm.trim(), days, region: v.region?.trim() || undefined, out: v.out, quiet: v.quiet === true };
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`spotfarm scenario: ${(err as Error).message}\n\n${SCENARIO_USAGE}`);
      return 2;
    }
    throw err;
  }

  const clients = (deps.clients ?? regionalClients)(options.region);
  const now = (deps.now ?? (() => new Date()))();
  const stream = io.stream;
  const bar =
    !options.quiet && stream?.isTTY === true
      ? new SingleBar({ stream, format: 'reading the account [{bar}] {value}/{total} {step}', barsize: 30, hideCursor: true, clearOnComplete: true })
      : undefined;
  bar?.start(READ_STEPS, 0, { step: '' });
  let done = 0;
  let built;
  try {
    let region = options.region;
    if (!region) {
      try {
        region = await resolvedRegion(clients);
      } catch {
        // The SDK found no Region in the environment or the profile.
        throw new SpotfarmError('no Region: pass --region (e.g. --region us-east-1) or set AWS_REGION');
      }
    }
    const data = await readAccount({
      farm: options.farm,
      days: options.days,
      now,
      clients,
      region,
      onStep: (step) => bar?.update(done++, { step }),
    });
    bar?.update(READ_STEPS, { step: 'done' });
    bar?.stop();
    built = buildScenario(data);
  } catch (err) {
    bar?.stop();
    if (err instanceof MissingPermissionError || err instanceof FarmReadError || err instanceof SpotfarmError) {
      io.err(`spotfarm scenario from-account: ${err.message}\n`);
      return 1;
    }
    throw err;
  }

  const dir = resolve(options.out);
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(built.files)) writeFileSync(join(dir, name), content);
  const shown = relative(process.cwd(), dir) || '.';
  io.out(built.lines.join('\n') + '\n');
  io.out(`wrote ${Object.keys(built.files).map((f) => join(shown, f)).join(', ')}\n`);
  io.out(`next: npx spotfarm backtest ${join(shown, FILES.scenario)}\n`);
  return 0;
}
