/**
 * The simulated cloud answers as AWS does where moto does not, each behaviour with the document it follows
 * (issue 14). Through the real SDK clients, as the handlers see it.
 */
import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeScalingActivitiesCommand,
  CompleteLifecycleActionCommand,
  DescribeLifecycleHooksCommand,
  DetachInstancesCommand,
  PutLifecycleHookCommand,
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  SetInstanceProtectionCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
  ModifyLaunchTemplateCommand,
} from '@aws-sdk/client-ec2';
import { MIX_REPLACEMENT_SHARE, onDemandFailureMessage, SPOT_REQUEST_TAGS_REFUSAL } from '../../sim/cloud/autoscaling';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Tables } from '../../sim/cloud/dynamodb-api';
import { connectSdk, type SdkConnection } from '../../sim/cloud/sdk';
import type { World } from '../../sim/cloud/world';
import { T0, testScenario } from './support/scenario';
import { world } from './support/world';

const asg = new AutoScalingClient({ region: 'us-east-1' });
const ec2 = new EC2Client({ region: 'us-east-1' });

let w: World;
let sdk: SdkConnection;

beforeEach(() => {
  w = world(testScenario({ jobs: [{ at: 0, runtime: 10 }], spot: { 'us-east-1a': [[-60, 0.05]], 'us-east-1b': [[-60, 0.06]] } }));
  sdk = connectSdk({ world: w, tables: new Tables() });
});
afterEach(() => sdk.restore());

async function makeGroup(name: string, data: Record<string, unknown> = {}) {
  const lt = await ec2.send(
    new CreateLaunchTemplateCommand({ LaunchTemplateName: `${name}-lt`, LaunchTemplateData: { ImageId: 'ami-1', InstanceType: 'c3.xlarge', ...data } }),
  );
  await asg.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: name,
      MinSize: 0,
      MaxSize: 4,
      DesiredCapacity: 0,
      LaunchTemplate: { LaunchTemplateId: lt.LaunchTemplate!.LaunchTemplateId!, Version: '$Latest' },
    }),
  );
  return lt.LaunchTemplate!.LaunchTemplateId!;
}

const instancesOf = async (name: string) =>
  (await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }))).AutoScalingGroups![0]!.Instances ?? [];

describe('DetachInstances', () => {
  // AWS detaches InService and Standby instances only; anything else answers ValidationError "The instance
  // i-... is not in InService or Standby." (reproio/ecs_deploy issues 47 and 84 quote it; DetachInstances API
  // reference: "The instance must be in the InService state").
  it('refuses a Pending instance with AWS\'s ValidationError, and detaches it once InService', async () => {
    await makeGroup('a');
    await asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'a', DesiredCapacity: 1 }));
    await w.runUntil(T0 + 10);
    const [pending] = await instancesOf('a');
    expect(pending?.LifecycleState).toBe('Pending');
    const detach = () =>
      asg.send(new DetachInstancesCommand({ AutoScalingGroupName: 'a', InstanceIds: [pending!.InstanceId!], ShouldDecrementDesiredCapacity: false }));
    await expect(detach()).rejects.toMatchObject({ name: 'ValidationError', message: `The instance ${pending!.InstanceId} is not in InService or Standby.` });
    await w.runUntil(T0 + 600);
    expect((await instancesOf('a'))[0]?.LifecycleState).toBe('InService');
    await expect(detach()).resolves.toBeDefined();
  });
});

