/**
 * Turns the result's series into the aligned tables a chart draws (one x column shared by all lines), and keeps
 * them light: at most ~2000 rows per chart, whatever the run's length.
 *
 * Every line in the report is a step function (a price, an instance count, a backlog, a cumulative cost holds
 * until the next sample), so:
 *  - rows equal to the previous row are dropped first: lossless for a step function;
 *  - if that is not enough, each time bucket keeps its first and last row and, for every column, the rows of its
 *    minimum and maximum (M4, on a shared x). Spikes, dips and the level carried into the next bucket survive;
 *    only changes that were hidden between them go.
 *  - sparse per-interval figures (p95 wait) are reduced to the maximum of each bucket instead, so a bad
 *    interval is never averaged away.
 */

export type Column = (number | null)[];

export interface Table {
  /** Sorted ascending, epoch seconds. */
  x: number[];
  /** One column per line, each as long as x. */
  cols: Column[];
}

export interface StepInput {
  /** Change points, sorted ascending. */
  t: readonly number[];
  v: readonly (number | null)[];
}

export const MAX_POINTS = 2000;

/** The value in force at `at` (the last point at or before it), or null before the first point. */
export function valueAt(s: StepInput, at: number): number | null {
  let lo = 0;
  let hi = s.t.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if ((s.t[mid] ?? Infinity) <= at) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found < 0 ? null : (s.v[found] ?? null);
}

/**
 * Aligns step functions on the union of their change points within [from, to], each carried forward; a row at
 * `from` (the values in force then) and one at `to` (so the last step reaches the end) are always included.
 */
export function alignSteps(series: readonly StepInput[], from: number, to: number): Table {
  const xs = new Set<number>([from, to]);
  for (const s of series) for (const t of s.t) if (t > from && t < to) xs.add(t);
  const x = [...xs].sort((a, b) => a - b);
  const cols = series.map((s) => {
    const col: Column = new Array(x.length);
    // One forward pass per series: both x and s.t are sorted.
    let j = -1;
    for (let i = 0; i < x.length; i++) {
      const xi = x[i] as number;
      while (j + 1 < s.t.length && (s.t[j + 1] as number) <= xi) j++;
      col[i] = j < 0 ? null : (s.v[j] ?? null);
    }
    return col;
  });
  return { x, cols };
}

/**
 * Aligns per-interval samples on the union of their times, without carrying values forward (a missing sample
 * stays null, which draws as a gap).
 */
export function alignSamples(series: readonly StepInput[]): Table {
  const xs = new Set<number>();
  for (const s of series) for (const t of s.t) xs.add(t);
  const x = [...xs].sort((a, b) => a - b);
  const index = new Map(x.map((t, i) => [t, i]));
  const cols = series.map((s) => {
    const col: Column = new Array<number | null>(x.length).fill(null);
    s.t.forEach((t, k) => {
      col[index.get(t) as number] = s.v[k] ?? null;
    });
    return col;
  });
  return { x, cols };
}

function pick(table: Table, rows: readonly number[]): Table {
  return { x: rows.map((r) => table.x[r] as number), cols: table.cols.map((c) => rows.map((r) => c[r] ?? null)) };
}

/** Drops rows equal to the previous row in every column; the last row is kept so the final step keeps its length. */
export function dropRepeats(table: Table): Table {
  const n = table.x.length;
  const keep: number[] = [];
  for (let i = 0; i < n; i++) {
    if (i === 0 || i === n - 1 || table.cols.some((c) => c[i] !== c[i - 1])) keep.push(i);
  }
  return keep.length === n ? table : pick(table, keep);
}

function bucketOf(x: number, x0: number, span: number, buckets: number): number {
  return span > 0 ? Math.min(buckets - 1, Math.floor(((x - x0) / span) * buckets)) : 0;
}

function m4Rows(table: Table, buckets: number): number[] {
  const n = table.x.length;
  const x0 = table.x[0] as number;
  const span = (table.x[n - 1] as number) - x0;
  const keep = new Set<number>();
  let start = 0;
  while (start < n) {
    const b = bucketOf(table.x[start] as number, x0, span, buckets);
    let end = start;
    while (end + 1 < n && bucketOf(table.x[end + 1] as number, x0, span, buckets) === b) end++;
    keep.add(start);
    keep.add(end);
    for (const col of table.cols) {
      let min = -1;
      let max = -1;
      for (let i = start; i <= end; i++) {
        const v = col[i];
        if (v === null || v === undefined) continue;
        if (min < 0 || v < (col[min] as number)) min = i;
        if (max < 0 || v > (col[max] as number)) max = i;
      }
      if (min >= 0) keep.add(min);
      if (max >= 0) keep.add(max);
    }
    start = end + 1;
  }
  return [...keep].sort((a, b) => a - b);
}

/** Step-shape-preserving reduction to at most `maxPoints` rows (see the module comment). */
export function downsampleSteps(table: Table, maxPoints = MAX_POINTS): Table {
  const lean = dropRepeats(table);
  if (lean.x.length <= maxPoints) return lean;
  let buckets = Math.max(1, Math.floor(maxPoints / 4));
  for (;;) {
    const rows = m4Rows(lean, buckets);
    if (rows.length <= maxPoints || buckets === 1) return pick(lean, rows.slice(0, maxPoints));
    // Many columns pick different rows: shrink the bucket count in proportion and try again.
    buckets = Math.max(1, Math.min(buckets - 1, Math.floor((buckets * maxPoints) / rows.length)));
  }
}

/**
 * Per-interval samples reduced to at most `maxPoints` rows: buckets holding the maximum of their non-null values
 * (null when the bucket has none) at the bucket's first sample time, then the last row as it was, so the table
 * still ends where the others do.
 */
export function downsampleMax(table: Table, maxPoints = MAX_POINTS): Table {
  const total = table.x.length;
  if (total <= maxPoints) return table;
  const n = total - 1;
  const buckets = Math.max(1, maxPoints - 1);
  const x0 = table.x[0] as number;
  const span = (table.x[n - 1] as number) - x0;
  const x: number[] = [];
  const cols: Column[] = table.cols.map(() => []);
  let start = 0;
  while (start < n) {
    const b = bucketOf(table.x[start] as number, x0, span, buckets);
    let end = start;
    while (end + 1 < n && bucketOf(table.x[end + 1] as number, x0, span, buckets) === b) end++;
    x.push(table.x[start] as number);
    table.cols.forEach((col, c) => {
      let max: number | null = null;
      for (let i = start; i <= end; i++) {
        const v = col[i];
        if (v !== null && v !== undefined && (max === null || v > max)) max = v;
      }
      (cols[c] as Column).push(max);
    });
    start = end + 1;
  }
  x.push(table.x[n] as number);
  table.cols.forEach((col, c) => (cols[c] as Column).push(col[n] ?? null));
  return { x, cols };
}
