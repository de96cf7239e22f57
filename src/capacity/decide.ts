/**
 * The capacity decision (pure): how many instances a farm needs from its backlog, and how that total is split
 * between the spot group and the on-demand fallback group. `now` is a parameter; nothing here reads a clock or
 * calls AWS. docs/scaling.md explains every rule with its setting.
 *
 * 1. Backlog = visible + in-flight messages. Policy `service` (the default, src/capacity/service.ts): add
 *    instances only for the visible jobs the farm cannot start within what is left of acceptableWait; remove
 *    instances that have been idle (in service, not protected from scale-in) for a boot's worth of time.
 *    Policy `target` (also chosen by setting backlogPerInstance): total = ceil(backlog / backlogPerInstance).
 *    Policy `step` (the recipe's): +scaleOutPercent of the current capacity while the farm's backlog-high alarm
 *    is in ALARM (at most once per scaleInCooldown), -scaleInStep while its backlog-low alarm is.
 * 2. Scale out at once. Scale in only below the current capacity, never below what the in-flight work needs
 *    (ceil(inFlight / slotsPerInstance)) and never to zero before the queue has been empty (nothing visible,
 *    in flight or delayed) for idleMinutes. Clamped to the farm's summed [min, max].
 * 3. Split: the spot group gets the total (up to its max); what its max cannot hold goes to the on-demand group
 *    at once; the spot group's shortfall (its share minus its in-service and pending instances) goes to the
 *    on-demand group once it has lasted fallbackDelay.
 * 4. Apply: a group's desired rises at once. It falls at once by instances it never launched (they run nothing);
 *    running capacity leaves, under `service`, by the group's idle instances past the hold-down; under the other
 *    policies at most scaleInStep per scaleInCooldown for the whole farm, the on-demand group first. Any scale-out, and any change to a group's desired that this function did not make (an interruption
 *    replacement, a user), restarts the scale-in cooldown, so the scaler never fights another writer.
 */
import { skip } from '../actions';
import type { CapacityAction as Action } from './actions';
import type { AlarmDirection, AlarmStateValue } from '../events/alarm-state-change';
import type { Market, QueueDepth } from '../model';
import { effectiveBacklogPerInstance, type GroupSettings, type ScalingPolicy } from '../settings';
import {
  DEFAULT_BOOT_SECONDS,
  heldNeed,
  holdDownSeconds,
  learnBoot,
  lateAllowance,
  lateJobsAt,
  learnJobSeconds,
  trackLate,
  serviceNeed,
  trackNeed,
  type CapacityGroup,
  type ServiceMemory,
  type WorkSample,
} from './service';

export type { CapacityGroup } from './service';

export interface AlarmMemory {
  value: AlarmStateValue;
  /** When the alarm entered `value` (CloudWatch's timestamp): a late event with an older one changes nothing. */
  since: string;
}

/** The queue scaler's memory of one farm (src/capacity/state.ts keeps it in the state table). */
export interface CapacityState extends ServiceMemory {
  /** Last time a group's desired rose. */
  lastScaleOutAt?: string;
  /** Last time running capacity was scaled in. */
  lastScaleInAt?: string;
  /** Last +scaleOutPercent of the step policy. */
  lastStepOutAt?: string;
  /**
   * The spot group's shortfall (instances it was asked for and has neither in service nor pending), in parts by
   * when each part appeared, oldest first: each part goes to the on-demand group once it has lasted
   * fallbackDelay, so a shortfall that grows does not hand its newest part over early.
   */
  shortfall?: ShortfallPart[];
  /** Since when the queue has had nothing visible, in flight or delayed. */
  idleSince?: string;
  /** Last time a group's desired was found changed by someone else. */
  externalChangeAt?: string;
  /** The farm's total capacity as last decided (spot share + overflow, without cover). */
  total?: number;
  /** Latest state of the farm's backlog alarms. */
  alarms: Partial<Record<AlarmDirection, AlarmMemory>>;
  /** The desired capacity this function last left each group at. */
  desired: Record<string, number>;
}