describe('launch templates', () => {
  // EC2 refuses a launch that tags spot instance requests without creating any: "You cannot specify tags for
  // Spot instances requests if there are no Spot instances requests being created" (RunInstances with
  // TagSpecifications of ResourceType spot-instances-request and no spot market options). Auto Scaling records
  // the refusal as a failed launch and launches nothing.
  it('an on-demand launch from a template that tags spot requests fails with EC2\'s message; without those tags it launches', async () => {
    const tagsSpotRequests = { TagSpecifications: [{ ResourceType: 'spot-instances-request' as const, Tags: [{ Key: 'team', Value: 'ml' }] }] };
    await makeGroup('refused', tagsSpotRequests);
    await makeGroup('fine', { TagSpecifications: [{ ResourceType: 'instance' as const, Tags: [{ Key: 'team', Value: 'ml' }] }] });
    for (const name of ['refused', 'fine']) await asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: name, DesiredCapacity: 1 }));
    await w.runUntil(T0 + 30);
    expect(await instancesOf('refused')).toHaveLength(0);
    expect(await instancesOf('fine')).toHaveLength(1);
    const activities = (await asg.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: 'refused' }))).Activities ?? [];
    expect(activities[0]).toMatchObject({ StatusCode: 'Failed', StatusMessage: SPOT_REQUEST_TAGS_REFUSAL });
    expect(SPOT_REQUEST_TAGS_REFUSAL).toMatch(/^You cannot specify tags for Spot instances requests if there are no Spot instances requests being created/);
  });

  it('the same template with spot options launches spot instances, tags and all', async () => {
    await makeGroup('spot', {
      InstanceMarketOptions: { MarketType: 'spot' },
      TagSpecifications: [{ ResourceType: 'spot-instances-request', Tags: [{ Key: 'team', Value: 'ml' }] }],
    });
    await asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'spot', DesiredCapacity: 1 }));
    await w.runUntil(T0 + 30);
    expect(await instancesOf('spot')).toHaveLength(1);
  });

  // "$Latest" is the newest version, "$Default" the one ModifyLaunchTemplate set; a group following either
  // launches what it resolves to at launch time; running instances keep what they were launched from (EC2 user
  // guide, "Modify a launch template (manage launch template versions)"; UpdateAutoScalingGroup API reference).
  it('$Latest follows a new version, $Default does not until it is set, numbered versions never move', async () => {
    const lt = await ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'shared', LaunchTemplateData: { ImageId: 'ami-1', InstanceType: 'c3.xlarge' } }));
    const id = lt.LaunchTemplate!.LaunchTemplateId!;
    for (const [name, Version] of [['latest', '$Latest'], ['default', '$Default'], ['pinned', '1']] as const) {
      await asg.send(new CreateAutoScalingGroupCommand({ AutoScalingGroupName: name, MinSize: 0, MaxSize: 4, DesiredCapacity: 0, LaunchTemplate: { LaunchTemplateId: id, Version } }));
    }
    await ec2.send(new CreateLaunchTemplateVersionCommand({ LaunchTemplateId: id, SourceVersion: '1', LaunchTemplateData: { ImageId: 'ami-2' } }));
    const resolve = async (Version: string) =>
      (await ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: id, Versions: [Version] }))).LaunchTemplateVersions![0]!.VersionNumber;
    expect(await resolve('$Latest')).toBe(2);
    expect(await resolve('$Default')).toBe(1);
    await ec2.send(new ModifyLaunchTemplateCommand({ LaunchTemplateId: id, DefaultVersion: '2' }));
    expect(await resolve('$Default')).toBe(2);
    for (const name of ['latest', 'default', 'pinned']) await asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: name, DesiredCapacity: 1 }));
    await w.runUntil(T0 + 30);
    const launchedFrom = (name: string) => [...w.instances.values()].find((i) => i.groupName === name)?.launchTemplate?.Version;
    expect([launchedFrom('latest'), launchedFrom('default'), launchedFrom('pinned')]).toEqual(['$Latest', '$Default', '1']);
  });
});

