import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { BacktestJson, PolicySummary } from '../../sim/result';
import { formatDuration, formatUsd } from '../../sim/report/format';
import { createProgress, formatSummaryTable } from '../../sim/report/summary';

function policy(over: Partial<PolicySummary>): PolicySummary {
  const cost = over.cost_usd ?? 10;
  return {
    cost_usd: cost,
    jobs_submitted: 1000,
    jobs_completed: 1000,
    jobs_lost: 0,
    wait_p50_s: 12,
    wait_p95_s: 130,
    wait_max_s: 842,
    spot_instance_hours: 610.25,
    on_demand_instance_hours: 12,
    swaps: 3,
    interruptions: 41,
    max_backlog: 180,
    cost_breakdown: { busy_usd: cost * 0.6, idle_usd: cost * 0.25, boot_usd: cost * 0.1, rework_usd: cost * 0.05, on_demand_premium_usd: 0 },
    ...over,
  };
}

const ORACLE: PolicySummary = {
  cost_usd: 36,
  jobs_submitted: 1000,
  jobs_completed: 1000,
  jobs_lost: 0,
  wait_p50_s: null,
  wait_p95_s: null,
  wait_max_s: null,
  spot_instance_hours: null,
  on_demand_instance_hours: null,
  swaps: null,
  interruptions: null,
  max_backlog: null,
  cost_breakdown: { busy_usd: 36, idle_usd: 0, boot_usd: 0, rework_usd: 0, on_demand_premium_usd: 0 },
};

const CLAIRVOYANT: PolicySummary = {
  ...ORACLE,
  cost_usd: 37.5,
  wait_p50_s: 0,
  wait_p95_s: 0,
  wait_max_s: 0,
  cost_breakdown: { busy_usd: 36, idle_usd: 0.5, boot_usd: 1, rework_usd: 0, on_demand_premium_usd: 0 },
};

function json(): BacktestJson {
  return {
    scenario: 'c3-spiky-2015',
    simulated_hours: 84,
    wall_seconds: 12.34,
    policies: {
      spotfarm: policy({ cost_usd: 41.2 }),
      'on-demand-only': policy({ cost_usd: 1234.5, spot_instance_hours: 0, on_demand_instance_hours: 5880, interruptions: 0, swaps: 0 }),
      recipe: policy({ cost_usd: 52.01, jobs_completed: 993, jobs_lost: 7, wait_max_s: 4000, swaps: 0 }),
      'aws-native': policy({ cost_usd: 47.5, wait_p95_s: 61, swaps: 0 }),
      oracle: ORACLE,
      clairvoyant: CLAIRVOYANT,
    },
  };
}

