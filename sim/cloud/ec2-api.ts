/**
 * EC2 commands answered from a World (../shared/reference/aws.md §3). Time never runs ahead of the virtual clock:
 * a StartTime or EndTime in the future is read as "now".
 */
import type {
  CreateTagsCommandInput,
  DeleteTagsCommandInput,
  CreateLaunchTemplateCommandInput,
  CreateLaunchTemplateVersionCommandInput,
  DescribeInstancesCommandInput,
  DescribeLaunchTemplateVersionsCommandInput,
  DescribeLaunchTemplatesCommandInput,
  DescribeSpotPriceHistoryCommandInput,
  Instance as Ec2Instance,
  ModifyLaunchTemplateCommandInput,
  SpotPrice,
  TerminateInstancesCommandInput,
} from '@aws-sdk/client-ec2';
import { fromSdkTime } from '../time';
import { awsError, NotImplementedInSimulator } from './errors';
import { paginate } from './paging';
import { ACCOUNT_ID, TERMINATED_VISIBLE_SECONDS, type Instance, type World } from './world';

const LINUX = ['Linux/UNIX', 'Linux/UNIX (Amazon VPC)'];

export function describeSpotPriceHistory(world: World, input: DescribeSpotPriceHistoryCommandInput) {
  const now = world.now;
  const end = Math.min(fromSdkTime(input.EndTime) ?? now, now);
  // Without a StartTime AWS returns the whole (90-day) history up to EndTime.
  const start = Math.min(fromSdkTime(input.StartTime) ?? end - 90 * 86_400, end);
  let types = input.InstanceTypes?.length ? [...input.InstanceTypes] : [...world.scenario.instanceTypes];
  let azs = input.AvailabilityZone ? [input.AvailabilityZone] : [...world.scenario.availabilityZones];
  let products = input.ProductDescriptions?.length ? [...input.ProductDescriptions] : ['Linux/UNIX'];
  for (const f of input.Filters ?? []) {
    const values = f.Values ?? [];
    if (f.Name === 'availability-zone') azs = azs.filter((az) => values.includes(az));
    else if (f.Name === 'instance-type') types = types.filter((t) => values.includes(t));
    else if (f.Name === 'product-description') products = products.filter((p) => values.includes(p));
    else throw new NotImplementedInSimulator(`DescribeSpotPriceHistoryCommand filter ${f.Name}`);
  }
  const product = products.find((p) => LINUX.includes(p));
  const rows: SpotPrice[] = [];
  if (product) {
    for (const type of types) {
      for (const az of azs) {
        const series = world.market.spot.get(`${type}/${az}`);
        if (!series) continue;
        for (const point of series.window(start, end)) {
          rows.push({
            AvailabilityZone: az,
            InstanceType: type as SpotPrice['InstanceType'],
            ProductDescription: product as SpotPrice['ProductDescription'],
            SpotPrice: point.price.toFixed(6),
            Timestamp: new Date(point.t * 1000),
          });
        }
      }
    }
  }
  // Newest first, as the API answers.
  rows.sort((a, b) => b.Timestamp!.getTime() - a.Timestamp!.getTime());
  const max = input.MaxResults ?? 1000;
  if (max < 1 || max > 1000) throw awsError('ec2', 'InvalidParameterValue', `MaxResults must be between 1 and 1000`);
  const page = paginate('ec2', rows, max, input.NextToken || undefined);
  return { SpotPriceHistory: page.items, NextToken: page.next ?? '' };
}

