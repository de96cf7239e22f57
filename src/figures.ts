/**
 * The figures operators look at (prices, market, savings, event counts), as structured log lines rather than
 * CloudWatch custom metrics. A custom metric costs $0.30 a month for every series, prorated by the hours in
 * which it receives a data point (https://aws.amazon.com/cloudwatch/pricing/): a spot price that moves every few
 * minutes, or interruptions spread over a day, cost the full $0.30 per series, which alone made spotfarm's own
 * bill exceed $1 per farm per month (docs/deploy.md, "What it costs"). A log line costs its bytes ($0.50 per GB
 * ingested, a few hundred bytes each here). The dashboard (`dashboard=true`) and the saved Logs Insights queries
 * (stack/operations.yml) read these lines; both query only this stack's own log groups, so each farm's figures
 * stay its own.
 *
 * Lines are logged at INFO: with `logLevel=WARN` or above they are not written, and the dashboard's spotfarm
 * widgets stay empty.
 */
import { logger } from './log';

/** The log message of a market figures line (one per spot group per price check). */
export const MARKET_FIGURES = 'market figures';
/** The log message of a counted event (one per event, `kind` below). */
export const EVENT_COUNTED = 'event counted';

/** What is counted: one line each time it happens (and not in a dry run, where nothing happens). */
export type CountedKind =
  | 'interruption'
  | 'rebalance'
  | 'replacement'
  | 'capacityFailure'
  | 'marketCheckRequest'
  | 'swap'
  | 'breakerTrip'
  | 'marketCheckFailure'
  | 'farmFailure';

export function countEvent(kind: CountedKind, fields: Record<string, unknown> = {}): void {
  logger.info(EVENT_COUNTED, { kind, ...fields });
}

export interface MarketFigures {
  farm: string;
  asgName: string;
  /** 1 while the group launches spot, 0 on on-demand. */
  onSpot: 0 | 1;
  spotPrice?: number;
  onDemandPrice?: number;
  /** USD/h the group's running spot instances save against on-demand, at today's prices. */
  savingsPerHour?: number;
}

export function logMarketFigures(figures: MarketFigures): void {
  const finite = Object.fromEntries(Object.entries(figures).filter(([, v]) => typeof v !== 'number' || Number.isFinite(v)));
  logger.info(MARKET_FIGURES, finite);
}
