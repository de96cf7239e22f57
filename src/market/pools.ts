/**
 * Pools, not groups (pure): which of a spot group's pools (instance type x AZ) are good and which are out, and
 * why. A pool is out when its spot price is at or above the group's threshold (on-demand x `swapRatio`) or when
 * its own interruption breaker tripped. The group falls back whole only when no good pool is left (or, by the
 * capacity rule in decide.ts, when the good ones cannot hold the farm); one bad pool among good ones leaves the
 * group on spot.
 *
 * The breaker weighs evidence before a rate counts: at least BREAKER_MIN_INTERRUPTIONS interruptions (price
 * interruptions left out) and BREAKER_MIN_INSTANCE_HOURS instance-hours observed in the pool over
 * `breakerWindow`. Two interruptions among seven instances in an hour is 0.29 per instance-hour, over the 0.25
 * default, and still bad luck: on the bundled 2015 r3.large history such a "trip" moved a whole group to
 * on-demand while its other AZs were healthy.
 */
import { weighBreaker, type BreakerEvidence } from '../breaker';
import type { GroupSettings } from '../settings';
import type { MixedOverride } from '../model';
import { cappedLaunchConfigurationName, type MarketOriginals, type MarketState } from './state';
import { canLaunchSpot } from '../pools';

export { BREAKER_MIN_INSTANCE_HOURS, BREAKER_MIN_INTERRUPTIONS, weighBreaker, type BreakerEvidence } from '../breaker';

/** What one pool's decision is made on. */
export interface PoolSignal {
  /** `<type>|<az>` (src/model.ts poolKey). */
  pool: string;
  instanceType: string;
  availabilityZone: string;
  /** Spot / on-demand of this pool now; undefined when unpriced. */
  ratio: number | undefined;
  /** Interruptions in the pool over `breakerWindow`, price interruptions left out. */
  interruptions: number;
  /** The group's running instances in the pool now. */
  instances: number;
  /**
   * Instance-hours the pool's instances ran within `breakerWindow`, from their launch times (running ones to now,
   * interrupted ones to two minutes after their warning); undefined: approximated by the breaker.
   */
  instanceHours?: number;
}

const r2 = (n: number): number => Math.round(n * 100) / 100;

export type PoolStatus = 'good' | 'out';

export interface PoolAssessment {
  pool: string;
  status: PoolStatus;
  /** Why it is out: its price, its breaker, or both. */
  reasons: ('price' | 'breaker')[];
  ratio: number | undefined;
  breaker: BreakerEvidence;
}

/** Each pool good or out, by the price threshold and its own breaker. */
export function assessPools(
  pools: readonly PoolSignal[],
  settings: Pick<GroupSettings, 'swapRatio' | 'breakerInterruptions' | 'breakerWindow'>,
): PoolAssessment[] {
  return pools.map((p) => {
    const breaker = weighBreaker(p.interruptions, p.instances, settings, p.instanceHours);
    const reasons: PoolAssessment['reasons'] = [];
    if (p.ratio !== undefined && p.ratio >= settings.swapRatio) reasons.push('price');
    if (breaker.tripped) reasons.push('breaker');
    return { pool: p.pool, status: reasons.length ? 'out' : 'good', reasons, ratio: p.ratio, breaker };
  });
}

/**
 * Whether the group's breaker trips the whole group: some pool's breaker tripped and no good pool is left (every
 * pool out by price or breaker). One stormy pool among healthy ones leaves the group on spot: Auto
 * Scaling places new instances in the pools that launch, and the pool comes back when its breaker is quiet.
 */
export function groupBreakerTripped(assessed: readonly PoolAssessment[]): boolean {
  // A pool with no price yet and a quiet breaker counts as good: as far as anyone knows, it launches.
  return assessed.some((a) => a.reasons.includes('breaker')) && assessed.every((a) => a.status === 'out');
}

/** One line per pool for logs and plan: "c5.large|us-east-1a: out (breaker: 4 interruptions in ...)". */
export function describePools(assessed: readonly PoolAssessment[]): string[] {
  return assessed.map((a) => {
    const price = a.ratio === undefined ? 'no price' : `${r2(a.ratio)} x on-demand`;
    return a.status === 'good'
      ? `${a.pool}: good (${price}; ${a.breaker.why})`
      : `${a.pool}: out (${a.reasons.join(' and ')}; ${price}; ${a.breaker.why})`;
  });
}

