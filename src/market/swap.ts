/**
 * Carries out a market swap for each of the three market styles. Only new instances are affected: a swap
 * changes what the group launches, never what runs (the mixed-instances percentage aside: see docs/market.md).
 * Every step is safe to repeat (a retried swap finds the twin already there, the on-demand copy of the same
 * source version already made, the group already pointed), so a swap that failed half way is finished by the
 * next attempt rather than doubled.
 */
import { createHash } from 'node:crypto';
import {
  createLaunchConfiguration,
  getLaunchConfiguration,
  setOnDemandPercentage,
  setSpotMaxPrice,
  updateGroupLaunchSource,
} from '../aws/autoscaling';
import { addLaunchTemplateVersion, describeTemplateData, describeTemplateTags, ensureLaunchTemplateVersion, findLaunchTemplateId, type TemplateData } from '../aws/ec2';
import type { SetSpotMaxPriceAction, SwapToOnDemandAction, SwapToSpotAction } from './actions';
import { AwsCallError, SpotfarmError } from '../errors';
import { cappedLaunchConfigurationName, cappedTemplateName, onDemandTwinName, type MarketOriginals } from './state';
import type { TemplateRef } from '../model';

/**
 * AWS refuses CreateLaunchConfiguration in accounts created on or after 2024-10-01 ("The Launch Configuration
 * creation operation is not available in your account. Use launch templates ..."). Retrying cannot help.
 */
export class LaunchConfigurationRefusedError extends SpotfarmError {
  constructor(
    readonly groupName: string,
    readonly awsMessage: string,
    cause: unknown,
  ) {
    super(
      `group ${groupName}: this account cannot create launch configurations, so spotfarm cannot make the on-demand twin ` +
        `of its spot launch configuration. Move the group to a launch template (or a mixed instances policy) and ` +
        `spotfarm swaps it by template version instead. AWS said: ${awsMessage}`,
      { cause },
    );
  }
}

const REFUSED = /creation operation is not available|not available in your account/i;

export function isLaunchConfigurationRefusal(error: unknown): boolean {
  return error instanceof AwsCallError && REFUSED.test(error.message);
}

/**
 * The pool cap (src/market/pools.ts), by market style: a mixed policy's SpotMaxPrice; for a launch-template or
 * launch-configuration group a capped copy the group is pointed at, or (restore) the owner's source as it was.
 */
export async function executeSpotMaxPrice(action: SetSpotMaxPriceAction, _eventId: string): Promise<void> {
  const source = action.source;
  switch (source.style) {
    case 'mixed-instances':
      await setSpotMaxPrice(action.asgName, action.maxPrice);
      return;
    case 'launch-template':
      if (action.restore) await templateToSpot(action.asgName, source);
      else await templateCapped(action.asgName, source, action.copyVersion, action.maxPrice);
      return;
    case 'launch-configuration':
      if (action.restore) await updateGroupLaunchSource(action.asgName, { launchConfigurationName: source.name });
      else await launchConfigurationCapped(action.asgName, source.name, action.maxPrice);
      return;
    default: {
      const unknown: never = source;
      throw new Error(`no spot max price for market style ${JSON.stringify(unknown)}`);
    }
  }
}

export async function executeSwap(action: SwapToOnDemandAction | SwapToSpotAction, _eventId: string): Promise<void> {
  const originals = action.kind === 'swapToOnDemand' ? action.from : action.to;
  switch (originals.style) {
    case 'launch-configuration':
      if (action.kind === 'swapToOnDemand') await launchConfigurationToOnDemand(action.asgName, originals.name);
      else await updateGroupLaunchSource(action.asgName, { launchConfigurationName: originals.name });
      return;
    case 'launch-template':
      if (action.kind === 'swapToOnDemand') await templateToOnDemand(action.asgName, originals);
      else await templateToSpot(action.asgName, originals);
      return;
    case 'mixed-instances':
      // By default the group is left alone: the market state says on-demand and the queue scaler gives the spot
      // group's share to the farm's on-demand group. Changing OnDemandPercentageAboveBaseCapacity instead makes
      // Auto Scaling replace running instances to reach the new mix ("half of your instances will be gradually
      // terminated and relaunched", UpdateAutoScalingGroup API reference), killing their jobs: opt-in only.
      if (originals.fallback !== 'percentage' && originals.fallback !== undefined) return;
      await setOnDemandPercentage(action.asgName, action.kind === 'swapToOnDemand' ? 100 : originals.onDemandPercentageAboveBaseCapacity);
      return;
    default: {
      const unknown: never = originals;
      throw new Error(`no swap for market style ${JSON.stringify(unknown)}`);
    }
  }
}

