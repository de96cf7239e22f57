/**
 * A farm's route to on-demand (src/route.ts) as `plan` says it per farm (src/plan.ts, `warnings`): pure, plain
 * objects in, the sentence out.
 */
import { describe, expect, it } from 'vitest';
import type { LaunchSource } from '../../src/model';
import type { GroupObservation } from '../../src/observe';
import { buildPlan, farmWarnings } from '../../src/plan';
import type { MixedFallback } from '../../src/settings';
import { farmObservation, groupObservation, templateLaunch } from '../support/observation';

const mixedLaunch: LaunchSource = {
  style: 'mixed-instances',
  template: { id: 'lt-1', name: undefined, version: '$Latest' },
  overrideTypes: ['r3.large'],
  onDemandBaseCapacity: 0,
  onDemandPercentageAboveBaseCapacity: 0,
  spotAllocationStrategy: 'price-capacity-optimized',
};
function group(name: string, role: 'spot' | 'on-demand', o: { launch?: LaunchSource; max?: number; desired?: number; mixedFallback?: MixedFallback } = {}): GroupObservation {
  return groupObservation(name, role, {
    launch: o.launch ?? (role === 'spot' ? mixedLaunch : templateLaunch),
    ...(o.max !== undefined ? { max: o.max } : {}),
    ...(o.desired !== undefined ? { desired: o.desired } : {}),
    settings: o.mixedFallback ? { mixedFallback: o.mixedFallback } : {},
    instanceType: 'r3.large',
  });
}

const farm = farmObservation;

describe('plan: the farm has no route to on-demand', () => {
  it('a mixed-instances group falling back through the on-demand group, and the farm has none: says so, and what to do', () => {
    // Act
    const warnings = farmWarnings(farm(group('ml-spot', 'spot')));
    // Assess
    expect(warnings).toEqual([
      "this farm has no route to on-demand: the mixed-instances group ml-spot falls back through the farm's on-demand group (mixedFallback=on-demand-group), and the farm has none, " +
        'so nothing can take its share when its spot fails (a storm, a price spike, no capacity): jobs wait until spot is back. ' +
        'To fix: add an on-demand group (tags spotfarm:farm=ml, spotfarm:role=on-demand), or tag ml-spot spotfarm:mixedFallback=percentage (its fall-back then raises its own On-Demand percentage)',
    ]);
  });

  it('the farm has an on-demand group with max 0: names it', () => {
    const warnings = farmWarnings(farm(group('ml-spot', 'spot'), group('ml-on-demand', 'on-demand', { max: 0, desired: 0 })));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^this farm has no route to on-demand: .* and the farm's on-demand group ml-on-demand has max 0, so nothing can take its share/);
    expect(warnings[0]).toMatch(/To fix: raise the max of ml-on-demand, or tag ml-spot spotfarm:mixedFallback=percentage/);
  });

  it('the on-demand group at its max now: says it as a moment, with what to do if it lasts', () => {
    const warnings = farmWarnings(farm(group('ml-spot', 'spot'), group('ml-on-demand', 'on-demand', { max: 4, desired: 4 })));
    expect(warnings).toEqual([expect.stringMatching(/^the farm's on-demand group is at its max \(4\) now: ml-spot falls back through it .* if it stays there: raise the max of ml-on-demand, or tag ml-spot spotfarm:mixedFallback=percentage/)]);
  });

  it.each([
    { rule: 'an on-demand group with room', groups: () => [group('ml-spot', 'spot'), group('ml-on-demand', 'on-demand', { max: 10, desired: 2 })] },
    { rule: 'mixedFallback=percentage without an on-demand group (its own percentage is the route)', groups: () => [group('ml-spot', 'spot', { mixedFallback: 'percentage' })] },
    { rule: 'a launch-template spot group without an on-demand group (its own swap is the route)', groups: () => [group('ml-spot', 'spot', { launch: templateLaunch })] },
    { rule: 'a launch-configuration spot group, its on-demand group at max 0', groups: () => [group('ml-spot', 'spot', { launch: { style: 'launch-configuration', name: 'ml-spot' } }), group('ml-on-demand', 'on-demand', { max: 0 })] },
  ])('$rule: nothing to say', ({ groups }) => {
    expect(farmWarnings(farm(...groups()))).toEqual([]);
  });

  it('buildPlan carries the warnings per farm', () => {
    const plan = buildPlan({ at: new Date('2026-03-02T10:00:00Z'), region: 'us-east-1', farms: [farm(group('ml-spot', 'spot'))], skipped: [] }, '*');
    expect(plan.farms[0]!.warnings).toEqual([expect.stringMatching(/^this farm has no route to on-demand/)]);
  });
});