/**
 * Steering by the spot max price (mixed-instances groups of one instance type, launch-template and
 * launch-configuration groups): while a pool's price is at or above on-demand x `swapRatio` on two checks in a row
 * and still at or below the group's max price (so Auto Scaling would launch there: canLaunchSpot), and another pool
 * is cheap, the group's max price is set to on-demand x (`swapRatio` - `hysteresis`). Auto Scaling then launches
 * only in the pools priced at or under the cap ("If your maximum price is lower than the Spot price ..., your Spot
 * Instances are not launched", API_InstancesDistribution; a template's `SpotOptions.MaxPrice` and a launch
 * configuration's `SpotPrice` are the same max price), and a pool comes back by itself once its price is at or below
 * the cap: the hysteresis. Running instances keep the max price they launched with. The user's own max price comes
 * back after the dwell (`minDwell`, doubled when a cap is set again within the dwell after it was lifted) once every
 * pool has been at or below the return level for `confirmChecks` checks.
 *
 * Per market style, the cap is:
 * - mixed instances: the policy's SpotMaxPrice (one UpdateAutoScalingGroup); lifting it sets the user's back.
 * - launch template: a copy of the version the group launches, with the max price set, as a version of spotfarm's
 *   OWN template (`spotfarm-capped-<template id>`), the group pointed at it. The owner's template is never written:
 *   a new version of it would become its `$Latest` for every other user and pin a `$Default` follower (EC2 user
 *   guide, "Modify a launch template (manage launch template versions)"). Lifting it points the group back at the
 *   owner's template exactly as it was (`$Latest`, `$Default` or the number). While capped, a group that followed
 *   `$Latest` or `$Default` is copied again when the owner publishes (`sourceVersion`), so it still launches what
 *   the owner last published.
 * - launch configuration: a copy of the configuration with SpotPrice set (`<name>-spotfarm-max-<price>`), the group
 *   pointed at it; lifting it points the group back at the original name.
 * A copied group moved to another launch source by someone else (neither the owner's source nor the copy) is
 * theirs: the cap is forgotten and decided afresh from what the group launches now.
 */
export interface CapDecision {
  /** The max price to set ("0.1575"), '' to remove it; undefined: no call. */
  maxPrice: string | undefined;
  /** Launch template / configuration: lift the cap by pointing the group back at the owner's source. */
  restore?: true;
  /** Launch template: the owner's version number to copy. */
  copyVersion?: number;
  reason: string;
  state: Pick<MarketState, 'poolCap' | 'poolCapBackoff' | 'poolCapLiftedAt'>;
}

type CapState = Pick<MarketState, 'poolCap' | 'poolCapBackoff' | 'poolCapLiftedAt'>;
type Cap = NonNullable<MarketState['poolCap']>;

/** Market styles whose cap is a copy of the owner's launch source (not a field of the group itself). */
export const capIsCopy = (style: string | undefined): boolean => style === 'launch-template' || style === 'launch-configuration';

const sameTemplate = (a: { templateId?: string | undefined; templateName?: string | undefined }, b: { templateId?: string | undefined; templateName?: string | undefined }): boolean =>
  a.templateId !== undefined && b.templateId !== undefined ? a.templateId === b.templateId : a.templateName !== undefined && a.templateName === b.templateName;

/**
 * Where a copied-cap group launches from now: the owner's `source` (the cap is not in force: its call failed), the
 * capped copy, or somewhere else (someone moved the group outside spotfarm).
 */
export function capPlace(current: MarketOriginals | undefined, cap: Cap, currentMax: number | undefined): 'source' | 'copy' | 'elsewhere' {
  const source = cap.source;
  if (!source || !current || current.style !== source.style) return 'elsewhere';
  if (current.style === 'launch-configuration' && source.style === 'launch-configuration') {
    if (current.name === source.name) return 'source';
    return current.name === cappedLaunchConfigurationName(source.name, cap.to.toFixed(4)) ? 'copy' : 'elsewhere';
  }
  if (current.style === 'launch-template' && source.style === 'launch-template') {
    if (sameTemplate(current, source) && current.version === source.version) return 'source';
    // AWS names the template in DescribeAutoScalingGroups; without a name, the copy is known by its max price.
    const copy = current.templateName !== undefined ? current.templateName.startsWith('spotfarm-capped-') : currentMax !== undefined && Math.abs(currentMax - cap.to) < 1e-9;
    return copy ? 'copy' : 'elsewhere';
  }
  return 'elsewhere';
}

