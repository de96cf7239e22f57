/**
 * Scale-in protection for the worker's own instance: on while any job runs, off when idle, so the
 * queue scaler's scale-in picks an idle instance rather than a busy one. Every failure is logged and
 * swallowed on purpose: without protection the worker still works, it is only less safe from
 * scale-in, and a missing permission must not stop the farm.
 */
import {
  AutoScalingClient,
  DescribeAutoScalingInstancesCommand,
  SetInstanceProtectionCommand,
} from '@aws-sdk/client-auto-scaling';
import { awsErrorName, errorMessage } from './errors';
import type { Log } from './log';

export class ScaleInProtection {
  private groupName: string | undefined;
  private wanted = false;
  private applied: boolean | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly client: AutoScalingClient,
    private readonly instanceId: string,
    private readonly log: Log,
  ) {}

  /** Finds the instance's group. Returns false (and logs why) when protection cannot work. */
  async init(): Promise<boolean> {
    try {
      const out = await this.client.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [this.instanceId] }));
      const group = out.AutoScalingInstances?.find((i) => i.InstanceId === this.instanceId)?.AutoScalingGroupName;
      if (group === undefined) {
        this.log('warn', 'protection_disabled', {
          instanceId: this.instanceId,
          reason: 'instance is not in an auto scaling group',
        });
        return false;
      }
      this.groupName = group;
      this.applied = out.AutoScalingInstances?.find((i) => i.InstanceId === this.instanceId)?.ProtectedFromScaleIn;
      return true;
    } catch (error) {
      this.log('warn', 'protection_disabled', {
        instanceId: this.instanceId,
        reason: `describing auto scaling instance ${this.instanceId}: ${awsErrorName(error)}: ${errorMessage(error)}`,
      });
      return false;
    }
  }

  get asgName(): string | undefined {
    return this.groupName;
  }

  /** Asks for protection on or off. Calls are serialised and coalesced: only the last wish counts. */
  set(on: boolean): Promise<void> {
    this.wanted = on;
    this.running ??= this.converge().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Resolves once the last wish has been applied (or has failed and been logged). */
  async settled(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  private async converge(): Promise<void> {
    if (this.groupName === undefined) return;
    while (this.applied !== this.wanted) {
      const target = this.wanted;
      try {
        await this.client.send(
          new SetInstanceProtectionCommand({
            AutoScalingGroupName: this.groupName,
            InstanceIds: [this.instanceId],
            ProtectedFromScaleIn: target,
          }),
        );
        this.applied = target;
        this.log('info', target ? 'protected' : 'unprotected', {
          instanceId: this.instanceId,
          asgName: this.groupName,
        });
      } catch (error) {
        this.log('warn', 'protection_failed', {
          instanceId: this.instanceId,
          asgName: this.groupName,
          protect: target,
          reason: `setting scale-in protection on auto scaling group ${this.groupName}: ${awsErrorName(error)}: ${errorMessage(error)}`,
        });
        // Give up on this wish; the next start or idle transition tries again.
        return;
      }
    }
  }
}
