import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  alignSamples,
  alignSteps,
  downsampleMax,
  downsampleSteps,
  dropRepeats,
  valueAt,
  type Table,
} from '../../sim/report/downsample';

describe('valueAt', () => {
  it.each([
    [5, null],
    [10, 1],
    [15, 1],
    [20, 2],
    [99, 3],
  ])('at %s is %s', (at, expected) => {
    // Act / Assess
    expect(valueAt({ t: [10, 20, 30], v: [1, 2, 3] }, at)).toBe(expected);
  });
});

describe('alignSteps', () => {
  it('joins change points within the range, carries values forward and pins both ends', () => {
    // Prepare
    const a = { t: [0, 100, 250], v: [1, 2, 3] };
    const b = { t: [50, 150], v: [10, 20] };

    // Act
    const table = alignSteps([a, b], 40, 200);

    // Assess
    expect(table).toEqual({
      x: [40, 50, 100, 150, 200],
      cols: [
        [1, 1, 2, 2, 2],
        [null, 10, 10, 20, 20],
      ],
    });
  });
});

describe('alignSamples', () => {
  it('leaves gaps where a series has no sample', () => {
    // Act
    const table = alignSamples([
      { t: [0, 60], v: [5, null] },
      { t: [60, 120], v: [7, 8] },
    ]);

    // Assess
    expect(table).toEqual({ x: [0, 60, 120], cols: [[5, null, null], [null, 7, 8]] });
  });
});

describe('dropRepeats', () => {
  it('drops rows equal to the one before, keeping the last row', () => {
    // Act
    const table = dropRepeats({ x: [0, 1, 2, 3, 4], cols: [[1, 1, 2, 2, 2]] });

    // Assess
    expect(table).toEqual({ x: [0, 2, 4], cols: [[1, 2, 2]] });
  });
});

/** A step table sampled regularly: random walks with rare spikes, like capacity and backlog. */
const stepTable = fc
  .record({
    n: fc.integer({ min: 2, max: 6000 }),
    cols: fc.integer({ min: 1, max: 6 }),
    seed: fc.integer(),
  })
  .map(({ n, cols, seed }): Table => {
    let s = seed >>> 0;
    const next = (): number => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s / 4294967296;
    };
    const x = Array.from({ length: n }, (_, i) => 1_000_000 + i * 60);
    return {
      x,
      cols: Array.from({ length: cols }, () => {
        let v = 0;
        return x.map(() => {
          const r = next();
          v = r < 0.01 ? v + 50 : r < 0.3 ? Math.max(0, v + (r < 0.15 ? -1 : 1)) : v;
          return v;
        });
      }),
    };
  });

describe('downsampleSteps', () => {
  it('keeps within the budget, the end points, every column extreme, and values that were really there', () => {
    fc.assert(
      fc.property(stepTable, fc.integer({ min: 50, max: 2500 }), (table, max) => {
        // Act
        const out = downsampleSteps(table, max);
        const row = new Map(table.x.map((t, i) => [t, i]));

        // Assess
        expect(out.x.length).toBeLessThanOrEqual(Math.max(max, 2));
        expect(out.x[0]).toBe(table.x[0]);
        expect(out.x.at(-1)).toBe(table.x.at(-1));
        for (let c = 0; c < table.cols.length; c++) {
          const src = table.cols[c] as number[];
          const got = out.cols[c] as number[];
          expect(Math.max(...got)).toBe(Math.max(...src));
          expect(Math.min(...got)).toBe(Math.min(...src));
          got.forEach((v, i) => expect(v).toBe(src[row.get(out.x[i] as number) ?? -1]));
        }
      }),
      { numRuns: 40 },
    );
  });

  it('is lossless when dropping repeats is enough', () => {
    // Prepare
    const x = Array.from({ length: 10_000 }, (_, i) => i);
    const table = { x, cols: [x.map((i) => Math.floor(i / 1000))] };

    // Act
    const out = downsampleSteps(table, 2000);

    // Assess
    expect(out.x).toEqual([0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 9999]);
    for (let i = 0; i < x.length; i += 333) {
      const at = out.x.findLastIndex((t) => t <= i);
      expect(out.cols[0]?.[at]).toBe(table.cols[0]?.[i]);
    }
  });
});

describe('downsampleMax', () => {
  it('keeps the worst value of each bucket and null where a bucket had none', () => {
    // Prepare
    const x = Array.from({ length: 4000 }, (_, i) => i * 60);
    const col = x.map((_, i) => (i < 2000 ? null : i === 3001 ? 9999 : i % 7));

    // Act
    const out = downsampleMax({ x, cols: [col] }, 1000);

    // Assess
    expect(out.x.length).toBeLessThanOrEqual(1000);
    expect(out.cols[0]?.slice(0, 400).every((v) => v === null)).toBe(true);
    expect(Math.max(...(out.cols[0] ?? []).map((v) => v ?? 0))).toBe(9999);
    expect(out.x[0]).toBe(0);
    expect(out.x.at(-1)).toBe(x.at(-1));
    expect(out.cols[0]?.at(-1)).toBe(col.at(-1));
  });

  it('leaves short tables as they are', () => {
    // Prepare
    const table = { x: [0, 60], cols: [[1, null]] };

    // Act / Assess
    expect(downsampleMax(table, 10)).toBe(table);
  });
});