function describeInstance(world: World, i: Instance): Ec2Instance {
  const stateCode = { pending: 0, running: 16, 'shutting-down': 32, terminated: 48 }[i.ec2State];
  const groupTags = world.groups.get(i.groupName)?.tags.filter((t) => t.PropagateAtLaunch) ?? [];
  return {
    InstanceId: i.id,
    InstanceType: i.type as Ec2Instance['InstanceType'],
    ImageId: 'ami-0sim0000000000000',
    LaunchTime: new Date(i.launchT * 1000),
    Placement: { AvailabilityZone: i.az, Tenancy: 'default' },
    State: { Code: stateCode, Name: i.ec2State },
    ...(i.market === 'spot' ? { InstanceLifecycle: 'spot' as const, SpotInstanceRequestId: `sir-${i.id.slice(2, 10)}` } : {}),
    Tags: [
      { Key: 'aws:autoscaling:groupName', Value: i.groupName },
      ...groupTags.filter((t) => !i.tags.has(t.Key ?? '')).map((t) => ({ Key: t.Key, Value: t.Value })),
      ...[...i.tags].map(([Key, Value]) => ({ Key, Value })),
    ],
  };
}

function visibleInstances(world: World): Instance[] {
  return [...world.instances.values()].filter(
    (i) => i.ec2State !== 'terminated' || i.endT + TERMINATED_VISIBLE_SECONDS >= world.now,
  );
}

export function describeInstances(world: World, input: DescribeInstancesCommandInput) {
  if (input.InstanceIds?.length && input.MaxResults !== undefined) {
    throw awsError('ec2', 'InvalidParameterCombination', 'The parameter instancesSet cannot be used with the parameter maxResults');
  }
  let instances = visibleInstances(world);
  if (input.InstanceIds?.length) {
    const missing = input.InstanceIds.filter((id) => !instances.some((i) => i.id === id));
    if (missing.length) {
      throw awsError('ec2', 'InvalidInstanceID.NotFound', `The instance IDs '${missing.join(', ')}' do not exist`);
    }
    instances = instances.filter((i) => input.InstanceIds!.includes(i.id));
  }
  for (const f of input.Filters ?? []) {
    const values = f.Values ?? [];
    const name = f.Name ?? '';
    if (name === 'instance-id') instances = instances.filter((i) => values.includes(i.id));
    else if (name === 'instance-state-name') instances = instances.filter((i) => values.includes(i.ec2State));
    else if (name === 'instance-lifecycle') instances = instances.filter((i) => values.includes(i.market === 'spot' ? 'spot' : ''));
    else if (name === 'instance-type') instances = instances.filter((i) => values.includes(i.type));
    else if (name === 'availability-zone') instances = instances.filter((i) => values.includes(i.az));
    else if (name.startsWith('tag:') || name === 'tag-key') {
      instances = instances.filter((i) => {
        const tags = describeInstance(world, i).Tags ?? [];
        return name === 'tag-key'
          ? tags.some((t) => values.includes(t.Key ?? ''))
          : tags.some((t) => t.Key === name.slice(4) && values.includes(t.Value ?? ''));
      });
    } else throw new NotImplementedInSimulator(`DescribeInstancesCommand filter ${name}`);
  }
  instances.sort((a, b) => (a.id < b.id ? -1 : 1));
  const page = paginate('ec2', instances, input.MaxResults ?? 1000, input.NextToken || undefined);
  return {
    Reservations: page.items.map((i) => ({
      ReservationId: `r-${i.id.slice(2)}`,
      OwnerId: ACCOUNT_ID,
      Instances: [describeInstance(world, i)],
    })),
    ...(page.next ? { NextToken: page.next } : {}),
  };
}

function taggedInstances(world: World, resources: string[] | undefined): Instance[] {
  const ids = resources ?? [];
  if (ids.length === 0) throw awsError('ec2', 'MissingParameter', 'The request must contain the parameter resourceIdSet');
  const visible = new Map(visibleInstances(world).map((i) => [i.id, i]));
  for (const id of ids) {
    if (!id.startsWith('i-')) throw new NotImplementedInSimulator(`CreateTags/DeleteTags on ${id} (only instances are tagged in the simulation)`);
  }
  const missing = ids.filter((id) => !visible.has(id));
  if (missing.length) throw awsError('ec2', 'InvalidInstanceID.NotFound', `The instance IDs '${missing.join(', ')}' do not exist`);
  return ids.map((id) => visible.get(id)!);
}

