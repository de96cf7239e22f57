/**
 * Where the money went per pool (instance type x AZ): the report's per-pool table and the terminal note. A farm
 * that keeps a third of its instances in a pool priced at on-demand shows it here, where the totals hide it.
 */
import type { BacktestJson, PolicyName } from '../result';
import { NONE, formatHours, formatUsd, policiesIn } from './format';

export interface PoolRow {
  policy: PolicyName;
  pool: string;
  cost_usd: number;
  /** This pool's share of the policy's cost, 0..1. */
  share: number;
  spot_hours: number;
  on_demand_hours: number;
  spot_usd_at_or_above_on_demand: number;
}

/** One row per (simulated policy, pool), policies in contract order, pools sorted by name. */
export function poolRows(json: BacktestJson): PoolRow[] {
  const rows: PoolRow[] = [];
  for (const policy of policiesIn(json)) {
    const p = json.policies[policy];
    if (!p.pools) continue;
    for (const [pool, x] of Object.entries(p.pools).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      rows.push({
        policy,
        pool,
        cost_usd: x.cost_usd,
        share: p.cost_usd > 0 ? x.cost_usd / p.cost_usd : 0,
        spot_hours: x.spot_hours,
        on_demand_hours: x.on_demand_hours,
        spot_usd_at_or_above_on_demand: x.spot_usd_at_or_above_on_demand,
      });
    }
  }
  return rows;
}

/** Spot spend in pools priced at or above on-demand, and its share of the policy's cost; null without pools. */
export function spendAtOrAboveOnDemand(json: BacktestJson, policy: PolicyName): { usd: number; share: number } | null {
  const p = json.policies[policy];
  if (!p?.pools) return null;
  const usd = Object.values(p.pools).reduce((sum, x) => sum + x.spot_usd_at_or_above_on_demand, 0);
  return { usd, share: p.cost_usd > 0 ? usd / p.cost_usd : 0 };
}

export function formatShare(share: number): string {
  return Number.isFinite(share) ? `${(share * 100).toFixed(1)}%` : NONE;
}

/** The per-pool table as HTML; `escape` is the report's escaper. Empty when no policy has pools. */
export function poolTableHtml(json: BacktestJson, escape: (text: string) => string): string {
  const rows = poolRows(json);
  if (rows.length === 0) return '';
  const head =
    '<tr><th scope="col">Policy</th><th scope="col">Pool</th><th scope="col" title="What the pool cost this policy">Cost</th>' +
    '<th scope="col" title="The pool\u2019s share of the policy\u2019s cost">Share</th><th scope="col">Spot h</th><th scope="col">On-demand h</th>' +
    '<th scope="col" title="Spot spend while the pool\u2019s spot price was at or above on-demand">Spot $ at \u2265 on-demand</th></tr>';
  const body = rows
    .map((r) => {
      const bad = r.spot_usd_at_or_above_on_demand > 0.005 ? ' class="bad"' : '';
      return (
        `<tr${r.policy === 'spotfarm' ? ' class="ours"' : ''}><td class="policy">${escape(r.policy)}</td><td class="pool">${escape(r.pool)}</td>` +
        `<td>${escape(formatUsd(r.cost_usd))}</td><td>${escape(formatShare(r.share))}</td><td>${escape(formatHours(r.spot_hours))}</td>` +
        `<td>${escape(formatHours(r.on_demand_hours))}</td><td${bad}>${escape(formatUsd(r.spot_usd_at_or_above_on_demand))}</td></tr>`
      );
    })
    .join('');
  return `<table class="summary pools"><thead>${head}</thead><tbody>${body}</tbody></table>`;
}

/** A line for the terminal summary when spotfarm paid spot at or above on-demand somewhere; null otherwise. */
export function poolNote(json: BacktestJson): string | null {
  const spend = spendAtOrAboveOnDemand(json, 'spotfarm');
  if (!spend || spend.usd < 0.005) return null;
  const worst = poolRows(json)
    .filter((r) => r.policy === 'spotfarm' && r.spot_usd_at_or_above_on_demand >= 0.005)
    .sort((a, b) => b.spot_usd_at_or_above_on_demand - a.spot_usd_at_or_above_on_demand)
    .map((r) => `${r.pool} ${formatUsd(r.spot_usd_at_or_above_on_demand)}`);
  return `spotfarm paid ${formatUsd(spend.usd)} (${formatShare(spend.share)} of its cost) for spot at or above on-demand: ${worst.join(', ')}`;
}
