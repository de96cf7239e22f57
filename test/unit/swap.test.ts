/**
 * Launch-template swaps (issue 14, items 3 and 4): the on-demand copy lives in spotfarm's own template and
 * drops what EC2 refuses on an on-demand launch; the return points the group back at the owner's template as
 * it was, so nothing the owner published is rolled back and no other user of `$Latest` moves.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { AutoScalingClient, UpdateAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { swapNote } from '../../src/market/controller';
import { executeSwap, onDemandCopy } from '../../src/market/swap';

const autoscaling = mockClient(AutoScalingClient);
const ec2 = mockClient(EC2Client);

const spotData = {
  ImageId: 'ami-1',
  InstanceType: 'c5.large' as const,
  InstanceMarketOptions: { MarketType: 'spot' as const },
  TagSpecifications: [
    { ResourceType: 'instance' as const, Tags: [{ Key: 'team', Value: 'ml' }] },
    { ResourceType: 'spot-instances-request' as const, Tags: [{ Key: 'team', Value: 'ml' }] },
  ],
};

beforeEach(() => {
  autoscaling.reset();
  ec2.reset();
  autoscaling.on(UpdateAutoScalingGroupCommand).resolves({});
  ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({
    LaunchTemplateVersions: [{ LaunchTemplateId: 'lt-owner', LaunchTemplateName: 'ml-spot', VersionNumber: 4, LaunchTemplateData: spotData }],
  });
  ec2.on(DescribeLaunchTemplatesCommand).resolves({ LaunchTemplates: [{ LaunchTemplateId: 'lt-owner', Tags: [{ Key: 'spotfarm:farm', Value: 'ml' }] }] });
});

describe('onDemandCopy', () => {
  it('drops the spot options and the spot-instances-request tags EC2 refuses on an on-demand launch, keeps the rest', () => {
    expect(onDemandCopy(spotData)).toEqual({
      ImageId: 'ami-1',
      InstanceType: 'c5.large',
      TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'team', Value: 'ml' }] }],
    });
    expect(onDemandCopy({ ...spotData, TagSpecifications: [spotData.TagSpecifications[1]!] })).not.toHaveProperty('TagSpecifications');
  });
});

describe('executeSwap: launch templates', () => {
  const originals = (version: string) => ({ style: 'launch-template' as const, templateId: 'lt-owner', templateName: undefined, version, resolvedVersion: 4 });

  it('to on-demand: a new template of spotfarm\'s, tagged for the farm, holds the copy; the owner\'s template gets no version', async () => {
    // Prepare
    ec2.on(CreateLaunchTemplateCommand).resolves({ LaunchTemplate: { LaunchTemplateId: 'lt-copy', LatestVersionNumber: 1 } });
    // Act
    await executeSwap({ kind: 'swapToOnDemand', asgName: 'ml-spot', reason: 'r', trigger: 'price', from: originals('$Latest') }, 'ev-1');
    // Assess
    expect(ec2).toHaveReceivedCommandWith(CreateLaunchTemplateCommand, {
      LaunchTemplateName: 'spotfarm-on-demand-lt-owner',
      LaunchTemplateData: { ImageId: 'ami-1', InstanceType: 'c5.large', TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'team', Value: 'ml' }] }] },
      TagSpecifications: [{ ResourceType: 'launch-template', Tags: [{ Key: 'spotfarm:farm', Value: 'ml' }, { Key: 'spotfarm:copy-of', Value: 'lt-owner' }] }],
    });
    expect(ec2).not.toHaveReceivedCommand(CreateLaunchTemplateVersionCommand);
    expect(autoscaling).toHaveReceivedCommandWith(UpdateAutoScalingGroupCommand, {
      AutoScalingGroupName: 'ml-spot',
      LaunchTemplate: { LaunchTemplateId: 'lt-copy', Version: '1' },
    });
  });

  it('to on-demand again later: a version of the same copy template, the same token for the same source version', async () => {
    // Prepare
    ec2.on(CreateLaunchTemplateCommand).rejects(Object.assign(new Error('Launch template name already in use.'), { name: 'InvalidLaunchTemplateName.AlreadyExistsException' }));
    ec2.on(CreateLaunchTemplateVersionCommand).resolves({ LaunchTemplateVersion: { LaunchTemplateId: 'lt-copy', VersionNumber: 3 } });
    // Act: two events for the same source version
    for (const event of ['ev-1', 'ev-2']) {
      await executeSwap({ kind: 'swapToOnDemand', asgName: 'ml-spot', reason: 'r', trigger: 'price', from: originals('$Latest') }, event);
    }
    // Assess
    const tokens = ec2.commandCalls(CreateLaunchTemplateVersionCommand).map((c) => c.args[0].input.ClientToken);
    expect(tokens).toHaveLength(2);
    expect(tokens[0]).toBe(tokens[1]);
    expect(autoscaling).toHaveReceivedCommandWith(UpdateAutoScalingGroupCommand, { LaunchTemplate: { LaunchTemplateId: 'lt-copy', Version: '3' } });
  });

  it.each(['$Latest', '$Default', '4'])('back to spot: the group points at the owner\'s template as it did (%s), nothing copied', async (version) => {
    // Act
    await executeSwap({ kind: 'swapToSpot', asgName: 'ml-spot', reason: 'r', to: originals(version) }, 'ev-9');
    // Assess
    expect(autoscaling).toHaveReceivedCommandWith(UpdateAutoScalingGroupCommand, {
      AutoScalingGroupName: 'ml-spot',
      LaunchTemplate: { LaunchTemplateId: 'lt-owner', Version: version },
    });
    expect(ec2).not.toHaveReceivedCommand(CreateLaunchTemplateVersionCommand);
    expect(ec2).not.toHaveReceivedCommand(CreateLaunchTemplateCommand);
  });
});

describe('executeSwap: mixed instances (issue 14, item 2)', () => {
  const mixed = (fallback?: 'on-demand-group' | 'percentage') => ({
    style: 'mixed-instances' as const,
    onDemandPercentageAboveBaseCapacity: 0,
    ...(fallback ? { fallback } : {}),
  });

  it.each(['swapToOnDemand', 'swapToSpot'] as const)('by default (%s) leaves the group alone: a percentage change would replace the running fleet', async (kind) => {
    const action = kind === 'swapToOnDemand'
      ? { kind, asgName: 'ml-spot', reason: 'r', trigger: 'price' as const, from: mixed('on-demand-group') }
      : { kind, asgName: 'ml-spot', reason: 'r', to: mixed('on-demand-group') };
    await executeSwap(action, 'ev-1');
    expect(autoscaling).not.toHaveReceivedCommand(UpdateAutoScalingGroupCommand);
  });
});

describe('the swap notification says what happens to running instances', () => {
  it.each([
    [{ style: 'mixed-instances' as const, onDemandPercentageAboveBaseCapacity: 0, fallback: 'percentage' as const }, /gradually replaces running instances/],
    [{ style: 'mixed-instances' as const, onDemandPercentageAboveBaseCapacity: 0, fallback: 'on-demand-group' as const }, /running instances are not touched/],
    [{ style: 'launch-configuration' as const, name: 'lc' }, /running instances are not touched/],
  ])('%j', (originals, note) => {
    expect(swapNote(originals)).toMatch(note);
  });
});
