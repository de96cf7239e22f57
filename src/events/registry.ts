/**
 * The event registry: one parser per (source, detail-type), Karpenter-style. Event sources are interchangeable
 * producers of typed messages; the action code does not know where a message came from. An event nobody
 * registered is a `noop` message (logged, no action, success), never an exception. A registered event whose
 * detail is malformed throws BadInputError: the invocation fails and the event lands in the function's failure
 * destination instead of vanishing.
 */
import type * as z from 'zod/mini';
import { BadInputError } from '../errors';
import { formatIssues } from '../validation';
import { EnvelopeSchema, type Envelope } from './envelope';

export interface NoopMessage {
  kind: 'noop';
  id: string | undefined;
  source: string | undefined;
  detailType: string | undefined;
  time: Date | undefined;
}

export interface EventKind<TMessage> {
  source: string;
  detailType: string;
  /** Validates `detail` and builds the typed message. */
  detail: z.ZodMiniType;
  toMessage(envelope: Envelope, detail: never): TMessage;
}

export class EventRegistry<TMessage> {
  private readonly kinds = new Map<string, EventKind<TMessage>>();

  register(kind: EventKind<TMessage>): this {
    this.kinds.set(`${kind.source}|${kind.detailType}`, kind);
    return this;
  }

  parse(event: unknown): TMessage | NoopMessage {
    const header = event as { id?: unknown; source?: unknown; 'detail-type'?: unknown; time?: unknown } | null;
    const source = typeof header?.source === 'string' ? header.source : undefined;
    const detailType = typeof header?.['detail-type'] === 'string' ? header['detail-type'] : undefined;
    const id = typeof header?.id === 'string' ? header.id : undefined;
    const kind = this.kinds.get(`${source}|${detailType}`);
    if (!kind) {
      const time = typeof header?.time === 'string' && !Number.isNaN(Date.parse(header.time)) ? new Date(header.time) : undefined;
      return { kind: 'noop', id, source, detailType, time };
    }
    const envelope = EnvelopeSchema.safeParse(event);
    if (!envelope.success) {
      throw new BadInputError(`malformed ${detailType} event ${id ?? '(no id)'}: ${formatIssues(envelope.error.issues, '', event)}`);
    }
    const detail = kind.detail.safeParse(envelope.data.detail);
    if (!detail.success) {
      throw new BadInputError(
        `malformed ${detailType} event ${id ?? '(no id)'}: ${formatIssues(detail.error.issues, 'detail', envelope.data.detail)}`,
      );
    }
    return kind.toMessage(envelope.data, detail.data as never);
  }
}