describe('on-demand capacity', () => {
  // EC2 has no unlimited on-demand capacity: a launch it cannot place fails with InsufficientInstanceCapacity, "We
  // currently do not have sufficient <type> capacity in the Availability Zone you requested (<az>) ..." (EC2 API
  // error codes; ../shared/reference/aws.md §3.6). Inside Auto Scaling that is a Failed scaling activity with the
  // text in StatusMessage, and the group tries another AZ; a mixed-instances group prefixes the market: "Could not
  // launch On-Demand Instances. InsufficientInstanceCapacity - ..." (EC2 Auto Scaling user guide, "Troubleshoot
  // Amazon EC2 Auto Scaling: EC2 instance launch failures"). The simulated cloud injects it with an on-demand storm.
  beforeEach(() => {
    sdk.restore();
    w = world(
      testScenario({
        jobs: [{ at: 0, runtime: 10 }],
        spot: { 'us-east-1a': [[-60, 0.05]], 'us-east-1b': [[-60, 0.06]] },
        storms: [{ at: T0, availabilityZone: 'us-east-1a', instanceType: 'c3.xlarge', fraction: 0, unavailableFor: 3600, market: 'on-demand' }],
      }),
    );
    sdk = connectSdk({ world: w, tables: new Tables() });
  });

  it('an on-demand launch in a pool without capacity fails with EC2\'s message and goes to another AZ', async () => {
    await makeGroup('od');
    await w.runUntil(T0 + 1);
    await asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'od', DesiredCapacity: 2 }));
    await w.runUntil(T0 + 30);
    const instances = await instancesOf('od');
    expect(instances.map((i) => i.AvailabilityZone)).toEqual(['us-east-1b', 'us-east-1b']);
    const failures = ((await asg.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: 'od' }))).Activities ?? []).filter((a) => a.StatusCode === 'Failed');
    expect(failures.length).toBeGreaterThan(0);
    expect(failures[0]!.StatusMessage).toMatch(/^We currently do not have sufficient c3\.xlarge capacity in the Availability Zone you requested \(us-east-1a\)\. .*choosing us-east-1b\. Launching EC2 instance failed\.$/);
  });

  it('spot launches in the same pool are not affected, and a mixed-instances group names the market that failed', async () => {
    await makeGroup('spot', { InstanceMarketOptions: { MarketType: 'spot' } });
    await w.runUntil(T0 + 1);
    await asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'spot', DesiredCapacity: 2 }));
    await w.runUntil(T0 + 30);
    expect((await instancesOf('spot')).map((i) => i.AvailabilityZone).sort()).toEqual(['us-east-1a', 'us-east-1b']);
    // A mixed-instances group at 100% on-demand, both AZs out: its failures say "Could not launch On-Demand Instances".
    const lt = await ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'mixed-lt', LaunchTemplateData: { ImageId: 'ami-1', InstanceType: 'c3.xlarge' } }));
    await asg.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'mixed',
        MinSize: 0,
        MaxSize: 4,
        DesiredCapacity: 1,
        AvailabilityZones: ['us-east-1a'],
        MixedInstancesPolicy: {
          LaunchTemplate: { LaunchTemplateSpecification: { LaunchTemplateId: lt.LaunchTemplate!.LaunchTemplateId!, Version: '$Latest' } },
          InstancesDistribution: { OnDemandPercentageAboveBaseCapacity: 100 },
        },
      }),
    );
    await w.runUntil(T0 + 60);
    expect(await instancesOf('mixed')).toHaveLength(0);
    const [failure] = (await asg.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: 'mixed' }))).Activities ?? [];
    expect(failure).toMatchObject({ StatusCode: 'Failed' });
    expect(failure!.StatusMessage).toMatch(/^Could not launch On-Demand Instances\. InsufficientInstanceCapacity - We currently do not have sufficient c3\.xlarge capacity/);
    expect(failure!.StatusMessage).toBe(onDemandFailureMessage(true, failure!.StatusMessage!.replace(/^.* - /, '')));
  });
});

