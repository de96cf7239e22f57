/**
 * The shapes of the AWS resources a simulated world holds (Auto Scaling groups and their activities, EC2
 * instances, launch templates and configurations, plain SQS queues) and the marks a run leaves on its timeline.
 * Only data lives here; the semantics are in autoscaling.ts, ec2.ts, spot-interruptions.ts, sqs.ts and workers.ts.
 */
import type { RequestLaunchTemplateData } from '@aws-sdk/client-ec2';
import type { MixedInstancesPolicy, Tag } from '@aws-sdk/client-auto-scaling';

export const ACCOUNT_ID = '123456789012';


export type MarketKind = 'spot' | 'on-demand';
export type WorkerKind = 'agent' | 'plain';
export type LifecycleState = 'Pending' | 'InService' | 'Terminating' | 'Terminated' | 'Detached';
export type Ec2State = 'pending' | 'running' | 'shutting-down' | 'terminated';

export interface Activity {
  ActivityId: string;
  AutoScalingGroupName: string;
  Description: string;
  Cause: string;
  StartTime: number;
  EndTime: number;
  StatusCode: 'Successful' | 'Failed' | 'InProgress' | 'Cancelled';
  StatusMessage?: string;
  Progress: number;
  Details: string;
}

export interface LaunchTemplateRef {
  LaunchTemplateId?: string;
  LaunchTemplateName?: string;
  Version?: string;
}

export interface Group {
  name: string;
  arn: string;
  minSize: number;
  maxSize: number;
  desired: number;
  launchConfigurationName?: string | undefined;
  launchTemplate?: LaunchTemplateRef | undefined;
  mixedInstancesPolicy?: MixedInstancesPolicy | undefined;
  availabilityZones: string[];
  tags: Tag[];
  capacityRebalance: boolean;
  terminationPolicies: string[];
  defaultCooldown: number;
  healthCheckGracePeriod: number;
  newInstancesProtectedFromScaleIn: boolean;
  createdTime: number;
  members: Set<Instance>;
  activities: Activity[];
  reconcileAt: number;
  retryAfter: number;
  /** When the last launch or termination by the group itself started (for HonorCooldown). */
  lastScalingAt: number;
  /** Market new instances get; tracked to count swaps. */
  market: MarketKind;
  /** PutLifecycleHook: the group's lifecycle hooks (only termination hooks have an effect here). */
  lifecycleHooks?: LifecycleHook[];
}

export interface LifecycleHook {
  name: string;
  transition: 'autoscaling:EC2_INSTANCE_LAUNCHING' | 'autoscaling:EC2_INSTANCE_TERMINATING';
  /** Seconds an instance waits for the hook's action before DefaultResult applies (default 3600). */
  heartbeatTimeout: number;
  defaultResult: 'CONTINUE' | 'ABANDON';
}

export interface Instance {
  id: string;
  type: string;
  az: string;
  market: MarketKind;
  maxPrice: number;
  groupName: string;
  group: Group | null;
  launchTemplate?: LaunchTemplateRef | undefined;
  launchConfigurationName?: string | undefined;
  launchT: number;
  readyT: number;
  endT: number;
  ec2State: Ec2State;
  lifecycle: LifecycleState;
  protected: boolean;
  /** Pool launch ordinal: the key of its interruption draws. */
  ordinal: number;
  warnedAt: number;
  interruptAt: number;
  /** Auto Scaling already replaced it (Capacity Rebalancing): it no longer counts toward desired. */
  replaced: boolean;
  /**
   * Being replaced to reach a mixed-instances group's On-Demand/Spot mix (autoscaling.ts, `rebalanceMix`): its
   * replacement is launching, so it no longer counts toward desired; it stays InService until Auto Scaling
   * terminates it once the replacement is in service.
   */
  retiring: boolean;
  /** Waiting for a termination lifecycle hook (Terminating:Wait) since Auto Scaling began terminating it. */
  terminatingWait?: boolean;
  workers: WorkerKind;
  slots: number;
  free: number;
  accepting: boolean;
  running: Set<number>;
  cost: number;
  /**
   * Interrupted by EC2 within its first hour: no charge at all (EC2 User Guide, "Billing for interrupted Spot
   * Instances"). Set when EC2 takes it; sim/cloud/ec2.ts bills it nothing.
   */
  freeOfCharge?: boolean;
  /** USD of its slots' time on attempts that completed (busy) and on attempts that did not (rework). */
  busyUsd: number;
  reworkUsd: number;
  /** Tags set with CreateTags (the group's propagated tags and aws:autoscaling:groupName come on top). */
  tags: Map<string, string>;
}

export interface LaunchTemplate {
  id: string;
  name: string;
  defaultVersion: number;
  latestVersion: number;
  versions: Map<number, { data: RequestLaunchTemplateData; description?: string | undefined; created: number }>;
  created: number;
  /** The template's own tags (TagSpecifications of ResourceType launch-template at creation). */
  tags: Map<string, string>;
  /** ClientToken of CreateLaunchTemplateVersion -> the version it created (idempotent retries). */
  clientTokens: Map<string, { version: number; request: string }>;
}

export interface LaunchConfiguration {
  LaunchConfigurationName: string;
  LaunchConfigurationARN: string;
  ImageId?: string | undefined;
  InstanceType?: string | undefined;
  SpotPrice?: string | undefined;
  KeyName?: string | undefined;
  SecurityGroups?: string[] | undefined;
  UserData?: string | undefined;
  IamInstanceProfile?: string | undefined;
  InstanceMonitoring?: { Enabled?: boolean } | undefined;
  EbsOptimized?: boolean | undefined;
  AssociatePublicIpAddress?: boolean | undefined;
  CreatedTime: number;
}

/** A plain SQS queue (the farm's work queue is modelled by WorkQueue in sqs.ts instead). */
export interface PlainQueue {
  name: string;
  url: string;
  attributes: Record<string, string>;
  visible: number;
  farm: boolean;
}

export interface Mark {
  t: number;
  kind: 'interruption' | 'swap-to-on-demand' | 'swap-to-spot' | 'storm' | 'capacity-failure';
  detail: string;
}
