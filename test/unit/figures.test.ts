/**
 * The figures operators see (src/figures.ts): log lines the dashboard's Logs Insights widgets and the saved queries
 * read, instead of CloudWatch custom metrics (a series costs $0.30 a month once it receives data every hour).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { countEvent, EVENT_COUNTED, logMarketFigures, MARKET_FIGURES } from '../../src/figures';
import { logDecision, logger } from '../../src/log';
import { logGroupFigures } from '../../src/market/controller';
import type { GroupMarketView } from '../../src/market/observe';

/** A group of the price check with two running spot instances in one pool (only what the figures read). */
function view(role: 'spot' | 'on-demand', market: 'spot' | 'on-demand' = 'spot'): GroupMarketView {
  const instance = (id: string) => ({ id, type: 'c5.large', availabilityZone: 'us-east-1a', lifecycleState: 'InService', healthStatus: 'Healthy', protectedFromScaleIn: false });
  return {
    group: {
      group: { name: `ml-${role}`, instances: [instance('i-1'), instance('i-2')] },
      farm: 'ml',
      role,
      market,
      problems: [],
      instanceMarkets: {},
      onDemandPrices: { 'c5.large': { usdPerHour: 0.085 } },
      spotPrices: [{ instanceType: 'c5.large', availabilityZone: 'us-east-1a', spot: 0.035 }],
    },
    input: { signals: { spotPrice: 0.035, onDemandPrice: 0.085 } },
  } as unknown as GroupMarketView;
}

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

  it('a check logs the figures of each spot group, not of the on-demand fallback group', () => {
    // Prepare
    const info = vi.spyOn(logger, 'info').mockImplementation(() => undefined);
    // Act
    logGroupFigures(view('spot'));
    logGroupFigures(view('on-demand'));
    logGroupFigures(view('spot', 'on-demand'));
    // Assess: two instances each saving 0.085 - 0.035 an hour; a group on on-demand has onSpot 0 and saves nothing.
    expect(info.mock.calls).toEqual([
      [MARKET_FIGURES, { farm: 'ml', asgName: 'ml-spot', onSpot: 1, spotPrice: 0.035, onDemandPrice: 0.085, savingsPerHour: 0.1 }],
      [MARKET_FIGURES, { farm: 'ml', asgName: 'ml-spot', onSpot: 0, spotPrice: 0.035, onDemandPrice: 0.085, savingsPerHour: 0 }],
    ]);
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
