/**
 * Auto Scaling groups: their launch sources and the market they launch in, the reconcile loop that launches or
 * terminates to match desired capacity (AZ balancing, spot pool choice, capacity failures and retries), the
 * default termination policy on scale-in, health-check replacement of dead members, and the scaling activities
 * all of that records.
 */
import { awsError } from './errors';
import { templateData } from './launch-templates';
import { ACCOUNT_ID, type Activity, type Group, type Instance, type LaunchTemplateRef, type MarketKind } from './resources';
import type { World } from './world';

/** How long Auto Scaling takes to act on a change of desired capacity. */
export const ASG_ACTION_DELAY_SECONDS = 2;
/** How long Auto Scaling waits before retrying launches that failed for capacity. */
export const LAUNCH_RETRY_SECONDS = 60;
/**
 * Mixed-instances groups: the share of desired capacity Auto Scaling replaces at once to reach a new
 * On-Demand/Spot mix (at least one instance). AWS documents that the replacement is gradual and launches before it
 * terminates, not its pace; this is the pace it documents for its other replacements: maximum instance lifetime
 * "replaces instances one at a time ... by up to 10 percent of the current capacity", and AZ rebalancing may exceed
 * the maximum "by a 10% margin" while it launches first (EC2 Auto Scaling user guide, "Replacing Auto Scaling
 * instances based on maximum instance lifetime"; "Rebalancing activities").
 */
export const MIX_REPLACEMENT_SHARE = 0.1;
/** Scaling activities kept per group (AWS keeps six weeks; the handlers read the recent ones). */
const MAX_ACTIVITIES = 500;

/** What CreateAutoScalingGroup sets; the rest of a Group is the simulator's bookkeeping. */
export type GroupSettings = Omit<Group, 'arn' | 'members' | 'activities' | 'reconcileAt' | 'retryAfter' | 'lastScalingAt' | 'market' | 'createdTime'>;

/** A group's launch source, resolved: instance types, market, max price, and what instances record. */
interface LaunchSource {
  types: string[];
  market: MarketKind;
  maxPrice?: number;
  ref: Partial<Instance>;
  /** EC2 refuses every launch from this source, with this message (the launch fails in every AZ). */
  refusal?: string;
  /** A mixed-instances policy: its failed launches name the market ("Could not launch On-Demand Instances. ..."). */
  mixed?: boolean;
}

/**
 * How a mixed-instances group words a failed on-demand launch: "Could not launch On-Demand Instances. <code> -
 * <EC2's message>" (EC2 Auto Scaling user guide, "Troubleshoot Amazon EC2 Auto Scaling: EC2 instance launch
 * failures"); a group of one launch source gives EC2's message alone.
 */
export function onDemandFailureMessage(mixed: boolean, message: string): string {
  return mixed ? `Could not launch On-Demand Instances. InsufficientInstanceCapacity - ${message}` : message;
}

/**
 * EC2's refusal of an on-demand launch whose template tags spot instance requests (RunInstances with
 * TagSpecifications of ResourceType spot-instances-request and no InstanceMarketOptions); Auto Scaling records it
 * as a failed launch activity, as it does capacity failures.
 */
export const SPOT_REQUEST_TAGS_REFUSAL =
  'You cannot specify tags for Spot instances requests if there are no Spot instances requests being created. Launching EC2 instance failed.';

/** Where and how the next instance launches. */
interface Placement {
  type: string;
  az: string;
  market: MarketKind;
  maxPrice: number;
  ref: Partial<Instance>;
}

export class AutoScaling {
  constructor(private readonly world: World) {}

  groupOrThrow(name: string | undefined): Group {
    const group = name ? this.world.groups.get(name) : undefined;
    if (!group) throw awsError('autoscaling', 'ValidationError', `AutoScalingGroup name not found - AutoScalingGroup ${name} not found`);
    return group;
  }

