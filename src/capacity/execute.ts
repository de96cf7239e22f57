/** The capacity controller's executor: SetDesiredCapacity, the one mutation it makes. */
import { setDesiredCapacity } from '../aws/autoscaling';
import { executeActions, type ExecutedAction, type ExecutionContext, type Performed } from '../execute';
import type { CapacityAction, SetDesiredCapacityAction } from './actions';

async function perform(action: SetDesiredCapacityAction): Promise<Performed> {
  await setDesiredCapacity(action.asgName, action.to);
  return { outcome: 'done', audit: true };
}

export function executeCapacityActions(actions: readonly CapacityAction[], ctx: ExecutionContext): Promise<ExecutedAction<CapacityAction>[]> {
  return executeActions(actions, ctx, perform);
}
