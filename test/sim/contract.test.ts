/**
 * Fidelity: the same sequence of SDK calls against the simulated cloud and against moto server (a real AWS API
 * emulator), comparing what both return: group sizes, instances appearing as desired grows, detach and
 * terminate semantics, queue counts, launch template versions, and the errors (desired > max, unknown queue).
 */
import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DetachInstancesCommand,
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
  ModifyLaunchTemplateCommand,
} from '@aws-sdk/client-ec2';
import { CreateQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tables } from '../../sim/cloud/dynamodb-api';
import { connectSdk } from '../../sim/cloud/sdk';
import { startMoto, type MotoServer } from '../support/moto';
import { testScenario } from './support/scenario';
import { world } from './support/world';

interface Clients {
  asg: AutoScalingClient;
  ec2: EC2Client;
  sqs: SQSClient;
}

type Transcript = [string, unknown][];

async function outcome<T>(call: Promise<T>, pick: (out: T) => unknown): Promise<unknown> {
  try {
    return { ok: pick(await call) };
  } catch (err) {
    const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    return { error: e.name, status: e.$metadata?.httpStatusCode };
  }
}

/** The call sequence; `settle` lets time pass (the simulator boots instances; moto's appear at once). */
async function sequence(c: Clients, settle: () => Promise<void>): Promise<Transcript> {
  const t: Transcript = [];
  const group = async () => {
    const out = await c.asg.send(new DescribeAutoScalingGroupsCommand({ Filters: [{ Name: 'tag:spotfarm:farm', Values: ['contract'] }] }));
    const g = out.AutoScalingGroups![0]!;
    return { min: g.MinSize, max: g.MaxSize, desired: g.DesiredCapacity, instances: (g.Instances ?? []).length, ids: (g.Instances ?? []).map((i) => i.InstanceId!) };
  };
  const shape = (g: Awaited<ReturnType<typeof group>>) => ({ min: g.min, max: g.max, desired: g.desired, instances: g.instances });

  const { QueueUrl } = await c.sqs.send(new CreateQueueCommand({ QueueName: 'contract-jobs' }));
  for (let i = 0; i < 3; i++) await c.sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: `job ${i}` }));
  const attrs = await c.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] }),
  );
  t.push(['queue counts', attrs.Attributes]);
  t.push(['unknown queue', await outcome(c.sqs.send(new GetQueueUrlCommand({ QueueName: 'no-such-queue' })), (o) => o.QueueUrl)]);

  const lt = await c.ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: 'contract-lt',
      LaunchTemplateData: { ImageId: 'ami-12c6146b', InstanceType: 'c3.xlarge', InstanceMarketOptions: { MarketType: 'spot' } },
    }),
  );
  const ltId = lt.LaunchTemplate!.LaunchTemplateId!;
  const v2 = await c.ec2.send(
    new CreateLaunchTemplateVersionCommand({ LaunchTemplateId: ltId, SourceVersion: '1', LaunchTemplateData: { InstanceType: 'c3.2xlarge' } }),
  );
  await c.ec2.send(new ModifyLaunchTemplateCommand({ LaunchTemplateId: ltId, DefaultVersion: '2' }));
  const versions = await c.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: ltId, Versions: ['1', '2'] }));
  t.push([
    'template versions',
    {
      created: v2.LaunchTemplateVersion!.VersionNumber,
      versions: versions
        // Not compared: what a SourceVersion'd version inherits (moto 5.2 does not copy it; AWS does, and
        // test/sim/cloud-sdk.test.ts checks the simulator against AWS's documented behaviour).
        .LaunchTemplateVersions!.map((v) => ({ n: v.VersionNumber, def: v.DefaultVersion, type: v.LaunchTemplateData!.InstanceType }))
        .sort((a, b) => a.n! - b.n!),
    },
  ]);

  await c.asg.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: 'contract-spot',
      MinSize: 0,
      MaxSize: 3,
      DesiredCapacity: 0,
      AvailabilityZones: ['us-east-1a', 'us-east-1b'],
      LaunchTemplate: { LaunchTemplateId: ltId, Version: '1' },
      Tags: [{ Key: 'spotfarm:farm', Value: 'contract', PropagateAtLaunch: true, ResourceId: 'contract-spot', ResourceType: 'auto-scaling-group' }],
    }),
  );
  t.push(['created', shape(await group())]);

  await c.asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'contract-spot', DesiredCapacity: 2 }));
  await settle();
  const two = await group();
  t.push(['desired 2', shape(two)]);
  const members = await c.asg.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: two.ids }));
  t.push(['members', members.AutoScalingInstances!.map((m) => m.AutoScalingGroupName)]);

  t.push(['desired above max', await outcome(c.asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'contract-spot', DesiredCapacity: 5 })), () => 'accepted')]);
  // Realign (a no-op where the call was rejected) so the next steps compare like with like.
  await c.asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'contract-spot', DesiredCapacity: 2 }));
  await settle();
  t.push(['back to 2', shape(await group())]);

  await c.asg.send(new DetachInstancesCommand({ AutoScalingGroupName: 'contract-spot', InstanceIds: [two.ids[0]!], ShouldDecrementDesiredCapacity: false }));
  await settle();
  const afterDetach = await group();
  t.push(['detached without decrement', { ...shape(afterDetach), stillThere: afterDetach.ids.includes(two.ids[0]!) }]);

  await c.asg.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: afterDetach.ids[0]!, ShouldDecrementDesiredCapacity: true }));
  await settle();
  t.push(['terminated with decrement', shape(await group())]);

  await c.asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'contract-spot', MinSize: 2 }));
  await settle();
  t.push(['min raised above desired', shape(await group())]);

  await c.asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'contract-spot', MinSize: 0, MaxSize: 1 }));
  await settle();
  t.push(['max lowered below desired', shape(await group())]);
  return t;
}

