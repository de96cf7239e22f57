/**
 * EC2 Instance Launch Unsuccessful (source aws.autoscaling): Auto Scaling could not launch an instance. The
 * reason is free text in `StatusMessage` (aws.md §1.6, §3.6); `EC2InstanceId` may be absent and is not used.
 *
 * Example (shape of the AWS event reference's sample, with a real capacity message):
 * ```json
 * {"version": "0", "id": "3e3c153a-8339-4e30-8c35-687ebef853fe",
 *  "detail-type": "EC2 Instance Launch Unsuccessful", "source": "aws.autoscaling", "account": "123456789012",
 *  "time": "2025-03-14T09:31:07Z", "region": "us-east-1",
 *  "resources": ["arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:0c6a2e84-8d43-4ab0-bd18-f5e3f1b8a2a1:autoScalingGroupName/ml-spot"],
 *  "detail": {"StatusCode": "Failed", "AutoScalingGroupName": "ml-spot",
 *   "ActivityId": "9cabb81f-42de-417d-8aa7-ce16bf026590", "Details": {"Availability Zone": "us-east-1b", "Subnet ID": "subnet-95bfcebe"},
 *   "RequestId": "9cabb81f-42de-417d-8aa7-ce16bf026590",
 *   "StatusMessage": "We currently do not have sufficient c5.large capacity in the Availability Zone you requested (us-east-1b). Our system will be working on provisioning additional capacity. Launching EC2 instance failed.",
 *   "EndTime": "2025-03-14T09:31:07.000Z", "StartTime": "2025-03-14T09:31:06.512Z",
 *   "Description": "Launching a new EC2 instance.  Status Reason: We currently do not have sufficient c5.large capacity ...",
 *   "Cause": "At 2025-03-14T09:31:05Z an instance was started in response to a difference between desired and actual capacity, increasing the capacity from 3 to 4."}}
 * ```
 */
import * as z from 'zod/mini';
import type { EventKind } from './registry';

export interface LaunchUnsuccessful {
  kind: 'launch_unsuccessful';
  id: string;
  time: Date;
  groupName: string;
  /** The scaling activity; the same failure seen through DescribeScalingActivities has the same id. */
  activityId: string | undefined;
  /** AWS's reason, free text. */
  statusMessage: string;
  availabilityZone: string | undefined;
  /**
   * When the launch started (ISO): the time DescribeScalingActivities gives the same activity, so a capacity
   * failure recorded from either source has the same record key. The event's time when absent or unreadable.
   */
  startedAt: string;
}

export const LaunchUnsuccessfulDetailSchema = z.object({
  AutoScalingGroupName: z.string().check(z.minLength(1)),
  StatusCode: z.optional(z.string()),
  StatusMessage: z._default(z.string(), ''),
  Description: z.optional(z.string()),
  ActivityId: z.optional(z.string()),
  StartTime: z.optional(z.string()),
  Details: z.optional(z.object({ 'Availability Zone': z.optional(z.string()) })),
});

export const launchUnsuccessful: EventKind<LaunchUnsuccessful> = {
  source: 'aws.autoscaling',
  detailType: 'EC2 Instance Launch Unsuccessful',
  detail: LaunchUnsuccessfulDetailSchema,
  toMessage: (envelope, detail: z.infer<typeof LaunchUnsuccessfulDetailSchema>) => ({
    kind: 'launch_unsuccessful',
    startedAt:
      detail.StartTime !== undefined && !Number.isNaN(Date.parse(detail.StartTime))
        ? new Date(detail.StartTime).toISOString()
        : new Date(envelope.time).toISOString(),
    id: envelope.id,
    time: new Date(envelope.time),
    groupName: detail.AutoScalingGroupName,
    activityId: detail.ActivityId || undefined,
    // The reason sometimes sits only in the description ("... Status Reason: ..."): keep both.
    statusMessage: [detail.StatusMessage, detail.Description].filter((s) => s !== undefined && s !== '').join(' '),
    availabilityZone: detail.Details?.['Availability Zone'] || undefined,
  }),
};
