import { describe, expect, it } from 'vitest';
import { jsonLog } from '../../worker/log';

describe('jsonLog', () => {
  it('writes one JSON line per event, head first, and a field cannot overwrite the head', () => {
    // Prepare
    const lines: string[] = [];
    const log = jsonLog((line) => lines.push(line), 'INFO');
    // Act
    log('warn', 'interruption_notice', { time: 'not the time', event: 'nope', instanceId: 'i-0abc' });
    // Assess
    expect(lines).toHaveLength(1);
    expect(lines[0]?.endsWith('\n')).toBe(true);
    const parsed = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    expect(Object.keys(parsed).slice(0, 3)).toEqual(['time', 'level', 'event']);
    expect(parsed).toMatchObject({ level: 'warn', event: 'interruption_notice', instanceId: 'i-0abc' });
    expect(Date.parse(String(parsed.time))).not.toBeNaN();
  });

  it.each([
    { level: 'DEBUG', written: 4 },
    { level: 'INFO', written: 3 },
    { level: 'WARN', written: 2 },
    { level: 'ERROR', written: 1 },
    { level: 'SILENT', written: 0 },
    { level: 'bogus', written: 3 },
  ])('SPOTFARM_LOG_LEVEL=$level writes $written of 4 levels', ({ level, written }) => {
    // Prepare
    const lines: string[] = [];
    const log = jsonLog((line) => lines.push(line), level);
    // Act
    for (const l of ['debug', 'info', 'warn', 'error'] as const) log(l, 'event');
    // Assess
    expect(lines).toHaveLength(written);
  });
});
