/**
 * Launch templates: creating one, finding it by id or name, resolving a version reference ($Latest, $Default,
 * a number) and describing a version the way DescribeLaunchTemplateVersions does. Errors are EC2's.
 */
import type { LaunchTemplateVersion, RequestLaunchTemplateData } from '@aws-sdk/client-ec2';
import { awsError } from './errors';
import { ACCOUNT_ID, type LaunchTemplate, type LaunchTemplateRef } from './resources';
import type { World } from './world';

export function createLaunchTemplate(
  world: World,
  name: string,
  data: RequestLaunchTemplateData,
  description?: string,
  tags: Map<string, string> = new Map(),
): LaunchTemplate {
  for (const lt of world.launchTemplates.values()) {
    if (lt.name === name) {
      throw awsError('ec2', 'InvalidLaunchTemplateName.AlreadyExistsException', `Launch template name already in use.`);
    }
  }
  const lt: LaunchTemplate = {
    id: world.newId('lt-'),
    name,
    defaultVersion: 1,
    latestVersion: 1,
    versions: new Map([[1, { data: structuredClone(data), description, created: world.now }]]),
    created: world.now,
    tags: new Map(tags),
    clientTokens: new Map(),
  };
  world.launchTemplates.set(lt.id, lt);
  return lt;
}

export function findLaunchTemplate(
  templates: ReadonlyMap<string, LaunchTemplate>,
  ref: { LaunchTemplateId?: string | undefined; LaunchTemplateName?: string | undefined },
): LaunchTemplate {
  if (ref.LaunchTemplateId) {
    const lt = templates.get(ref.LaunchTemplateId);
    if (!lt) {
      throw awsError('ec2', 'InvalidLaunchTemplateId.NotFound', `The specified launch template, with template ID ${ref.LaunchTemplateId}, does not exist.`);
    }
    return lt;
  }
  if (ref.LaunchTemplateName) {
    for (const lt of templates.values()) if (lt.name === ref.LaunchTemplateName) return lt;
    throw awsError('ec2', 'InvalidLaunchTemplateName.NotFoundException', `The specified launch template, with template name ${ref.LaunchTemplateName}, does not exist.`);
  }
  throw awsError('ec2', 'MissingParameter', 'The request must contain the parameter LaunchTemplateId or LaunchTemplateName');
}

/** A version reference (`$Latest`, `$Default`, a number, or absent = `$Default`) to its number. */
export function resolveVersion(lt: LaunchTemplate, version: string | undefined): number {
  if (version === undefined || version === '$Default') return lt.defaultVersion;
  if (version === '$Latest') return lt.latestVersion;
  const n = Number(version);
  if (!Number.isInteger(n) || !lt.versions.has(n)) {
    throw awsError('ec2', 'InvalidLaunchTemplateId.VersionNotFound', `Could not find launch template version ${version} for template ${lt.id}.`);
  }
  return n;
}

export function describeVersion(lt: LaunchTemplate, n: number): LaunchTemplateVersion {
  const v = lt.versions.get(n)!;
  return {
    LaunchTemplateId: lt.id,
    LaunchTemplateName: lt.name,
    VersionNumber: n,
    VersionDescription: v.description,
    DefaultVersion: n === lt.defaultVersion,
    CreateTime: new Date(v.created * 1000),
    CreatedBy: `arn:aws:iam::${ACCOUNT_ID}:user/spotfarm-sim`,
    LaunchTemplateData: structuredClone(v.data) as LaunchTemplateVersion['LaunchTemplateData'],
  };
}

/** The launch data a reference points at; undefined when the template or version is gone. */
export function templateData(templates: ReadonlyMap<string, LaunchTemplate>, ref: LaunchTemplateRef): RequestLaunchTemplateData | undefined {
  try {
    const lt = findLaunchTemplate(templates, ref);
    return lt.versions.get(resolveVersion(lt, ref.Version))?.data;
  } catch {
    return undefined;
  }
}