export function createTags(world: World, input: CreateTagsCommandInput) {
  const instances = taggedInstances(world, input.Resources);
  for (const tag of input.Tags ?? []) {
    if (!tag.Key) throw awsError('ec2', 'InvalidParameterValue', 'Tag keys must not be empty');
    if (tag.Key.startsWith('aws:')) throw awsError('ec2', 'InvalidParameterValue', `Tag keys starting with 'aws:' are reserved for internal use`);
  }
  for (const i of instances) for (const tag of input.Tags ?? []) i.tags.set(tag.Key!, tag.Value ?? '');
  return {};
}

export function deleteTags(world: World, input: DeleteTagsCommandInput) {
  const instances = taggedInstances(world, input.Resources);
  for (const i of instances) {
    for (const tag of input.Tags ?? [...i.tags.keys()].map((Key) => ({ Key, Value: undefined }))) {
      // A value given deletes the tag only when it matches.
      if (tag.Value === undefined || i.tags.get(tag.Key!) === tag.Value) i.tags.delete(tag.Key!);
    }
  }
  return {};
}

export function terminateInstances(world: World, input: TerminateInstancesCommandInput) {
  const ids = input.InstanceIds ?? [];
  const visible = new Set(visibleInstances(world).map((i) => i.id));
  const missing = ids.filter((id) => !visible.has(id));
  if (missing.length) throw awsError('ec2', 'InvalidInstanceID.NotFound', `The instance IDs '${missing.join(', ')}' do not exist`);
  return {
    TerminatingInstances: ids.map((id) => {
      const i = world.instances.get(id)!;
      const previous = i.ec2State;
      world.terminateEc2(i, 'TerminateInstances');
      return {
        InstanceId: id,
        PreviousState: { Name: previous, Code: { pending: 0, running: 16, 'shutting-down': 32, terminated: 48 }[previous] },
        CurrentState: { Name: 'terminated' as const, Code: 48 },
      };
    }),
  };
}

export function createLaunchTemplate(world: World, input: CreateLaunchTemplateCommandInput) {
  if (!input.LaunchTemplateName) throw awsError('ec2', 'MissingParameter', 'The request must contain the parameter LaunchTemplateName');
  const tags = new Map(
    (input.TagSpecifications ?? [])
      .filter((spec) => spec.ResourceType === 'launch-template')
      .flatMap((spec) => (spec.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''] as const)),
  );
  const lt = world.createLaunchTemplate(input.LaunchTemplateName, input.LaunchTemplateData ?? {}, input.VersionDescription, tags);
  return {
    LaunchTemplate: {
      LaunchTemplateId: lt.id,
      LaunchTemplateName: lt.name,
      CreateTime: new Date(lt.created * 1000),
      CreatedBy: `arn:aws:iam::${ACCOUNT_ID}:user/spotfarm-sim`,
      DefaultVersionNumber: lt.defaultVersion,
      LatestVersionNumber: lt.latestVersion,
    },
  };
}

export function describeLaunchTemplates(world: World, input: DescribeLaunchTemplatesCommandInput) {
  let lts = [...world.launchTemplates.values()];
  if (input.LaunchTemplateIds?.length) lts = input.LaunchTemplateIds.map((id) => world.findLaunchTemplate({ LaunchTemplateId: id }));
  if (input.LaunchTemplateNames?.length) lts = input.LaunchTemplateNames.map((name) => world.findLaunchTemplate({ LaunchTemplateName: name }));
  return {
    LaunchTemplates: lts.map((lt) => ({
      LaunchTemplateId: lt.id,
      LaunchTemplateName: lt.name,
      CreateTime: new Date(lt.created * 1000),
      DefaultVersionNumber: lt.defaultVersion,
      LatestVersionNumber: lt.latestVersion,
      ...(lt.tags.size ? { Tags: [...lt.tags].map(([Key, Value]) => ({ Key, Value })) } : {}),
    })),
  };
}

