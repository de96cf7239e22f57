/** The per-pool figures in the report and the terminal: rows, shares, the spend at or above on-demand. */
import { describe, expect, it } from 'vitest';
import { renderReportHtml } from '../../sim/report/index';
import { poolNote, poolRows, poolTableHtml, spendAtOrAboveOnDemand } from '../../sim/report/pools';
import { formatSummaryTable } from '../../sim/report/summary';
import type { BacktestJson } from '../../sim/result';
import { buildFixture } from './fixtures';

function withPools(): BacktestJson {
  const json = structuredClone(buildFixture().json);
  json.policies.spotfarm.cost_usd = 100;
  json.policies.spotfarm.pools = {
    'r3.large/us-east-1b': { spot_hours: 40, on_demand_hours: 0, cost_usd: 7, spot_usd_at_or_above_on_demand: 7 },
    'r3.large/us-east-1a': { spot_hours: 300, on_demand_hours: 10, cost_usd: 93, spot_usd_at_or_above_on_demand: 0 },
  };
  json.policies['aws-native'].pools = {
    'r3.large/us-east-1a': { spot_hours: 10, on_demand_hours: 0, cost_usd: 1, spot_usd_at_or_above_on_demand: 0 },
  };
  return json;
}

describe('per-pool figures', () => {
  it('one row per simulated policy and pool, pools sorted, with each pool’s share of the policy’s cost', () => {
    const rows = poolRows(withPools());
    expect(rows.map((r) => `${r.policy} ${r.pool}`)).toEqual([
      'spotfarm r3.large/us-east-1a',
      'spotfarm r3.large/us-east-1b',
      'aws-native r3.large/us-east-1a',
    ]);
    expect(rows[1]!.share).toBeCloseTo(0.07, 12);
  });

  it('sums the spot spend at or above on-demand per policy; none without pools (the oracle)', () => {
    const json = withPools();
    expect(spendAtOrAboveOnDemand(json, 'spotfarm')).toEqual({ usd: 7, share: 0.07 });
    expect(spendAtOrAboveOnDemand(json, 'oracle')).toBeNull();
  });

  it('the terminal summary names the pools where spotfarm paid spot at or above on-demand', () => {
    const out = formatSummaryTable(withPools());
    expect(out).toContain('spotfarm paid $7.000 (7.0% of its cost) for spot at or above on-demand: r3.large/us-east-1b $7.000');
    const clean = withPools();
    clean.policies.spotfarm.pools!['r3.large/us-east-1b']!.spot_usd_at_or_above_on_demand = 0;
    expect(poolNote(clean)).toBeNull();
  });

  it('the report has the per-pool table, escaped, and flags spend at or above on-demand; no table without pools', async () => {
    const json = withPools();
    json.policies.spotfarm.pools!['<b>x/y'] = { spot_hours: 1, on_demand_hours: 0, cost_usd: 0, spot_usd_at_or_above_on_demand: 0 };
    const table = poolTableHtml(json, (t) => t.replace(/</g, '&lt;'));
    expect(table).toContain('&lt;b>x/y');
    expect(table.match(/<tr/g)).toHaveLength(1 + 4);
    expect(table).toContain('<td class="bad">$7.000</td>');
    const result = buildFixture();
    result.json = withPools();
    expect(await renderReportHtml(result)).toContain('Where the money went, per pool');
    expect(await renderReportHtml(buildFixture())).not.toContain('Where the money went, per pool');
  });
});