/**
 * Steps where moto server (5.2.5) does not do what AWS documents; the simulator does what AWS does.
 * - SetDesiredCapacity above MaxSize: AWS rejects it with ValidationError "New SetDesiredCapacity value 5 is
 *   above max value 3 for the AutoScalingGroup." (../shared/reference/aws.md §2.3); moto accepts it and
 *   launches 5 instances in a group of max 3.
 */
const MOTO_GAPS: Record<string, { moto: unknown; aws: unknown }> = {
  'desired above max': { moto: { ok: 'accepted' }, aws: { error: 'ValidationError', status: 400 } },
};

describe('the simulated cloud against moto server', () => {
  let moto: MotoServer;
  let fromMoto: Transcript;
  let fromSim: Transcript;

  beforeAll(async () => {
    moto = await startMoto();
    const config = { endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
    fromMoto = await sequence({ asg: new AutoScalingClient(config), ec2: new EC2Client(config), sqs: new SQSClient(config) }, async () => undefined);

    const w = world(testScenario({ spot: { 'us-east-1a': [[-60, 0.05]], 'us-east-1b': [[-60, 0.05]] }, farm: { bootSeconds: 60 } }));
    const sdk = connectSdk({ world: w, tables: new Tables() });
    try {
      const region = { region: 'us-east-1' };
      fromSim = await sequence({ asg: new AutoScalingClient(region), ec2: new EC2Client(region), sqs: new SQSClient(region) }, () => w.runUntil(w.now + 300));
    } finally {
      sdk.restore();
    }
  });

  afterAll(async () => {
    await moto?.stop();
  });

  it('returns the same results for the same calls, step by step', () => {
    const steps = fromMoto.map(([step]) => step);
    expect(fromSim.map(([step]) => step)).toEqual(steps);
    for (let i = 0; i < fromMoto.length; i++) {
      const step = fromMoto[i]![0];
      if (step in MOTO_GAPS) continue;
      expect({ step, result: fromSim[i]![1] }).toEqual({ step, result: fromMoto[i]![1] });
    }
  });

  it.each(Object.entries(MOTO_GAPS))('where moto departs from AWS (%s), the simulator follows AWS', (step, gap) => {
    const index = fromMoto.findIndex(([s]) => s === step);
    // If moto ever matches AWS here, drop the gap and compare the step like the others.
    expect(fromMoto[index]![1]).toEqual(gap.moto);
    expect(fromSim[index]![1]).toEqual(gap.aws);
  });
});