describe('mixed instances: a new On-Demand/Spot mix replaces running instances', () => {
  // "When you update a group to specify a mixed instances policy ... existing instances may be replaced to match the
  // new purchasing options that you specified in the policy. For example, if the group currently has 100% On-Demand
  // capacity and the policy specifies 50% Spot capacity, this means that half of your instances will be gradually
  // terminated and relaunched as Spot Instances. When replacing instances, Amazon EC2 Auto Scaling launches new
  // instances before terminating the old ones" (UpdateAutoScalingGroup, EC2 Auto Scaling API reference); "An update
  // to this setting means a gradual replacement of instances to adjust the current On-Demand and Spot Instance
  // levels" (CloudFormation, AWS::AutoScaling::AutoScalingGroup InstancesDistribution,
  // OnDemandPercentageAboveBaseCapacity). The pace (MIX_REPLACEMENT_SHARE of desired at a time) and sparing
  // instances protected from scale in are the simulator's documented assumptions (sim/cloud/autoscaling.ts).
  const desired = 4;
  beforeEach(() => {
    // A world that runs for hours: a test world stops once its work is done after `duration`.
    sdk.restore();
    w = world(testScenario({ jobs: [{ at: 0, runtime: 10 }], duration: 4 * 3600, spot: { 'us-east-1a': [[-60, 0.05]], 'us-east-1b': [[-60, 0.06]] } }));
    sdk = connectSdk({ world: w, tables: new Tables() });
  });
  async function mixedGroup(percent: number) {
    const lt = await ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'mix-lt', LaunchTemplateData: { ImageId: 'ami-1', InstanceType: 'c3.xlarge' } }));
    await asg.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'mix',
        MinSize: 0,
        MaxSize: 10,
        DesiredCapacity: desired,
        MixedInstancesPolicy: {
          LaunchTemplate: { LaunchTemplateSpecification: { LaunchTemplateId: lt.LaunchTemplate!.LaunchTemplateId!, Version: '$Latest' } },
          InstancesDistribution: { OnDemandPercentageAboveBaseCapacity: percent },
        },
      }),
    );
    await w.runUntil(T0 + 300);
  }
  const setPercent = (percent: number) =>
    asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'mix', MixedInstancesPolicy: { InstancesDistribution: { OnDemandPercentageAboveBaseCapacity: percent } } }));
  const live = () => [...w.instances.values()].filter((i) => i.groupName === 'mix' && i.ec2State !== 'terminated');
  const inService = () => live().filter((i) => i.lifecycle === 'InService');
  const markets = () => live().map((i) => i.market).sort();

  it('spot to 100% on-demand: every instance is replaced, launching before terminating, a few at a time', async () => {
    await mixedGroup(0);
    expect(markets()).toEqual(['spot', 'spot', 'spot', 'spot']);
    await setPercent(100);
    const batch = Math.max(1, Math.floor(desired * MIX_REPLACEMENT_SHARE));
    for (let t = T0 + 300; t <= T0 + 3600; t += 5) {
      await w.runUntil(t);
      expect(inService().length).toBeGreaterThanOrEqual(desired);
      expect(live().length).toBeLessThanOrEqual(desired + batch);
    }
    expect(inService().map((i) => i.market)).toEqual(['on-demand', 'on-demand', 'on-demand', 'on-demand']);
    expect(w.mixReplacements).toBe(desired);
    const activities = (await asg.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: 'mix' }))).Activities ?? [];
    expect(activities.filter((a) => /^Terminating EC2 instance/.test(a.Description ?? '') && /On-Demand and Spot mix/.test(a.Cause ?? ''))).toHaveLength(desired);
    // And back: the user's 0% makes it spot again, the same way.
    await setPercent(0);
    await w.runUntil(T0 + 7200);
    expect(inService().map((i) => i.market)).toEqual(['spot', 'spot', 'spot', 'spot']);
    expect(w.mixReplacements).toBe(2 * desired);
  });

  it('a change that leaves the mix as it is replaces nothing (SpotMaxPrice, allocation strategy)', async () => {
    await mixedGroup(0);
    const before = live().map((i) => i.id).sort();
    await asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'mix', MixedInstancesPolicy: { InstancesDistribution: { OnDemandPercentageAboveBaseCapacity: 0, SpotMaxPrice: '0.2' } } }));
    await w.runUntil(T0 + 3600);
    expect(live().map((i) => i.id).sort()).toEqual(before);
    expect(w.mixReplacements).toBe(0);
  });

  it('an instance protected from scale in is not replaced until its protection is removed', async () => {
    await mixedGroup(0);
    const [kept] = inService();
    await asg.send(new SetInstanceProtectionCommand({ AutoScalingGroupName: 'mix', InstanceIds: [kept!.id], ProtectedFromScaleIn: true }));
    await setPercent(100);
    await w.runUntil(T0 + 3600);
    expect(kept!.ec2State).not.toBe('terminated');
    expect(inService().filter((i) => i.market === 'spot').map((i) => i.id)).toEqual([kept!.id]);
    await asg.send(new SetInstanceProtectionCommand({ AutoScalingGroupName: 'mix', InstanceIds: [kept!.id], ProtectedFromScaleIn: false }));
    await w.runUntil(T0 + 4200);
    expect(kept!.ec2State).toBe('terminated');
    expect(inService().map((i) => i.market)).toEqual(['on-demand', 'on-demand', 'on-demand', 'on-demand']);
  });
});

