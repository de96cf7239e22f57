/**
 * Decision tables for the interruption function (src/interruption/decide.ts): plain objects in, actions out,
 * one row per rule, skip reasons included. No mocks.
 */
import { describe, expect, it } from 'vitest';
import {
  decideLaunchFailure,
  decideSweep,
  decideWarning,
  REBALANCE_OVERLAP_SECONDS,
  spotCapacityReason,
  type DetachedInstance,
  type LaunchFailureObservation,
  type ManagedGroup,
  type WarningObservation,
} from '../../src/interruption/decide';
import type { InterruptionDecision as Action } from '../../src/interruption/actions';
import type { GroupInstance } from '../../src/model';
import { DEFAULT_SETTINGS, type GroupSettings } from '../../src/settings';

const T = new Date('2025-03-14T09:26:40Z');
const at = (seconds: number) => new Date(T.getTime() + seconds * 1000);

const inst = (id: string, over: Partial<GroupInstance> = {}): GroupInstance => ({
  id,
  type: 'c5.large',
  availabilityZone: 'us-east-1a',
  lifecycleState: 'InService',
  healthStatus: 'Healthy',
  protectedFromScaleIn: false,
  ...over,
});

const group = (over: Partial<ManagedGroup> = {}, settings: Partial<GroupSettings> = {}): ManagedGroup => ({
  name: 'ml-spot',
  farm: 'ml',
  role: 'spot',
  settings: { ...DEFAULT_SETTINGS, ...settings },
  min: 0,
  max: 10,
  desired: 4,
  capacityRebalance: false,
  instances: [inst('i-00000001'), inst('i-00000002'), inst('i-00000003'), inst('i-00000004', { availabilityZone: 'us-east-1b' })],
  ...over,
});

const onDemand = (over: Partial<ManagedGroup> = {}): ManagedGroup =>
  group({ name: 'ml-on-demand', role: 'on-demand', desired: 1, max: 5, instances: [], ...over });

function warningObs(over: Partial<WarningObservation> = {}, kind: 'warning' | 'rebalance' = 'warning'): WarningObservation {
  const g = over.group === undefined && 'group' in over ? undefined : (over.group ?? group());
  const message =
    kind === 'warning'
      ? { kind: 'spot_interruption' as const, id: 'ev-1', time: T, instanceId: 'i-00000001', instanceAction: 'terminate' as const, deadline: at(120) }
      : { kind: 'rebalance_recommendation' as const, id: 'ev-1', time: T, instanceId: 'i-00000001' };
  return {
    message,
    group: g,
    instance: g?.instances.find((i) => i.id === message.instanceId),
    detached: undefined,
    poolInterruptions: [],
    earlyReplacements: [],
    market: 'spot',
    ...over,
  };
}

const kinds = (actions: Action[]) => actions.map((a) => a.kind);
const reasons = (actions: Action[]) => actions.map((a) => a.reason).join(' | ');