/** The launch source a fall-back remembers: under a copied cap, the owner's, never spotfarm's copy. */
export function spotSourceOf(current: MarketOriginals, state: Pick<MarketState, 'poolCap'>, currentMax: number | undefined): MarketOriginals {
  const cap = state.poolCap;
  return cap?.source && capPlace(current, cap, currentMax) !== 'elsewhere' ? cap.source : current;
}

/** The max price a cap sets: on-demand x (`swapRatio` - `hysteresis`), rounded down to the 1/100 cent AWS takes. */
export function capLevel(onDemand: number, settings: Pick<GroupSettings, 'swapRatio' | 'hysteresis'>): number {
  return Math.floor(onDemand * (settings.swapRatio - settings.hysteresis) * 10_000) / 10_000;
}

export function decidePoolCap(args: {
  style: string;
  /** The group's launch source now (launch template / configuration: the owner's, or spotfarm's capped copy). */
  current?: MarketOriginals | undefined;
  /** Launch template under a cap: the number the owner's `$Latest` / `$Default` resolves to now. */
  sourceVersion?: number | undefined;
  instanceTypes: readonly string[];
  onDemand: number | undefined;
  /** Multi-type mixed groups: each type's on-demand price (the cap is one price for every type). */
  onDemandByType?: Readonly<Record<string, number | undefined>>;
  /** The group's spot max price now (undefined: on-demand). */
  currentMax: number | undefined;
  assessed: readonly PoolAssessment[];
  /** The pools out on the previous check (MarketState.poolsOut before this one). */
  previouslyOut: MarketState['poolsOut'];
  state: CapState;
  settings: Pick<GroupSettings, 'swapRatio' | 'hysteresis' | 'confirmChecks' | 'minDwell'>;
  dwellSeconds: (backoff: number) => number;
  now: Date;
}): CapDecision | undefined {
  const { settings, now } = args;
  let state = args.state;
  const at = now.toISOString();
  const copied = capIsCopy(args.style);
  const multi = args.style === 'mixed-instances' && args.instanceTypes.length > 1;
  if ((args.style !== 'mixed-instances' && !copied) || args.instanceTypes.length === 0 || (!multi && args.instanceTypes.length !== 1)) return undefined;
  const odOf = (pool: string): number | undefined => (multi ? args.onDemandByType?.[pool.split('|')[0]!] : args.onDemand);
  if (!multi && args.onDemand === undefined) return undefined;
  const returnRatio = settings.swapRatio - settings.hysteresis;
  const since = (iso: string | undefined): number => (iso === undefined ? Infinity : (now.getTime() - Date.parse(iso)) / 1000);
  const backoff = state.poolCapBackoff ?? 0;
  let cap = state.poolCap;
  let forgotten = '';
  const place = cap && copied ? capPlace(args.current, cap, args.currentMax) : undefined;
  if (cap && place === 'elsewhere') {
    // Someone pointed the group at another launch source: theirs now. The cap is decided afresh from it.
    forgotten = `the group was pointed at another launch source outside spotfarm while capped: the cap is forgotten`;
    state = { ...state, poolCap: undefined };
    cap = undefined;
  }

  if (!cap) {
    const none = (): CapDecision | undefined => (forgotten ? { maxPrice: undefined, reason: forgotten, state } : undefined);
    if (copied && args.current?.style !== args.style) return none();
    // Only pools Auto Scaling would still launch into at that price need the cap: a pool above the max price
    // (canLaunchSpot false) gets no launch anyway, and capping for it would only expose every new instance to
    // price interruptions below on-demand (on the spiky 2015 default scenario that doubled the cost).
    const price = (a: PoolAssessment): number | undefined => {
      const od = odOf(a.pool);
      return a.ratio === undefined || od === undefined ? undefined : a.ratio * od;
    };
    const priceOut = args.assessed.filter((a) => {
      const p = price(a);
      const od = odOf(a.pool);
      return a.reasons.includes('price') && args.previouslyOut?.[a.pool]?.reasons.includes('price') && p !== undefined && canLaunchSpot(p, args.currentMax ?? od!);
    });
    if (priceOut.length === 0) return none();
    // One max price for every pool: the level of the cheapest bad type's on-demand. With several types it works
    // only if it stops no good pool (one at or below the return level): a good pool of a dearer type priced above
    // the level would be cut with the bad one, so then no cap (docs/market.md, "Several instance types").
    const levels = priceOut.map((a) => capLevel(odOf(a.pool)!, settings));
    const level = Math.min(...levels);
    if (!(level > 0)) return none();
    if (multi) {
      const cut = args.assessed.filter((a) => a.status === 'good' && a.ratio !== undefined && a.ratio <= returnRatio && price(a)! > level);
      if (cut.length > 0) return none();
    }
    const launchable = args.assessed.filter((a) => price(a) !== undefined && price(a)! <= level);
    if (launchable.length === 0) return none();
    if (args.currentMax !== undefined && args.currentMax <= level) return none();
    // Capped again within the dwell after the cap was lifted: the pools flap, so the next dwell doubles.
    const flapped = since(state.poolCapLiftedAt) < args.dwellSeconds(backoff);
    const nextBackoff = flapped && args.dwellSeconds(backoff + 1) > args.dwellSeconds(backoff) ? backoff + 1 : backoff;
    const source = copied ? args.current : undefined;
    const copyVersion = source?.style === 'launch-template' ? source.resolvedVersion : undefined;
    return {
      maxPrice: level.toFixed(4),
      ...(copyVersion !== undefined ? { copyVersion } : {}),
      reason:
        (forgotten ? `${forgotten}; ` : '') +
        `pool${priceOut.length > 1 ? 's' : ''} ${priceOut.map((p) => p.pool).join(', ')} at or above ${settings.swapRatio} x on-demand for 2 checks: ` +
        `new launches capped at $${level.toFixed(4)}/h (spot max price${copied ? `, ${copyNote(args.style)}` : ''}), ${launchable.length} pool(s) still launch; running instances are not touched` +
        (nextBackoff > backoff ? `; back-off: the cap's dwell doubles to ${args.dwellSeconds(nextBackoff) / 60} min` : ''),
      state: {
        ...state,
        poolCap: {
          since: at,
          original: args.currentMax,
          to: level,
          calmStreak: 0,
          ...(source ? { source } : {}),
          ...(copyVersion !== undefined ? { copiedFrom: copyVersion } : {}),
        },
        poolCapBackoff: nextBackoff,
      },
    };
  }

  const calm = args.assessed.every((a) => a.ratio === undefined || a.ratio <= returnRatio);
  const calmStreak = calm ? cap.calmStreak + 1 : 0;
  const dwell = args.dwellSeconds(backoff);
  const held = since(cap.since);
  if (held >= dwell && calmStreak >= settings.confirmChecks) {
    const back = `every pool at or below ${returnRatio} x on-demand for ${calmStreak} checks after ${Math.round(held / 60)} min: `;
    const lifted: CapState = { poolCap: undefined, poolCapBackoff: backoff, poolCapLiftedAt: at };
    if (copied && cap.source) {
      return { maxPrice: '', restore: true, reason: `${back}the group launches from ${describeSource(cap.source)} again`, state: lifted };
    }
    return {
      maxPrice: cap.original === undefined ? '' : cap.original.toFixed(4),
      reason: `${back}the spot max price is ${cap.original === undefined ? 'removed (on-demand)' : `back to $${cap.original.toFixed(4)}/h`}`,
      state: lifted,
    };
  }
  const kept: CapState = { ...state, poolCap: { ...cap, calmStreak } };
  const status =
    `pools capped at $${cap.to.toFixed(4)}/h since ${cap.since}: ${calm ? `every pool at or below ${returnRatio} x on-demand for ${calmStreak} of ${settings.confirmChecks} checks` : 'a pool is still above the return level'}` +
    (held < dwell ? `, ${Math.ceil((dwell - held) / 60)} min of the ${dwell / 60} min dwell left` : '');
  if (copied) {
    const source = cap.source!;
    if (place === 'source') {
      const copyVersion = source.style === 'launch-template' ? (args.current?.style === 'launch-template' ? args.current.resolvedVersion : undefined) ?? cap.copiedFrom : undefined;
      return {
        maxPrice: cap.to.toFixed(4),
        ...(copyVersion !== undefined ? { copyVersion } : {}),
        reason: `the pool cap of $${cap.to.toFixed(4)}/h is not in force (the group launches from ${describeSource(source)}): pointing it at the capped copy again`,
        state: { ...kept, poolCap: { ...kept.poolCap!, ...(copyVersion !== undefined ? { copiedFrom: copyVersion } : {}) } },
      };
    }
    if (source.style === 'launch-template' && args.sourceVersion !== undefined && args.sourceVersion !== cap.copiedFrom) {
      return {
        maxPrice: cap.to.toFixed(4),
        copyVersion: args.sourceVersion,
        reason: `the owner's ${describeSource(source)} is now version ${args.sourceVersion} (the capped copy was made from ${cap.copiedFrom ?? 'an older one'}): copying it, capped, so the group launches what the owner published; ${status}`,
        state: { ...kept, poolCap: { ...kept.poolCap!, copiedFrom: args.sourceVersion } },
      };
    }
    return { maxPrice: undefined, reason: status, state: kept };
  }
  const drifted = args.currentMax === undefined || Math.abs(args.currentMax - cap.to) > 1e-9;
  return {
    // The cap is not in force (a failed call, or someone changed the policy): set it again.
    maxPrice: drifted ? cap.to.toFixed(4) : undefined,
    reason: drifted ? `the pool cap of $${cap.to.toFixed(4)}/h is not in force (max price ${args.currentMax ?? 'none'}): setting it again` : status,
    state: kept,
  };
}

