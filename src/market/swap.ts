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
import { describeTemplateData, describeTemplateTags, ensureLaunchTemplateVersion, type TemplateData } from '../aws/ec2';
import type { SetSpotMaxPriceAction, SwapToOnDemandAction, SwapToSpotAction } from './actions';
import { AwsCallError, SpotfarmError } from '../errors';
import { onDemandTwinName, type MarketOriginals } from './state';
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

/** A mixed-instances group's spot max price (the pool cap, src/market/pools.ts: the only style it caps). */
export async function executeSpotMaxPrice(action: SetSpotMaxPriceAction, _eventId: string): Promise<void> {
  if (action.source.style !== 'mixed-instances') throw new Error(`no spot max price for market style ${action.source.style}`);
  await setSpotMaxPrice(action.asgName, action.maxPrice);
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

/** Same inputs -> same token, so EC2 returns what it already made instead of making another. */
function clientToken(groupName: string, kind: string, eventId: string): string {
  return `spotfarm-${createHash('sha256').update(`${groupName}|${kind}|${eventId}`).digest('hex').slice(0, 48)}`;
}
