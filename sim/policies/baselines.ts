/**
 * The baselines spotfarm is measured against. They are simulated directly (the AWS features they rely on are
 * part of the simulated cloud), on the same market, arrivals and interruption draws as spotfarm:
 *
 * - `on-demand-only`: one on-demand group, target tracking on backlog per instance.
 * - `recipe`: the classic recipe without its "dealing with spikes" part: one spot group (launch configuration with
 *   max price = on-demand), step alarms +50% / -1 (2 periods of 120 s; the CPU alarms are proxied by the backlog
 *   per slot: >= 80% / <= 20%), no fallback group, no interruption handling: a dead instance is replaced only when
 *   the group's health check notices it. Its workers are plain: no interruption awareness, no scale-in protection.
 * - `aws-native`: one group, 100% spot (mixed instances, price-capacity-optimized), Capacity Rebalancing on, target
 *   tracking on backlog per instance, no on-demand fall-back.
 */
import * as asg from '../cloud/autoscaling-api';
import * as ec2 from '../cloud/ec2-api';
import type { Group, World } from '../cloud/world';

export const TARGET_TRACKING = {
  /** Scale out after this many consecutive 1-minute datapoints above target (AWS: 3). */
  scaleOutDatapoints: 3,
  /** Scale in after this many consecutive 1-minute datapoints below 90% of target (AWS: 15). */
  scaleInDatapoints: 15,
  scaleInCooldown: 300,
};

/** The recipe's two alarm thresholds on backlog per slot; a sweep moves them with spotfarm's sizing (sim/frontier). */
export interface RecipeAlarms {
  high: number;
  low: number;
}

export const STEP_ALARMS = {
  periodSeconds: 120,
  evaluationPeriods: 2,
  high: 0.8,
  low: 0.2,
  scaleOutPercent: 50,
  scaleInStep: 1,
  cooldown: 300,
};

function inService(group: Group): number {
  let n = 0;
  for (const m of group.members) if (m.lifecycle === 'InService' && m.ec2State === 'running' && !m.replaced) n++;
  return n;
}

function setDesired(world: World, group: Group, desired: number): void {
  const clamped = Math.min(group.maxSize, Math.max(group.minSize, desired));
  if (clamped !== group.desired) asg.setDesiredCapacity(world, { AutoScalingGroupName: group.name, DesiredCapacity: clamped });
}

/**
 * AWS target tracking on the SQS "backlog per instance" metric (ApproximateNumberOfMessagesVisible / InService
 * instances, with the metric-math guard IF(m2 > 0, m1 / m2, m1)): new capacity = ceil(in service x metric / target),
 * scale out when the last 3 one-minute datapoints are above target, in (by the same formula) when the last 15 are
 * below 90% of it and the scale-in cooldown has passed. Pending instances count as capacity (warm-up), so it never
 * lowers desired on a scale-out.
 */
export function installTargetTracking(world: World, group: Group, target: number): void {
  const history: number[] = [];
  let lastScaleIn = -Infinity;
  const tick = () => {
    const n = inService(group);
    const visible = world.visible;
    const metric = n > 0 ? visible / n : visible;
    history.push(metric);
    if (history.length > TARGET_TRACKING.scaleInDatapoints) history.shift();
    const recent = history.slice(-TARGET_TRACKING.scaleOutDatapoints);
    if (recent.length === TARGET_TRACKING.scaleOutDatapoints && recent.every((m) => m > target)) {
      const want = Math.ceil(((n > 0 ? n : 1) * metric) / target);
      if (want > group.desired) setDesired(world, group, want);
    } else if (
      history.length === TARGET_TRACKING.scaleInDatapoints &&
      history.every((m) => m < 0.9 * target) &&
      world.now - lastScaleIn >= TARGET_TRACKING.scaleInCooldown
    ) {
      const want = Math.ceil((n * metric) / target);
      if (want < group.desired) {
        setDesired(world, group, want);
        lastScaleIn = world.now;
      }
    }
    world.at(world.now + 60, tick);
  };
  world.at(world.now + 60, tick);
}

/**
 * The recipe's simple scaling policies on two alarms of 2 periods of 120 s: +50% of capacity (at least 1) when the
 * backlog per slot is >= 80%, -1 when it is <= 20%; each waits for its activity (boot) and the 300 s cooldown.
 * An alarm in ALARM keeps invoking its policy every period, as CloudWatch does for Auto Scaling actions.
 */
