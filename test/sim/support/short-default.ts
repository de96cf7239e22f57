/** The bundled default scenario cut short (a few hours of its real prices and trace), as a file, for CLI tests. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const SCENARIOS = resolve(__dirname, '../../../scenarios');

/**
 * Writes `dir/short.yaml`: scenarios/default.yaml with `duration` of arrivals, `drain` to finish, its data files
 * by absolute path, and without its backlogPerInstance pin (so that acceptableWait drives spotfarm's sizing).
 */
export function writeShortDefault(dir: string, duration = '3h', drain = '3h'): string {
  const text = readFileSync(join(SCENARIOS, 'default.yaml'), 'utf8')
    .replace(/^duration: .*$/m, `duration: ${duration}`)
    .replace(/^drain_limit: .*$/m, `drain_limit: ${drain}`)
    .replace(/\bdata\//g, `${SCENARIOS}/data/`)
    .replace(/^  storms: .*$/m, '  storms: []')
    .replace(/^spotfarm:[\s\S]*$/m, 'spotfarm: {}\n');
  const file = join(dir, 'short.yaml');
  writeFileSync(file, text);
  return file;
}