export function createLaunchTemplateVersion(world: World, input: CreateLaunchTemplateVersionCommandInput) {
  const lt = world.findLaunchTemplate(input);
  // A ClientToken makes the call idempotent: the same request again returns the version it created.
  const request = JSON.stringify([input.SourceVersion, input.LaunchTemplateData, input.VersionDescription]);
  if (input.ClientToken) {
    const earlier = lt.clientTokens.get(input.ClientToken);
    if (earlier) {
      if (earlier.request !== request) {
        throw awsError('ec2', 'IdempotentParameterMismatch', `The client token ${input.ClientToken} was already used with different parameters.`);
      }
      return { LaunchTemplateVersion: world.describeVersion(lt, earlier.version) };
    }
  }
  // With SourceVersion the new version inherits every top-level parameter the request does not set.
  const base = input.SourceVersion !== undefined ? lt.versions.get(world.resolveVersion(lt, input.SourceVersion))!.data : {};
  const data = { ...structuredClone(base), ...structuredClone(input.LaunchTemplateData ?? {}) };
  const n = lt.latestVersion + 1;
  lt.latestVersion = n;
  lt.versions.set(n, { data, description: input.VersionDescription, created: world.now });
  if (input.ClientToken) lt.clientTokens.set(input.ClientToken, { version: n, request });
  world.noteLaunchSourceChange();
  return { LaunchTemplateVersion: world.describeVersion(lt, n) };
}

export function modifyLaunchTemplate(world: World, input: ModifyLaunchTemplateCommandInput) {
  const lt = world.findLaunchTemplate(input);
  if (input.DefaultVersion !== undefined) lt.defaultVersion = world.resolveVersion(lt, input.DefaultVersion);
  world.noteLaunchSourceChange();
  return {
    LaunchTemplate: {
      LaunchTemplateId: lt.id,
      LaunchTemplateName: lt.name,
      DefaultVersionNumber: lt.defaultVersion,
      LatestVersionNumber: lt.latestVersion,
    },
  };
}

export function describeLaunchTemplateVersions(world: World, input: DescribeLaunchTemplateVersionsCommandInput) {
  if (input.Filters?.length) throw new NotImplementedInSimulator('DescribeLaunchTemplateVersionsCommand Filters');
  if (!input.LaunchTemplateId && !input.LaunchTemplateName) {
    // AWS: without a template, the $Latest or $Default version of every launch template in the account.
    const alias = input.Versions?.length === 1 ? input.Versions[0] : undefined;
    if (alias !== '$Latest' && alias !== '$Default') {
      throw awsError('ec2', 'InvalidParameterCombination', 'Versions must be $Latest or $Default when no launch template is named', 400);
    }
    const all = [...world.launchTemplates.values()].map((lt) => world.describeVersion(lt, world.resolveVersion(lt, alias)));
    const page = paginate('ec2', all, input.MaxResults ?? 200, input.NextToken || undefined);
    return { LaunchTemplateVersions: page.items, ...(page.next ? { NextToken: page.next } : {}) };
  }
  const lt = world.findLaunchTemplate(input);
  let numbers: number[];
  if (input.Versions?.length) {
    numbers = input.Versions.map((v) => world.resolveVersion(lt, v));
  } else {
    numbers = [...lt.versions.keys()].filter(
      (n) =>
        (input.MinVersion === undefined || n >= world.resolveVersion(lt, input.MinVersion)) &&
        (input.MaxVersion === undefined || n <= world.resolveVersion(lt, input.MaxVersion)),
    );
  }
  numbers = [...new Set(numbers)].sort((a, b) => b - a);
  const page = paginate('ec2', numbers, input.MaxResults ?? 200, input.NextToken || undefined);
  return {
    LaunchTemplateVersions: page.items.map((n) => world.describeVersion(lt, n)),
    ...(page.next ? { NextToken: page.next } : {}),
  };
}