function copyNote(style: string): string {
  return style === 'launch-template' ? "a copy in spotfarm's own template; the owner's template is not written" : 'a copy of the launch configuration';
}

function describeSource(source: MarketOriginals): string {
  if (source.style === 'launch-configuration') return `launch configuration ${source.name}`;
  if (source.style === 'launch-template') return `launch template ${source.templateName ?? source.templateId ?? '?'} ${source.version}`;
  return 'its mixed instances policy';
}

/**
 * Multi-type mixed-instances groups: when one instance type is at or above on-demand x `swapRatio` in every AZ of
 * the group (each of its priced pools out by price on two checks in a row, and one at least still launchable under
 * the max price) while another type has a good pool, the type's override is dropped from the policy: Auto Scaling
 * then launches no instance of it, and running ones are not replaced. A single max price cannot do this when the
 * bad type is the cheaper one in dollars (it would stop the good, dearer types first). The override comes back
 * exactly as it was, at its place in the list, once all the type's pools have been at or below on-demand x
 * (`swapRatio` - `hysteresis`) for `confirmChecks` checks after the dwell (`minDwell`, doubled when a type is
 * dropped again within the dwell after a restore). The last good type is never dropped: with no good type left the
 * group's price reaches the price rule and the group falls back whole. One change per check.
 */