describe('formatSummaryTable', () => {
  it('lists every policy in contract order with cost, ratios to the oracle and the clairvoyant, idle share and the figures', () => {
    // Prepare
    const input = json();

    // Act
    const lines = formatSummaryTable(input).trimEnd().split('\n');

    // Assess
    expect(lines[0]).toBe('c3-spiky-2015: 84.0 simulated hours in 12.3 s');
    expect(lines[1]).toMatch(/^policy\s+cost\s+vs oracle\s+vs clairvoyant\s+idle\s+jobs\s+lost\s+wait p50\s+wait p95\s+wait max\s+spot h\s+od h\s+swaps\s+interrupts\s+max backlog$/);
    expect(lines.slice(2, 8).map((l) => l.split(/\s+/)[0])).toEqual(['spotfarm', 'on-demand-only', 'recipe', 'aws-native', 'oracle', 'clairvoyant']);
    expect(lines[2]?.split(/\s{2,}/)).toEqual(['spotfarm', '$41.20', '1.14x', '1.10x', '25%', '1,000', '0', '12s', '2m10s', '14m02s', '610', '12.0', '3', '41', '180']);
    expect(lines[3]).toContain('$1,235');
    expect(lines[3]).toContain('34.29x');
    expect(lines[3]).toContain('32.92x');
    expect(lines[4]).toContain('1h07m');
  });

  it('aligns columns: every row as long as the header, numbers right-aligned under their header', () => {
    // Prepare
    const input = json();

    // Act
    const lines = formatSummaryTable(input).trimEnd().split('\n').slice(1, 7);

    // Assess
    const header = lines[0] as string;
    const costEnd = header.indexOf('cost') + 'cost'.length;
    for (const line of lines.slice(1, 5)) {
      expect(line.length).toBe(header.length);
      expect(line[costEnd - 1]).toMatch(/\d/);
      expect(line[costEnd]).toBe(' ');
    }
  });

  it('shows dashes for figures the oracle does not have, and names who lost jobs', () => {
    // Prepare
    const input = json();

    // Act
    const out = formatSummaryTable(input);

    // Assess
    const oracle = out.split('\n').find((l) => l.startsWith('oracle')) ?? '';
    expect(oracle.split(/\s+/)).toEqual(['oracle', '$36.00', '1.00x', '0.96x', '0%', '1,000', '0', '-', '-', '-', '-', '-', '-', '-', '-']);
    expect(out).toContain('jobs lost by: recipe\n');
  });

  it('has no ratio when the oracle cost is zero', () => {
    // Prepare
    const input = json();
    input.policies.oracle = { ...ORACLE, cost_usd: 0 };

    // Act
    const row = formatSummaryTable(input).split('\n').find((l) => l.startsWith('spotfarm')) ?? '';

    // Assess
    expect(row.split(/\s+/)[2]).toBe('-');
  });
});

describe('formats', () => {
  it.each([
    [0, '0s'],
    [59.4, '59s'],
    [60, '1m00s'],
    [3599, '59m59s'],
    [3600, '1h00m'],
    [3 * 3600 + 7 * 60 + 10, '3h07m'],
    [null, '-'],
  ])('formatDuration(%s) = %s', (s, expected) => {
    // Act / Assess
    expect(formatDuration(s)).toBe(expected);
  });

  it.each([
    [0.0042, '$0.0042'],
    [0.5, '$0.500'],
    [41.2, '$41.20'],
    [1234.5, '$1,235'],
    [Number.NaN, '-'],
  ])('formatUsd(%s) = %s', (usd, expected) => {
    // Act / Assess
    expect(formatUsd(usd)).toBe(expected);
  });
});

function fakeTerminal(isTTY: boolean): { stream: PassThrough & { isTTY: boolean; columns: number }; text: () => string } {
  const stream = Object.assign(new PassThrough(), { isTTY, columns: 100, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
  let out = '';
  stream.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
  });
  return { stream, text: () => out };
}

describe('createProgress', () => {
  it('draws a bar on a TTY and reaches 100%', () => {
    // Prepare
    const term = fakeTerminal(true);
    const progress = createProgress(1000, { quiet: false, stream: term.stream });

    // Act
    progress.tick(400);
    progress.tick(600);
    progress.tick(5);
    progress.stop();
    progress.stop();

    // Assess
    expect(term.text()).toContain('backtest [');
    expect(term.text()).toContain('100%');
  });

  it('grows its total when more work is found (a sweep\'s matched runs): no 100% before the end', () => {
    // Prepare
    const term = fakeTerminal(true);
    const progress = createProgress(1000, { quiet: false, stream: term.stream });

    // Act
    progress.tick(500);
    progress.grow(1000);
    progress.tick(800);
    progress.stop();

    // Assess
    expect(term.text()).toContain('65%');
    expect(term.text()).not.toContain('100%');
  });

  it.each([
    ['quiet', { quiet: true, tty: true, total: 10 }],
    ['not a TTY', { quiet: false, tty: false, total: 10 }],
    ['nothing to count', { quiet: false, tty: true, total: 0 }],
  ])('is silent when %s', (_why, c) => {
    // Prepare
    const term = fakeTerminal(c.tty);
    const progress = createProgress(c.total, { quiet: c.quiet, stream: term.stream });

    // Act
    progress.tick(5);
    progress.stop();

    // Assess
    expect(term.text()).toBe('');
  });
});
