/**
 * Decision tables for the market controller (src/market/decide.ts): plain objects in, one action and the state
 * to store out. No mocks, no clock: `now` is a parameter.
 */
import { describe, expect, it } from 'vitest';
import { breakerState, decideMarket, dwellSeconds, type MarketInput, type MarketSignals } from '../../src/market/decide';
import type { MarketState } from '../../src/market/state';
import { DEFAULT_SETTINGS, type GroupSettings } from '../../src/settings';

const T0 = Date.parse('2026-03-02T10:00:00Z');
const min = (m: number) => new Date(T0 + m * 60_000);
const iso = (m: number) => min(m).toISOString();

const settings: GroupSettings = { ...DEFAULT_SETTINGS };
const cheap: Partial<MarketSignals> = { ratio: 0.3 };
const dear: Partial<MarketSignals> = { ratio: 1.2 };
const mixed = { style: 'mixed-instances' as const, onDemandPercentageAboveBaseCapacity: 0 };

function input(overrides: Partial<MarketInput> = {}, signals: Partial<MarketSignals> = {}): MarketInput {
  return {
    asgName: 'ml-spot',
    role: 'spot',
    observed: 'spot',
    current: mixed,
    problems: [],
    signals: { ratio: 0.3, spotPrice: 0.03, onDemandPrice: 0.1, capacityFailures: 0, shortfall: 0, fallbackRoom: 0, interruptions: 0, instances: 4, ...signals },
    state: undefined,
    ...overrides,
  };
}

const spotState = (extra: Partial<MarketState> = {}): MarketState => ({
  market: 'spot',
  since: iso(-600),
  highStreak: 0,
  lowStreak: 0,
  backoff: 0,
  lastCheckAt: iso(-5),
  ...extra,
});

const onDemandState = (extra: Partial<MarketState> = {}): MarketState => ({
  market: 'on-demand',
  since: iso(-60),
  highStreak: 0,
  lowStreak: 1,
  backoff: 0,
  lastFallbackAt: iso(-60),
  lastFallbackTrigger: 'price',
  lastCheckAt: iso(-5),
  originals: mixed,
  ...extra,
});

const decide = (i: MarketInput, s: Partial<GroupSettings> = {}, at = 0, options: Partial<Parameters<typeof decideMarket>[3]> = {}) =>
  decideMarket(i, { ...settings, ...s }, min(at), { checkId: 'price-check:test', ...options });

