/**
 * Carries out a market swap for each of the three market styles. Only new instances are affected: a swap
 * changes what the group launches, never what runs. Every step is safe to repeat (a retried swap finds the
 * twin already there, the template version already made for this event, the group already pointed), so a
 * swap that failed half way is finished by the next attempt rather than doubled.
 */
import { createHash } from 'node:crypto';
import {
  createLaunchConfiguration,
  getLaunchConfiguration,
  setOnDemandPercentage,
  setSpotMaxPrice,
  updateGroupLaunchSource,
} from '../aws/autoscaling';
import { createLaunchTemplateVersion, describeTemplateData } from '../aws/ec2';
import type { SwapToOnDemandAction, SwapToSpotAction } from '../actions';
import type { Executor } from '../execute';
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

/** The market controller's executor (src/execute.ts carries out the shared kinds and writes the audit record). */
export const swapExecutor: Executor = async (action, ctx) => {
  if (action.kind === 'setSpotMaxPrice') {
    if (action.source.style === 'mixed-instances') await setSpotMaxPrice(action.asgName, action.maxPrice);
    else if (action.source.style === 'launch-template') {
      await templateMaxPrice(action.asgName, action.source, action.maxPrice, clientToken(action.asgName, `setSpotMaxPrice:${action.maxPrice}`, ctx.eventId));
    } else throw new Error(`no spot max price for market style ${action.source.style}`);
    return { outcome: 'done', audit: true };
  }
  if (action.kind !== 'swapToOnDemand' && action.kind !== 'swapToSpot') throw new Error(`the market controller does not execute ${action.kind}`);
  await executeSwap(action, ctx.eventId);
  return { outcome: 'done', audit: true };
};

export async function executeSwap(action: SwapToOnDemandAction | SwapToSpotAction, eventId: string): Promise<void> {
  const originals = action.kind === 'swapToOnDemand' ? action.from : action.to;
  const token = clientToken(action.asgName, action.kind, eventId);
  switch (originals.style) {
    case 'launch-configuration':
      if (action.kind === 'swapToOnDemand') await launchConfigurationToOnDemand(action.asgName, originals.name);
      else await updateGroupLaunchSource(action.asgName, { launchConfigurationName: originals.name });
      return;
    case 'launch-template':
      if (action.kind === 'swapToOnDemand') await templateToOnDemand(action.asgName, originals, token);
      else await templateToSpot(action.asgName, originals, token);
      return;
    case 'mixed-instances':
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

/** A new version made from the spot version in use, without its spot market options; the group points at it. */
async function templateToOnDemand(groupName: string, spot: TemplateOriginals, token: string): Promise<void> {
  const source = templateOf(spot, spot.resolvedVersion !== undefined ? String(spot.resolvedVersion) : spot.version);
  const { data, versionNumber } = await describeTemplateData(source);
  delete data.InstanceMarketOptions;
  const version = await createLaunchTemplateVersion(
    source,
    data,
    `spotfarm: on-demand copy of version ${versionNumber ?? spot.version} for group ${groupName}`,
    token,
  );
  await updateGroupLaunchSource(groupName, { launchTemplate: templateOf(spot, String(version)) });
}

/**
 * Back to spot with a new version copied from the remembered spot version: newer than the on-demand version, so
 * the OldestLaunchTemplate termination policy retires the on-demand instances first as the group scales in. A
 * group that followed `$Latest` follows it again; any other group names the new version's number.
 */
async function templateToSpot(groupName: string, spot: TemplateOriginals, token: string): Promise<void> {
  const source = templateOf(spot, spot.resolvedVersion !== undefined ? String(spot.resolvedVersion) : spot.version);
  const { data, versionNumber } = await describeTemplateData(source);
  const version = await createLaunchTemplateVersion(
    source,
    data,
    `spotfarm: spot again, copy of version ${versionNumber ?? spot.version}, for group ${groupName}`,
    token,
  );
  await updateGroupLaunchSource(groupName, { launchTemplate: templateOf(spot, spot.version === '$Latest' ? '$Latest' : String(version)) });
}

/**
 * A launch-template group's spot max price: a new version copied from the version in use with
 * `InstanceMarketOptions.SpotOptions.MaxPrice` set (or removed for ''), and the group pointed at it (a group
 * following `$Latest` follows it again). New instances launch from it; running ones keep the version and max
 * price they launched with ("Existing instances continue to run with the configuration that they were
 * originally launched with", API_UpdateAutoScalingGroup).
 */
async function templateMaxPrice(groupName: string, current: TemplateOriginals, maxPrice: string, token: string): Promise<void> {
  const source = templateOf(current, current.resolvedVersion !== undefined ? String(current.resolvedVersion) : current.version);
  const { data, versionNumber } = await describeTemplateData(source);
  const spotOptions = { ...data.InstanceMarketOptions?.SpotOptions };
  if (maxPrice === '') delete spotOptions.MaxPrice;
  else spotOptions.MaxPrice = maxPrice;
  data.InstanceMarketOptions = { ...data.InstanceMarketOptions, MarketType: 'spot', SpotOptions: spotOptions };
  const version = await createLaunchTemplateVersion(
    source,
    data,
    `spotfarm: spot max price ${maxPrice === '' ? 'removed' : maxPrice}, copy of version ${versionNumber ?? current.version}, for group ${groupName}`,
    token,
  );
  await updateGroupLaunchSource(groupName, { launchTemplate: templateOf(current, current.version === '$Latest' ? '$Latest' : String(version)) });
}

/** Same swap of the same event -> same token, so EC2 returns the version it already made. */
function clientToken(groupName: string, kind: string, eventId: string): string {
  return `spotfarm-${createHash('sha256').update(`${groupName}|${kind}|${eventId}`).digest('hex').slice(0, 48)}`;
}
