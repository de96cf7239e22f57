import { describe, expect, it } from 'vitest';
import { assessPools, capPlace, decidePoolCap, decideTypeDrop, describePools, groupBreakerTripped, spotSourceOf, weighBreaker, type PoolAssessment, type PoolSignal } from '../../src/market/pools';
import type { MarketOriginals } from '../../src/market/state';
import type { GroupMarketView } from '../../src/market/observe';
import { planMarket } from '../../src/market/plan';
import { canLaunchSpot } from '../../src/pools';
import { DEFAULT_SETTINGS } from '../../src/settings';

describe('canLaunchSpot: the one rule the decisions and the simulated cloud share', () => {
  it.each([
    { rule: 'below the max price: launches', spot: 0.05, max: 0.21, expected: true },
    { rule: 'exactly at the max price: launches and stays (EC2 interrupts only above it)', spot: 0.21, max: 0.21, expected: true },
    { rule: 'above the max price: no launch, running instances interrupted', spot: 0.2101, max: 0.21, expected: false },
  ])('$rule', ({ spot, max, expected }) => {
    expect(canLaunchSpot(spot, max)).toBe(expected);
  });
});

describe('weighBreaker: evidence before a rate counts', () => {
  const settings = { breakerInterruptions: 0.25, breakerWindow: 3600 };
  it.each([
    { rule: 'two interruptions among seven instances: too few to trip', n: 2, instances: 7, tripped: false, why: '2 interruptions in 7 instance-hours: too few to trip (at least 3 interruptions)' },
    { rule: 'three among three: too few instance-hours to trust a rate', n: 3, instances: 3, tripped: false, why: /too few instance-hours to trust a rate/ },
    { rule: 'three among twelve: at the limit, tripped', n: 3, instances: 12, tripped: true, why: '3 interruptions in 12 instance-hours, 0.25 per instance-hour: tripped the limit 0.25' },
    { rule: 'three among thirteen: below the limit', n: 3, instances: 13, tripped: false, why: /below the limit/ },
    { rule: 'interrupted instances count as exposure when the pool has emptied', n: 5, instances: 0, tripped: true, why: /5 interruptions in 5 instance-hours/ },
  ])('$rule', ({ n, instances, tripped, why }) => {
    const e = weighBreaker(n, instances, settings);
    expect(e.tripped).toBe(tripped);
    if (typeof why === 'string') expect(e.why).toBe(why);
    else expect(e.why).toMatch(why);
  });
});