/** The recipe's own move: an on-demand twin of the spot launch configuration (same settings, no SpotPrice). */
async function launchConfigurationToOnDemand(groupName: string, spotName: string): Promise<void> {
  const twin = onDemandTwinName(spotName);
  if (!(await getLaunchConfiguration(twin))) {
    const spot = await getLaunchConfiguration(spotName);
    if (!spot) throw new SpotfarmError(`group ${groupName}: its spot launch configuration ${spotName} no longer exists`);
    const { SpotPrice: _spotPrice, ...onDemand } = spot;
    try {
      await createLaunchConfiguration(twin, onDemand);
    } catch (error) {
      if (isLaunchConfigurationRefusal(error)) {
        const message = error instanceof AwsCallError && error.cause instanceof Error ? error.cause.message : String(error);
        throw new LaunchConfigurationRefusedError(groupName, message, error);
      }
      // A concurrent or earlier attempt made it: the twin is there, which is all we need.
      if (!(error instanceof AwsCallError && /AlreadyExists/.test(error.awsName ?? ''))) throw error;
    }
  }
  await updateGroupLaunchSource(groupName, { launchConfigurationName: twin });
}

type TemplateOriginals = Extract<MarketOriginals, { style: 'launch-template' }>;

const templateOf = (o: TemplateOriginals, version: string): TemplateRef => ({ id: o.templateId, name: o.templateName, version });

/**
 * The on-demand copy of a launch template's data: no spot market options, and no tags for spot instance
 * requests, which EC2 refuses on a launch that creates none ("You cannot specify tags for Spot instances
 * requests if there are no Spot instances requests being created", RunInstances with TagSpecifications of
 * ResourceType spot-instances-request; the simulated cloud refuses the same way).
 */
export function onDemandCopy(data: TemplateData): TemplateData {
  const copy = structuredClone(data);
  delete copy.InstanceMarketOptions;
  if (copy.TagSpecifications) {
    // launch-template: not launch data (moto echoes a template's own tags here); AWS would refuse it.
    copy.TagSpecifications = copy.TagSpecifications.filter((spec) => spec.ResourceType !== 'spot-instances-request' && spec.ResourceType !== 'launch-template');
    if (copy.TagSpecifications.length === 0) delete copy.TagSpecifications;
  }
  return copy;
}

/** spotfarm's own template holding the on-demand copies of one of the owner's templates. */
export const onDemandTemplateName = (templateId: string): string => `spotfarm-on-demand-${templateId}`;

/**
 * To on-demand: the data of the version the group launches now, without its spot options, as a version of
 * spotfarm's own template (`spotfarm-on-demand-<template id>`, tagged for the farm); the group points at that
 * version. The owner's template gets no version: its `$Latest` stays what its owner (and every other group
 * following it) made it (EC2 user guide, "Modify a launch template (manage launch template versions)": a new
 * version becomes `$Latest`).
 */
async function templateToOnDemand(groupName: string, spot: TemplateOriginals): Promise<void> {
  const source = templateOf(spot, spot.version);
  const { data, versionNumber, templateId } = await describeTemplateData(source);
  const id = templateId ?? spot.templateId;
  if (!id) throw new SpotfarmError(`group ${groupName}: launch template ${spot.templateName ?? '?'} has no id`);
  // spotfarm's copy carries the owner's farm tag: IAM lets spotfarm launch only from templates of its farm.
  const farm = (await describeTemplateTags(id))?.['spotfarm:farm'] ?? '';
  // The same source version always makes the same copy: a retry (another event) returns it, adds none.
  const token = clientToken(groupName, `on-demand-copy-v2|${id}`, String(versionNumber ?? spot.version));
  const copy = onDemandCopy(data);
  const description = `spotfarm: on-demand copy of ${id} version ${versionNumber ?? spot.version} for group ${groupName}`;
  const own = await ensureLaunchTemplateVersion(onDemandTemplateName(id), copy, description, { 'spotfarm:farm': farm, 'spotfarm:copy-of': id }, token);
  await updateGroupLaunchSource(groupName, { launchTemplate: { id: own.templateId, name: undefined, version: String(own.version) } });
}

/**
 * Back to spot: the group points at the owner's template exactly as it did before the fall-back (`$Latest`,
 * `$Default` or the number it was pinned to). Nothing is copied back, so whatever the owner published meanwhile
 * (a new AMI, new user data) is what the group launches, a `$Default` follower follows `$Default` again, and no
 * other user of the template moves. Instances of spotfarm's on-demand template are the non-current template's,
 * which the OldestLaunchTemplate termination policy retires first as the group scales in (EC2 Auto Scaling user
 * guide, "Configure termination policies").
 */
async function templateToSpot(groupName: string, spot: TemplateOriginals): Promise<void> {
  await updateGroupLaunchSource(groupName, { launchTemplate: templateOf(spot, spot.version) });
}

