/**
 * A benchmark's measured value over runs, and how the tables print it.
 *
 * @module
 */

/** A measured value over runs: median, min and max. */
export interface Stats {
  median: number;
  min: number;
  max: number;
}

/** The median, min and max of `xs` (at least one value). */
export function stats(xs: readonly number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median, min: s[0], max: s[s.length - 1] };
}

/** `median (min–max)` with `digits` decimals. */
export const fmt = (s: Stats, digits = 0): string =>
  `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