describe('termination lifecycle hooks', () => {
  // "Amazon EC2 Auto Scaling lifecycle hooks" (user guide): with a termination hook, an instance Auto Scaling
  // terminates waits in Terminating:Wait "until either you complete the lifecycle action, or the timeout period
  // ends" (HeartbeatTimeout, default 3600 s), then terminates; a detached instance goes Detaching, Detached and
  // never runs the hook. TerminateInstanceInAutoScalingGroup without decrement replaces the instance (API
  // reference); the replacement is launched at once, as Auto Scaling does on a final spot notice with a hook
  // ("calls the termination lifecycle hook and attempts to launch a replacement immediately", Capacity Rebalancing).
  async function hooked() {
    await makeGroup('h');
    await asg.send(new PutLifecycleHookCommand({ AutoScalingGroupName: 'h', LifecycleHookName: 'drain', LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING', HeartbeatTimeout: 300 }));
    await asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'h', DesiredCapacity: 1 }));
    await w.runUntil(T0 + 300);
    const [first] = await instancesOf('h');
    expect(first?.LifecycleState).toBe('InService');
    return first!.InstanceId!;
  }

  it('DescribeLifecycleHooks answers the hook as PutLifecycleHook set it', async () => {
    await hooked();
    const hooks = (await asg.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: 'h' }))).LifecycleHooks ?? [];
    expect(hooks).toMatchObject([{ LifecycleHookName: 'drain', LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING', HeartbeatTimeout: 300, DefaultResult: 'ABANDON' }]);
  });

  it('TerminateInstanceInAutoScalingGroup: Terminating:Wait, a replacement launched at once, terminated when the heartbeat times out', async () => {
    const id = await hooked();
    await asg.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: id, ShouldDecrementDesiredCapacity: false }));
    await w.runUntil(T0 + 310);
    const during = await instancesOf('h');
    expect(during.find((i) => i.InstanceId === id)?.LifecycleState).toBe('Terminating:Wait');
    expect(during.filter((i) => i.InstanceId !== id)).toHaveLength(1);
    expect(w.instances.get(id)?.ec2State).toBe('running');
    await w.runUntil(T0 + 300 + 301);
    expect(w.instances.get(id)?.ec2State).not.toBe('running');
    expect((await instancesOf('h')).map((i) => i.InstanceId)).not.toContain(id);
  });

  it('CompleteLifecycleAction ends the wait at once', async () => {
    const id = await hooked();
    await asg.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: id, ShouldDecrementDesiredCapacity: false }));
    await w.runUntil(T0 + 310);
    await asg.send(new CompleteLifecycleActionCommand({ AutoScalingGroupName: 'h', LifecycleHookName: 'drain', InstanceId: id, LifecycleActionResult: 'CONTINUE' }));
    await w.runUntil(T0 + 320);
    expect((await instancesOf('h')).map((i) => i.InstanceId)).not.toContain(id);
  });

  it('a detach never runs the hook: the instance leaves the group at once and keeps running', async () => {
    const id = await hooked();
    await asg.send(new DetachInstancesCommand({ AutoScalingGroupName: 'h', InstanceIds: [id], ShouldDecrementDesiredCapacity: false }));
    await w.runUntil(T0 + 310);
    expect((await instancesOf('h')).map((i) => i.InstanceId)).not.toContain(id);
    expect(w.instances.get(id)?.lifecycle).toBe('Detached');
  });
});