/**
 * The capped copy of a spot template's data: its spot options kept, with `MaxPrice` set. EC2 launches spot from
 * it only while the pool's price is at or below that price ("MaxPrice: The maximum hourly price you're willing to
 * pay for a Spot Instance", LaunchTemplateSpotMarketOptionsRequest; Auto Scaling does not launch spot when the max
 * price is lower than the spot price, API_InstancesDistribution); running instances keep the max price they
 * launched with.
 */
export function cappedCopy(data: TemplateData, maxPrice: string): TemplateData {
  const copy = structuredClone(data);
  const options = copy.InstanceMarketOptions;
  copy.InstanceMarketOptions = { ...options, MarketType: 'spot', SpotOptions: { ...options?.SpotOptions, MaxPrice: maxPrice } };
  if (copy.TagSpecifications) {
    // launch-template: not launch data (moto echoes a template's own tags here); AWS would refuse it.
    copy.TagSpecifications = copy.TagSpecifications.filter((spec) => spec.ResourceType !== 'launch-template');
    if (copy.TagSpecifications.length === 0) delete copy.TagSpecifications;
  }
  return copy;
}

/**
 * The cap of a launch-template group: the owner's version (the number resolved when the cap was decided) copied
 * with the max price set, as a version of spotfarm's own template (`spotfarm-capped-<template id>`, tagged for the
 * farm), and the group pointed at that version. The owner's template gets no version, so its `$Latest` and
 * `$Default` stay what its owner made them for every other user.
 */
async function templateCapped(groupName: string, spot: TemplateOriginals, copyVersion: number | undefined, maxPrice: string): Promise<void> {
  const source = templateOf(spot, copyVersion !== undefined ? String(copyVersion) : spot.version);
  const { data, versionNumber, templateId } = await describeTemplateData(source);
  const id = templateId ?? spot.templateId;
  if (!id) throw new SpotfarmError(`group ${groupName}: launch template ${spot.templateName ?? '?'} has no id`);
  if (data.InstanceMarketOptions?.MarketType !== 'spot') {
    // The owner made the template launch on-demand (a new $Latest / $Default): a spot copy would overrule them.
    // The group follows the owner's template as named again; the next check sees it on-demand, moved outside.
    await templateToSpot(groupName, spot);
    return;
  }
  const farm = (await describeTemplateTags(id))?.['spotfarm:farm'] ?? '';
  // The same source version at the same price always makes the same copy: a retry returns it, adds none.
  const token = clientToken(groupName, `capped-copy|${id}|${maxPrice}`, String(versionNumber ?? source.version));
  const description = `spotfarm: copy of ${id} version ${versionNumber ?? source.version} with spot max price ${maxPrice}, for group ${groupName}`;
  const name = cappedTemplateName(id);
  // Read first: a cap is set again and again over a template's life, and a CreateLaunchTemplate refused as
  // AlreadyExists each time would be a failed write in the audit trail for nothing.
  const own = (await findLaunchTemplateId(name))
    ? await addLaunchTemplateVersion(name, cappedCopy(data, maxPrice), description, token)
    : await ensureLaunchTemplateVersion(name, cappedCopy(data, maxPrice), description, { 'spotfarm:farm': farm, 'spotfarm:copy-of': id }, token);
  await updateGroupLaunchSource(groupName, { launchTemplate: { id: own.templateId, name: undefined, version: String(own.version) } });
}

/**
 * The cap of a launch-configuration group: a copy of its spot configuration with SpotPrice set to the cap
 * (`<name>-spotfarm-max-<price>`, made once: configurations are immutable), and the group pointed at it.
 */
async function launchConfigurationCapped(groupName: string, spotName: string, maxPrice: string): Promise<void> {
  const capped = cappedLaunchConfigurationName(spotName, maxPrice);
  if (!(await getLaunchConfiguration(capped))) {
    const spot = await getLaunchConfiguration(spotName);
    if (!spot) throw new SpotfarmError(`group ${groupName}: its spot launch configuration ${spotName} no longer exists`);
    try {
      await createLaunchConfiguration(capped, { ...spot, SpotPrice: maxPrice });
    } catch (error) {
      if (isLaunchConfigurationRefusal(error)) {
        const message = error instanceof AwsCallError && error.cause instanceof Error ? error.cause.message : String(error);
        throw new LaunchConfigurationRefusedError(groupName, message, error);
      }
      if (!(error instanceof AwsCallError && /AlreadyExists/.test(error.awsName ?? ''))) throw error;
    }
  }
  await updateGroupLaunchSource(groupName, { launchConfigurationName: capped });
}

/** Same inputs -> same token, so EC2 returns what it already made instead of making another. */
function clientToken(groupName: string, kind: string, eventId: string): string {
  return `spotfarm-${createHash('sha256').update(`${groupName}|${kind}|${eventId}`).digest('hex').slice(0, 48)}`;
}
