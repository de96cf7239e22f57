/**
 * A farm's route to on-demand, pure: whether anything can take a spot group's share when its spot fails (a storm,
 * a price spike, no capacity), said in plain words with what to do. Shared below the controllers: `plan` says it
 * per farm (src/plan.ts) and the market controller says it in its decision when a fall-back was due and could not
 * happen (src/market/decide.ts). docs/market.md, "A farm with no route to on-demand".
 *
 * The routes, per market style of the spot group:
 * - launch configuration, launch template, mixed instances with `mixedFallback=percentage`: the group's own swap
 *   (its launch source or its On-Demand percentage); the farm's on-demand group covers a shortfall before that.
 *   Always a route.
 * - mixed instances with `mixedFallback=on-demand-group` (the default): the group's fall-back leaves it alone and
 *   the farm's on-demand group takes its share. Without an on-demand group, or with its max at 0, nothing ever can:
 *   a fall-back would only stop the group's spot launches.
 */
import type { MixedFallback } from './settings';

/** The farm's on-demand fallback groups as the route needs them. */
export interface OnDemandGroupFacts {
  name: string;
  max: number;
  desired: number;
}

/** The spot group as the route needs it: its launch style and, for mixed instances, how it falls back. */
export interface SpotRouteFacts {
  name: string;
  style: 'launch-configuration' | 'launch-template' | 'mixed-instances' | 'none';
  mixedFallback: MixedFallback;
}

/** Whether the group's fall-back is the farm's on-demand group taking its share (no route of its own). */
export function fallsBackThroughOnDemandGroup(spot: Pick<SpotRouteFacts, 'style' | 'mixedFallback'>): boolean {
  return spot.style === 'mixed-instances' && spot.mixedFallback === 'on-demand-group';
}

/** The cure, named for the farm's case. */
function cure(spot: SpotRouteFacts, farm: string | undefined, onDemand: readonly OnDemandGroupFacts[]): string {
  const first =
    onDemand.length === 0
      ? `add an on-demand group (tags spotfarm:farm=${farm ?? '<farm>'}, spotfarm:role=on-demand)`
      : `raise the max of ${onDemand.map((g) => g.name).join(', ')}`;
  return `${first}, or tag ${spot.name} spotfarm:mixedFallback=percentage (its fall-back then raises its own On-Demand percentage)`;
}

/**
 * Undefined when the farm has a route to on-demand for this spot group; otherwise the plain sentence that says
 * it has none, why, and what to do. Static: the configuration, not the moment (an on-demand group at its max
 * now is `onDemandGroupFull`).
 */
export function noRouteToOnDemand(spot: SpotRouteFacts, farm: string | undefined, onDemand: readonly OnDemandGroupFacts[]): string | undefined {
  if (!fallsBackThroughOnDemandGroup(spot)) return undefined;
  if (onDemand.reduce((sum, g) => sum + Math.max(0, g.max), 0) > 0) return undefined;
  const what =
    onDemand.length === 0
      ? 'the farm has none'
      : `the farm's on-demand group ${onDemand.length === 1 ? `${onDemand[0]!.name} has` : `groups (${onDemand.map((g) => g.name).join(', ')}) have`} max 0`;
  return (
    `this farm has no route to on-demand: the mixed-instances group ${spot.name} falls back through the farm's on-demand group (mixedFallback=on-demand-group), and ${what}, ` +
    `so nothing can take its share when its spot fails (a storm, a price spike, no capacity): jobs wait until spot is back. To fix: ${cure(spot, farm, onDemand)}`
  );
}

/**
 * Undefined unless the group falls back through the farm's on-demand group(s) and they are at their max now (but
 * their max is above 0): until they have room nothing takes more of the group's share. A moment, not the
 * configuration: said in plan beside the group's figures, not as a missing route.
 */
export function onDemandGroupFull(spot: SpotRouteFacts, farm: string, onDemand: readonly OnDemandGroupFacts[]): string | undefined {
  if (!fallsBackThroughOnDemandGroup(spot) || onDemand.length === 0) return undefined;
  const max = onDemand.reduce((sum, g) => sum + Math.max(0, g.max), 0);
  if (max === 0 || onDemand.some((g) => g.desired < g.max)) return undefined;
  return (
    `the farm's on-demand group is at its max (${max}) now: ${spot.name} falls back through it (mixedFallback=on-demand-group), so until it has room nothing takes more of ${spot.name}'s share when its spot fails; ` +
    `if it stays there: ${cure(spot, farm, onDemand)}`
  );
}
