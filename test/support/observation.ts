/**
 * What the shared observation (src/observe.ts) holds for a farm and its groups, as plain objects for pure tests of
 * what `plan` says per farm (route, tight targets): a group with no instances, no prices and no problems.
 */
import type { LaunchSource } from '../../src/model';
import type { FarmObservation, GroupObservation } from '../../src/observe';
import { DEFAULT_SETTINGS, type GroupSettings } from '../../src/settings';

/** A launch-template group's launch source, `$Latest` of lt-1. */
export const templateLaunch: LaunchSource = { style: 'launch-template', template: { id: 'lt-1', name: undefined, version: '$Latest' } };

export function groupObservation(
  name: string,
  role: 'spot' | 'on-demand',
  o: { launch?: LaunchSource; max?: number; desired?: number; settings?: Partial<GroupSettings>; instanceType?: string } = {},
): GroupObservation {
  return {
    group: {
      name,
      arn: undefined,
      min: 0,
      max: o.max ?? 10,
      desired: o.desired ?? 2,
      availabilityZones: ['us-east-1a'],
      instances: [],
      tags: {},
      launch: o.launch ?? templateLaunch,
      capacityRebalance: false,
      terminationPolicies: [],
      createdTime: undefined,
    },
    farm: 'ml',
    role,
    queue: 'jobs',
    settings: { ...DEFAULT_SETTINGS, ...o.settings },
    launch: undefined,
    market: role,
    instanceTypes: [o.instanceType ?? 'c5.large'],
    spotPrices: [],
    onDemandPrices: {},
    instanceMarkets: {},
    problems: [],
  };
}

/** Farm `ml` on queue `jobs` with these groups. */
export const farmObservation = (...groups: GroupObservation[]): FarmObservation => ({ farm: 'ml', queueName: 'jobs', queue: undefined, queueError: undefined, groups });
