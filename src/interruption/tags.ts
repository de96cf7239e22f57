/**
 * The tags spotfarm puts on an instance before it detaches it. They are how the sweep finds every detached
 * instance (one DescribeInstances filtered on the tag key, whatever the number of groups) and what IAM lets
 * it terminate; the values say when the instance must be gone and why it was detached.
 */
import type { DetachReason } from './actions';
import type { InstanceDetails } from '../aws/ec2';
import type { DetachedInstance } from './decide';
import { FARM_TAG } from '../settings';

export const DETACHED_FROM_TAG = 'spotfarm:detached-from';
export const DEADLINE_TAG = 'spotfarm:deadline';
export const DETACHED_FOR_TAG = 'spotfarm:detached-for';

/** EC2 states in which an instance still costs money or could come back. */
export const ALIVE_STATES = ['pending', 'running', 'stopping', 'stopped'];

export function detachTags(groupName: string, deadline: string, why: DetachReason): Record<string, string> {
  return { [DETACHED_FROM_TAG]: groupName, [DEADLINE_TAG]: deadline, [DETACHED_FOR_TAG]: why };
}

/** The detach as the instance's tags tell it, or undefined for an instance spotfarm never marked. */
export function readDetachTags(instance: InstanceDetails, stillInGroup: string | undefined): DetachedInstance | undefined {
  const fromGroup = instance.tags[DETACHED_FROM_TAG];
  if (fromGroup === undefined) return undefined;
  return {
    id: instance.id,
    instanceType: instance.type,
    availabilityZone: instance.availabilityZone,
    state: instance.state,
    farm: instance.tags[FARM_TAG],
    fromGroup,
    deadline: instance.tags[DEADLINE_TAG] ?? '',
    reason: instance.tags[DETACHED_FOR_TAG] === 'rebalance' ? 'rebalance' : 'interruption',
    stillInGroup,
  };
}
