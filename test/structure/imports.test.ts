/**
 * The shape DESIGN.md promises, checked on the import graph of src/ (madge): no import circle, and no controller
 * imports another. The controllers (src/market, src/capacity, src/interruption) pass signals through shared code
 * below them (src/records.ts, src/events, src/aws), never calls; a circle is how a breaker once ended up calling
 * the market controller, which called the executor, which called the breaker.
 */
import { join } from 'node:path';
import madge from 'madge';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '../..');
const CONTROLLERS = ['market', 'capacity', 'interruption'] as const;

async function graph(): Promise<Record<string, string[]>> {
  const result = await madge(join(ROOT, 'src'), {
    baseDir: join(ROOT, 'src'),
    fileExtensions: ['ts'],
    tsConfig: join(ROOT, 'tsconfig.json'),
    // Type-only imports are still coupling: a controller must not need another's types either.
    detectiveOptions: { ts: { skipTypeImports: false }, tsx: { skipTypeImports: false } },
  });
  return result.obj();
}

/** The controller a src/-relative file belongs to, or undefined for shared code. */
const controllerOf = (file: string): string | undefined => CONTROLLERS.find((c) => file.startsWith(`${c}/`));

/** Imports from one controller's folder into another's. */
export function crossControllerImports(deps: Record<string, string[]>): string[] {
  const out: string[] = [];
  for (const [file, imports] of Object.entries(deps)) {
    const from = controllerOf(file);
    if (from === undefined) continue;
    for (const target of imports) {
      const to = controllerOf(target);
      if (to !== undefined && to !== from) out.push(`${file} -> ${target}`);
    }
  }
  return out.sort();
}

/** Shared code must sit below the controllers: it imports none of them. */
export function sharedImportingControllers(deps: Record<string, string[]>, allowed: readonly string[]): string[] {
  const out: string[] = [];
  for (const [file, imports] of Object.entries(deps)) {
    if (controllerOf(file) !== undefined || allowed.includes(file)) continue;
    for (const target of imports) if (controllerOf(target) !== undefined) out.push(`${file} -> ${target}`);
  }
  return out.sort();
}

/** Circles in a dependency graph (each as the list of files around it). */
export function circles(deps: Record<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of deps[node] ?? []) {
      if (state.get(next) === 'open') found.push(stack.slice(stack.indexOf(next)));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of Object.keys(deps).sort()) if (!state.has(node)) visit(node);
  return found;
}

describe('the import graph of src/', () => {
  it('reads every module (the check sees what it checks)', async () => {
    const deps = await graph();
    for (const file of ['market/decide.ts', 'capacity/decide.ts', 'interruption/decide.ts', 'execute.ts', 'records.ts']) {
      expect(Object.keys(deps)).toContain(file);
    }
    expect(deps['market/controller.ts']).toContain('market/decide.ts');
  });

  it('has no import circle', async () => {
    expect(circles(await graph())).toEqual([]);
  });

  it('has no controller importing another', async () => {
    expect(crossControllerImports(await graph())).toEqual([]);
  });

  it('keeps shared code below the controllers (only the plan report composes their sections)', async () => {
    // src/plan.ts only names the capacity section's type: the plan function (functions/plan.ts) composes.
    expect(sharedImportingControllers(await graph(), ['plan.ts'])).toEqual([]);
  });

  it('the checks catch a circle and a cross-controller import (they can fail)', () => {
    const bad = {
      'execute.ts': ['interruption/execute.ts'],
      'interruption/execute.ts': ['interruption/breaker.ts'],
      'interruption/breaker.ts': ['market/controller.ts'],
      'market/controller.ts': ['execute.ts'],
    };
    expect(circles(bad)).toEqual([['execute.ts', 'interruption/execute.ts', 'interruption/breaker.ts', 'market/controller.ts']]);
    expect(crossControllerImports(bad)).toEqual(['interruption/breaker.ts -> market/controller.ts']);
    expect(sharedImportingControllers(bad, [])).toEqual(['execute.ts -> interruption/execute.ts']);
  });
});
