/**
 * Instance metadata (IMDSv2) for the worker agent: the spot interruption notice, the rebalance
 * recommendation and the instance id. Every read uses a session token (PUT /latest/api/token with
 * a TTL header, then GET with the token), so it works on instances that require IMDSv2.
 *
 * The endpoint comes from SPOTFARM_IMDS_ENDPOINT so tests and local runs can point it at a fake.
 */

/** The EC2 metadata endpoint; SPOTFARM_IMDS_ENDPOINT overrides it. */
export const DEFAULT_IMDS_ENDPOINT = 'http://169.254.169.254';

/** Token lifetime asked for (IMDS allows 1 s to 6 h); refreshed a minute before it runs out. */
export const TOKEN_TTL_SECONDS = 21_600;

/**
 * A scheduled spot interruption, as `spot/instance-action` returns it.
 *
 * @example {"action": "terminate", "time": "2025-01-01T12:02:00Z"}
 */
export interface InstanceAction {
  action: 'terminate' | 'stop' | 'hibernate' | string;
  /** When EC2 takes the instance back (UTC, ISO 8601). */
  time: string;
}

/**
 * A rebalance recommendation, as `events/recommendations/rebalance` returns it.
 *
 * @example {"noticeTime": "2025-01-01T12:00:00Z"}
 */
export interface RebalanceRecommendation {
  noticeTime: string;
}

/** What the worker needs from instance metadata; tests may pass their own. */
export interface MetadataClient {
  /** The endpoint, for log lines. */
  readonly endpoint: string;
  instanceId(): Promise<string>;
  /** undefined when nothing is scheduled (IMDS answers 404). */
  instanceAction(): Promise<InstanceAction | undefined>;
  /** undefined when there is no recommendation (404). */
  rebalanceRecommendation(): Promise<RebalanceRecommendation | undefined>;
}

/** Metadata could not be reached or answered something unusable. */
export class MetadataError extends Error {
  override name = 'MetadataError';
}

/** Metadata answered, but not in the documented form: refused rather than acted on. */
export class MetadataAnswerError extends MetadataError {
  override name = 'MetadataAnswerError';
}

export interface ImdsOptions {
  /** Defaults to SPOTFARM_IMDS_ENDPOINT, then http://169.254.169.254. */
  endpoint?: string;
  /** Per-request timeout. IMDS answers in milliseconds; a long wait means it is not there. */
  timeoutMs?: number;
  tokenTtlSeconds?: number;
  env?: NodeJS.ProcessEnv;
}

/** Builds an IMDSv2 client. Nothing is fetched until the first call. */
export function createImdsClient(options: ImdsOptions = {}): MetadataClient {
  const env = options.env ?? process.env;
  const endpoint = (options.endpoint ?? env.SPOTFARM_IMDS_ENDPOINT ?? DEFAULT_IMDS_ENDPOINT).replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 1000;
  const ttl = options.tokenTtlSeconds ?? TOKEN_TTL_SECONDS;
  let token: { value: string; expiresAt: number } | undefined;

  async function request(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(`${endpoint}${path}`, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      throw new MetadataError(`instance metadata at ${endpoint} is unreachable: ${describe(error)}`, {
        cause: error,
      });
    }
  }

  async function sessionToken(): Promise<string> {
    // Refresh a minute early so a token never expires between fetching and using it.
    if (token !== undefined && Date.now() < token.expiresAt - 60_000) return token.value;
    const response = await request('/latest/api/token', {
      method: 'PUT',
      headers: { 'X-aws-ec2-metadata-token-ttl-seconds': String(ttl) },
    });
    if (!response.ok) {
      throw new MetadataError(`instance metadata at ${endpoint} refused a session token: HTTP ${response.status}`);
    }
    token = { value: (await response.text()).trim(), expiresAt: Date.now() + ttl * 1000 };
    return token.value;
  }

  /** GET a metadata path; undefined on 404. A 401 means the token went stale: fetch one again. */
  async function get(path: string): Promise<string | undefined> {
    for (let attempt = 0; ; attempt++) {
      const response = await request(`/latest/meta-data/${path}`, {
        headers: { 'X-aws-ec2-metadata-token': await sessionToken() },
      });
      if (response.status === 404) return undefined;
      if (response.status === 401 && attempt === 0) {
        token = undefined;
        continue;
      }
      if (!response.ok) {
        throw new MetadataError(`reading ${path} from instance metadata at ${endpoint}: HTTP ${response.status}`);
      }
      return response.text();
    }
  }

  function parse<T>(path: string, text: string | undefined, valid: (value: unknown) => value is T): T | undefined {
    if (text === undefined) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new MetadataAnswerError(`reading ${path} from instance metadata at ${endpoint}: not JSON: ${text.slice(0, 200)}`, {
        cause: error,
      });
    }
    if (!valid(value)) {
      throw new MetadataAnswerError(`reading ${path} from instance metadata at ${endpoint}: unexpected shape: ${text.slice(0, 200)}`);
    }
    return value;
  }

  return {
    endpoint,
    async instanceId() {
      const id = (await get('instance-id'))?.trim();
      if (id === undefined || id === '') {
        throw new MetadataError(`reading instance-id from instance metadata at ${endpoint}: not found`);
      }
      if (!INSTANCE_ID.test(id)) {
        throw new MetadataAnswerError(`reading instance-id from instance metadata at ${endpoint}: not an instance id: ${id.slice(0, 60)}`);
      }
      return id;
    },
    async instanceAction() {
      return parse('spot/instance-action', await get('spot/instance-action'), isInstanceAction);
    },
    async rebalanceRecommendation() {
      return parse(
        'events/recommendations/rebalance',
        await get('events/recommendations/rebalance'),
        isRebalanceRecommendation,
      );
    },
  };
}

/**
 * The three actions and the UTC timestamp IMDS documents for `spot/instance-action`
 * (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html):
 * `{"action": "terminate", "time": "2017-09-18T08:22:00Z"}`. Anything else (`{"time":"1"}`, which
 * `Date.parse` reads as the year 2001 and would hand every job back) is refused, not guessed at.
 */
const ACTIONS = new Set(['terminate', 'stop', 'hibernate']);
const UTC_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

/** A real instant in the documented form: the pattern, and a date that exists (no 2026-02-30). */
export function isUtcTimestamp(value: unknown): value is string {
  if (typeof value !== 'string' || !UTC_TIMESTAMP.test(value)) return false;
  const ms = Date.parse(value);
  return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 19) === value.slice(0, 19);
}

function isInstanceAction(value: unknown): value is InstanceAction {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { action, time } = value as Record<string, unknown>;
  return typeof action === 'string' && ACTIONS.has(action) && isUtcTimestamp(time);
}

function isRebalanceRecommendation(value: unknown): value is RebalanceRecommendation {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return isUtcTimestamp((value as Record<string, unknown>).noticeTime);
}

/** i- and 8 or 17 hex digits. */
const INSTANCE_ID = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `${error.message}${cause}`;
  }
  return String(error);
}
