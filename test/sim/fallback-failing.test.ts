/**
 * The real handlers on the simulated cloud: a group falls back to on-demand for price, and its on-demand launches
 * then fail in one AZ (an on-demand storm: EC2's InsufficientInstanceCapacity). The market controller reads the
 * failed activities as "the fall-back did not restore capacity" (issue 14): one SNS message, no swap back and
 * forth, and the farm's jobs still done.
 */
import { describe, expect, it } from 'vitest';
import { runBacktest } from '../../sim/runner';
import { testScenario } from './support/scenario';

describe('a fall-back whose on-demand launches fail', () => {
  it('is told once, and the group neither returns early nor swaps again', async () => {
    // Prepare: spot dearer than on-demand (0.21) from 30 min on; no on-demand capacity in us-east-1a for 3 h.
    const jobs = Array.from({ length: 240 }, (_, i) => ({ at: i * 45, runtime: 900 }));
    const scenario = testScenario({
      jobs,
      duration: 3 * 3600,
      drainLimit: 3600,
      spot: { 'us-east-1a': [[-60, 0.05], [1800, 0.5]], 'us-east-1b': [[-60, 0.06], [1800, 0.5]] },
      storms: [{ at: Date.parse('2015-05-05T00:00:00Z') / 1000, availabilityZone: 'us-east-1a', instanceType: 'c3.xlarge', fraction: 0, unavailableFor: 4 * 3600, market: 'on-demand' }],
    });
    const published: { subject: string | undefined; message: string }[] = [];
    // Act
    const result = await runBacktest(scenario, {
      policies: ['spotfarm'],
      onSdkCall: (command, input) => {
        if (command === 'PublishCommand') {
          const i = input as { Subject?: string; Message: string };
          published.push({ subject: i.Subject, message: i.Message });
        }
      },
    });
    // Assess
    const failing = published.filter((p) => /fell back to on-demand, but its on-demand launches fail/.test(p.subject ?? ''));
    expect(failing).toHaveLength(1);
    expect(JSON.parse(failing[0]!.message)).toMatchObject({
      problem: 'the fall-back to on-demand did not restore capacity',
      message: expect.stringMatching(/^We currently do not have sufficient c3\.xlarge capacity in the Availability Zone you requested \(us-east-1a\)/),
    });
    const p = result.json.policies.spotfarm;
    expect(p.swaps).toBe(1);
    expect(p.jobs_lost).toBe(0);
    expect(p.jobs_completed).toBe(jobs.length);
    expect(result.json.stats!.spotfarm!.failed_events).toBe(0);
  }, 60_000);
});