  createGroup(g: GroupSettings): Group {
    const world = this.world;
    if (world.groups.has(g.name)) {
      throw awsError('autoscaling', 'AlreadyExistsFault', `AutoScalingGroup by this name already exists - A group with the name ${g.name} already exists`);
    }
    const group: Group = {
      ...g,
      arn: `arn:aws:autoscaling:${world.scenario.region}:${ACCOUNT_ID}:autoScalingGroup:${world.newId('', 8)}-sim:autoScalingGroupName/${g.name}`,
      members: new Set(),
      activities: [],
      reconcileAt: Infinity,
      retryAfter: -Infinity,
      lastScalingAt: -Infinity,
      market: 'spot',
      createdTime: world.now,
    };
    group.market = this.groupMarket(group);
    world.groups.set(group.name, group);
    this.requestReconcile(group);
    return group;
  }

  /** The market the group's launch source asks for now. */
  groupMarket(group: Group): MarketKind {
    if (group.launchConfigurationName !== undefined) {
      const lc = this.world.launchConfigurations.get(group.launchConfigurationName);
      return lc?.SpotPrice ? 'spot' : 'on-demand';
    }
    if (group.launchTemplate) {
      const data = templateData(this.world.launchTemplates, group.launchTemplate);
      return data?.InstanceMarketOptions?.MarketType === 'spot' ? 'spot' : 'on-demand';
    }
    if (group.mixedInstancesPolicy) {
      const d = group.mixedInstancesPolicy.InstancesDistribution ?? {};
      return (d.OnDemandPercentageAboveBaseCapacity ?? 100) >= 100 ? 'on-demand' : 'spot';
    }
    return 'on-demand';
  }

  /** Called after any change to a launch source: counts a swap when the group's market flips. */
  noteLaunchSourceChange(): void {
    const world = this.world;
    for (const group of world.groups.values()) {
      const market = this.groupMarket(group);
      if (market !== group.market) {
        group.market = market;
        world.swaps++;
        world.marks.push({
          t: world.now,
          kind: market === 'on-demand' ? 'swap-to-on-demand' : 'swap-to-spot',
          detail: `${group.name} now launches ${market} instances`,
        });
      }
    }
  }

  /** Instances that count toward the group's desired capacity. */
  countToward(group: Group): number {
    let n = 0;
    for (const m of group.members) if ((m.lifecycle === 'Pending' || m.lifecycle === 'InService') && !m.replaced && !m.retiring) n++;
    return n;
  }

  requestReconcile(group: Group, delay = ASG_ACTION_DELAY_SECONDS): void {
    const world = this.world;
    const at = Math.max(world.now + delay, group.retryAfter);
    if (at >= group.reconcileAt) return;
    group.reconcileAt = at;
    world.at(at, () => {
      if (group.reconcileAt !== at) return;
      group.reconcileAt = Infinity;
      this.reconcile(group);
    });
  }

  private activity(group: Group, a: Partial<Activity> & { Description: string; Cause: string; StatusCode: Activity['StatusCode'] }): Activity {
    const world = this.world;
    const activity: Activity = {
      ActivityId: `${world.newId('', 8)}-sim-${world.idCount.toString(36)}`,
      AutoScalingGroupName: group.name,
      StartTime: world.now,
      EndTime: world.now,
      Progress: 100,
      ...a,
      Details: JSON.stringify({ 'Subnet ID': 'subnet-0sim', 'Availability Zone': a.Details ?? '' }),
    } as Activity;
    group.activities.push(activity);
    if (group.activities.length > MAX_ACTIVITIES) group.activities.splice(0, group.activities.length - MAX_ACTIVITIES);
    return activity;
  }

  /** Auto Scaling's own loop: launch or terminate to match desired capacity. */
  reconcile(group: Group): void {
    if (!this.world.groups.has(group.name)) return;
    const have = this.countToward(group);
    if (have !== group.desired) group.lastScalingAt = this.world.now;
    if (have < group.desired) this.launch(group, group.desired - have);
    else if (have > group.desired) this.scaleIn(group, have - group.desired);
    else if (group.mixedInstancesPolicy) this.rebalanceMix(group);
  }

