/**
 * The figures operators see (src/figures.ts): log lines the dashboard's Logs Insights widgets and the saved queries
 * read, instead of CloudWatch custom metrics (a series costs $0.30 a month once it receives data every hour).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { countEvent, EVENT_COUNTED, logMarketFigures, MARKET_FIGURES } from '../../src/figures';
import { logDecision, logger } from '../../src/log';

describe('figures as log lines', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('a spot group check is one "market figures" line with the fields the dashboard reads', () => {
    // Prepare
    const info = vi.spyOn(logger, 'info').mockImplementation(() => undefined);
    // Act
    logMarketFigures({ farm: 'ml', asgName: 'ml-spot', onSpot: 1, spotPrice: 0.031, onDemandPrice: 0.096, savingsPerHour: 0.26 });
    // Assess
    expect(info).toHaveBeenCalledExactlyOnceWith(MARKET_FIGURES, {
      farm: 'ml',
      asgName: 'ml-spot',
      onSpot: 1,
      spotPrice: 0.031,
      onDemandPrice: 0.096,
      savingsPerHour: 0.26,
    });
  });

  it('a price that is not a number is left out rather than logged as null', () => {
    // Prepare
    const info = vi.spyOn(logger, 'info').mockImplementation(() => undefined);
    // Act
    logMarketFigures({ farm: 'ml', asgName: 'ml-spot', onSpot: 0, spotPrice: Number.NaN, onDemandPrice: Number.POSITIVE_INFINITY });
    // Assess
    expect(info).toHaveBeenCalledExactlyOnceWith(MARKET_FIGURES, { farm: 'ml', asgName: 'ml-spot', onSpot: 0 });
  });

  it('an event is one "event counted" line with its kind', () => {
    // Prepare
    const info = vi.spyOn(logger, 'info').mockImplementation(() => undefined);
    // Act
    countEvent('interruption', { asgName: 'ml-spot', instanceType: 'c5.large', availabilityZone: 'us-east-1a' });
    // Assess
    expect(info).toHaveBeenCalledExactlyOnceWith(EVENT_COUNTED, {
      kind: 'interruption',
      asgName: 'ml-spot',
      instanceType: 'c5.large',
      availabilityZone: 'us-east-1a',
    });
  });

  it("a decision's `message` figure (a capacity failure's AWS message) is kept as awsMessage, not dropped by the logger", () => {
    // Prepare
    const info = vi.spyOn(logger, 'info').mockImplementation(() => undefined);
    // Act
    logDecision({ asgName: 'ml-spot', action: 'recordCapacityFailure', reason: 'launch failed', message: 'There is no Spot capacity' });
    // Assess
    expect(info).toHaveBeenCalledExactlyOnceWith('decision', {
      asgName: 'ml-spot',
      action: 'recordCapacityFailure',
      reason: 'launch failed',
      awsMessage: 'There is no Spot capacity',
    });
  });
});
