/** Retry timing: exponential backoff with jitter, and the receiver's Retry-After when it sends one. */

export interface BackoffOptions {
  /** Delay after the first failure. */
  baseMs: number;
  /** Longest delay between two attempts. */
  maxMs: number;
}

/**
 * Delay before attempt `failures + 1`: base * 2^(failures - 1), capped, then "equal jitter"
 * (a random point in its upper half), so dynos retrying after one outage do not all return
 * at the same instant, and no delay falls far below the schedule.
 */
export function backoffDelay(failures: number, options: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(Math.max(failures - 1, 0), 40));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Retry-After as ms from now: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, nowMs = Date.now()): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

/** The receiver may ask for more time than our schedule, never for less; both stay under `limitMs`. */
export function nextDelay(failures: number, retryAfter: number | undefined, options: BackoffOptions, limitMs: number): number {
  return Math.min(limitMs, Math.max(backoffDelay(failures, options), retryAfter ?? 0));
}