  /**
   * A mixed-instances group whose running mix is not the policy's (after a change of
   * OnDemandPercentageAboveBaseCapacity or OnDemandBaseCapacity) has its instances replaced until it is:
   * "existing instances may be replaced to match the new purchasing options ... half of your instances will be
   * gradually terminated and relaunched as Spot Instances. When replacing instances, Amazon EC2 Auto Scaling
   * launches new instances before terminating the old ones" (UpdateAutoScalingGroup, EC2 Auto Scaling API
   * reference); "An update to this setting means a gradual replacement of instances to adjust the current
   * On-Demand and Spot Instance levels" (AWS::AutoScaling::AutoScalingGroup InstancesDistribution,
   * OnDemandPercentageAboveBaseCapacity, CloudFormation user guide).
   *
   * Modelled: up to MIX_REPLACEMENT_SHARE of desired (at least one) InService instances of the market in excess at
   * a time stop counting toward desired (retiring), so the group launches their replacements in the market it
   * lacks; each is terminated once the group has desired capacity in service again (launch before terminate),
   * then the next batch starts. Its jobs are handed back or lost as with any termination (the agent gets SIGTERM).
   * Assumed, as AWS does not say: instances protected from scale in are not chosen. The user guide lists what
   * scale-in protection does not protect from (TerminateInstanceInAutoScalingGroup, TerminateInstances, health
   * check replacement, Spot interruptions: "Use instance scale-in protection"), and the mix replacement is not
   * among them; maximum instance lifetime, AWS's other gradual replacement, is held back by it ("Add extra time
   * between certain replacements by using instance protection"). A protected instance is replaced once its
   * protection is removed (SetInstanceProtection reconciles).
   */
  private rebalanceMix(group: Group): void {
    const n = group.desired;
    const wantOnDemand = this.wantOnDemand(group);
    const counted = [...group.members].filter((m) => (m.lifecycle === 'Pending' || m.lifecycle === 'InService') && !m.replaced && !m.retiring);
    const onDemand = counted.filter((m) => m.market === 'on-demand').length;
    if (onDemand === wantOnDemand) return;
    const excess: MarketKind = onDemand > wantOnDemand ? 'on-demand' : 'spot';
    const off = Math.abs(onDemand - wantOnDemand);
    const retiring = [...group.members].filter((m) => m.retiring && m.lifecycle === 'InService').length;
    const room = Math.min(off, Math.max(1, Math.floor(n * MIX_REPLACEMENT_SHARE)) - retiring);
    if (room <= 0) return;
    const perAz = new Map<string, number>();
    for (const m of counted) perAz.set(m.az, (perAz.get(m.az) ?? 0) + 1);
    // By the termination policy's first rule: the fullest AZ first (then a stable stand-in for "random").
    const candidates = counted
      .filter((m) => m.market === excess && m.lifecycle === 'InService' && !m.protected)
      .sort((a, b) => perAz.get(b.az)! - perAz.get(a.az)! || tieBreak(a.id) - tieBreak(b.id))
      .slice(0, room);
    if (candidates.length === 0) return;
    for (const m of candidates) m.retiring = true;
    this.launch(group, candidates.length);
    this.world.at(this.world.now + this.world.scenario.farm.bootSeconds, () => this.retire(group, candidates));
  }

  /** On-demand instances a mixed-instances group's policy asks for at its desired capacity. */
  private wantOnDemand(group: Group): number {
    const d = group.mixedInstancesPolicy?.InstancesDistribution ?? {};
    const base = d.OnDemandBaseCapacity ?? 0;
    const pct = d.OnDemandPercentageAboveBaseCapacity ?? 100;
    const n = group.desired;
    return Math.min(n, base) + Math.ceil((Math.max(0, n - base) * pct) / 100);
  }

  /** A mixed-instances group whose counted instances are not the policy's On-Demand/Spot mix (rebalanceMix). */
  mixOff(group: Group): boolean {
    if (!group.mixedInstancesPolicy) return false;
    let onDemand = 0;
    for (const m of group.members) if ((m.lifecycle === 'Pending' || m.lifecycle === 'InService') && !m.replaced && !m.retiring && m.market === 'on-demand') onDemand++;
    return onDemand !== this.wantOnDemand(group);
  }