export interface ShortfallPart {
  since: string;
  amount: number;
}

/** The shortfall's parts after seeing `now` instances missing: a new part for growth, newest parts closed first. */
export function trackShortfall(parts: ShortfallPart[], now: number, at: string): ShortfallPart[] {
  const out: ShortfallPart[] = [];
  let left = now;
  for (const part of parts) {
    if (left <= 0) break;
    const amount = Math.min(part.amount, left);
    out.push({ since: part.since, amount });
    left -= amount;
  }
  if (left > 0) out.push({ since: at, amount: left });
  return out;
}

export const emptyCapacityState = (): CapacityState => ({ alarms: {}, desired: {} });

export interface CapacityInput {
  farm: string;
  queue: QueueDepth;
  spot: CapacityGroup | undefined;
  onDemand: CapacityGroup | undefined;
  /** Where the market controller has put the spot group (`on-demand` after a fall-back). */
  spotMarket: Market;
  /** Set when the fall-back left the spot group alone (mixed instances): the on-demand group takes its share. */
  spotFallback?: 'on-demand-group';
  /** The farm's scaling settings (the spot group's tags; the on-demand group's when there is no spot group). */
  settings: GroupSettings;
  state: CapacityState;
  /** The alarm transition that triggered this run, if one did. */
  alarm?: { direction: AlarmDirection; value: AlarmStateValue; since: string };
  /**
   * The queue's work over the last window (`service` policy, read when workReadDue says so), or `unavailable`
   * when that read failed: the job duration is learned from it.
   */
  work?: WorkSample | 'unavailable';
}

export interface CapacityFigures {
  farm: string;
  policy: ScalingPolicy;
  visible: number;
  inFlight: number;
  delayed: number;
  backlog: number;
  /** The backlog one instance should carry (setting or derived). */
  targetBacklogPerInstance: number;
  /** The backlog each running instance carries now (backlog itself when none runs, as AWS's guard does). */
  backlogPerInstance: number;
  /** Capacity the farm has now: the spot group's desired, plus on-demand overflow beyond the spot group's max. */
  current: number;
  /** What the policy asks for, before floors and limits. */
  wanted: number;
  /** The farm's total after floors and [min, max]. */
  total: number;
  inFlightFloor: number;
  idleSeconds: number;
  shortfall: number;
  shortfallSeconds: number;
  /** On-demand instances covering the spot shortfall. */
  cover: number;
  /** On-demand instances beyond the spot group's max. */
  overflow: number;
  spotMarket: Market;
  /** Seconds until running capacity may be scaled in again (0: now). */
  scaleInWait: number;
  /** `service` policy: the figures it sized on. */
  service?: {
    /** The job duration sized on: learned from the queue's metrics, else the setting. */
    secondsPerJob: number;
    secondsPerJobSource: 'learned' | 'setting';
    bootSeconds: number;
    queueAgeSeconds: number;
    /** Seconds a queued job may still wait for an instance launched now. */
    waitBudget: number;
    /** Queued jobs the busy slots start within the budget. */
    startable: number;
    /** Seconds of arrivals the farm cannot react to within acceptableWait, and the free slots held for them. */
    unreactiveSeconds: number;
    headroom: number;
    /** Instances needed now, and the most needed over the hold-down (the total). */
    need: number;
    holdDownSeconds: number;
    held: number;
    /** Jobs estimated late (past acceptableWait) over the last day, and how many the p95 allows. */
    lateJobs: number;
    lateAllowance: number;
  };
}

export interface CapacityDecision {
  actions: Action[];
  state: CapacityState;
  figures: CapacityFigures;
  /** The policy's verdict in words, repeated in each action's reason. */
  summary: string;
}

const seconds = (from: string | undefined, now: number): number =>
  from === undefined ? Infinity : Math.max(0, (now - Date.parse(from)) / 1000);
const clamp = (n: number, min: number, max: number): number => Math.min(max, Math.max(min, n));
const later = (a: string | undefined, b: string): string => (a !== undefined && Date.parse(a) > Date.parse(b) ? a : b);
const supply = (g: CapacityGroup): number => g.inService + g.pending;

