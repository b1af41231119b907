/**
 * Reconnect policies, shaped like LiveKit's: the client asks the policy for the
 * next delay and the policy may answer `null` to give up. Close codes that mean
 * "do not retry" never reach the policy (see close-codes.ts).
 */

/** What the client knows when it asks for the next delay. */
export interface ReconnectContext {
  /** Attempts already made since the link was last open (0 for the first retry). */
  readonly retryCount: number;
  /** Milliseconds since the link was lost. */
  readonly elapsedMs: number;
  /** The close code that ended the last attempt, if the socket reported one. */
  readonly closeCode?: number;
  /** A short human-readable cause (close reason, "ping-timeout", server error code...). */
  readonly reason?: string;
}

/** Decides how long to wait before the next attempt. */
export interface ReconnectPolicy {
  /** Milliseconds to wait before the next attempt, or `null` to stop retrying. */
  nextRetryDelayInMs(context: ReconnectContext): number | null;
}

/** Options of {@link ExponentialBackoffPolicy}. */
export interface ExponentialBackoffOptions {
  /** Upper bound of the first delay. Default 500 ms. */
  initialDelayMs?: number;
  /** The delay bound never grows past this. Default 10 000 ms. */
  maxDelayMs?: number;
  /** Give up after this many attempts. Default: never. */
  maxRetries?: number;
  /** Source of randomness in [0, 1). Injectable for tests. Default `Math.random`. */
  random?: () => number;
}

/**
 * Exponential backoff with full jitter (delay drawn uniformly from
 * [0, min(max, initial * 2^retry)), as in AWS's "Exponential Backoff And
 * Jitter"). Full jitter matters here: when a dyno drains, all its clients
 * lose their socket in the same instant, and a fixed schedule would make them
 * stampede the surviving dynos in lockstep.
 */
export class ExponentialBackoffPolicy implements ReconnectPolicy {
  readonly #initial: number;
  readonly #max: number;
  readonly #maxRetries: number;
  readonly #random: () => number;

  constructor(options: ExponentialBackoffOptions = {}) {
    this.#initial = options.initialDelayMs ?? 500;
    this.#max = options.maxDelayMs ?? 10_000;
    this.#maxRetries = options.maxRetries ?? Number.POSITIVE_INFINITY;
    this.#random = options.random ?? Math.random;
  }

  /** The exclusive upper bound of the delay for a given retry count. */
  ceilingMs(retryCount: number): number {
    // Cap the exponent so 2^n never overflows into Infinity on long outages.
    return Math.min(this.#max, this.#initial * 2 ** Math.min(retryCount, 30));
  }

  nextRetryDelayInMs(context: ReconnectContext): number | null {
    if (context.retryCount >= this.#maxRetries) return null;
    return Math.floor(this.#random() * this.ceilingMs(context.retryCount));
  }
}
