/**
 * Launch-template swaps (issue 14, items 3 and 4): the on-demand copy lives in spotfarm's own template and
 * drops what EC2 refuses on an on-demand launch; the return points the group back at the owner's template as
 * it was, so nothing the owner published is rolled back and no other user of `$Latest` moves.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { AutoScalingClient, CreateLaunchConfigurationCommand, DescribeLaunchConfigurationsCommand, UpdateAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { swapNote } from '../../src/market/controller';
import { executeSpotMaxPrice, executeSwap, onDemandCopy } from '../../src/market/swap';

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

  it('a mixed-instances fall-back through an on-demand group at its max does not promise the share', () => {
    const originals = { style: 'mixed-instances' as const, onDemandPercentageAboveBaseCapacity: 0, fallback: 'on-demand-group' as const };
    expect(swapNote(originals, 0)).toMatch(/at its max now, so nothing takes the group's share until it has room/);
    expect(swapNote(originals, 0)).not.toMatch(/gives its share/);
    expect(swapNote(originals, 3)).toMatch(/gives its share to the farm's on-demand group/);
  });
});

describe('executeSpotMaxPrice: the capped copy (launch template, launch configuration)', () => {
  const owner = { style: 'launch-template' as const, templateId: 'lt-owner', templateName: 'ml-spot', version: '$Default', resolvedVersion: 4 };
  const cap = { kind: 'setSpotMaxPrice' as const, asgName: 'ml-spot', reason: 'r', maxPrice: '0.0765', source: owner, copyVersion: 4 };

  it("copies the owner's version with MaxPrice set into spotfarm's existing capped template; a retry (the group update failed) gets the same version by its client token", async () => {
    // Prepare: spotfarm's capped template exists (DescribeLaunchTemplates by name finds it); the first group update fails.
    ec2.on(DescribeLaunchTemplatesCommand, { LaunchTemplateNames: ['spotfarm-capped-lt-owner'] }).resolves({ LaunchTemplates: [{ LaunchTemplateId: 'lt-capped' }] });
    ec2.on(CreateLaunchTemplateVersionCommand).resolves({ LaunchTemplateVersion: { LaunchTemplateId: 'lt-capped', VersionNumber: 7 } });
    autoscaling.on(UpdateAutoScalingGroupCommand).rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' })).resolves({});

    // Act
    await expect(executeSpotMaxPrice(cap, 'ev-1')).rejects.toThrow(/pointing auto scaling group ml-spot at launch template lt-capped version 7/);
    await executeSpotMaxPrice(cap, 'ev-2');

    // Assess: no CreateLaunchTemplate, never a version of the owner's template, the same token both times.
    expect(ec2).not.toHaveReceivedCommand(CreateLaunchTemplateCommand);
    const versions = ec2.commandCalls(CreateLaunchTemplateVersionCommand).map((c) => c.args[0].input);
    expect(versions.map((v) => v.LaunchTemplateName)).toEqual(['spotfarm-capped-lt-owner', 'spotfarm-capped-lt-owner']);
    expect(versions[0]!.ClientToken).toBe(versions[1]!.ClientToken);
    expect(versions[0]!.LaunchTemplateData!.InstanceMarketOptions).toEqual({ MarketType: 'spot', SpotOptions: { MaxPrice: '0.0765' } });
    expect(versions[0]!.LaunchTemplateData!.TagSpecifications).toEqual(spotData.TagSpecifications);
    expect(ec2.commandCalls(DescribeLaunchTemplateVersionsCommand)[0]!.args[0].input).toMatchObject({ LaunchTemplateId: 'lt-owner', Versions: ['4'] });
    expect(autoscaling).toHaveReceivedCommandWith(UpdateAutoScalingGroupCommand, { AutoScalingGroupName: 'ml-spot', LaunchTemplate: { LaunchTemplateId: 'lt-capped', Version: '7' } });
  });

  it("the release points the group back at the owner's template as it was named, and writes no template", async () => {
    await executeSpotMaxPrice({ ...cap, maxPrice: '', restore: true, copyVersion: undefined }, 'ev-3');
    expect(autoscaling).toHaveReceivedCommandWith(UpdateAutoScalingGroupCommand, { AutoScalingGroupName: 'ml-spot', LaunchTemplate: { LaunchTemplateId: 'lt-owner', Version: '$Default' } });
    expect(ec2).not.toHaveReceivedCommand(CreateLaunchTemplateVersionCommand);
    expect(ec2).not.toHaveReceivedCommand(CreateLaunchTemplateCommand);
  });

  it('launch configuration: the copy with SpotPrice at the cap, made once (AlreadyExists from a racing check is fine), then the group points at it', async () => {
    autoscaling.on(DescribeLaunchConfigurationsCommand).resolves({
      LaunchConfigurations: [{ LaunchConfigurationName: 'ml-lc', ImageId: 'ami-1', InstanceType: 'c5.large', SpotPrice: '0.085', KernelId: '', SecurityGroups: [], CreatedTime: new Date() }],
    });
    autoscaling.on(CreateLaunchConfigurationCommand).rejects(Object.assign(new Error('Launch Configuration by this name already exists'), { name: 'AlreadyExists' }));
    await executeSpotMaxPrice({ kind: 'setSpotMaxPrice', asgName: 'ml-lc-group', reason: 'r', maxPrice: '0.0765', source: { style: 'launch-configuration', name: 'ml-lc' } }, 'ev-4');
    expect(autoscaling).toHaveReceivedCommandWith(CreateLaunchConfigurationCommand, { LaunchConfigurationName: 'ml-lc-spotfarm-max-0.0765', ImageId: 'ami-1', InstanceType: 'c5.large', SpotPrice: '0.0765' });
    expect(autoscaling).toHaveReceivedCommandWith(UpdateAutoScalingGroupCommand, { AutoScalingGroupName: 'ml-lc-group', LaunchConfigurationName: 'ml-lc-spotfarm-max-0.0765' });
  });
});
