/**
 * A sweep's frontier on top of the report fixture: acceptableWait at 2m, 5m, 10m, 20m, hand-set figures shaped
 * like a real sweep (spotfarm cheaper as the wait grows; the baselines dearer and slower), with one baseline point
 * that no spotfarm point dominates (aws-native at 20m: cheap and slow) and one without a p95 wait. With
 * `matched`, spotfarm's run at that point's p95 (51m40s) is added as a sweep makes it: cheaper, but slower.
 */
import { dominance, markDominance } from '../../sim/frontier/plan';
import type { BacktestResult, FrontierPoint, PolicyName } from '../../sim/result';
import { buildFixture } from './fixtures';

const VALUES = ['2m', '5m', '10m', '20m'];

/** [cost, p95 s, lost] per value, per policy. */
const FIGURES: Record<Exclude<PolicyName, 'oracle' | 'clairvoyant'>, [number, number | null, number][]> = {
  spotfarm: [
    [182.4, 95, 0],
    [151.2, 260, 0],
    [131.9, 540, 0],
    [118.3, 1010, 0],
  ],
  'on-demand-only': [
    [402.7, 310, 0],
    [361.5, 700, 0],
    [316.3, 1758, 0],
    [289.9, 2950, 0],
  ],
  recipe: [
    [351.2, 2257, 216],
    [351.2, 2257, 216],
    [351.2, 2257, 216],
    [330.4, null, 240],
  ],
  'aws-native': [
    [301.8, 880, 12],
    [292.1, 1400, 40],
    [285.5, 2244, 417],
    [101.0, 3100, 0],
  ],
};

export function withFrontier(result: BacktestResult = buildFixture(), opts: { matched?: boolean } = {}): BacktestResult {
  const points: FrontierPoint[] = [];
  VALUES.forEach((value, i) => {
    for (const [policy, rows] of Object.entries(FIGURES)) {
      const [cost_usd, wait_p95_s, jobs_lost] = rows[i]!;
      points.push({ policy: policy as PolicyName, setting: 'acceptableWait', value, cost_usd, wait_p95_s, jobs_lost });
    }
  });
  if (opts.matched) {
    points.push({ policy: 'spotfarm', setting: 'acceptableWait', value: '51m40s', cost_usd: 98.6, wait_p95_s: 3190, jobs_lost: 0, matched: [{ policy: 'aws-native', value: '20m' }] });
  }
  const frontier = markDominance(points);
  const r = [0.25, 0.5, 1, 2];
  return {
    ...result,
    json: {
      ...result.json,
      frontier,
      sweep: {
        setting: 'acceptableWait',
        values: VALUES,
        baseline_targets: VALUES.map((value, i) => ({
          value,
          target_backlog_per_instance: 4 * r[i]!,
          recipe_alarm_high: 0.8 * r[i]!,
          recipe_alarm_low: 0.2 * r[i]!,
        })),
        dominance: dominance(frontier),
        threads: 2,
        runs: opts.matched ? 5 : 4,
        matching: { runs: opts.matched ? 1 : 0, note: null, unmatched: [] },
        also_set_note: null,
        run_stats: [],
      },
    },
  };
}
