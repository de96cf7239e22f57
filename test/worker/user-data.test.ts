/**
 * worker/user-data.sh is what the launch template runs. It cannot boot an instance here, so these
 * check what can go wrong before it does: syntax, Fn::Sub safety, and the guard on unset settings.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SCRIPT = resolve(__dirname, '../../worker/user-data.sh');

describe('worker/user-data.sh', () => {
  it('is valid bash', () => {
    // Act
    const check = spawnSync('bash', ['-n', SCRIPT], { encoding: 'utf8' });
    // Assess
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });

  it('has Fn::Sub placeholders only in its settings block', () => {
    // Prepare
    const text = readFileSync(SCRIPT, 'utf8');
    const [, settings = '', body = ''] = text.split(/^# ---.*$/m);
    // Act
    const placeholders = settings.match(/\$\{(\w+)\}/g) ?? [];
    // Assess
    expect(placeholders).toEqual([
      '${QueueUrl}',
      '${WorkerCommand}',
      '${WorkerSlots}',
      '${WorkerBundle}',
      '${SpotfarmGit}',
      '${SpotfarmRef}',
    ]);
    expect(body).not.toContain('${');
  });

  it('stops with a clear message when a setting was never filled in', () => {
    // Act: unfilled placeholders are caught before anything is installed.
    const run = spawnSync('bash', [SCRIPT], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    // Assess
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('spotfarm user data: set QUEUE_URL at the top of the script');
  });
});
