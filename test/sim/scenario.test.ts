import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario, ScenarioError } from '../../sim/scenario';
import { advisorRate } from '../../sim/advisor';

const DATA = resolve(__dirname, '../../scenarios/data');
const dir = mkdtempSync(join(tmpdir(), 'spotfarm-scenario-'));

const VALID = `
name: t
start: 2015-05-05T00:00:00Z
duration: 2h
region: us-east-1
instance_types: [c3.xlarge]
availability_zones: [us-east-1a, us-east-1b]
prices:
  spot: ${DATA}/spot-c3.xlarge-us-east-1-2015-05.csv.gz
  on_demand: 0.21
workload:
  trace: ${DATA}/lcg-2005-24h-96h.csv.gz
  from: 24h
  max_runtime: 1h
farm:
  market_style: launch-template
  slots_per_instance: 4
  boot_seconds: 120
  spot: {min: 0, max: 50}
  on_demand: {min: 0, max: 50}
  visibility_timeout_s: 900
  max_receive_count: 5
`;

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function problems(text: string): string[] {
  const file = write('s.yaml', text);
  try {
    loadScenario(file);
  } catch (err) {
    expect(err).toBeInstanceOf(ScenarioError);
    return (err as ScenarioError).issues.map((i) => i.slice(file.length + 2));
  }
  throw new Error('expected the scenario to be rejected');
}

describe('scenario loading', () => {
  it('loads a valid scenario with defaults applied', () => {
    const s = loadScenario(write('ok.yaml', VALID));
    expect(s.duration).toBe(7200);
    expect(s.drainLimit).toBe(12 * 3600);
    expect(s.interruptions.priceAboveMax).toBe(true);
    expect(s.workload.arrival.length).toBeGreaterThan(100);
    expect(s.workload.arrival[0]).toBeGreaterThanOrEqual(s.start);
    expect(Math.max(...s.workload.runtime)).toBeLessThanOrEqual(3600);
    expect(s.market.spotPrice('c3.xlarge', 'us-east-1a', s.start)).toBeGreaterThan(0);
  });

  it('loads every bundled scenario', () => {
    for (const name of ['default', 'calm-2023', 'storm', 'pool-at-on-demand', 'pool-storm']) {
      const s = loadScenario(resolve(__dirname, `../../scenarios/${name}.yaml`));
      expect(s.workload.arrival.length).toBeGreaterThan(1000);
    }
  });

  it.each([
    ['an unknown field', VALID.replace('region: us-east-1', 'region: us-east-1\nregoin: x'), 'regoin: unknown field'],
    ['a wrong type', VALID.replace('max: 50}\n  on_demand', 'max: fifty}\n  on_demand'), 'farm.spot.max: expected a whole number'],
    ['a missing field', VALID.replace('duration: 2h\n', ''), 'duration: required field is missing'],
    ['a bad duration', VALID.replace('duration: 2h', 'duration: two hours'), 'duration: expected a duration such as 30m, 2h or 3d'],
    ['a bad enum', VALID.replace('launch-template', 'launch-tmpl'), 'farm.market_style: expected launch-template, launch-configuration or mixed-instances'],
    ['max < min', VALID.replace('on_demand: {min: 0, max: 50}', 'on_demand: {min: 5, max: 2}'), 'farm.on_demand: max must be >= min'],
    ['an unknown instance type', VALID.replace('[c3.xlarge]', '[c3.xlargee]'), 'instance_types[0]: unknown instance type "c3.xlargee"'],
    ['a missing file', VALID.replace('lcg-2005-24h-96h.csv.gz', 'nope.csv.gz'), 'workload.trace: file not found: scenarios/data/nope.csv.gz'],
    ['an unknown spotfarm setting', `${VALID}spotfarm: {swapRatoi: 0.9}\n`, 'spotfarm.swapRatoi: unknown setting'],
    ['a malformed spotfarm setting', `${VALID}spotfarm: {swapRatio: high}\n`, 'spotfarm.swapRatio: expected a decimal number from 0.0001 to 100 (got "high")'],
    ['a storm in an AZ the scenario does not have', `${VALID}interruptions: {storms: [{at: 1h, availability_zone: us-east-1e, instance_type: c3.xlarge, fraction: 0.5, unavailable_for: 1h}]}\n`, 'interruptions.storms[0].availability_zone: "us-east-1e" is not in availability_zones'],
    ['no prices for a pool', VALID.replace('us-east-1b]', 'us-east-1c]'), 'prices.spot: no prices for c3.xlarge in us-east-1c'],
    ['a window outside the trace', VALID.replace('from: 24h', 'from: 400h'), 'workload: no job of the trace falls in the scenario window (check from and duration)'],
    ['not YAML', 'name: [unclosed', 'not valid YAML'],
  ])('rejects %s with the field path', (_what, text, message) => {
    expect(problems(text).some((p) => p.startsWith(message))).toBe(true);
  });

  it('names the file in the message', () => {
    const file = write('named.yaml', VALID.replace('region: us-east-1', 'region: 5'));
    expect(() => loadScenario(file)).toThrow(`${file}: region: expected a string`);
  });
});

describe('the advisor interruption model', () => {
  it('takes the bucket midpoint per month over 730 hours, newest snapshot first', () => {
    expect(advisorRate('us-east-1', 'c5a.2xlarge')).toEqual({ snapshot: '2025-06-28', bucket: '10-15%', perInstanceHour: 0.125 / 730 });
    expect(advisorRate('us-east-1', 'c5a.2xlarge', '2021-02-10')).toMatchObject({ bucket: '<5%', perInstanceHour: 0.025 / 730 });
    expect(advisorRate('us-east-1', 'no.such')).toBeNull();
  });
});

describe('the trace', () => {
  it('reads SWF as well as CSV', () => {
    const swf = write('t.swf', '; header\n    1   0  -1  100  1\n    2  30  -1  -1  1\n    3  60  -1  50  1\n');
    const text = VALID.replace(/trace: .*/, `trace: ${swf}`).replace('from: 24h', 'from: 0s');
    const s = loadScenario(write('swf.yaml', text));
    expect([...s.workload.runtime]).toEqual([100, 50]);
    expect(readFileSync(swf, 'utf8')).toContain('header');
  });
});
