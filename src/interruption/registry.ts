/**
 * The events the `interruption` function takes: the three EC2 / Auto Scaling kinds, the sweep's schedule tick,
 * and a manual invoke (`{"dryRun"?, "farm"?, "time"?}`, which runs the sweep). Anything else is a noop.
 */
import { BadInputError } from '../errors';
import { launchUnsuccessful, type LaunchUnsuccessful } from '../events/launch-unsuccessful';
import { isEventBridgeEnvelope, parseManualInvoke, type ManualInvoke } from '../events/manual-invoke';
import { rebalanceRecommendation, type RebalanceRecommendation } from '../events/rebalance-recommendation';
import { EventRegistry, type NoopMessage } from '../events/registry';
import { scheduledTick, type ScheduledTick } from '../events/scheduled';
import { spotInterruption, type SpotInterruption } from '../events/spot-interruption';
import { logger } from '../log';

export type InterruptionMessage = SpotInterruption | RebalanceRecommendation | LaunchUnsuccessful | ScheduledTick;

export const interruptionRegistry = new EventRegistry<InterruptionMessage>()
  .register(spotInterruption)
  .register(rebalanceRecommendation)
  .register(launchUnsuccessful)
  .register(scheduledTick);

export type ParsedInterruptionEvent =
  | InterruptionMessage
  | NoopMessage
  | ({ kind: 'manual_invoke' } & ManualInvoke);

/**
 * Parses what the function was invoked with. A malformed event of a registered kind is logged and rethrown:
 * the middleware logs it as an error with the event id and the invocation fails (the Errors widget of the
 * dashboard), so the event lands in the failure destination. Nothing has been called on AWS by then.
 */
export function parseInterruptionEvent(event: unknown): ParsedInterruptionEvent {
  try {
    if (!isEventBridgeEnvelope(event)) return { kind: 'manual_invoke', ...parseManualInvoke(event) };
    return interruptionRegistry.parse(event);
  } catch (error) {
    if (error instanceof BadInputError) {
      logger.error('malformed event', { eventId: eventIdOf(event), error: error.message });
    }
    throw error;
  }
}

const eventIdOf = (event: unknown): string | undefined =>
  typeof event === 'object' && event !== null && typeof (event as { id?: unknown }).id === 'string'
    ? (event as { id: string }).id
    : undefined;