describe('assessPools and the group breaker: a trip moves only the tripped pool', () => {
  const settings = { swapRatio: 1, breakerInterruptions: 0.25, breakerWindow: 3600 };
  const pool = (az: string, ratio: number | undefined, interruptions = 0, instances = 5): PoolSignal => ({
    pool: `r3.large|${az}`,
    instanceType: 'r3.large',
    availabilityZone: az,
    ratio,
    interruptions,
    instances,
  });
  it.each([
    { rule: 'all pools cheap and quiet: all good, no trip', pools: [pool('a', 0.1), pool('b', 0.1)], out: [], trips: false },
    { rule: 'one pool at on-demand: out by price alone', pools: [pool('a', 0.1), pool('b', 1)], out: ['r3.large|b'], trips: false },
    { rule: 'one stormy pool among good ones: out by its breaker, the group stays', pools: [pool('a', 0.1), pool('e', 0.1, 4, 4)], out: ['r3.large|e'], trips: false },
    { rule: 'storm in one pool, the other priced out: no good pool left, the group trips', pools: [pool('a', 1.2), pool('e', 0.1, 4, 4)], out: ['r3.large|a', 'r3.large|e'], trips: true },
    { rule: 'every pool priced out and no storm: not the breaker (the price rule decides)', pools: [pool('a', 1.2), pool('e', 1.1)], out: ['r3.large|a', 'r3.large|e'], trips: false },
  ])('$rule', ({ pools, out, trips }) => {
    const assessed = assessPools(pools, settings);
    expect(assessed.filter((a) => a.status === 'out').map((a) => a.pool)).toEqual(out);
    expect(groupBreakerTripped(assessed)).toBe(trips);
  });

  it('describes each pool for plan and the logs', () => {
    const lines = describePools(assessPools([pool('a', 0.1), pool('e', 0.1, 4, 4)], settings));
    expect(lines[0]).toBe('r3.large|a: good (0.1 x on-demand; 0 interruptions in 5 instance-hours: too few to trip (at least 3 interruptions))');
    expect(lines[1]).toMatch(/^r3.large\|e: out \(breaker; 0.1 x on-demand; 4 interruptions in 4 instance-hours, 1 per instance-hour: tripped/);
  });
});

describe('plan: per-pool state (good / out since / breaker)', () => {
  it('shows each pool with its status, since when it is out, and the breaker evidence', () => {
    // Prepare: a spot group with a pool at on-demand (out since earlier) and a pool with two interruptions.
    const now = new Date('2015-04-12T00:00:00Z');
    const since = '2015-04-11T20:00:00Z';
    const signals = {
      ratio: 0.4,
      spotPrice: 0.07,
      onDemandPrice: 0.175,
      capacityFailures: 0,
      shortfall: 0,
      fallbackRoom: 10,
      interruptions: 2,
      instances: 14,
      pools: [
        { pool: 'r3.large|us-east-1a', instanceType: 'r3.large', availabilityZone: 'us-east-1a', ratio: 0.1, interruptions: 2, instances: 7 },
        { pool: 'r3.large|us-east-1b', instanceType: 'r3.large', availabilityZone: 'us-east-1b', ratio: 1, interruptions: 0, instances: 7 },
      ],
    };
    const state = { market: 'spot' as const, since, highStreak: 0, lowStreak: 0, backoff: 0, lastCheckAt: since, poolsOut: { 'r3.large|us-east-1b': { since, reasons: ['price' as const] } } };
    const view = {
      group: { role: 'spot', settings: { ...DEFAULT_SETTINGS }, group: { instances: [] }, instanceMarkets: {}, market: 'spot', onDemandPrices: {}, spotPrices: [], instanceTypes: ['r3.large'] },
      stored: { state, version: 3, others: {} },
      input: { asgName: 'ml-spot', role: 'spot', observed: 'spot', current: { style: 'mixed-instances', onDemandPercentageAboveBaseCapacity: 0 }, problems: [], signals, state },
      capacityFailureMessages: [],
      breakerPool: 'r3.large|us-east-1a',
    } as unknown as GroupMarketView;

    // Act
    const plan = planMarket('ml-spot', { views: new Map([['ml-spot', view]]), swaps: new Map() }, now);

    // Assess
    expect(plan?.pools).toEqual([
      { pool: 'r3.large|us-east-1a', status: 'good', outSince: null, reasons: [], ratio: 0.1, breaker: '2 interruptions in 7 instance-hours: too few to trip (at least 3 interruptions)' },
      { pool: 'r3.large|us-east-1b', status: 'out', outSince: since, reasons: ['price'], ratio: 1, breaker: '0 interruptions in 7 instance-hours: too few to trip (at least 3 interruptions)' },
    ]);
  });
});

describe('decidePoolCap: steer a mixed group away from pools at or above the threshold with the spot max price', () => {
  const settings = { swapRatio: 1, hysteresis: 0.1, confirmChecks: 2, minDwell: 1800 };
  const now = new Date('2015-04-12T00:00:00Z');
  const ago = (min: number) => new Date(now.getTime() - min * 60_000).toISOString();
  const a = (pool: string, ratio: number, reasons: ('price' | 'breaker')[] = []): PoolAssessment => ({
    pool,
    status: reasons.length ? 'out' : 'good',
    reasons,
    ratio,
    breaker: weighBreaker(0, 4, { breakerInterruptions: 0.25, breakerWindow: 3600 }),
  });
  const base = {
    style: 'mixed-instances',
    instanceTypes: ['r3.large'],
    onDemand: 0.175,
    currentMax: undefined as number | undefined,
    previouslyOut: { 'r3.large|b': { since: ago(5), reasons: ['price' as const] } },
    state: {},
    settings,
    dwellSeconds: (backoff: number) => 1800 * 2 ** backoff,
    now,
  };
  const atOnDemand = [a('r3.large|a', 0.1), a('r3.large|b', 1, ['price']), a('r3.large|e', 0.1)];

  it.each([
    { rule: 'a pool at on-demand on two checks, others cheap: cap at (swapRatio - hysteresis) x on-demand', over: {}, maxPrice: '0.1575', reason: /pool r3.large\|b at or above 1 x on-demand for 2 checks: new launches capped at \$0.1575\/h .*2 pool\(s\) still launch; running instances are not touched/ },
    { rule: 'out on this check only: wait for the second', over: { previouslyOut: undefined }, maxPrice: undefined },
    { rule: 'every pool at or above on-demand: no cap (the group falls back whole by the price rule)', over: {}, assessed: [a('r3.large|a', 1.1, ['price']), a('r3.large|b', 1, ['price'])], maxPrice: undefined },
    { rule: 'a copied style without its launch source read: no cap', over: { style: 'launch-template' }, maxPrice: undefined },
    { rule: 'several instance types and no on-demand price per type: no cap (the level cannot be set)', over: { instanceTypes: ['r3.large', 'r4.large'] }, maxPrice: undefined },
    { rule: 'the user set a lower max price already: nothing to do', over: { currentMax: 0.1 }, maxPrice: undefined },
  ])('$rule', ({ over, assessed, maxPrice, reason }) => {
    const d = decidePoolCap({ ...base, ...over, assessed: assessed ?? atOnDemand });
    expect(d?.maxPrice).toBe(maxPrice);
    if (reason) expect(d?.reason).toMatch(reason);
    if (maxPrice) expect(d?.state.poolCap).toEqual({ since: now.toISOString(), original: undefined, to: 0.1575, calmStreak: 0 });
  });

  const capped = { poolCap: { since: ago(40), original: undefined, to: 0.1575, calmStreak: 1 } };
  const calm = [a('r3.large|a', 0.1), a('r3.large|b', 0.5), a('r3.large|e', 0.1)];
  it.each([
    { rule: 'pool still above the return level: the cap stays, the calm streak resets', state: capped, assessed: atOnDemand, currentMax: 0.1575, maxPrice: undefined, streak: 0, reason: /a pool is still above the return level/ },
    { rule: 'all calm for 2 checks after the dwell: the user max price (none) comes back', state: capped, assessed: calm, currentMax: 0.1575, maxPrice: '', reason: /spot max price is removed/ },
    { rule: 'all calm but within the dwell: the cap stays', state: { poolCap: { ...capped.poolCap, since: ago(10) } }, assessed: calm, currentMax: 0.1575, maxPrice: undefined, streak: 2, reason: /20 min of the 30 min dwell left/ },
    { rule: 'back-off level 1 doubles the dwell', state: { ...capped, poolCapBackoff: 1 }, assessed: calm, currentMax: 0.1575, maxPrice: undefined, streak: 2, reason: /20 min of the 60 min dwell left/ },
    { rule: 'the cap is not in force (failed call, or changed by hand): set it again', state: capped, assessed: atOnDemand, currentMax: undefined, maxPrice: '0.1575', streak: 0, reason: /not in force/ },
  ])('$rule', ({ state, assessed, currentMax, maxPrice, streak, reason }) => {
    const d = decidePoolCap({ ...base, state, assessed, currentMax });
    expect(d?.maxPrice).toBe(maxPrice);
    expect(d?.reason).toMatch(reason);
    if (streak !== undefined) expect(d?.state.poolCap?.calmStreak).toBe(streak);
  });

  it('a cap set again within the dwell after it was lifted doubles the next dwell (back-off)', () => {
    const d = decidePoolCap({ ...base, state: { poolCapLiftedAt: ago(10) }, assessed: atOnDemand });
    expect(d?.state.poolCapBackoff).toBe(1);
    expect(d?.reason).toMatch(/back-off: the cap's dwell doubles to 60 min/);
  });

  it('restores the user’s own max price', () => {
    const d = decidePoolCap({ ...base, state: { poolCap: { since: ago(40), original: 0.2, to: 0.1575, calmStreak: 1 } }, assessed: calm, currentMax: 0.1575 });
    expect(d?.maxPrice).toBe('0.2000');
  });
});

describe('decidePoolCap: only pools Auto Scaling would still launch into need the cap', () => {
  it('a pool above the max price gets no launch anyway: no cap', () => {
    const above: PoolAssessment[] = [
      { pool: 'r3.large|a', status: 'good', reasons: [], ratio: 0.1, breaker: weighBreaker(0, 4, { breakerInterruptions: 0.25, breakerWindow: 3600 }) },
      { pool: 'r3.large|b', status: 'out', reasons: ['price'], ratio: 8.6, breaker: weighBreaker(0, 4, { breakerInterruptions: 0.25, breakerWindow: 3600 }) },
    ];
    const d = decidePoolCap({
      style: 'mixed-instances',
      instanceTypes: ['r3.large'],
      onDemand: 0.175,
      currentMax: undefined,
      assessed: above,
      previouslyOut: { 'r3.large|b': { since: '2015-04-11T23:55:00Z', reasons: ['price'] } },
      state: {},
      settings: { swapRatio: 1, hysteresis: 0.1, confirmChecks: 2, minDwell: 1800 },
      dwellSeconds: (b) => 1800 * 2 ** b,
      now: new Date('2015-04-12T00:00:00Z'),
    });
    expect(d).toBeUndefined();
  });
});

describe("decidePoolCap: launch-template and launch-configuration groups are capped by a copy, never by writing the owner's source", () => {
  const settings = { swapRatio: 1, hysteresis: 0.1, confirmChecks: 2, minDwell: 1800 };
  const now = new Date('2015-05-05T12:00:00Z');
  const ago = (min: number) => new Date(now.getTime() - min * 60_000).toISOString();
  const a = (pool: string, ratio: number, reasons: ('price' | 'breaker')[] = []): PoolAssessment => ({
    pool,
    status: reasons.length ? 'out' : 'good',
    reasons,
    ratio,
    breaker: weighBreaker(0, 4, { breakerInterruptions: 0.25, breakerWindow: 3600 }),
  });
  const atOnDemand = [a('c3.xlarge|a', 0.2), a('c3.xlarge|b', 1, ['price']), a('c3.xlarge|e', 0.2)];
  const calm = [a('c3.xlarge|a', 0.2), a('c3.xlarge|b', 0.5), a('c3.xlarge|e', 0.2)];
  const owner: MarketOriginals = { style: 'launch-template', templateId: 'lt-owner', templateName: 'farm-spot', version: '$Latest', resolvedVersion: 3 };
  const copy: MarketOriginals = { style: 'launch-template', templateId: 'lt-copy', templateName: 'spotfarm-capped-lt-owner', version: '2', resolvedVersion: 2 };
  const lc: MarketOriginals = { style: 'launch-configuration', name: 'farm-spot-lc' };
  const lcCopy: MarketOriginals = { style: 'launch-configuration', name: 'farm-spot-lc-spotfarm-max-0.1890' };
  const base = {
    style: 'launch-template',
    current: owner,
    instanceTypes: ['c3.xlarge'],
    onDemand: 0.21,
    currentMax: undefined as number | undefined,
    previouslyOut: { 'c3.xlarge|b': { since: ago(5), reasons: ['price' as const] } },
    state: {},
    settings,
    dwellSeconds: (backoff: number) => 1800 * 2 ** backoff,
    now,
  };
  const ltCap = { since: ago(40), original: undefined, to: 0.189, calmStreak: 1, source: owner, copiedFrom: 3 };
  const lcCap = { since: ago(40), original: 0.21, to: 0.189, calmStreak: 1, source: lc };

  it('launch template: the cap copies the version the group launches now (resolved) and remembers the owner source as named', () => {
    const d = decidePoolCap({ ...base, assessed: atOnDemand });
    expect(d).toMatchObject({ maxPrice: '0.1890', copyVersion: 3 });
    expect(d?.reason).toMatch(/capped at \$0.1890\/h \(spot max price, a copy in spotfarm's own template; the owner's template is not written\)/);
    expect(d?.state.poolCap).toEqual({ since: now.toISOString(), original: undefined, to: 0.189, calmStreak: 0, source: owner, copiedFrom: 3 });
  });

  it('launch configuration: the cap is a copy of the configuration with SpotPrice set', () => {
    const d = decidePoolCap({ ...base, style: 'launch-configuration', current: lc, currentMax: 0.21, assessed: atOnDemand });
    expect(d).toMatchObject({ maxPrice: '0.1890' });
    expect(d?.copyVersion).toBeUndefined();
    expect(d?.state.poolCap).toEqual({ since: now.toISOString(), original: 0.21, to: 0.189, calmStreak: 0, source: lc });
  });

  it.each([
    { rule: 'launch template on the copy, calm after the dwell: point back at the owner source as it was', style: 'launch-template', current: copy, cap: ltCap, currentMax: 0.189, reason: /launches from launch template farm-spot \$Latest again/ },
    { rule: 'launch configuration on the copy, calm after the dwell: the original name again', style: 'launch-configuration', current: lcCopy, cap: lcCap, currentMax: 0.189, reason: /launches from launch configuration farm-spot-lc again/ },
  ])('$rule', ({ style, current, cap, currentMax, reason }) => {
    const d = decidePoolCap({ ...base, style, current, currentMax, state: { poolCap: cap }, assessed: calm });
    expect(d).toMatchObject({ maxPrice: '', restore: true });
    expect(d?.reason).toMatch(reason);
    expect(d?.state).toEqual({ poolCap: undefined, poolCapBackoff: 0, poolCapLiftedAt: now.toISOString() });
  });

  it.each([
    { rule: 'on the copy and a pool still out: nothing to do', current: copy, currentMax: 0.189, sourceVersion: 3, maxPrice: undefined, copyVersion: undefined, reason: /a pool is still above the return level/ },
    { rule: 'the owner published version 4 of $Latest meanwhile: copy it, capped, and point the group at it', current: copy, currentMax: 0.189, sourceVersion: 4, maxPrice: '0.1890', copyVersion: 4, reason: /the owner's launch template farm-spot \$Latest is now version 4 \(the capped copy was made from 3\)/ },
    { rule: 'still on the owner source (the cap call failed): point it at the copy again', current: owner, currentMax: undefined, sourceVersion: 3, maxPrice: '0.1890', copyVersion: 3, reason: /not in force \(the group launches from launch template farm-spot \$Latest\)/ },
  ])('$rule', ({ current, currentMax, sourceVersion, maxPrice, copyVersion, reason }) => {
    const d = decidePoolCap({ ...base, current, currentMax, sourceVersion, state: { poolCap: ltCap }, assessed: atOnDemand });
    expect(d?.maxPrice).toBe(maxPrice);
    expect(d?.copyVersion).toBe(copyVersion);
    expect(d?.reason).toMatch(reason);
    expect(d?.state.poolCap?.source).toEqual(owner);
    if (copyVersion !== undefined) expect(d?.state.poolCap?.copiedFrom).toBe(copyVersion);
  });

  it('moved outside spotfarm to another template while capped: the cap is forgotten and decided afresh from the new source', () => {
    const theirs: MarketOriginals = { style: 'launch-template', templateId: 'lt-new', templateName: 'farm-spot-v2', version: '1', resolvedVersion: 1 };
    const d = decidePoolCap({ ...base, current: theirs, currentMax: undefined, state: { poolCap: ltCap }, assessed: atOnDemand });
    expect(d?.reason).toMatch(/^the group was pointed at another launch source outside spotfarm while capped: the cap is forgotten; pool c3.xlarge\|b/);
    expect(d).toMatchObject({ maxPrice: '0.1890', copyVersion: 1 });
    expect(d?.state.poolCap?.source).toEqual(theirs);
    const quiet = decidePoolCap({ ...base, current: theirs, currentMax: undefined, state: { poolCap: ltCap }, assessed: calm });
    expect(quiet).toEqual({ maxPrice: undefined, reason: expect.stringMatching(/cap is forgotten$/), state: { poolCap: undefined } });
  });

  it.each([
    { rule: 'on the owner template as named', current: owner, currentMax: undefined, place: 'source' },
    { rule: "on spotfarm's capped template", current: copy, currentMax: 0.189, place: 'copy' },
    { rule: 'on the copy, the template named only by id: known by the max price', current: { ...copy, templateName: undefined }, currentMax: 0.189, place: 'copy' },
    { rule: 'another version of the owner template (pinned by someone)', current: { ...owner, version: '2' }, currentMax: undefined, place: 'elsewhere' },
    { rule: 'launch configuration: the capped copy by name', current: lcCopy, currentMax: 0.189, place: 'copy', cap: lcCap },
    { rule: 'launch configuration: another configuration', current: { style: 'launch-configuration', name: 'other' }, currentMax: 0.21, place: 'elsewhere', cap: lcCap },
  ] as { rule: string; current: MarketOriginals; currentMax: number | undefined; place: string; cap?: typeof lcCap }[])('capPlace: $rule', ({ current, currentMax, place, cap }) => {
    expect(capPlace(current, cap ?? ltCap, currentMax)).toBe(place);
  });

  it("a fall-back under a copied cap remembers the owner's source, never spotfarm's copy", () => {
    expect(spotSourceOf(copy, { poolCap: ltCap }, 0.189)).toEqual(owner);
    expect(spotSourceOf(lcCopy, { poolCap: lcCap }, 0.189)).toEqual(lc);
    expect(spotSourceOf(copy, {}, 0.189)).toEqual(copy);
  });
});

describe('multi-type mixed groups: drop a type bad in every AZ; cap by one max price only when it stops no good pool', () => {
  const settings = { swapRatio: 1, hysteresis: 0.1, confirmChecks: 2, minDwell: 1800 };
  const now = new Date('2015-04-12T00:00:00Z');
  const ago = (min: number) => new Date(now.getTime() - min * 60_000).toISOString();
  const a = (pool: string, ratio: number | undefined, reasons: ('price' | 'breaker')[] = []): PoolAssessment => ({
    pool,
    status: reasons.length ? 'out' : 'good',
    reasons,
    ratio,
    breaker: weighBreaker(0, 4, { breakerInterruptions: 0.25, breakerWindow: 3600 }),
  });
  const outBefore = (...pools: string[]) => Object.fromEntries(pools.map((p) => [p, { since: ago(5), reasons: ['price' as const] }]));
  const overrides = [{ InstanceType: 'r3.large', WeightedCapacity: '1' }, { InstanceType: 'r4.large' }];
  const od = { 'r3.large': 0.175, 'r4.large': 0.133 };
  const drop = (over: Partial<Parameters<typeof decideTypeDrop>[0]>) =>
    decideTypeDrop({
      style: 'mixed-instances',
      overrides,
      assessed: [],
      droppedAssessed: [],
      previouslyOut: undefined,
      onDemandByType: od,
      currentMax: undefined,
      state: {},
      settings,
      dwellSeconds: (b) => 1800 * 2 ** b,
      now,
      ...over,
    });
  const r3Bad = [a('r3.large|a', 1, ['price']), a('r3.large|b', 1.05, ['price']), a('r4.large|a', 0.2), a('r4.large|b', 0.3)];

  it('a type at or above on-demand in every AZ for 2 checks, another type good: its override is dropped, remembered with its place', () => {
    const d = drop({ assessed: r3Bad, previouslyOut: outBefore('r3.large|a', 'r3.large|b') });
    expect(d?.change).toEqual({ drop: 'r3.large' });
    expect(d?.reason).toMatch(/instance type r3.large at or above 1 x on-demand in every AZ for 2 checks: its override is dropped, r4.large still launches; running instances are not touched/);
    expect(d?.state.droppedTypes).toEqual({ 'r3.large': { since: now.toISOString(), override: overrides[0], index: 0, calmStreak: 0 } });
  });

  it.each([
    { rule: 'out on this check only: wait for the second', assessed: r3Bad, previouslyOut: outBefore('r3.large|a') },
    { rule: 'bad in one AZ only: not a type drop (the cap decides)', assessed: [a('r3.large|a', 0.1), a('r3.large|b', 1, ['price']), a('r4.large|a', 0.2), a('r4.large|b', 0.3)], previouslyOut: outBefore('r3.large|b') },
    { rule: 'above the max price everywhere: Auto Scaling launches none there anyway', assessed: [a('r3.large|a', 1.5, ['price']), a('r3.large|b', 1.5, ['price']), a('r4.large|a', 0.2), a('r4.large|b', 0.3)], previouslyOut: outBefore('r3.large|a', 'r3.large|b') },
  ])('no drop: $rule', ({ assessed, previouslyOut }) => {
    expect(drop({ assessed, previouslyOut })?.change).toBeUndefined();
  });

  it('every type bad: the last good type is never dropped (the group falls back whole by the price rule)', () => {
    const allBad = [a('r3.large|a', 1, ['price']), a('r3.large|b', 1, ['price']), a('r4.large|a', 1, ['price']), a('r4.large|b', 1, ['price'])];
    const d = drop({ assessed: allBad, previouslyOut: outBefore('r3.large|a', 'r3.large|b', 'r4.large|a', 'r4.large|b') });
    expect(d?.change).toBeUndefined();
    expect(d?.reason).toMatch(/no other type has a good pool: not dropped \(the group falls back whole by the price rule\)/);
  });

  const droppedR3 = { 'r3.large': { since: ago(40), override: overrides[0]!, index: 0, calmStreak: 1 } };
  const r4Only = [a('r4.large|a', 0.2), a('r4.large|b', 0.3)];
  it.each([
    { rule: 'calm for 2 checks after the dwell: the override comes back exactly, at its place', state: { droppedTypes: droppedR3 }, dropped: [a('r3.large|a', 0.5), a('r3.large|b', 0.4)], change: { restore: overrides[0], index: 0 }, reason: /r3.large at or below 0.9 x on-demand in every AZ for 2 checks after 40 min: its override is back/ },
    { rule: 'calm but within the dwell', state: { droppedTypes: { 'r3.large': { ...droppedR3['r3.large'], since: ago(10) } } }, dropped: [a('r3.large|a', 0.5), a('r3.large|b', 0.4)], change: undefined, reason: /r3.large dropped since .* \(calm for 2 of 2 checks\)/ },
    { rule: 'one pool still above the return level: the streak resets', state: { droppedTypes: droppedR3 }, dropped: [a('r3.large|a', 0.95), a('r3.large|b', 0.4)], change: undefined, reason: /calm for 0 of 2 checks/ },
    { rule: 'back-off level 1 doubles the dwell', state: { droppedTypes: droppedR3, typeDropBackoff: 1 }, dropped: [a('r3.large|a', 0.5), a('r3.large|b', 0.4)], change: undefined, reason: /calm for 2 of 2/ },
  ])('$rule', ({ state, dropped, change, reason }) => {
    const d = drop({ overrides: [overrides[1]!], assessed: r4Only, droppedAssessed: dropped, state });
    expect(d?.change).toEqual(change);
    expect(d?.reason).toMatch(reason);
  });

  it('a type put back outside spotfarm is forgotten', () => {
    const d = drop({ assessed: [a('r3.large|a', 0.1), a('r3.large|b', 0.1), ...r4Only], state: { droppedTypes: droppedR3 } });
    expect(d?.change).toBeUndefined();
    expect(d?.state.droppedTypes).toBeUndefined();
    expect(d?.reason).toMatch(/r3.large is in the policy again/);
  });

  it('a type dropped again within the dwell after a restore doubles the next dwell', () => {
    const d = drop({ assessed: r3Bad, previouslyOut: outBefore('r3.large|a', 'r3.large|b'), state: { typeRestoredAt: ago(10) } });
    expect(d?.state.typeDropBackoff).toBe(1);
    expect(d?.reason).toMatch(/back-off: the drop's dwell doubles to 60 min/);
  });

  const cap = (assessed: PoolAssessment[], onDemandByType: Record<string, number>, previouslyOut: Record<string, { since: string; reasons: 'price'[] }>) =>
    decidePoolCap({
      style: 'mixed-instances',
      instanceTypes: Object.keys(onDemandByType),
      onDemand: Object.values(onDemandByType)[0],
      onDemandByType,
      currentMax: undefined,
      assessed,
      previouslyOut,
      state: {},
      settings,
      dwellSeconds: (b) => 1800 * 2 ** b,
      now,
    });

  it('one AZ bad across types, every good pool cheaper than the cheapest bad type level: one cap at that level', () => {
    const azB = [a('r3.large|a', 0.1), a('r3.large|b', 1, ['price']), a('r4.large|a', 0.2), a('r4.large|b', 1, ['price'])];
    const d = cap(azB, od, outBefore('r3.large|b', 'r4.large|b'));
    // min(0.175 x 0.9, 0.133 x 0.9) = 0.1197; the good pools cost 0.0175 and 0.0266.
    expect(d?.maxPrice).toBe('0.1197');
    expect(d?.reason).toMatch(/pools r3.large\|b, r4.large\|b at or above 1 x on-demand/);
  });

  it('the bad pool is of the cheaper type: one max price would also stop the dearer good type, so no cap', () => {
    const types = { 'c5.large': 0.085, 'm5.2xlarge': 0.384 };
    const cheapBad = [a('c5.large|a', 0.2), a('c5.large|b', 1, ['price']), a('m5.2xlarge|a', 0.39), a('m5.2xlarge|b', 0.39)];
    expect(cap(cheapBad, types, outBefore('c5.large|b'))).toBeUndefined();
  });
});

describe('decideTypeDrop leaves single-type groups to the cap', () => {
  it('one override (or none): no decision at all', () => {
    const bad: PoolAssessment = { pool: 'r3.large|a', status: 'out', reasons: ['price'], ratio: 1, breaker: weighBreaker(0, 4, { breakerInterruptions: 0.25, breakerWindow: 3600 }) };
    for (const overrides of [[], [{ InstanceType: 'r3.large' }]]) {
      const d = decideTypeDrop({
        style: 'mixed-instances',
        overrides,
        assessed: [bad],
        droppedAssessed: [],
        previouslyOut: { 'r3.large|a': { since: '2015-04-11T23:55:00Z', reasons: ['price'] } },
        onDemandByType: { 'r3.large': 0.175 },
        currentMax: undefined,
        state: {},
        settings: { swapRatio: 1, hysteresis: 0.1, confirmChecks: 2, minDwell: 1800 },
        dwellSeconds: (b) => 1800 * 2 ** b,
        now: new Date('2015-04-12T00:00:00Z'),
      });
      expect(d).toBeUndefined();
    }
  });
});