export function installStepAlarms(world: World, group: Group, thresholds: RecipeAlarms = STEP_ALARMS): void {
  const slots = world.scenario.farm.slotsPerInstance;
  const high: boolean[] = [];
  const low: boolean[] = [];
  let cooldownUntil = -Infinity;
  const tick = () => {
    const n = inService(group);
    const backlog = world.backlog;
    const util = n > 0 ? backlog / (n * slots) : backlog > 0 ? Infinity : 0;
    high.push(util >= thresholds.high);
    low.push(n > 0 && util <= thresholds.low);
    if (high.length > STEP_ALARMS.evaluationPeriods) high.shift();
    if (low.length > STEP_ALARMS.evaluationPeriods) low.shift();
    const highAlarm = high.length === STEP_ALARMS.evaluationPeriods && high.every(Boolean);
    const lowAlarm = low.length === STEP_ALARMS.evaluationPeriods && low.every(Boolean);
    if (world.now >= cooldownUntil) {
      if (highAlarm && group.desired < group.maxSize) {
        // PercentChangeInCapacity: between 0 and 1 rounds to 1, above 1 rounds down.
        const add = Math.max(1, Math.floor((group.desired * STEP_ALARMS.scaleOutPercent) / 100));
        setDesired(world, group, group.desired + add);
        cooldownUntil = world.now + world.scenario.farm.bootSeconds + STEP_ALARMS.cooldown;
      } else if (lowAlarm && group.desired > group.minSize) {
        setDesired(world, group, group.desired - STEP_ALARMS.scaleInStep);
        cooldownUntil = world.now + STEP_ALARMS.cooldown;
      }
    }
    world.at(world.now + STEP_ALARMS.periodSeconds, tick);
  };
  world.at(world.now + STEP_ALARMS.periodSeconds, tick);
}

function baselineMax(world: World): number {
  return Math.max(world.scenario.farm.spot.max, world.scenario.farm.onDemand.max);
}

function imageData(world: World, spot: boolean) {
  return {
    ImageId: 'ami-0sim0000000000000',
    InstanceType: world.scenario.instanceTypes[0]! as never,
    ...(spot
      ? { InstanceMarketOptions: { MarketType: 'spot' as const, SpotOptions: { SpotInstanceType: 'one-time' as const, InstanceInterruptionBehavior: 'terminate' as const } } }
      : {}),
  };
}

export function setupOnDemandOnly(world: World): void {
  const lt = ec2.createLaunchTemplate(world, { LaunchTemplateName: 'baseline-on-demand', LaunchTemplateData: imageData(world, false) });
  const name = `${world.scenario.farm.name}-on-demand-only`;
  const min = world.scenario.baselines.minInstances;
  asg.createAutoScalingGroup(world, {
    AutoScalingGroupName: name,
    MinSize: min,
    MaxSize: baselineMax(world),
    DesiredCapacity: min,
    LaunchTemplate: { LaunchTemplateId: lt.LaunchTemplate!.LaunchTemplateId!, Version: '1' },
  });
  world.groupWorkers.set(name, 'agent');
  installTargetTracking(world, world.groups.get(name)!, world.scenario.baselines.targetBacklogPerInstance);
}

export function setupRecipe(world: World, alarms: RecipeAlarms = STEP_ALARMS): void {
  const od = world.market.onDemandPrice(world.scenario.instanceTypes[0]!);
  asg.createLaunchConfiguration(world, {
    LaunchConfigurationName: 'recipe-spot',
    ImageId: 'ami-0sim0000000000000',
    InstanceType: world.scenario.instanceTypes[0]!,
    SpotPrice: String(od),
  });
  const name = `${world.scenario.farm.name}-recipe`;
  // The recipe's group: min 1, max 50 (here the farm's max).
  asg.createAutoScalingGroup(world, {
    AutoScalingGroupName: name,
    MinSize: 1,
    MaxSize: baselineMax(world),
    DesiredCapacity: 1,
    LaunchConfigurationName: 'recipe-spot',
  });
  world.groupWorkers.set(name, 'plain');
  installStepAlarms(world, world.groups.get(name)!, alarms);
}

export function setupAwsNative(world: World): void {
  const lt = ec2.createLaunchTemplate(world, { LaunchTemplateName: 'baseline-mixed', LaunchTemplateData: imageData(world, false) });
  const name = `${world.scenario.farm.name}-aws-native`;
  const min = world.scenario.baselines.minInstances;
  asg.createAutoScalingGroup(world, {
    AutoScalingGroupName: name,
    MinSize: min,
    MaxSize: baselineMax(world),
    DesiredCapacity: min,
    CapacityRebalance: true,
    MixedInstancesPolicy: {
      LaunchTemplate: {
        LaunchTemplateSpecification: { LaunchTemplateId: lt.LaunchTemplate!.LaunchTemplateId!, Version: '1' },
        Overrides: world.scenario.instanceTypes.map((t) => ({ InstanceType: t })),
      },
      InstancesDistribution: {
        OnDemandBaseCapacity: 0,
        OnDemandPercentageAboveBaseCapacity: 0,
        SpotAllocationStrategy: 'price-capacity-optimized',
      },
    },
  });
  world.groupWorkers.set(name, 'agent');
  installTargetTracking(world, world.groups.get(name)!, world.scenario.baselines.targetBacklogPerInstance);
}
