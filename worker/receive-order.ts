/**
 * On-demand last (worker/policy.ts planReceive): an instance of the farm's on-demand group takes new work after the
 * farm's spot instances, so the dearer capacity is what drains and leaves when the farm shrinks. The agent learns
 * which group it is in from DescribeAutoScalingInstances (worker/protection.ts) and that group's role from its tags,
 * once at start, with one DescribeAutoScalingGroups call.
 */
import { DescribeAutoScalingGroupsCommand, type AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { awsErrorName, errorMessage } from './errors';

/** The opt-in tag that names a group's role in the farm (the same tag spotfarm's functions read; ../shared/CONTRACTS.md). */
export const ROLE_TAG = 'spotfarm:role';
/** The role of the farm's on-demand fallback group. */
export const ON_DEMAND_ROLE = 'on-demand';

export interface ReceiveOrder {
  /** Take new work last. */
  last: boolean;
  /** Why, for the log line. */
  reason: string;
  /** The group's tags could not be read: the instance receives as any other. */
  failed: boolean;
}

/** How long the read may take before the agent gives up on it and starts receiving (busy-first only). */
export const RECEIVE_ORDER_TIMEOUT_MS = 10_000;

/**
 * Whether the instance's group is the farm's on-demand group. A refused, failed or unanswered read (within
 * `timeoutMs`: the agent reads this before its first receive, so a reply that never comes must not hold the work
 * up) costs only the order.
 */
export async function receiveOrder(client: AutoScalingClient, groupName: string, timeoutMs = RECEIVE_ORDER_TIMEOUT_MS): Promise<ReceiveOrder> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const unanswered = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${timeoutMs / 1000}s`), { name: 'TimeoutError' })), timeoutMs);
    });
    const out = await Promise.race([client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] })), unanswered]);
    const group = out.AutoScalingGroups?.find((g) => g.AutoScalingGroupName === groupName);
    const role = group?.Tags?.find((t) => t.Key === ROLE_TAG)?.Value;
    if (role === ON_DEMAND_ROLE) {
      return { last: true, failed: false, reason: `group ${groupName} is the farm's on-demand group (${ROLE_TAG}=${ON_DEMAND_ROLE}): takes new work after the spot instances, so it drains first` };
    }
    return { last: false, failed: false, reason: `group ${groupName} is ${role === undefined ? `not tagged ${ROLE_TAG}` : `${ROLE_TAG}=${role}`}: receives busy-first` };
  } catch (error) {
    return {
      last: false,
      failed: true,
      reason: `describing auto scaling group ${groupName}: ${awsErrorName(error)}: ${errorMessage(error)}; receives busy-first (grant autoscaling:DescribeAutoScalingGroups for on-demand last)`,
    };
  } finally {
    clearTimeout(timer);
  }
}