  /** Terminates retiring instances once the group has its desired capacity in service again; else waits. */
  private retire(group: Group, instances: Instance[]): void {
    const world = this.world;
    const left = instances.filter((m) => m.group === group && m.retiring && m.ec2State !== 'terminated');
    if (left.length === 0 || !world.groups.has(group.name)) return;
    let inService = 0;
    for (const m of group.members) if (m.lifecycle === 'InService' && !m.replaced && !m.retiring) inService++;
    const ready = Math.min(left.length, inService - (group.desired - left.length));
    for (const m of left.slice(0, Math.max(0, ready))) {
      world.mixReplacements++;
      world.mixReplacementJobs += m.running.size;
      this.terminateByGroup(m, 'mix-replacement', 'an instance was taken out of service in response to a difference between the desired On-Demand and Spot mix and the running instances.');
    }
    const waiting = left.slice(Math.max(0, ready));
    if (waiting.length > 0) world.at(world.now + LAUNCH_RETRY_SECONDS, () => this.retire(group, waiting));
    else this.requestReconcile(group);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Launching.

  private launch(group: Group, count: number): void {
    const failedAz = new Set<string>();
    for (let i = 0; i < count; i++) {
      const placement = this.choosePlacement(group, failedAz);
      if (!placement) {
        // Every AZ failed: Auto Scaling keeps retrying on its own.
        group.retryAfter = this.world.now + LAUNCH_RETRY_SECONDS;
        this.requestReconcile(group, LAUNCH_RETRY_SECONDS);
        return;
      }
      this.startInstance(group, placement);
    }
  }

  /** Where the next instance goes: the AZ with fewest instances that has capacity (balance across AZs). */
  private choosePlacement(group: Group, failedAz: Set<string>): Placement | null {
    const world = this.world;
    const source = this.launchSource(group);
    if (!source) return null;
    const perAz = new Map<string, number>();
    for (const az of group.availabilityZones) perAz.set(az, 0);
    for (const m of group.members) {
      if ((m.lifecycle === 'Pending' || m.lifecycle === 'InService') && !m.retiring) perAz.set(m.az, (perAz.get(m.az) ?? 0) + 1);
    }
    const azs = group.availabilityZones.filter((az) => !failedAz.has(az)).sort((a, b) => perAz.get(a)! - perAz.get(b)!);
    if (source.refusal && azs.length) {
      for (const az of azs) failedAz.add(az);
      this.launchFailed(group, azs[0]!, source.refusal);
      return null;
    }
    for (const az of azs) {
      if (source.market === 'on-demand') {
        // On-demand: the first type (prioritized) with capacity in the AZ; an on-demand storm leaves none.
        const problems: string[] = [];
        for (const type of source.types) {
          const problem = world.spotInterruptions.onDemandLaunchProblem(type, az);
          if (!problem) return { type, az, market: 'on-demand', maxPrice: Infinity, ref: source.ref };
          problems.push(problem);
        }
        failedAz.add(az);
        this.launchFailed(group, az, onDemandFailureMessage(!!source.mixed, problems[0]!));
        continue;
      }
      // Spot: the cheapest of the group's types that has capacity and a price at or under the max price
      // (price-capacity-optimized, simplified to price among available pools).
      const candidates = source.types
        .map((type) => ({ type, price: world.market.spotPrice(type, az, world.now), max: source.maxPrice ?? world.market.onDemandPrice(type) }))
        .sort((a, b) => a.price - b.price);
      const failures: string[] = [];
      for (const c of candidates) {
        const reason = world.spotInterruptions.launchProblem(c.type, az, c.price, c.max);
        if (!reason) return { type: c.type, az, market: 'spot', maxPrice: c.max, ref: source.ref };
        failures.push(reason);
      }
      failedAz.add(az);
      this.launchFailed(group, az, failures[0]!);
    }
    return null;
  }

  private launchFailed(group: Group, az: string, message: string): void {
    const world = this.world;
    world.launchFailures++;
    const activity = this.activity(group, {
      Description: `Launching a new EC2 instance.  Status Reason: ${message}`,
      Cause: `At ${new Date(world.now * 1000).toISOString()} an instance was started in response to a difference between desired and actual capacity, increasing the capacity from ${this.countToward(group)} to ${group.desired}.`,
      StatusCode: 'Failed',
      StatusMessage: message,
      Progress: 100,
      Details: az,
    });
    world.marks.push({ t: world.now, kind: 'capacity-failure', detail: `${group.name} in ${az}: ${message.slice(0, 80)}` });
    world.hooks.onLaunchFailed?.(group, activity);
  }

  /** The group's launch source, resolved: instance types, market, max price, and what instances record. */
  private launchSource(group: Group): LaunchSource | null {
    const templates = this.world.launchTemplates;
    if (group.launchConfigurationName !== undefined) {
      const lc = this.world.launchConfigurations.get(group.launchConfigurationName);
      if (!lc?.InstanceType) return null;
      return {
        types: [lc.InstanceType],
        market: lc.SpotPrice ? 'spot' : 'on-demand',
        ...(lc.SpotPrice ? { maxPrice: Number(lc.SpotPrice) } : {}),
        ref: { launchConfigurationName: lc.LaunchConfigurationName },
      };
    }
    if (group.launchTemplate) {
      const data = templateData(templates, group.launchTemplate);
      if (!data?.InstanceType) return null;
      const spot = data.InstanceMarketOptions?.MarketType === 'spot';
      const max = data.InstanceMarketOptions?.SpotOptions?.MaxPrice;
      const tagsSpotRequests = (data.TagSpecifications ?? []).some((t) => t.ResourceType === 'spot-instances-request');
      return {
        types: [data.InstanceType],
        market: spot ? 'spot' : 'on-demand',
        ...(spot && max ? { maxPrice: Number(max) } : {}),
        ref: { launchTemplate: { ...group.launchTemplate } },
        ...(!spot && tagsSpotRequests ? { refusal: SPOT_REQUEST_TAGS_REFUSAL } : {}),
      };
    }
    const policy = group.mixedInstancesPolicy;
    if (policy) {
      const spec = policy.LaunchTemplate?.LaunchTemplateSpecification ?? {};
      const data = templateData(templates, spec as LaunchTemplateRef);
      const overrides = (policy.LaunchTemplate?.Overrides ?? []).map((o) => o.InstanceType).filter((t): t is string => !!t);
      const types = overrides.length ? overrides : data?.InstanceType ? [data.InstanceType] : [];
      if (!types.length) return null;
      const d = policy.InstancesDistribution ?? {};
      const base = d.OnDemandBaseCapacity ?? 0;
      const pct = d.OnDemandPercentageAboveBaseCapacity ?? 100;
      let onDemand = 0;
      for (const m of group.members) if ((m.lifecycle === 'Pending' || m.lifecycle === 'InService') && !m.replaced && !m.retiring && m.market === 'on-demand') onDemand++;
      const n = group.desired;
      const wantOnDemand = Math.min(n, base) + Math.ceil((Math.max(0, n - base) * pct) / 100);
      const market: MarketKind = onDemand < wantOnDemand ? 'on-demand' : 'spot';
      return {
        types,
        market,
        ...(d.SpotMaxPrice ? { maxPrice: Number(d.SpotMaxPrice) } : {}),
        ref: { launchTemplate: { ...(spec as LaunchTemplateRef) } },
        mixed: true,
      };
    }
    return null;
  }

  private startInstance(group: Group, p: Placement): Instance {
    const world = this.world;
    const workers = world.groupWorkers.get(group.name) ?? world.options.workers;
    const slots = world.scenario.farm.slotsPerInstance;
    const instance: Instance = {
      id: world.newId('i-'),
      type: p.type,
      az: p.az,
      market: p.market,
      maxPrice: p.maxPrice,
      groupName: group.name,
      group,
      ...p.ref,
      launchT: world.now,
      readyT: world.now + world.scenario.farm.bootSeconds,
      endT: Infinity,
      ec2State: 'pending',
      lifecycle: 'Pending',
      protected: group.newInstancesProtectedFromScaleIn,
      ordinal: 0,
      warnedAt: Infinity,
      interruptAt: Infinity,
      replaced: false,
      retiring: false,
      workers,
      slots,
      free: slots,
      accepting: false,
      running: new Set(),
      cost: 0,
      busyUsd: 0,
      reworkUsd: 0,
      tags: new Map(),
    };
    group.members.add(instance);
    this.activity(group, {
      Description: `Launching a new EC2 instance: ${instance.id}`,
      Cause: `At ${new Date(world.now * 1000).toISOString()} an instance was started in response to a difference between desired and actual capacity, increasing the capacity from ${this.countToward(group) - 1} to ${group.desired}.`,
      StatusCode: 'Successful',
      Details: instance.az,
    });
    world.ec2.run(instance);
    return instance;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Terminating.

  /**
   * Scale in `count` instances under the default termination policy; protected instances are never chosen.
   * Amazon EC2 Auto Scaling User Guide, "Configure termination policies" (how the default termination policy
   * works): it "first identifies which Availability Zone (or Zones) has the most instances and at least one
   * instance that is not protected from scale in", then, among that zone's unprotected instances, those on an
   * outdated configuration (a launch configuration, another launch template, an older version; here: a launch
   * source of the other market, e.g. on-demand instances after a return to spot), then the one closest to the
   * next billing hour, then one at random (a deterministic stand-in here). "Use instance scale-in protection":
   * protected instances are not terminated on scale in; with every instance protected the desired capacity still
   * drops, and the group terminates instances as their protection is removed (Workers.unprotect reconciles).
   */
  private scaleIn(group: Group, count: number): void {
    const target = group.market;
    const live = (m: Instance) => (m.lifecycle === 'Pending' || m.lifecycle === 'InService') && !m.replaced && !m.retiring;
    const candidates = [...group.members].filter((m) => live(m) && !m.protected);
    for (let i = 0; i < count && candidates.length > 0; i++) {
      const perAz = new Map<string, number>();
      for (const m of group.members) if (live(m)) perAz.set(m.az, (perAz.get(m.az) ?? 0) + 1);
      // Zones with an unprotected instance; the fullest of them first.
      const most = Math.max(...candidates.map((m) => perAz.get(m.az)!));
      const inZone = candidates.filter((m) => perAz.get(m.az) === most);
      inZone.sort((a, b) => {
        const am = a.market === target ? 1 : 0;
        const bm = b.market === target ? 1 : 0;
        if (am !== bm) return am - bm;
        return tieBreak(a.id) - tieBreak(b.id);
      });
      const victim = inZone[0]!;
      candidates.splice(candidates.indexOf(victim), 1);
      this.terminateByGroup(victim, 'scale-in', `an instance was taken out of service in response to a difference between desired and actual capacity, shrinking the capacity from ${this.countToward(group)} to ${group.desired}.`);
    }
  }

  /** Auto Scaling terminates a member (scale-in, TerminateInstanceInAutoScalingGroup, rebalancing). */
  terminateByGroup(instance: Instance, reason: string, cause: string): void {
    const world = this.world;
    const group = instance.group;
    if (group) {
      this.activity(group, {
        Description: `Terminating EC2 instance: ${instance.id}`,
        Cause: `At ${new Date(world.now * 1000).toISOString()} ${cause}`,
        StatusCode: 'Successful',
        Details: instance.az,
      });
      group.members.delete(instance);
      instance.group = null;
    }
    instance.lifecycle = 'Terminated';
    instance.terminatingWait = false;
    // The OS shuts down: the agent gets SIGTERM and hands back what it holds.
    world.workers.drain(instance, world.now);
    world.terminateEc2(instance, reason);
  }

  /** EC2 terminated an instance (interruption, TerminateInstances): its group lets it go or replaces it. */
  memberTerminated(instance: Instance): void {
    const world = this.world;
    const group = instance.group;
    if (!group || instance.lifecycle === 'Terminated') return;
    if (instance.replaced || instance.retiring || instance.lifecycle === 'Terminating') {
      group.members.delete(instance);
      instance.group = null;
      instance.lifecycle = 'Terminated';
    } else {
      // The group notices a dead member on its next health check and replaces it.
      world.at(world.now + world.scenario.farm.healthCheckDelay, () => {
        if (instance.group !== group) return;
        this.activity(group, {
          Description: `Terminating EC2 instance: ${instance.id}`,
          Cause: `At ${new Date(world.now * 1000).toISOString()} an instance was taken out of service in response to an EC2 health check indicating it has been terminated or stopped.`,
          StatusCode: 'Successful',
          Details: instance.az,
        });
        group.members.delete(instance);
        instance.group = null;
        instance.lifecycle = 'Terminated';
        this.requestReconcile(group);
      });
    }
  }
}

/** A stable hash of an instance id: the termination policy's deterministic stand-in for "random". */
function tieBreak(id: string): number {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (Math.imul(h, 31) + id.charCodeAt(i)) >>> 0;
  return h;
}
