/** Latency summary of one step, in milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Exact percentiles (nearest rank) of every measured latency; sorts `values` in place. */
export function summarize(values: Float64Array): LatencySummary {
  if (values.length === 0) return { count: 0, p50: NaN, p90: NaN, p99: NaN, max: NaN };
  values.sort();
  const at = (q: number): number => round(values[Math.min(values.length - 1, Math.ceil(q * values.length) - 1)] ?? NaN);
  return { count: values.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: round(values[values.length - 1] ?? NaN) };
}

/** Concatenates the latency arrays the workers sent back. */
export function concat(parts: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
