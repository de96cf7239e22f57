/**
 * Where an event comes from, checked before any controller sees it. EventBridge stamps every event with the
 * account and region it was emitted in (aws.md §1; https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html):
 * a rule or a cross-account target that routes another account's or region's events here is a mistake, and
 * acting on them would detach, scale or swap the wrong farm's groups by name. Such an event is refused whole.
 */
import type { Context } from 'aws-lambda';
import { BadInputError } from '../errors';

/** The function's own account and region: the account from its ARN (absent in `invoke local`), the region from AWS_REGION. */
export function ownOrigin(context: Pick<Context, 'invokedFunctionArn'> | undefined, env: NodeJS.ProcessEnv = process.env): {
  account: string | undefined;
  region: string | undefined;
} {
  const account = /^arn:aws[\w-]*:lambda:[\w-]+:(\d{12}):/.exec(context?.invokedFunctionArn ?? '')?.[1];
  return { account, region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION };
}

/** Whether a payload is an EventBridge event (what the rules deliver) rather than a manual invoke. */
export function isEventBridgeEvent(event: unknown): event is Record<string, unknown> {
  return typeof event === 'object' && event !== null && !Array.isArray(event) && 'detail-type' in event && 'source' in event;
}

/**
 * Throws BadInputError when an EventBridge event names another account or region than the function's own. An
 * envelope without the field, or a function that does not know its own (invoke local), is not compared.
 */
export function checkEventOrigin(event: unknown, own: { account: string | undefined; region: string | undefined }): void {
  if (!isEventBridgeEvent(event)) return;
  const { account, region, id, 'detail-type': detailType } = event;
  const problems: string[] = [];
  if (typeof account === 'string' && own.account !== undefined && account !== own.account) {
    problems.push(`account ${account}, this function runs in account ${own.account}`);
  }
  if (typeof region === 'string' && own.region !== undefined && region !== own.region) {
    problems.push(`region ${region}, this function runs in ${own.region}`);
  }
  if (problems.length > 0) {
    throw new BadInputError(
      `refused ${String(detailType)} event ${typeof id === 'string' ? id : '(no id)'}: it comes from ${problems.join(' and ')}; ` +
        'nothing was changed (check the EventBridge rules and cross-account targets that route events here)',
    );
  }
}
