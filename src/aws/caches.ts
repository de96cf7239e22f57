/**
 * What a warm Lambda container remembers between invocations: on-demand prices, numbered launch template
 * versions, queue URLs. A real container belongs to one account; tests and the backtest run many simulated
 * accounts in one process, so they forget it all between runs.
 */
import { resetTemplateCache } from './ec2';
import { resetPriceCache } from './pricing';
import { resetQueueUrlCache } from './sqs';

export function resetContainerCaches(): void {
  resetPriceCache();
  resetTemplateCache();
  resetQueueUrlCache();
}
