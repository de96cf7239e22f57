/**
 * A wait target the workers' idle receive delay outlasts (src/capacity/service.ts, receiveDelayOutlastsTarget), as
 * `plan` says it per farm (src/capacity/plan.ts capacityWarnings, pushed onto the farm's `warnings` by
 * functions/plan.ts): pure, plain objects in, the sentence out.
 */
import { describe, expect, it } from 'vitest';
import { capacityWarnings } from '../../src/capacity/plan';
import { receiveDelayOutlastsTarget, tightTargetAdvice } from '../../src/capacity/service';
import type { GroupObservation } from '../../src/observe';
import type { GroupSettings } from '../../src/settings';
import { farmObservation, groupObservation } from '../support/observation';

const group = (name: string, role: 'spot' | 'on-demand', settings: Partial<GroupSettings> = {}): GroupObservation =>
  groupObservation(name, role, { settings, instanceType: 'c5.large' });
const farm = farmObservation;

describe('receiveDelayOutlastsTarget: acceptableWait below the idle receive delay', () => {
  it.each([
    [1, 30, true],
    [29, 30, true],
    [30, 30, false],
    [600, 30, false],
    [1, 0, false],
    [10, 15, true],
  ])('acceptableWait %is, idleReceiveDelay %is: %s', (acceptableWait, idleReceiveDelay, expected) => {
    expect(receiveDelayOutlastsTarget({ acceptableWait, idleReceiveDelay })).toBe(expected);
  });
});

describe('plan: a wait target the workers cannot keep with busy-first receiving', () => {
  it('acceptableWait 10s with the default 30 s delay: says busy-first receiving cannot keep it, both halves of the cure, and the other way out', () => {
    // Act
    const warnings = capacityWarnings(farm(group('ml-spot', 'spot', { acceptableWait: 10 }), group('ml-od', 'on-demand', { acceptableWait: 10 })));
    // Assess
    expect(warnings).toEqual([tightTargetAdvice({ acceptableWait: 10, idleReceiveDelay: 30 })]);
    expect(warnings[0]).toMatch(/^acceptableWait 10s is shorter than the workers' idle receive delay \(idleReceiveDelay 30s\), which busy-first receiving cannot keep/);
    expect(warnings[0]).toContain('--idle-receive-delay 0');
    expect(warnings[0]).toContain('spotfarm:idleReceiveDelay=0s');
    expect(warnings[0]).toContain('set acceptableWait to at least 30s');
  });

  it('reads the spot group\'s settings, which the queue scaler sizes by', () => {
    const warnings = capacityWarnings(farm(group('ml-spot', 'spot', { acceptableWait: 20, idleReceiveDelay: 45 }), group('ml-od', 'on-demand')));
    expect(warnings).toEqual([expect.stringMatching(/^acceptableWait 20s is shorter than .*idleReceiveDelay 45s/)]);
  });

  it.each<[string, Partial<GroupSettings>]>([
    ['the workers at --idle-receive-delay 0 and the tag at 0s', { acceptableWait: 1, idleReceiveDelay: 0 }],
    ['a target as long as the delay', { acceptableWait: 30 }],
    ['the default 10-minute target', {}],
    ['the target policy (it promises no wait)', { acceptableWait: 10, scalingPolicy: 'target' }],
    ['a pinned backlogPerInstance (the service policy then sizes as target)', { acceptableWait: 10, backlogPerInstance: 4 }],
  ])('says nothing with %s', (_, settings) => {
    expect(capacityWarnings(farm(group('ml-spot', 'spot', settings)))).toEqual([]);
  });

  it('says nothing for a farm the queue scaler cannot manage (two spot groups: plan says why elsewhere)', () => {
    expect(capacityWarnings(farm(group('a', 'spot', { acceptableWait: 5 }), group('b', 'spot', { acceptableWait: 5 })))).toEqual([]);
  });
});
