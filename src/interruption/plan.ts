/**
 * The interruption function's section of `plan`, per group: recent interruptions and rebalance
 * recommendations per pool, the breaker's state in each pool (the rule a warning would apply now), what a
 * warning would do, and the instances spotfarm has detached that still run. `readInterruptionPlanInputs`
 * reads (DynamoDB queries, one DescribeInstances); `planInterruptions` is pure.
 */
import { describeTaggedInstances } from '../aws/ec2';
import { poolRecordKey, queryRecords, type StoredRecord } from '../aws/state-store';
import type { Config } from '../config';
import { poolBreaker, type DetachedInstance } from './decide';
import { formatDuration } from '../duration';
import { INTERRUPTION_RECORD, REBALANCE_RECORD, type InterruptionRecord } from '../records';
import { poolKey } from '../model';
import type { GroupObservation } from '../observe';

import { toManagedGroup } from './observe';
import { ALIVE_STATES, DEADLINE_TAG, readDetachTags } from './tags';

export interface PoolRecords {
  interruptions: StoredRecord<InterruptionRecord>[];
  rebalances: StoredRecord<InterruptionRecord>[];
}

export interface InterruptionPlanInputs {
  /** By poolKey(): records within each group's breakerWindow. */
  pools: Map<string, PoolRecords>;
  detached: DetachedInstance[];
}

export interface InterruptionPlan {
  window: string;
  onWarning: string;
  onRebalance: string;
  breaker: { state: 'tripped' | 'armed'; limitPerInstanceHour: number; worstPool: string | null };
  pools: {
    pool: string;
    instances: number;
    interruptions: number;
    rebalanceRecommendations: number;
    ratePerInstanceHour: number;
    breaker: 'tripped' | 'armed';
    lastInterruption: string | null;
  }[];
  detachedInstances: { instanceId: string; state: string; deadline: string; detachedFor: string }[];
}

function poolsOf(g: GroupObservation): { instanceType: string; availabilityZone: string }[] {
  const types = g.instanceTypes.length > 0 ? g.instanceTypes : [...new Set(g.group.instances.map((i) => i.type))];
  return types.flatMap((instanceType) => g.group.availabilityZones.map((availabilityZone) => ({ instanceType, availabilityZone })));
}

export async function readInterruptionPlanInputs(
  config: Readonly<Config>,
  groups: GroupObservation[],
  now: Date,
): Promise<InterruptionPlanInputs> {
  const pools = new Map<string, PoolRecords>();
  if (config.stateTable !== '') {
    for (const g of groups) {
      const from = new Date(now.getTime() - g.settings.breakerWindow * 1000);
      for (const pool of poolsOf(g)) {
        const key = poolKey(pool);
        if (pools.has(key)) continue;
        const pk = poolRecordKey(pool.instanceType, pool.availabilityZone);
        pools.set(key, {
          interruptions: await queryRecords<InterruptionRecord>(config.stateTable, pk, INTERRUPTION_RECORD, from, now),
          rebalances: await queryRecords<InterruptionRecord>(config.stateTable, pk, REBALANCE_RECORD, from, now),
        });
      }
    }
  }
  const tagged = groups.length > 0 ? await describeTaggedInstances(DEADLINE_TAG, ALIVE_STATES) : [];
  return { pools, detached: tagged.flatMap((t) => readDetachTags(t, undefined) ?? []) };
}

export function planInterruptions(g: GroupObservation, inputs: InterruptionPlanInputs): InterruptionPlan {
  const group = toManagedGroup(g);
  const { settings } = g;
  const pools = poolsOf(g).map((pool) => {
    const records = inputs.pools.get(poolKey(pool)) ?? { interruptions: [], rebalances: [] };
    const recorded = records.interruptions.map((r) => ({ instanceId: r.data.instanceId }));
    const state = poolBreaker(group, pool, recorded, undefined);
    return {
      pool: `${pool.instanceType} ${pool.availabilityZone}`,
      instances: state.instances,
      interruptions: state.interruptions,
      rebalanceRecommendations: new Set(records.rebalances.map((r) => r.data.instanceId)).size,
      ratePerInstanceHour: Math.round(state.rate * 1000) / 1000,
      breaker: state.tripped ? ('tripped' as const) : ('armed' as const),
      lastInterruption: records.interruptions.map((r) => r.at).sort().pop() ?? null,
    };
  });
  const worst = [...pools].sort((a, b) => b.ratePerInstanceHour - a.ratePerInstanceHour)[0];
  const onWarning = g.group.capacityRebalance
    ? 'record it for its pool; Capacity Rebalancing replaces the instance (spotfarm does not, so never twice)'
    : 'record it for its pool and detach the instance without lowering desired capacity: the group launches its replacement at once';
  const onRebalance = {
    ignore: 'nothing (rebalance=ignore)',
    record: 'record it as a risk for its pool (rebalance=record)',
    replace: g.group.capacityRebalance
      ? 'record it; Capacity Rebalancing replaces the instance (rebalance=replace defers to it)'
      : 'record it and replace the instance early, one at a time per group (rebalance=replace)',
  }[settings.rebalance];
  return {
    window: formatDuration(settings.breakerWindow),
    onWarning,
    onRebalance,
    breaker: {
      state: pools.some((p) => p.breaker === 'tripped') ? 'tripped' : 'armed',
      limitPerInstanceHour: settings.breakerInterruptions,
      worstPool: worst && worst.interruptions > 0 ? worst.pool : null,
    },
    pools,
    detachedInstances: inputs.detached
      .filter((d) => d.fromGroup === g.group.name)
      .map((d) => ({ instanceId: d.id, state: d.state, deadline: d.deadline, detachedFor: d.reason })),
  };
}
