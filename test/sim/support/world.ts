/** Builds worlds and groups for unit tests, through the same API functions the SDK routes to. */
import * as asg from '../../../sim/cloud/autoscaling-api';
import * as ec2 from '../../../sim/cloud/ec2-api';
import { World, type WorkerKind } from '../../../sim/cloud/world';
import type { Scenario } from '../../../sim/scenario';

export function world(scenario: Scenario, workers: WorkerKind = 'agent'): World {
  return new World(scenario, { workers, horizon: scenario.start + scenario.duration + scenario.drainLimit });
}

/** A launch-template group; `spot` chooses the template's market. Returns the group's name. */
export function group(
  w: World,
  o: { name?: string; spot?: boolean; min?: number; max?: number; desired?: number; workers?: WorkerKind; capacityRebalance?: boolean; maxPrice?: string } = {},
): string {
  const name = o.name ?? 'g';
  const lt = ec2.createLaunchTemplate(w, {
    LaunchTemplateName: `${name}-lt`,
    LaunchTemplateData: {
      ImageId: 'ami-1',
      InstanceType: 'c3.xlarge',
      ...(o.spot === false
        ? {}
        : { InstanceMarketOptions: { MarketType: 'spot', SpotOptions: o.maxPrice ? { MaxPrice: o.maxPrice } : {} } }),
    },
  });
  asg.createAutoScalingGroup(w, {
    AutoScalingGroupName: name,
    MinSize: o.min ?? 0,
    MaxSize: o.max ?? 10,
    DesiredCapacity: o.desired ?? 0,
    LaunchTemplate: { LaunchTemplateId: lt.LaunchTemplate!.LaunchTemplateId!, Version: '1' },
    CapacityRebalance: o.capacityRebalance ?? false,
  });
  if (o.workers) w.groupWorkers.set(name, o.workers);
  return name;
}

export function alive(w: World, groupName?: string) {
  return [...w.instances.values()].filter((i) => i.ec2State !== 'terminated' && (!groupName || i.groupName === groupName));
}