export interface TypeDropDecision {
  change: { drop: string } | { restore: MixedOverride; index: number } | undefined;
  reason: string;
  state: Pick<MarketState, 'droppedTypes' | 'typeDropBackoff' | 'typeRestoredAt'>;
}

export function decideTypeDrop(args: {
  style: string;
  /** The policy's overrides now. */
  overrides: readonly MixedOverride[] | undefined;
  /** The group's pools (its types now). */
  assessed: readonly PoolAssessment[];
  /** The pools of the types spotfarm dropped (their prices are still read). */
  droppedAssessed: readonly PoolAssessment[];
  previouslyOut: MarketState['poolsOut'];
  onDemandByType: Readonly<Record<string, number | undefined>>;
  currentMax: number | undefined;
  state: Pick<MarketState, 'droppedTypes' | 'typeDropBackoff' | 'typeRestoredAt'>;
  settings: Pick<GroupSettings, 'swapRatio' | 'hysteresis' | 'confirmChecks' | 'minDwell'>;
  dwellSeconds: (backoff: number) => number;
  now: Date;
}): TypeDropDecision | undefined {
  if (args.style !== 'mixed-instances' || !args.overrides) return undefined;
  // One type (or none listed): nothing to drop; the cap steers its pools.
  if (args.overrides.length < 2 && !args.state.droppedTypes) return undefined;
  const { settings, now } = args;
  const at = now.toISOString();
  const since = (iso: string | undefined): number => (iso === undefined ? Infinity : (now.getTime() - Date.parse(iso)) / 1000);
  const typeOf = (pool: string): string => pool.split('|')[0]!;
  const returnRatio = settings.swapRatio - settings.hysteresis;
  const backoff = args.state.typeDropBackoff ?? 0;
  const inPolicy = new Set(args.overrides.map((o) => o.InstanceType));
  const dropped: NonNullable<MarketState['droppedTypes']> = {};
  const notes: string[] = [];

  // Dropped types: put back by hand (forget them), calm (count), or calm long enough (restore one).
  for (const [type, d] of Object.entries(args.state.droppedTypes ?? {})) {
    if (inPolicy.has(type)) {
      notes.push(`${type} is in the policy again (put back outside spotfarm)`);
      continue;
    }
    const pools = args.droppedAssessed.filter((a) => typeOf(a.pool) === type);
    const calm = pools.every((a) => a.ratio === undefined || a.ratio <= returnRatio);
    dropped[type] = { ...d, calmStreak: calm ? d.calmStreak + 1 : 0 };
  }
  for (const [type, d] of Object.entries(dropped)) {
    const held = since(d.since);
    if (held >= args.dwellSeconds(backoff) && d.calmStreak >= settings.confirmChecks) {
      const rest = { ...dropped };
      delete rest[type];
      return {
        change: { restore: d.override, index: d.index },
        reason: `instance type ${type} at or below ${returnRatio} x on-demand in every AZ for ${d.calmStreak} checks after ${Math.round(held / 60)} min: its override is back in the policy`,
        state: { droppedTypes: Object.keys(rest).length ? rest : undefined, typeDropBackoff: backoff, typeRestoredAt: at },
      };
    }
  }
  const kept = (reason: string): TypeDropDecision => ({
    change: undefined,
    reason,
    state: { ...args.state, droppedTypes: Object.keys(dropped).length ? dropped : undefined },
  });

  const types = [...new Set(args.assessed.map((a) => typeOf(a.pool)))];
  const goodTypes = types.filter((t) => args.assessed.some((a) => typeOf(a.pool) === t && a.status === 'good'));
  for (const type of types) {
    const pools = args.assessed.filter((a) => typeOf(a.pool) === type);
    const od = args.onDemandByType[type];
    const bad =
      pools.length > 0 &&
      od !== undefined &&
      pools.every((a) => a.ratio !== undefined && a.reasons.includes('price') && args.previouslyOut?.[a.pool]?.reasons.includes('price')) &&
      pools.some((a) => canLaunchSpot(a.ratio! * od, args.currentMax ?? od));
    if (!bad) continue;
    const others = goodTypes.filter((t) => t !== type);
    const index = args.overrides.findIndex((o) => o.InstanceType === type);
    if (others.length === 0 || index < 0 || args.overrides.length < 2) {
      notes.push(`${type} is at or above ${settings.swapRatio} x on-demand in every AZ, but no other type has a good pool: not dropped (the group falls back whole by the price rule)`);
      continue;
    }
    const flapped = since(args.state.typeRestoredAt) < args.dwellSeconds(backoff);
    const nextBackoff = flapped && args.dwellSeconds(backoff + 1) > args.dwellSeconds(backoff) ? backoff + 1 : backoff;
    return {
      change: { drop: type },
      reason:
        `instance type ${type} at or above ${settings.swapRatio} x on-demand in every AZ for 2 checks: its override is dropped, ${others.join(', ')} still launch${others.length === 1 ? 'es' : ''}; running instances are not touched` +
        (nextBackoff > backoff ? `; back-off: the drop's dwell doubles to ${args.dwellSeconds(nextBackoff) / 60} min` : ''),
      state: {
        droppedTypes: { ...dropped, [type]: { since: at, override: structuredClone(args.overrides[index]!), index, calmStreak: 0 } },
        typeDropBackoff: nextBackoff,
        typeRestoredAt: args.state.typeRestoredAt,
      },
    };
  }
  if (Object.keys(dropped).length === 0 && notes.length === 0 && !args.state.droppedTypes) return undefined;
  const status = Object.entries(dropped).map(([t, d]) => `${t} dropped since ${d.since} (calm for ${d.calmStreak} of ${settings.confirmChecks} checks)`);
  return kept([...status, ...notes].join('; '));
}
