/** What to do with one incoming message. */
export type RateDecision = 'allow' | 'refuse' | 'cut';

/** The clock every bucket reads: one function for all of them, not a closure per connection. */
export function monotonicMs(): number {
  return performance.now();
}

/**
 * A token bucket's arithmetic. A burst (a page trickling 30 ICE candidates at once) fits; a
 * sustained flood gets `rate-limited` errors, and a client that keeps going regardless is
 * cut off: refused messages still count, so the deficit grows until `cut`. Kept as plain
 * numbers by its owner (a connection holds two buckets and one clock reading), so an idle
 * member pays for no bucket objects.
 */
export function takeTokens(tokens: number, elapsedMs: number, perSecond: number, burst: number, cost: number): number {
  return Math.min(burst, tokens + (elapsedMs / 1000) * perSecond) - cost;
}

export function decide(tokens: number, burst: number): RateDecision {
  if (tokens >= 0) return 'allow';
  return tokens < -burst ? 'cut' : 'refuse';
}
