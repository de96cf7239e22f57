import { awsError } from './errors';

/**
 * Offset-based pagination with opaque tokens. A token that was not handed out (or belongs to another call) is
 * the service's invalid-token error.
 */
export function paginate<T>(
  service: 'autoscaling' | 'ec2' | 'dynamodb',
  items: T[] | { length: number; slice(from: number, to: number): T[] },
  max: number,
  token: string | undefined,
): { items: T[]; next?: string } {
  let offset = 0;
  if (token) {
    const match = /^sim-page-(\d+)$/.exec(Buffer.from(token, 'base64').toString('utf8'));
    if (!match) {
      if (service === 'autoscaling') throw awsError('autoscaling', 'InvalidNextToken', 'The token is invalid.');
      throw awsError(service, service === 'ec2' ? 'InvalidPaginationToken' : 'ValidationException', `Invalid pagination token ${token}`);
    }
    offset = Number(match[1]);
  }
  const page = items.slice(offset, offset + max);
  const nextOffset = offset + page.length;
  return nextOffset < items.length ? { items: page, next: Buffer.from(`sim-page-${nextOffset}`).toString('base64') } : { items: page };
}