/** The policy a farm's settings select: setting backlogPerInstance asks for target tracking on it. */
export function scalingPolicyOf(s: GroupSettings): ScalingPolicy {
  return s.scalingPolicy === 'service' && s.backlogPerInstance !== undefined ? 'target' : s.scalingPolicy;
}

/** Decides the desired capacity of a farm's groups. Pure: same input and `now`, same decision. */
export function decideCapacity(input: CapacityInput, now: Date): CapacityDecision {
  const at = now.getTime();
  const iso = now.toISOString();
  const s = input.settings;
  const { spot, onDemand } = input;
  const state: CapacityState = { ...input.state, alarms: { ...input.state.alarms }, desired: { ...input.state.desired } };

  if (input.alarm) {
    const known = state.alarms[input.alarm.direction];
    if (!known || Date.parse(input.alarm.since) >= Date.parse(known.since)) {
      state.alarms[input.alarm.direction] = { value: input.alarm.value, since: input.alarm.since };
    }
  }
  const groups = [spot, onDemand].filter((g): g is CapacityGroup => g !== undefined);
  let changedByOthers = false;
  for (const g of groups) {
    const mine = state.desired[g.name];
    if (mine !== undefined && mine !== g.desired) changedByOthers = true;
  }
  if (changedByOthers) state.externalChangeAt = later(state.externalChangeAt, iso);

  // Queue.
  const { visible, inFlight, delayed } = input.queue;
  const backlog = visible + inFlight;
  const idle = visible + inFlight + delayed === 0;
  state.idleSince = idle ? (state.idleSince ?? iso) : undefined;
  const idleSeconds = idle ? seconds(state.idleSince, at) : 0;
  const idleLongEnough = idle && idleSeconds >= s.idleMinutes * 60;
  const running = groups.reduce((n, g) => n + g.inService, 0);
  const targetBacklogPerInstance = effectiveBacklogPerInstance(s);
  const policy = scalingPolicyOf(s);

  // What the farm shows over successive runs: how long the queue has had visible work, how long a boot takes,
  // which instances have been idle.
  state.queuedSince = visible > 0 ? (state.queuedSince ?? iso) : undefined;
  let service: CapacityFigures['service'];
  if (policy === 'service') {
    Object.assign(state, learnBoot(state, groups, at, iso));
    if (state.pendingSeen === undefined) delete state.pendingSeen;
    if (state.bootSeconds === undefined) delete state.bootSeconds;
    const boot = state.bootSeconds ?? DEFAULT_BOOT_SECONDS;
    if (input.work !== undefined) Object.assign(state, learnJobSeconds(state, input.work, iso));
    for (const key of ['jobSeconds', 'jobSecondsFrom', 'workReadAt'] as const) if (state[key] === undefined) delete state[key];
    const secondsPerJob = state.jobSeconds ?? s.secondsPerJob;
    const queueAgeSeconds = visible > 0 ? Math.floor(seconds(state.queuedSince, at)) : 0;
    const sizing = serviceNeed({
      visible,
      inFlight,
      slotsPerInstance: s.slotsPerInstance,
      secondsPerJob,
      acceptableWait: s.acceptableWait,
      bootSeconds: boot,
      idleReceiveDelay: s.idleReceiveDelay,
    });
    const slots = groups.reduce((n, g) => n + supply(g), 0) * s.slotsPerInstance;
    const late = trackLate(state, { visible, inFlight, slots, secondsPerJob, acceptableWait: s.acceptableWait }, at, iso);
    delete state.lateJobs;
    delete state.lateQueued;
    delete state.lateAt;
    for (const [key, value] of Object.entries(late)) if (value !== undefined) Object.assign(state, { [key]: value });
    const hold = holdDownSeconds(boot);
    state.needLog = trackNeed(state.needLog, sizing.need, at, iso, hold);
    service = {
      secondsPerJob,
      secondsPerJobSource: state.jobSeconds !== undefined ? 'learned' : 'setting',
      bootSeconds: boot,
      queueAgeSeconds,
      waitBudget: Math.floor(sizing.budget),
      startable: sizing.startable,
      unreactiveSeconds: Math.ceil(sizing.unreactive),
      headroom: sizing.headroom,
      need: sizing.need,
      holdDownSeconds: hold,
      held: heldNeed(state.needLog),
      lateJobs: Math.floor(lateJobsAt(state, at)),
      lateAllowance: Math.floor(lateAllowance(state)),
    };
  } else {
    delete state.needLog;
    delete state.pendingSeen;
    delete state.jobSeconds;
    delete state.jobSecondsFrom;
    delete state.workReadAt;
    delete state.lateJobs;
    delete state.lateQueued;
    delete state.lateAt;
  }

  // Current capacity: the total this function decided last, while the groups are as it left them. Otherwise
  // (first run, or someone else changed a group) an estimate: the split gives the on-demand group only what the
  // spot group's max cannot hold (overflow) and cover for the spot group's shortfall, and cover is not extra
  // capacity. So below the spot max every on-demand instance counts as cover (or as someone else's stand-in,
  // such as an interruption's), and at the max the on-demand instances beyond the spot shortfall as overflow.
  let current: number;
  if (state.total !== undefined && !changedByOthers) current = state.total;
  else if (!spot) current = onDemand?.desired ?? 0;
  else if (spot.desired < spot.max || !onDemand) current = spot.desired;
  else current = spot.desired + Math.max(0, onDemand.desired - Math.max(0, spot.desired - supply(spot)));

  // Running capacity may leave once scaleInCooldown has passed since the last scale-in, scale-out or change by
  // someone else.
  const cooldownFrom = [state.lastScaleInAt, state.lastScaleOutAt, state.externalChangeAt]
    .filter((t): t is string => t !== undefined)
    .reduce<string | undefined>((a, b) => (a === undefined ? b : later(a, b)), undefined);
  const scaleInWait = Math.max(0, Math.ceil(s.scaleInCooldown - seconds(cooldownFrom, at)));
  const externalWait = Math.max(0, Math.ceil(s.scaleInCooldown - seconds(state.externalChangeAt, at)));

  // Policy.
  let wanted: number;
  let why: string;
  let stepOut = false;
  let stepIn = false;
  if (policy === 'service') {
    const f = service!;
    wanted = f.held;
    why =
      `${visible} visible, ${inFlight} in flight: the busy slots start ${f.startable} within ${f.waitBudget}s ` +
      `(acceptableWait ${s.acceptableWait}s - a tick - a boot of ${f.bootSeconds}s - the idle receive delay ${s.idleReceiveDelay}s; ${f.secondsPerJobSource === 'learned' ? `jobs take ${f.secondsPerJob}s, learned from the queue` : `secondsPerJob ${f.secondsPerJob}s`}; queue age ${f.queueAgeSeconds}s)` +
      (f.headroom > 0
        ? `; the farm takes ${f.unreactiveSeconds}s longer than acceptableWait to bring capacity up, so ${f.headroom} free slot(s) are held for the jobs that arrive meanwhile (the busy slots' rate, ${inFlight} / ${f.secondsPerJob}s, to the 95th percentile of its count)`
        : '') +
      `, so ${f.need} instance(s) of ${s.slotsPerInstance} slots; ${f.held} the most of the last ${f.holdDownSeconds}s`;
  } else if (policy === 'target') {
    wanted = Math.ceil(backlog / targetBacklogPerInstance);
    why = `backlog ${backlog} at ${round(targetBacklogPerInstance)} per instance needs ${wanted}`;
  } else {
    // Both in ALARM means one transition out of it was lost or is late: the newer alarm speaks for now.
    const inAlarm = (d: AlarmDirection) => (state.alarms[d]?.value === 'ALARM' ? Date.parse(state.alarms[d]!.since) : -Infinity);
    const high = inAlarm('high') > -Infinity && inAlarm('high') >= inAlarm('low');
    const low = !high && inAlarm('low') > -Infinity;
    const stepWait = s.scaleInCooldown - seconds(state.lastStepOutAt, at);
    if (high && stepWait <= 0) {
      const add = Math.max(1, Math.floor((current * s.scaleOutPercent) / 100));
      wanted = current + add;
      stepOut = true;
      why = `backlog-high alarm: +${s.scaleOutPercent}% of ${current} = +${add}`;
    } else if (high) {
      wanted = current;
      why = `backlog-high alarm: next +${s.scaleOutPercent}% in ${Math.ceil(stepWait)}s (scaleInCooldown)`;
    } else if (low && scaleInWait === 0) {
      wanted = current - s.scaleInStep;
      stepIn = true;
      why = `backlog-low alarm: -${s.scaleInStep}`;
    } else if (low) {
      // The -scaleInStep waits for the cooldown here, not only in the apply step, so the farm's total follows
      // what its groups actually do.
      wanted = current;
      why = `backlog-low alarm: next -${s.scaleInStep} in ${scaleInWait}s (scaleInCooldown)`;
    } else if (!state.alarms.high && !state.alarms.low) {
      // Not one transition of either alarm ever reached this farm: most likely the stack has none (the stack
      // param backlogAlarms is false by default, the other policies do not need them). Say so, not just "hold".
      wanted = current;
      why = 'no backlog alarm state seen yet: hold (the step policy acts on the backlog alarms; deploy the stack with backlogAlarms=true)';
    } else {
      wanted = current;
      why = 'no backlog alarm in ALARM: hold';
    }
  }
  if (backlog > 0 && wanted < 1) {
    wanted = 1;
    why += '; visible work needs at least one instance';
  }

  // Floors on the way down, then the farm's bounds.
  const inFlightFloor = Math.ceil(inFlight / s.slotsPerInstance);
  let total = wanted;
  if (total < current) {
    const floor = Math.max(inFlightFloor, idleLongEnough ? 0 : 1);
    if (total < Math.min(current, floor)) {
      total = Math.min(current, floor);
      why +=
        inFlightFloor >= 1 && total === Math.min(current, inFlightFloor)
          ? `; in-flight work (${inFlight} messages, ${s.slotsPerInstance} per instance) needs ${inFlightFloor}`
          : `; queue idle ${Math.floor(idleSeconds)}s of idleMinutes ${s.idleMinutes}m: keep one`;
    }
  }
  const minTotal = groups.reduce((n, g) => n + g.min, 0);
  const maxTotal = groups.reduce((n, g) => n + g.max, 0);
  if (total !== clamp(total, minTotal, maxTotal)) {
    total = clamp(total, minTotal, maxTotal);
    why += `; farm bounds [${minTotal}, ${maxTotal}] give ${total}`;
  }

  // Split.
  // The on-demand group's min instances always run, so they count toward the total before the spot group's share.
  const wantedSpot = spot ? clamp(Math.min(total - (onDemand?.min ?? 0), spot.max), spot.min, spot.max) : 0;
  // Fallen back through the on-demand group: the spot group would still launch spot, so it keeps what it has
  // (no new launch, no replacement) and the on-demand group takes the rest at once, as overflow.
  const throughOnDemand = spot && onDemand && input.spotMarket === 'on-demand' && input.spotFallback === 'on-demand-group';
  const spotShare = spot && throughOnDemand ? clamp(Math.min(wantedSpot, supply(spot)), spot.min, spot.max) : wantedSpot;
  const overflow = Math.max(0, total - (spot ? spotShare : 0));
  // Only instances the group was already asked for and does not have: the ones asked for now get a tick to appear.
  const shortfall = spot ? Math.max(0, Math.min(spotShare, spot.desired) - supply(spot)) : 0;
  const parts = trackShortfall(state.shortfall ?? [], shortfall, iso);
  state.shortfall = parts.length > 0 ? parts : undefined;
  const shortfallSeconds = parts.length > 0 ? seconds(parts[0]!.since, at) : 0;
  let newCover = onDemand ? parts.filter((p) => seconds(p.since, at) >= s.fallbackDelay).reduce((n, p) => n + p.amount, 0) : 0;
  // Service policy: the cover waits while the jobs the p95 lets be late are enough (src/capacity/service.ts,
  // lateAllowance); a spot shortfall the farm can wait out costs no on-demand premium.
  const lateNow = service ? lateJobsAt(state, at) : 0;
  const allowance = service ? lateAllowance(state) : 0;
  const coverWaits = service !== undefined && newCover > 0 && lateNow < allowance;
  if (coverWaits) newCover = 0;
  // Cover already running stays until the spot instances that replace it are in service, not merely pending:
  // capacity never dips while they boot.
  const booting = spot ? Math.max(0, Math.min(spotShare, spot.desired) - spot.inService) : 0;
  const heldCover = onDemand ? Math.min(booting, Math.max(0, onDemand.desired - overflow)) : 0;
  const cover = Math.max(newCover, heldCover);
  const onDemandShare = onDemand ? clamp(overflow + cover, onDemand.min, onDemand.max) : 0;

  // Apply.
  let budget = scaleInWait === 0 ? s.scaleInStep : 0;
  const summary = `${input.farm}: ${why}; total ${total}`;
  const figures: CapacityFigures = {
    farm: input.farm,
    policy,
    visible,
    inFlight,
    delayed,
    backlog,
    targetBacklogPerInstance: round(targetBacklogPerInstance),
    backlogPerInstance: round(running > 0 ? backlog / running : backlog),
    current,
    wanted,
    total,
    inFlightFloor,
    idleSeconds: Number.isFinite(idleSeconds) ? Math.floor(idleSeconds) : 0,
    shortfall,
    shortfallSeconds: Math.floor(shortfallSeconds),
    cover,
    overflow,
    spotMarket: input.spotMarket,
    scaleInWait,
    ...(service ? { service } : {}),
  };

  const plans: { group: CapacityGroup; share: number; role: string }[] = [];
  // The on-demand group takes the scale-in budget first: it is the first to shrink.
  if (onDemand) plans.push({ group: onDemand, share: onDemandShare, role: 'on-demand' });
  if (spot) plans.push({ group: spot, share: spotShare, role: 'spot' });
  // While any group grows, no running instance is let go: a hand-over from one group to the other waits for
  // the next tick after a cooldown, so capacity never dips while the new instances boot.
  const growing = plans.some((p) => p.share > p.group.desired);
  if (growing) budget = 0;
  const actions: Action[] = [];
  let scaledOut = false;
  let scaledIn = false;
  for (const { group: g, share, role } of plans) {
    const shareWhy =
      role === 'spot'
        ? `spot group's share ${share}${input.spotMarket === 'on-demand' ? (throughOnDemand ? ' (fallen back through the on-demand group: it keeps what runs)' : ' (the market controller has it on on-demand)') : ''}`
        : `on-demand share ${share} = overflow ${overflow} + cover ${cover}${
            shortfall > cover
              ? coverWaits
                ? ` (spot shortfall ${shortfall}, oldest part ${Math.floor(shortfallSeconds)}s old: waited out, ${Math.floor(lateNow)} late job(s) of the ${Math.floor(allowance)} the p95 allows a day)`
                : ` (spot shortfall ${shortfall}, oldest part ${Math.floor(shortfallSeconds)}s old; ${shortfall - cover} not yet fallbackDelay ${s.fallbackDelay}s old)`
              : ''
          }`;
    let to = g.desired;
    let reason: string;
    if (share > g.desired) {
      to = share;
      scaledOut = true;
      reason = `scale out at once: ${summary}; ${shareWhy}`;
    } else if (share < g.desired) {
      const unlaunched = Math.min(g.desired - share, Math.max(0, g.desired - supply(g)));
      // `service`: all of it (Auto Scaling takes only unprotected instances), except that a group with instances
      // still booting keeps them: they are unprotected too, and Auto Scaling could pick them (a boot paid for
      // nothing), so it lets go of its idle ones only. A change someone else made holds running capacity for
      // scaleInCooldown: the scaler never fights another writer. The others: the farm's scaleInStep.
      const allowed =
        policy === 'service'
          ? growing || externalWait > 0
            ? 0
            : g.pending > 0
              ? Math.min(g.idle ?? 0, Math.max(0, g.desired - g.pending - (g.inService - (g.idle ?? 0)) - unlaunched))
              : Infinity
          : budget;
      const paid = Math.min(g.desired - share - unlaunched, allowed);
      if (policy !== 'service') budget -= paid;
      to = g.desired - unlaunched - paid;
      if (paid > 0) scaledIn = true;
      const parts: string[] = [];
      if (unlaunched > 0) parts.push(`withdraw ${unlaunched} never launched`);
      if (paid > 0) {
        parts.push(
          policy === 'service'
            ? `scale in by ${paid} (Auto Scaling removes only unprotected instances: each busy one leaves when its last job ends)`
            : `scale in by ${paid} (scaleInStep ${s.scaleInStep} per scaleInCooldown, on-demand first)`,
        );
      }
      if (to > share) {
        parts.push(
          growing
            ? `hold ${to - share} more: the farm is scaling out`
            : policy === 'service'
              ? externalWait > 0
                ? `hold ${to - share} more: a change someone else made ${Math.floor(seconds(state.externalChangeAt, at))}s ago holds it for scaleInCooldown`
                : `hold ${to - share} more: ${g.pending} instance(s) booting, so only idle ones leave`
              : scaleInWait > 0
              ? `hold ${to - share} more: scale-in cooldown ${scaleInWait}s left`
                : `hold ${to - share} more: this tick's scale-in step is used`,
        );
      }
      reason = `${parts.join('; ')}: ${summary}; ${shareWhy}`;
    } else {
      reason = `no change: ${summary}; ${shareWhy}`;
    }
    // The farm's figures ride along whole (not spread: this runs per group, and copying ~20 fields dominated the
    // decision's cost in bench/queue-scaler.ts).
    const groupFigures = { role, min: g.min, max: g.max, desired: g.desired, inService: g.inService, pending: g.pending, share, capacity: figures };
    actions.push(
      to === g.desired
        ? skip(g.name, reason, groupFigures)
        : { kind: 'setDesiredCapacity', asgName: g.name, reason, from: g.desired, to: clamp(to, g.min, g.max), figures: groupFigures },
    );
    state.desired[g.name] = clamp(to, g.min, g.max);
  }
  // Capacity comes up spot first; it goes down on-demand first (the order the plans were made in).
  if (actions.length === 2 && actions.every((a) => a.kind !== 'setDesiredCapacity' || a.to > a.from)) actions.reverse();

  state.total = total;
  if (scaledOut) state.lastScaleOutAt = later(state.lastScaleOutAt, iso);
  if (scaledIn) state.lastScaleInAt = later(state.lastScaleInAt, iso);
  if (stepOut && total > current) state.lastStepOutAt = later(state.lastStepOutAt, iso);
  // A step down is taken from the farm's total even when no group can shrink yet (the on-demand cover stays
  // until the spot instances replacing it are in service): it is this cooldown's step, so the same event
  // delivered again, or the next tick within scaleInCooldown, does not take another.
  if (stepIn && total < current) state.lastScaleInAt = later(state.lastScaleInAt, iso);

  return { actions, state, figures, summary };
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** Whether two states differ (the state is written only when it does). */
export function capacityStateChanged(a: CapacityState, b: CapacityState): boolean {
  return JSON.stringify(normalise(a)) !== JSON.stringify(normalise(b));
}

function normalise(state: CapacityState): unknown {
  const sortKeys = (o: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined).sort(([x], [y]) => x.localeCompare(y)));
  return sortKeys({ ...state, alarms: sortKeys(state.alarms), desired: sortKeys(state.desired) });
}