describe('decideMarket: falling back to on-demand', () => {
  it.each([
    { rule: 'price below swapRatio: stay', state: spotState(), signals: cheap, kind: 'skip', reason: /below swapRatio 1/ },
    { rule: 'price at swapRatio, first check: stay, streak 1', state: spotState(), signals: { ratio: 1.0 }, kind: 'skip', reason: /for 1 of 2 checks/ },
    { rule: 'price above swapRatio for confirmChecks checks: swap', state: spotState({ highStreak: 1 }), signals: dear, kind: 'swapToOnDemand', reason: /at or above swapRatio 1, for 2 checks/ },
    { rule: 'a cheap check breaks the streak', state: spotState({ highStreak: 1 }), signals: cheap, kind: 'skip', reason: /below swapRatio/ },
    { rule: 'capacity failures reach the limit while the group is short: swap at once', state: spotState(), signals: { capacityFailures: 2, shortfall: 1 }, kind: 'swapToOnDemand', reason: /2 spot capacity failures .* 1 short of desired/ },
    { rule: 'capacity failures while short, but the on-demand fallback group can cover it: stay', state: spotState(), signals: { capacityFailures: 3, shortfall: 2, fallbackRoom: 5 }, kind: 'skip', reason: /the farm's on-demand group covers the shortfall \(room for 5 more\)/ },
    // Was a swap until the market rules were redone for AWS's billing (the shortfall beyond the room moved the
    // whole group); the on-demand group takes it now, as far as the capacity controller finds the wait needs it.
    { rule: 'capacity failures while short by more than the fallback group can add: stay, that group covers', state: spotState(), signals: { capacityFailures: 3, shortfall: 6, fallbackRoom: 5 }, kind: 'skip', reason: /6 short, but the farm's on-demand group covers the shortfall \(room for 5 more\)/ },
    { rule: 'capacity failures while short and the fallback group is full: swap', state: spotState(), signals: { capacityFailures: 3, shortfall: 6, fallbackRoom: 0 }, kind: 'swapToOnDemand', reason: /6 short of desired, the farm's on-demand group has no room/ },
    { rule: 'capacity failures at the limit but other pools filled the group: stay', state: spotState(), signals: { capacityFailures: 2, shortfall: 0 }, kind: 'skip', reason: /below swapRatio/ },
    { rule: 'one capacity failure alone: stay', state: spotState(), signals: { capacityFailures: 1 }, kind: 'skip', reason: /below swapRatio/ },
    { rule: 'interruption storm trips the breaker: swap at once', state: spotState(), signals: { interruptions: 4, instances: 8 }, kind: 'swapToOnDemand', reason: /interruption breaker: 4 interruptions/ },
    { rule: 'two interruptions are too few to trip, whatever the rate', state: spotState(), signals: { interruptions: 2, instances: 4 }, kind: 'skip', reason: /below swapRatio/ },
    { rule: 'one interruption never trips the breaker', state: spotState(), signals: { interruptions: 1, instances: 1 }, kind: 'skip', reason: /below swapRatio/ },
    { rule: 'interruptions below the rate: stay', state: spotState(), signals: { interruptions: 2, instances: 20 }, kind: 'skip', reason: /below swapRatio/ },
    { rule: 'all three signals: capacity is named first', state: spotState({ highStreak: 5 }), signals: { ...dear, capacityFailures: 3, shortfall: 2, interruptions: 9 }, kind: 'swapToOnDemand', reason: /3 spot capacity failures/ },
    { rule: 'no spot price: stay', state: spotState(), signals: { ratio: undefined }, kind: 'skip', reason: /no spot price/ },
    { rule: 'first sight of a spot group: stay, streak starts', state: undefined, signals: dear, kind: 'skip', reason: /1 of 2 checks/ },
  ])('$rule', ({ state, signals, kind, reason }) => {
    // Act
    const d = decide(input({ state }, signals));
    // Assess
    expect(d.action.kind).toBe(kind);
    expect(d.action.reason).toMatch(reason);
    expect(d.state?.lastCheckAt).toBe(iso(0));
  });

  it('a swap claims the state with pending and the originals, and the state after it is on-demand', () => {
    const d = decide(input({ state: spotState({ highStreak: 1 }) }, dear));
    expect(d.action).toMatchObject({ kind: 'swapToOnDemand', trigger: 'price', from: mixed });
    expect(d.state).toMatchObject({ market: 'spot', pending: { to: 'on-demand', at: iso(0), by: 'price-check:test', trigger: 'price' }, originals: mixed });
    expect(d.after).toMatchObject({ market: 'on-demand', since: iso(0), highStreak: 0, lastFallbackTrigger: 'price', originals: mixed });
    expect(d.after?.pending).toBeUndefined();
  });

  it('swapRatio and confirmChecks are per-group settings', () => {
    expect(decide(input({ state: spotState() }, { ratio: 0.8 }), { swapRatio: 0.75, confirmChecks: 1 }).action.kind).toBe('swapToOnDemand');
  });

  it('a forced fall-back (breaker trip from the interruption function) swaps whatever the price', () => {
    const d = decide(input({ state: spotState() }, cheap), {}, 0, { force: { trigger: 'breaker', reason: 'pool c5.large|us-east-1a tripped' } });
    expect(d.action).toMatchObject({ kind: 'swapToOnDemand', trigger: 'breaker', reason: 'pool c5.large|us-east-1a tripped' });
  });

  it('a forced fall-back of a group already on on-demand does nothing', () => {
    const d = decide(input({ observed: 'on-demand', state: onDemandState() }, cheap), {}, 0, { force: { trigger: 'breaker', reason: 'trip' } });
    expect(d.action).toMatchObject({ kind: 'skip', reason: expect.stringMatching(/already on on-demand/) });
  });
});

describe("decideMarket with a farm's on-demand group: capacity falls back only with no other route to on-demand", () => {
  // The capacity controller covers a spot shortfall with the farm's on-demand group while it has room (as the
  // promised wait needs, and only until spot is back); a swap would buy on-demand the wait does not need and hold it
  // for the dwell. Price is not a shortfall: a spike's dips relaunch spot that the next jump takes, which only the
  // swap's dwell stops.
  const short: Partial<MarketSignals> = { shortfall: 12, capacityFailures: 4 };

  it('capacity failures while short, the on-demand group has room: stays and says why (figures.held)', () => {
    const d = decide(input({ state: spotState() }, { ...short, fallbackRoom: 10 }));
    expect(d.action.kind).toBe('skip');
    expect(d.action.reason).toMatch(/^staying on spot: 4 spot capacity failures in the last 15 min and the group is 12 short, but the farm's on-demand group covers the shortfall \(room for 10 more\); spot costs 0.3 x on-demand, below swapRatio 1$/);
    expect(d.action.figures).toMatchObject({ fallbackRoom: 10, held: [expect.stringMatching(/capacity failures/)] });
  });

  it('spot above the max price in every AZ, confirmed: falls back on price whatever the room, to stop relaunching into the spike', () => {
    const d = decide(input({ state: spotState({ highStreak: 1 }) }, { ...short, ratio: 5.4, launchableAzs: 0, fallbackRoom: 10 }));
    expect(d.action).toMatchObject({ kind: 'swapToOnDemand', trigger: 'price' });
    expect(d.action.reason).toMatch(/above the max price in every AZ, for 2 checks: the fall-back stops the group relaunching spot into the spike/);
    expect(d.action.figures).toMatchObject({ launchableAzs: 0 });
  });

  it('spot at swapRatio where it still launches (at or below the max price): falls back on price whatever the room', () => {
    const d = decide(input({ state: spotState({ highStreak: 1 }) }, { ratio: 1.0, launchableAzs: 2, fallbackRoom: 10 }));
    expect(d.action).toMatchObject({ kind: 'swapToOnDemand', trigger: 'price' });
    expect(d.action.reason).toMatch(/spot costs 1 x on-demand, at or above swapRatio 1, for 2 checks/);
  });

  it('a signalled check (a capacity burst) while the on-demand group has room: nothing moves, nothing stored', () => {
    const d = decide(input({ state: spotState() }, { ...short, fallbackRoom: 10 }), {}, 0, { signal: true });
    expect(d.action.kind).toBe('skip');
    expect(d.action.reason).toMatch(/covers the shortfall \(room for 10 more\).*\(a signalled check: nothing stored\)/);
    expect(d.state).toBeUndefined();
  });

  it('a mixed group that falls back through the on-demand group, which is full: a fall-back would add nothing, so it stays', () => {
    const through = { ...mixed, fallback: 'on-demand-group' as const };
    const d = decide(input({ current: through, state: spotState() }, { ...short, fallbackRoom: 0 }));
    expect(d.action.kind).toBe('skip');
    expect(d.action.reason).toMatch(/falls back through the farm's on-demand group \(mixedFallback=on-demand-group\), which has no room .*would add no on-demand capacity/);
    // The same group with mixedFallback=percentage has a route of its own: it falls back.
    const percentage = { ...mixed, fallback: 'percentage' as const };
    expect(decide(input({ current: percentage, state: spotState() }, { ...short, fallbackRoom: 0 })).action).toMatchObject({ kind: 'swapToOnDemand', trigger: 'capacity' });
  });

  it('the breaker still moves the group with room in the on-demand group: interruptions that relaunch leave no shortfall to cover', () => {
    const d = decide(input({ state: spotState() }, { interruptions: 4, instances: 8, fallbackRoom: 10 }));
    expect(d.action).toMatchObject({ kind: 'swapToOnDemand', trigger: 'breaker' });
  });
});

describe('decideMarket: returning to spot (dwell, hysteresis, back-off)', () => {
  it.each([
    { rule: 'inside the dwell: stay', state: onDemandState({ since: iso(-20) }), signals: cheap, kind: 'skip', reason: /10 min of the 30 min dwell left/ },
    { rule: 'after the dwell, cheap for confirmChecks checks: return', state: onDemandState(), signals: cheap, kind: 'swapToSpot', reason: /for 2 checks after 60 min/ },
    { rule: 'after the dwell, first cheap check: stay', state: onDemandState({ lowStreak: 0 }), signals: cheap, kind: 'skip', reason: /1 of 2 checks/ },
    { rule: 'hysteresis: below swapRatio but above swapRatio - hysteresis: stay', state: onDemandState(), signals: { ratio: 0.95 }, kind: 'skip', reason: /above 0.9 \(swapRatio - hysteresis\)/ },
    { rule: 'exactly swapRatio - hysteresis: cheap enough', state: onDemandState(), signals: { ratio: 0.9 }, kind: 'swapToSpot', reason: /<= 0.9/ },
    { rule: 'a capacity failure in the window blocks the return', state: onDemandState(), signals: { ...cheap, capacityFailures: 1 }, kind: 'skip', reason: /1 capacity failures/ },
    { rule: 'a tripped breaker blocks the return', state: onDemandState(), signals: { ...cheap, interruptions: 4, instances: 4 }, kind: 'skip', reason: /breaker is still tripped/ },
    { rule: 'back-off level 1 doubles the dwell to 60 min', state: onDemandState({ since: iso(-45), backoff: 1 }), signals: cheap, kind: 'skip', reason: /15 min of the 60 min dwell left/ },
    { rule: 'no remembered originals: cannot return', state: onDemandState({ originals: undefined }), signals: cheap, kind: 'skip', reason: /no remembered spot configuration/ },
  ])('$rule', ({ state, signals, kind, reason }) => {
    const d = decide(input({ observed: 'on-demand', state }, signals));
    expect(d.action.kind).toBe(kind);
    expect(d.action.reason).toMatch(reason);
  });

  it('the return goes to the remembered originals and records lastReturnAt', () => {
    const d = decide(input({ observed: 'on-demand', state: onDemandState() }, cheap));
    expect(d.action).toMatchObject({ kind: 'swapToSpot', to: mixed });
    expect(d.after).toMatchObject({ market: 'spot', since: iso(0), lastReturnAt: iso(0), backoff: 0 });
  });

  it('a fall-back within the dwell after a return doubles the next dwell; a quiet day resets it', () => {
    // Prepare: returned 10 minutes ago
    const flapping = spotState({ lastReturnAt: iso(-10), lastFallbackAt: iso(-70), highStreak: 1 });
    // Act
    const d = decide(input({ state: flapping }, dear));
    // Assess
    expect(d.after?.backoff).toBe(1);
    expect(d.action.reason).toMatch(/back-off: the next dwell doubles to 60 min/);
    // A fall-back long after the return does not back off
    expect(decide(input({ state: spotState({ lastReturnAt: iso(-45), highStreak: 1 }) }, dear)).after?.backoff).toBe(0);
    // A day with no fall-back forgets the back-off
    const quiet = decide(input({ state: spotState({ backoff: 3, lastFallbackAt: iso(-25 * 60), lastReturnAt: iso(-24 * 60) }) }, cheap));
    expect(quiet.state?.backoff).toBe(0);
  });

  it('back-off is capped at 24 h', () => {
    expect(dwellSeconds(settings, 0)).toBe(1800);
    expect(dwellSeconds(settings, 3)).toBe(4 * 3600);
    expect(dwellSeconds(settings, 10)).toBe(24 * 3600);
    const capped = spotState({ backoff: 6, lastFallbackAt: iso(-40), lastReturnAt: iso(-10), highStreak: 1 });
    expect(decide(input({ state: capped }, dear)).after?.backoff).toBe(6);
  });
});

describe('decideMarket: skip reasons, duplicates, races, drift', () => {
  it.each([
    { rule: 'on-demand role group', i: input({ role: 'on-demand' }), reason: /on-demand fallback group/ },
    { rule: 'misconfigured group', i: input({ problems: ['launch template lt-1 version 3 cannot be read'] }), reason: /cannot manage.*lt-1/ },
    { rule: 'unreadable launch source', i: input({ observed: undefined }), reason: /could not be read/ },
    { rule: 'on-demand with no state: nothing to return to', i: input({ observed: 'on-demand' }), reason: /no record of its spot configuration/ },
    { rule: 'duplicated or late event', i: input({ state: spotState({ lastCheckAt: iso(0) }) }, dear), reason: /duplicate or late check/ },
    {
      rule: 'a swap claimed by a racing check is in progress',
      i: input({ state: spotState({ pending: { to: 'on-demand', at: iso(-1), by: 'price-check:other' } }) }, dear),
      reason: /claimed by price-check:other .* is in progress/,
    },
    { rule: 'moved to on-demand by hand: left alone', i: input({ observed: 'on-demand', state: spotState() }), reason: /moved to on-demand outside spotfarm/ },
    { rule: 'put back on spot by hand: followed', i: input({ observed: 'spot', state: onDemandState() }), reason: /put back on spot outside spotfarm/ },
  ])('$rule', ({ i, reason }) => {
    const d = decide(i);
    expect(d.action.kind).toBe('skip');
    expect(d.action.reason).toMatch(reason);
  });

  it('a duplicate stores nothing, so streaks count each tick once', () => {
    expect(decide(input({ state: spotState({ lastCheckAt: iso(0), highStreak: 1 }) }, dear)).state).toBeUndefined();
  });

  it('a dry run decides even for a time already checked', () => {
    expect(decide(input({ state: spotState({ lastCheckAt: iso(0), highStreak: 1 }) }, dear), {}, 0, { dryRun: true }).action.kind).toBe('swapToOnDemand');
  });

  it('a swap abandoned half way is finished on the next check, even on a retried event, from the remembered originals', () => {
    // Prepare: a template group following $Latest launches on-demand as soon as the new version exists
    const originals = { style: 'launch-template' as const, templateId: 'lt-1', templateName: undefined, version: '$Latest', resolvedVersion: 4 };
    const abandoned = spotState({
      lastCheckAt: iso(0),
      originals,
      pending: { to: 'on-demand', at: iso(0), by: 'price-check:first', trigger: 'capacity', failed: 'Throttling: Rate exceeded' },
    });
    const current = { ...originals, resolvedVersion: 5 };
    // Act
    const d = decide(input({ observed: 'on-demand', current, state: abandoned }, cheap));
    // Assess
    expect(d.action).toMatchObject({ kind: 'swapToOnDemand', trigger: 'capacity', from: originals, reason: expect.stringMatching(/finishing the swap/) });
  });

  it('a pending claim older than the timeout counts as abandoned', () => {
    const stale = spotState({ highStreak: 1, pending: { to: 'on-demand', at: iso(-10), by: 'price-check:dead' } });
    expect(decide(input({ state: stale }, dear)).action.kind).toBe('swapToOnDemand');
  });

  it('launch configurations refused in this account: say so instead of trying again', () => {
    const lc = { style: 'launch-configuration' as const, name: 'ml-spot' };
    const refused = spotState({ launchConfigurationRefused: { at: iso(-5), message: 'not available in your account' } });
    const d = decide(input({ current: lc, state: refused }, { capacityFailures: 5, shortfall: 1 }));
    expect(d.action).toMatchObject({ kind: 'skip', reason: expect.stringMatching(/cannot create launch configurations: move the group to a launch template/) });
  });

  it('every decision carries its figures', () => {
    const d = decide(input({ state: spotState({ highStreak: 1 }) }, dear));
    expect(d.action.figures).toMatchObject({ ratio: 1.2, swapRatio: 1, returnAtOrBelow: 0.9, highStreak: 2, confirmChecks: 2, trigger: 'price' });
  });
});

describe('decideMarket per pool: a trip moves only the tripped pool', () => {
  const pool = (az: string, ratio: number, interruptions = 0, instances = 4) => ({
    pool: `c5.large|${az}`,
    instanceType: 'c5.large',
    availabilityZone: az,
    ratio,
    interruptions,
    instances,
  });
  const storm = { interruptions: 4, instances: 12 };

  it('one stormy pool among good ones: the group stays on spot, the pool is out with its evidence', () => {
    const d = decide(input({ state: spotState() }, { ...storm, pools: [pool('a', 0.3), pool('b', 0.3, 4, 4), pool('c', 0.3)] }));
    expect(d.action.kind).toBe('skip');
    expect(d.action.figures?.breaker).toMatch(/c5.large\|b tripped \(4 interruptions in 4 instance-hours.*2 good pool\(s\) left: the group stays/);
    expect(d.state?.poolsOut).toEqual({ 'c5.large|b': { since: min(0).toISOString(), reasons: ['breaker'] } });
  });

  it('no good pool left: the group falls back whole', () => {
    const d = decide(input({ state: spotState() }, { ...storm, ratio: 0.7, pools: [pool('a', 1.2), pool('b', 0.3, 4, 4)] }));
    expect(d.action.kind).toBe('swapToOnDemand');
    expect(d.action.reason).toMatch(/no good pool left/);
  });

  it('a pool keeps the time it went out while it stays out', () => {
    const earlier = iso(-10);
    const d = decide(input({ state: spotState({ poolsOut: { 'c5.large|b': { since: earlier, reasons: ['price'] } } }) }, { pools: [pool('a', 0.3), pool('b', 1.1)] }));
    expect(d.state?.poolsOut).toEqual({ 'c5.large|b': { since: earlier, reasons: ['price'] } });
  });

  it("the check the interruption function asks for after a trip in one pool stays on spot while good pools are left", () => {
    const refused = decide(input({ state: spotState() }, { ...storm, pools: [pool('a', 0.3), pool('b', 0.3, 4, 4)] }));
    expect(refused.action.kind).toBe('skip');
    expect(refused.action.figures?.breaker).toMatch(/1 good pool\(s\) left: the group stays/);
    const none = decide(input({ state: spotState() }, { ...storm, pools: [pool('a', 0.3, 4, 4), pool('b', 0.3, 4, 4)] }));
    expect(none.action.kind).toBe('swapToOnDemand');
    expect(none.action.reason).toMatch(/interruption breaker/);
  });
});

describe('breakerState', () => {
  it.each([
    { interruptions: 0, instances: 10, tripped: false },
    { interruptions: 1, instances: 1, tripped: false },
    { interruptions: 2, instances: 2, tripped: false },
    { interruptions: 3, instances: 12, tripped: true },
    { interruptions: 3, instances: 13, tripped: false },
    { interruptions: 3, instances: 3, tripped: false },
    { interruptions: 5, instances: 0, tripped: true },
  ])('$interruptions interruptions over $instances instances for an hour: tripped=$tripped', ({ interruptions, instances, tripped }) => {
    expect(breakerState(interruptions, instances, settings).tripped).toBe(tripped);
  });
});

describe('decideMarket: a launch-template group capped by a copy, then falling back whole, and back', () => {
  const owner = { style: 'launch-template' as const, templateId: 'lt-owner', templateName: 'farm-spot', version: '$Default', resolvedVersion: 2 };
  const copy = { style: 'launch-template' as const, templateId: 'lt-copy', templateName: 'spotfarm-capped-lt-owner', version: '5', resolvedVersion: 5 };
  const poolCap = { since: iso(-20), original: undefined, to: 0.09, calmStreak: 0, source: owner, copiedFrom: 2 };

  it("falls back from the owner's source, not the copy; the cap ends with the fall-back (kept in the claim)", () => {
    // Prepare: every pool priced out for two checks (the price rule), the group on spotfarm's capped copy.
    const d = decide(input({ current: copy, state: spotState({ highStreak: 1, poolCap }) }, { ...dear, spotMaxPrice: 0.09 }));

    // Assess
    expect(d.action).toMatchObject({ kind: 'swapToOnDemand', trigger: 'price', from: owner });
    expect(d.state?.originals).toEqual(owner);
    expect(d.state?.poolCap).toEqual(poolCap);
    expect(d.after?.poolCap).toBeUndefined();
    expect(d.after?.poolCapLiftedAt).toBe(min(0).toISOString());
    expect(d.after?.originals).toEqual(owner);
  });

  it("the return points the group at the owner's source exactly as it was named ($Default)", () => {
    const d = decide(input({ current: { ...copy, templateName: 'spotfarm-on-demand-lt-owner' }, observed: 'on-demand', state: onDemandState({ originals: owner }) }, cheap));
    expect(d.action).toMatchObject({ kind: 'swapToSpot', to: owner });
    expect(d.after?.poolCap).toBeUndefined();
  });

  it('a capped mixed group keeps its cap through a fall-back (the policy is not its launch source copy)', () => {
    const mixedCap = { since: iso(-20), original: undefined, to: 0.09, calmStreak: 0 };
    const d = decide(input({ state: spotState({ highStreak: 1, poolCap: mixedCap }) }, dear));
    expect(d.action.kind).toBe('swapToOnDemand');
    expect(d.after?.poolCap).toEqual(mixedCap);
  });
});