describe('decideWarning: interruption warnings', () => {
  it.each([
    {
      rule: 'a managed instance in service: record, then detach without decrement',
      obs: warningObs(),
      now: T,
      expected: ['recordInterruption', 'detachInstance'],
      reason: /detach without lowering desired capacity \(4\)/,
    },
    {
      rule: 'a group with a termination lifecycle hook: terminate through the group without decrement, so the hook runs (a detach bypasses it; issue 14 item 11)',
      obs: warningObs({ terminationHooks: ['drain-worker'] }),
      now: T,
      expected: ['recordInterruption', 'terminateInstance'],
      reason: /termination lifecycle hook\(s\) drain-worker, which a detach would bypass: terminate it through the group without lowering desired capacity \(4\)/,
    },
    {
      rule: 'hooks read but none for termination: detach as before',
      obs: warningObs({ terminationHooks: [] }),
      now: T,
      expected: ['recordInterruption', 'detachInstance'],
      reason: /detach without lowering desired capacity/,
    },
    {
      rule: 'a late warning stays late, hook or not',
      obs: warningObs({ terminationHooks: ['drain-worker'] }),
      now: at(180),
      expected: ['recordInterruption', 'skip'],
      reason: /late interruption warning/,
    },
    {
      rule: 'not in a managed group: nothing to do',
      obs: warningObs({ group: undefined }),
      now: T,
      expected: ['skip'],
      reason: /not an instance of a managed group/,
    },
    {
      rule: 'Capacity Rebalancing on: record only (Auto Scaling replaces it)',
      obs: warningObs({ group: group({ capacityRebalance: true }) }),
      now: T,
      expected: ['recordInterruption', 'skip'],
      reason: /Capacity Rebalancing is on/,
    },
    {
      rule: 'already leaving the group: record only',
      obs: warningObs({ group: group({ instances: [inst('i-00000001', { lifecycleState: 'Terminating' })] }) }),
      now: T,
      expected: ['recordInterruption', 'skip'],
      reason: /Terminating, already leaving/,
    },
    {
      rule: 'late event past the deadline: record only',
      obs: warningObs(),
      now: at(121),
      expected: ['recordInterruption', 'skip'],
      reason: /late interruption warning/,
    },
    {
      rule: 'duplicate: already recorded and already detached',
      obs: warningObs({
        instance: undefined,
        poolInterruptions: [{ instanceId: 'i-00000001', at: T.toISOString() }],
        detached: detached({ id: 'i-00000001' }),
      }),
      now: T,
      expected: ['skip'],
      reason: /already replaced/,
    },
    {
      rule: 'detached earlier for a rebalance, now warned: counted, not replaced again',
      obs: warningObs({ instance: undefined, detached: detached({ id: 'i-00000001', reason: 'rebalance' }) }),
      now: T,
      expected: ['recordInterruption', 'skip'],
      reason: /already replaced \(spotfarm detached it for a rebalance/,
    },
    {
      rule: 'recorded by an earlier attempt whose detach failed: detach now (live state decides)',
      obs: warningObs({ poolInterruptions: [{ instanceId: 'i-00000001', at: T.toISOString() }] }),
      now: T,
      expected: ['detachInstance'],
      reason: /launches a replacement now/,
    },
  ])('$rule', ({ obs, now, expected, reason }) => {
    const actions = decideWarning(obs, now);
    expect(kinds(actions)).toEqual(expected);
    expect(reasons(actions)).toMatch(reason);
  });

  it('detaches with the deadline two minutes after the event and records the pool', () => {
    const [record, detach] = decideWarning(warningObs(), T);
    expect(record).toMatchObject({ kind: 'recordInterruption', pool: { instanceType: 'c5.large', availabilityZone: 'us-east-1a' }, signal: 'interruption', at: T.toISOString() });
    expect(detach).toMatchObject({ kind: 'detachInstance', instanceId: 'i-00000001', why: 'interruption', deadline: at(120).toISOString(), farm: 'ml' });
  });
});

function detached(over: Partial<DetachedInstance> = {}): DetachedInstance {
  return {
    id: 'i-0000000d',
    instanceType: 'c5.large',
    availabilityZone: 'us-east-1a',
    state: 'running',
    farm: 'ml',
    fromGroup: 'ml-spot',
    deadline: at(120).toISOString(),
    reason: 'interruption',
    stillInGroup: undefined,
    ...over,
  };
}

describe('decideWarning: the breaker', () => {
  const storm = (n: number) => Array.from({ length: n }, (_, i) => ({ instanceId: `i-1000000${i}`, at: T.toISOString() }));

  it.each([
    { rule: 'one interruption is never a storm', records: 0, settings: { breakerInterruptions: 0.01 }, market: 'spot' as const, trips: false },
    { rule: 'two in a pool within the hour are too few to trip the default breaker', records: 1, settings: {}, market: 'spot' as const, trips: false },
    { rule: 'four in a pool within the hour trip the default breaker (0.25/instance-hour, 4 instance-hours seen)', records: 3, settings: {}, market: 'spot' as const, trips: true },
    { rule: 'below the rate: no trip', records: 1, settings: { breakerInterruptions: 1 }, market: 'spot' as const, trips: false },
    { rule: 'already on on-demand: no second trip', records: 3, settings: {}, market: 'on-demand' as const, trips: false },
  ])('$rule', ({ records, settings, market, trips }) => {
    const g = group({}, settings);
    const actions = decideWarning(warningObs({ group: g, instance: g.instances[0], poolInterruptions: storm(records), market }), T);
    expect(kinds(actions).includes('requestMarketCheck')).toBe(trips);
  });

  it('asks the market controller for a check, once per tripping warning, and never sets a desired capacity itself', () => {
    const actions = decideWarning(warningObs({ poolInterruptions: storm(5) }), T);
    expect(kinds(actions)).toEqual(['recordInterruption', 'detachInstance', 'requestMarketCheck']);
    // The trip is keyed by the tripping warning's instance and time: ten copies of the warning are one trip.
    expect(actions[2]).toMatchObject({ kind: 'requestMarketCheck', asgName: 'ml-spot', farm: 'ml', trigger: 'breaker', requestId: 'i-00000001', at: T.toISOString() });
    // One writer per decision: the cover for a spot shortfall is the capacity controller's, not the breaker's.
    expect(kinds(actions)).not.toContain('setDesiredCapacity');
    expect(JSON.stringify(actions)).not.toMatch(/"cover"/);
  });

  it('on an on-demand role group a trip asks for nothing', () => {
    const g = group({ name: 'ml-on-demand', role: 'on-demand' });
    const actions = decideWarning(warningObs({ group: g, instance: g.instances[0], poolInterruptions: storm(3) }), T);
    expect(kinds(actions)).not.toContain('requestMarketCheck');
    expect(reasons(actions)).toMatch(/on-demand role group/);
  });
});

describe('decideWarning: rebalance recommendations', () => {
  it.each([
    { rule: 'ignore', settings: { rebalance: 'ignore' as const }, over: {}, expected: ['skip'], reason: /rebalance=ignore/ },
    { rule: 'record (default): a risk record for the pool', settings: {}, over: {}, expected: ['recordInterruption', 'skip'], reason: /rebalance=record/ },
    { rule: 'replace: record and detach early', settings: { rebalance: 'replace' as const }, over: {}, expected: ['recordInterruption', 'detachInstance'], reason: /replace early/ },
    {
      rule: 'replace, but one early replacement already runs',
      settings: { rebalance: 'replace' as const },
      over: { earlyReplacements: ['i-0000000e'] },
      expected: ['recordInterruption', 'skip'],
      reason: /at most one at a time/,
    },
    {
      rule: 'replace, but Capacity Rebalancing is on',
      settings: { rebalance: 'replace' as const },
      over: { capacityRebalance: true },
      expected: ['recordInterruption', 'skip'],
      reason: /Capacity Rebalancing is on/,
    },
  ])('$rule', ({ settings, over, expected, reason }) => {
    const { capacityRebalance, ...rest } = over as { capacityRebalance?: boolean; earlyReplacements?: string[] };
    const g = group({ capacityRebalance: capacityRebalance ?? false }, settings);
    const actions = decideWarning(warningObs({ group: g, instance: g.instances[0], ...rest }, 'rebalance'), T);
    expect(kinds(actions)).toEqual(expected);
    expect(reasons(actions)).toMatch(reason);
  });

  it('records a rebalance as a rebalance (not an interruption) and never trips the breaker', () => {
    const g = group({}, { rebalance: 'replace' });
    const actions = decideWarning(
      warningObs({ group: g, instance: g.instances[0], poolInterruptions: [{ instanceId: 'i-1', at: T.toISOString() }, { instanceId: 'i-2', at: T.toISOString() }] }, 'rebalance'),
      T,
    );
    expect(actions[0]).toMatchObject({ kind: 'recordInterruption', signal: 'rebalance' });
    expect(actions[1]).toMatchObject({ kind: 'detachInstance', why: 'rebalance', deadline: at(REBALANCE_OVERLAP_SECONDS).toISOString() });
    expect(kinds(actions)).not.toContain('requestMarketCheck');
  });
});

describe('decideLaunchFailure', () => {
  const capacity = 'We currently do not have sufficient c5.large capacity in the Availability Zone you requested (us-east-1b). Launching EC2 instance failed.';
  const obs = (over: Partial<LaunchFailureObservation> = {}, message = capacity): LaunchFailureObservation => ({
    message: {
      kind: 'launch_unsuccessful',
      id: 'ev-9',
      time: T,
      groupName: 'ml-spot',
      activityId: 'act-1',
      statusMessage: message,
      availabilityZone: 'us-east-1b',
      startedAt: T.toISOString(),
    },
    group: group(),
    capacityFailures: [],
    market: 'spot',
    ...over,
  });

  it.each([
    { rule: 'first capacity failure: recorded', o: obs(), expected: ['recordCapacityFailure'], reason: /InsufficientInstanceCapacity/ },
    { rule: 'second within the window: recorded, and the fall-back runs now', o: obs({ capacityFailures: ['act-0'] }), expected: ['recordCapacityFailure', 'requestMarketCheck'], reason: /2 spot capacity failures/ },
    { rule: 'duplicate of a recorded failure', o: obs({ capacityFailures: ['act-1'] }), expected: ['skip'], reason: /already recorded/ },
    // Issue 14, item 6: a group that fell back launches on-demand; its failures are not spot failures.
    { rule: 'already on on-demand: an on-demand failure, not recorded as a spot one', o: obs({ capacityFailures: ['act-0'], market: 'on-demand' }), expected: ['skip'], reason: /on-demand capacity failure says nothing about spot/ },
    {
      rule: 'an on-demand capacity failure of a mixed-instances group: not a spot failure',
      o: obs({}, 'Could not launch On-Demand Instances. InsufficientInstanceCapacity - We currently do not have sufficient c5.large capacity in the Availability Zone you requested (us-east-1b). Launching EC2 instance failed.'),
      expected: ['skip'],
      reason: /would not fix/,
    },
    { rule: 'not a managed group', o: obs({ group: undefined }), expected: ['skip'], reason: /not a managed group/ },
    { rule: 'not a capacity reason', o: obs({}, "The image id '[ami-0abc]' does not exist. Launching EC2 instance failed."), expected: ['skip'], reason: /would not fix/ },
    { rule: 'an on-demand group', o: obs({ group: onDemand() }), expected: ['skip'], reason: /nothing spotfarm can fall back to/ },
    // The market controller never falls such a group back for capacity (docs/market.md): recorded, no check asked.
    {
      rule: 'a mixed-instances group falling back through the on-demand group: recorded, no market check',
      o: obs({ capacityFailures: ['act-0'], group: group({ fallsBackThroughOnDemandGroup: true }) }),
      expected: ['recordCapacityFailure', 'skip'],
      reason: /no market check asked, a mixed-instances group on mixedFallback=on-demand-group never falls back for capacity/,
    },
  ])('$rule', ({ o, expected, reason }) => {
    const actions = decideLaunchFailure(o);
    expect(kinds(actions)).toEqual(expected);
    expect(reasons(actions)).toMatch(reason);
  });

  it.each([
    ['Your Spot request price of 0.001 is lower than the minimum required Spot request fulfillment price of 0.0031. Launching EC2 instance failed.', 'SpotMaxPriceTooLow'],
    ['Max spot instance count exceeded. Launching EC2 instance failed.', 'MaxSpotInstanceCountExceeded'],
    ['There is no Spot capacity available that matches your request. Launching EC2 instance failed.', 'UnfulfillableCapacity'],
    ['InsufficientInstanceCapacity', 'InsufficientInstanceCapacity'],
    // The code AWS names wins over the wording (issue 14, item 6).
    ['Could not launch Spot Instances. InsufficientInstanceCapacity - There is no Spot capacity available that matches your request. Launching EC2 instance failed.', 'InsufficientInstanceCapacity'],
    ['Could not launch Spot Instances. UnfulfillableCapacity - Unable to fulfill capacity due to your request configuration. Please adjust your request and try again. Launching EC2 instance failed.', 'UnfulfillableCapacity'],
    ['Could not launch On-Demand Instances. InsufficientInstanceCapacity - We currently do not have sufficient c5.large capacity in the Availability Zone you requested (us-east-1a). Launching EC2 instance failed.', undefined],
    ["Your requested instance type (c5.large) is not supported in your requested Availability Zone (us-east-1e).", undefined],
  ])('names the capacity reason of %j', (message, expected) => {
    expect(spotCapacityReason(message)).toBe(expected);
  });
});

describe('decideSweep', () => {
  const groups = new Map([['ml-spot', group()]]);
  it.each([
    { rule: 'past its deadline and still running: terminate', d: detached(), now: at(121), expected: 'terminateInstance', reason: /past its deadline/ },
    { rule: 'stopped past its deadline (instance-action stop): terminate', d: detached({ state: 'stopped' }), now: at(200), expected: 'terminateInstance', reason: /still stopped/ },
    { rule: 'within its deadline: wait', d: detached(), now: at(60), expected: 'skip', reason: /waiting for its deadline/ },
    { rule: 'unreadable deadline: counts as passed', d: detached({ deadline: 'soon' }), now: at(0), expected: 'terminateInstance', reason: /past its deadline/ },
    { rule: 'tagged but never detached, past the deadline: terminate in its group', d: detached({ stillInGroup: 'ml-spot' }), now: at(121), expected: 'terminateInstance', reason: /never detached/ },
    {
      rule: 'rebalance early replacement, group back to strength: terminate early',
      d: detached({ reason: 'rebalance', deadline: at(900).toISOString() }),
      now: at(300),
      expected: 'terminateInstance',
      reason: /back to 4\/4 in service/,
    },
    {
      rule: 'rebalance early replacement, replacement still pending: wait',
      d: detached({ reason: 'rebalance', deadline: at(900).toISOString() }),
      now: at(300),
      groups: new Map([['ml-spot', group({ instances: [inst('i-1'), inst('i-2'), inst('i-3'), inst('i-4', { lifecycleState: 'Pending' })] })]]),
      expected: 'skip',
      reason: /waiting/,
    },
    { rule: 'another farm: left alone', d: detached({ farm: 'other' }), now: at(999), expected: 'skip', reason: /no detached instance/ },
  ])('$rule', ({ d, now, expected, reason, ...rest }) => {
    const actions = decideSweep({ detached: [d], groups: (rest as { groups?: Map<string, ManagedGroup> }).groups ?? groups, farm: 'ml' }, now);
    expect(kinds(actions)).toEqual([expected]);
    expect(reasons(actions)).toMatch(reason);
  });

  it('terminates through the group when the detach never happened', () => {
    const [action] = decideSweep({ detached: [detached({ stillInGroup: 'ml-spot' })], groups, farm: '*' }, at(121));
    expect(action).toMatchObject({ kind: 'terminateInstance', inGroup: true, asgName: 'ml-spot' });
  });
});
