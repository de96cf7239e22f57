/**
 * spotfarm's own view of the farm, free of SDK types: the wrappers in src/aws map AWS responses to these, and
 * everything else (decisions, plan, backtest) works on them.
 */

export type MarketStyle = 'launch-configuration' | 'launch-template' | 'mixed-instances';
export type Market = 'spot' | 'on-demand';

/** Where a group's new instances come from. */
export type LaunchSource =
  | { style: 'launch-configuration'; name: string }
  | { style: 'launch-template'; template: TemplateRef }
  | {
      style: 'mixed-instances';
      template: TemplateRef;
      /** Instance types from the policy's overrides (empty: the template's type). */
      overrideTypes: string[];
      /** The policy's overrides as Auto Scaling lists them (a dropped one is restored exactly as it was). */
      overrides?: MixedOverride[];
      onDemandBaseCapacity: number;
      onDemandPercentageAboveBaseCapacity: number;
      spotAllocationStrategy: string | undefined;
      /** The policy's SpotMaxPrice in USD/h (undefined: on-demand, the default). */
      spotMaxPrice?: number | undefined;
    }
  | { style: 'none' };

/** One override of a mixed-instances policy, in Auto Scaling's own shape (InstanceType, WeightedCapacity, ...). */
export type MixedOverride = { InstanceType?: string } & Record<string, unknown>;

export interface TemplateRef {
  id: string | undefined;
  name: string | undefined;
  /** As the group names it: a number, `$Latest` or `$Default`. */
  version: string;
}

export type LifecycleState = string;

export interface GroupInstance {
  id: string;
  type: string;
  availabilityZone: string;
  lifecycleState: LifecycleState;
  healthStatus: string;
  protectedFromScaleIn: boolean;
}

export interface GroupSnapshot {
  name: string;
  arn: string | undefined;
  min: number;
  max: number;
  desired: number;
  availabilityZones: string[];
  /** Subnets of a VPC group (VPCZoneIdentifier), empty otherwise. */
  subnetIds?: string[];
  instances: GroupInstance[];
  tags: Record<string, string>;
  launch: LaunchSource;
  capacityRebalance: boolean;
  terminationPolicies: string[];
  createdTime: string | undefined;
}

/** What a launch configuration or template version says about market and type. */
export interface LaunchDetails {
  market: Market;
  /** The instance type it launches (undefined for a template without one, e.g. in a mixed policy). */
  instanceType: string | undefined;
  /** Spot max price in USD/h, if set. */
  spotMaxPrice: number | undefined;
  /** The concrete template version in use (resolved from $Latest / $Default). */
  resolvedVersion: number | undefined;
}

export interface QueueDepth {
  visible: number;
  inFlight: number;
  delayed: number;
}

/** A (instance type, availability zone) pair: the unit spot capacity and spot prices come in. */
export interface Pool {
  instanceType: string;
  availabilityZone: string;
}

export const poolKey = (pool: Pool): string => `${pool.instanceType}|${pool.availabilityZone}`;

/** In service or on its way there: the instances that count as capacity and cost money. */
export function isRunning(instance: GroupInstance): boolean {
  return instance.lifecycleState === 'InService' || instance.lifecycleState.startsWith('Pending');
}
