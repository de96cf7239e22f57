/** What an `interruption` invocation returns: the event kind and each action with its outcome. */
import type { ExecutedAction } from '../execute';

export interface InterruptionResult {
  event: string;
  actions: { kind: string; asgName: string; outcome: string; reason: string; instanceId?: string }[];
}

export function summarise(event: string, executed: ExecutedAction[]): InterruptionResult {
  return {
    event,
    actions: executed.map(({ action, outcome }) => ({
      kind: action.kind,
      asgName: action.asgName,
      outcome,
      reason: action.reason,
      ...('instanceId' in action && typeof action.instanceId === 'string' ? { instanceId: action.instanceId } : {}),
    })),
  };
}
