/**
 * The simulated cloud answers as AWS does where moto does not, each behaviour with the document it follows
 * (issue 14). Through the real SDK clients, as the handlers see it.
 */
import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  DetachInstancesCommand,
  SetDesiredCapacityCommand,
} from '@aws-sdk/client-auto-scaling';
import { CreateLaunchTemplateCommand, EC2Client } from '@aws-sdk/client-ec2';
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
