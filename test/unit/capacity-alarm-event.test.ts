/** The CloudWatch Alarm State Change event kind: fixtures of real shapes through the registry. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alarmStateChange, parseAlarmName } from '../../src/events/alarm-state-change';
import { EventRegistry } from '../../src/events/registry';
import { scheduledTick } from '../../src/events/scheduled';

const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(resolve(__dirname, '../fixtures/events', name), 'utf8')) as Record<string, unknown>;
const registry = () => new EventRegistry().register(alarmStateChange).register(scheduledTick);

describe('CloudWatch Alarm State Change', () => {
  it.each([
    ['alarm-backlog-high.json', { alarmName: 'demo-backlog-high', namePrefix: 'demo', direction: 'high', state: 'ALARM', previousState: 'OK', queueNames: ['demo-jobs'], stateSince: '2025-03-01T12:04:40.989Z' }],
    ['alarm-backlog-low.json', { alarmName: 'demo-backlog-low', direction: 'low', state: 'ALARM', queueNames: ['demo-jobs'] }],
    // The CloudWatch User Guide's sample: an EC2 metric, no SQS queue, a name outside the convention.
    ['alarm-cpu-aws-sample.json', { alarmName: 'ServerCpuTooHigh', namePrefix: undefined, direction: undefined, queueNames: [], time: new Date('2019-10-02T17:04:40Z') }],
    // Metric math: the queue comes from the input metric; the initial previous state has no reasonData.
    ['alarm-metric-math.json', { alarmName: 'DemoBacklogPerInstance', direction: undefined, previousState: 'INSUFFICIENT_DATA', queueNames: ['demo-jobs'] }],
  ])('%s parses to a typed message', (name, expected) => {
    // Act
    const message = registry().parse(fixture(name));
    // Assess
    expect(message).toMatchObject({ kind: 'queue_depth_alarm', ...expected });
  });

  it('names the event and every bad field of a malformed alarm', () => {
    expect(() => registry().parse(fixture('malformed-alarm-state.json'))).toThrow(
      /malformed CloudWatch Alarm State Change event 9d1c2b3a-0000-4000-8000-000000000bad: detail.alarmName: expected string; detail.state.value: expected one of OK, ALARM, INSUFFICIENT_DATA \(got "FIRING"\)/,
    );
  });

  it('rejects an alarm event without an id or time (envelope)', () => {
    // Prepare
    const event = fixture('alarm-backlog-high.json');
    delete event.time;
    // Act / Assess
    expect(() => registry().parse(event)).toThrow(/malformed CloudWatch Alarm State Change event .*time/);
  });

  it('keeps a schedule tick a tick', () => {
    expect(registry().parse(fixture('queue-scaler-tick.json'))).toMatchObject({ kind: 'scheduled_tick', time: new Date('2025-03-01T12:00:00Z') });
  });

  it('an alarm configuration change (another detail-type) is a noop message', () => {
    expect(registry().parse({ ...fixture('alarm-backlog-high.json'), 'detail-type': 'CloudWatch Alarm Configuration Change' })).toMatchObject({ kind: 'noop' });
  });

  it.each([
    ['spotfarm-prod-backlog-high', { prefix: 'spotfarm-prod', direction: 'high' }],
    ['ml-backlog-low', { prefix: 'ml', direction: 'low' }],
    ['backlog-high', { prefix: undefined, direction: 'high' }],
    ['ml-backlog-highest', undefined],
    ['ServerCpuTooHigh', undefined],
  ])('alarm name %s', (name, expected) => {
    expect(parseAlarmName(name)).toEqual(expected);
  });
});
