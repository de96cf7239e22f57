/**
 * "Where the money went": one stacked bar per policy (busy, idle, boot, rework), plain HTML with widths in percent
 * of the dearest policy, so it needs no chart library and reads the same printed. The on-demand premium is a view
 * across those parts (on-demand time above the cheapest price of its moment), so it is a figure beside the bar,
 * not a segment of it.
 */
import type { BacktestJson, CostBreakdown, PolicyName } from '../result';
import { formatUsd, policiesIn } from './format';

type Part = Exclude<keyof CostBreakdown, 'on_demand_premium_usd'>;

export const BREAKDOWN_PARTS: readonly { key: Part; label: string; color: string; help: string }[] = [
  { key: 'busy_usd', label: 'busy', color: '#2563eb', help: 'slots running a job that completed' },
  { key: 'idle_usd', label: 'idle', color: '#f59e0b', help: 'instances in service with empty slots' },
  { key: 'boot_usd', label: 'boot', color: '#8b5cf6', help: 'instances booting, and the 60 s billing minimum' },
  { key: 'rework_usd', label: 'rework', color: '#dc2626', help: 'attempts handed back or lost, run again' },
];

/** Share of a policy's cost that is idle (0..1), or null when it has no breakdown or no cost. */
export function idleShare(json: BacktestJson, name: PolicyName): number | null {
  const p = json.policies[name];
  if (!p?.cost_breakdown || !(p.cost_usd > 0)) return null;
  return p.cost_breakdown.idle_usd / p.cost_usd;
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The section's HTML: legend, one row per policy with a breakdown, the figures in each segment's tooltip. */
export function breakdownHtml(json: BacktestJson, colors: Record<PolicyName, string>): string {
  const names = policiesIn(json).filter((n) => json.policies[n].cost_breakdown !== undefined);
  if (names.length === 0) return '';
  const max = Math.max(...names.map((n) => json.policies[n].cost_usd), 1e-9);
  const legend = BREAKDOWN_PARTS.map(
    (p) => `<span title="${escape(p.help)}"><i style="background:${p.color}"></i>${escape(p.label)}</span>`,
  ).join('');
  const rows = names.map((name) => {
    const p = json.policies[name];
    const b = p.cost_breakdown;
    const segments = BREAKDOWN_PARTS.filter((part) => b[part.key] > 0)
      .map((part) => {
        const usd = b[part.key];
        const share = p.cost_usd > 0 ? Math.round((usd / p.cost_usd) * 100) : 0;
        const width = ((usd / max) * 100).toFixed(2);
        return `<span class="seg" data-part="${part.label}" style="width:${width}%;background:${part.color}" title="${escape(
          `${part.label}: ${formatUsd(usd)} (${share}%)`,
        )}"></span>`;
      })
      .join('');
    const idle = p.cost_usd > 0 ? Math.round((b.idle_usd / p.cost_usd) * 100) : 0;
    const figures = `${formatUsd(p.cost_usd)} · idle ${idle}% · on-demand premium ${formatUsd(b.on_demand_premium_usd)}`;
    return `<div class="bd-row" data-policy="${escape(name)}"><span class="bd-name"><span class="swatch" style="background:${
      colors[name]
    }"></span>${escape(name)}</span><span class="bd-bar">${segments}</span><span class="bd-fig">${escape(figures)}</span></div>`;
  });
  return `<section class="chart-card" id="cost-breakdown">
<h3>Where the money went</h3>
<p class="note">Each policy's cost split per slot of each instance: busy (running a job that completed), idle (in service, slot empty), boot (launch to in service, and the 60 s billing minimum), rework (attempts handed back or lost, run again). The parts add up to the cost. The on-demand premium is what on-demand time cost above the cheapest price of its moment, a view across the parts. Bars share one scale.</p>
<div class="marks-legend">${legend}</div>
${rows.join('\n')}
</section>`;
}

export const BREAKDOWN_CSS = `
.bd-row { display: grid; grid-template-columns: 130px 1fr 320px; gap: 10px; align-items: center; margin: 6px 0; font-size: 12.5px; }
.bd-bar { display: flex; height: 16px; background: #f1f5f9; border-radius: 3px; overflow: hidden; }
.bd-bar .seg { display: block; height: 100%; }
.bd-fig { color: #374151; font-variant-numeric: tabular-nums; white-space: nowrap; }
`;
