/**
 * Reconnect policies, shaped like LiveKit's: the client asks the policy for the
 * next delay and the policy may answer `null` to give up. Close codes that mean
 * "do not retry" never reach the policy (see close-codes.ts).
 */
import { SignalingError } from './signaling-error.ts';

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

/** Longest delay setTimeout honours; longer ones would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Asks `policy` for the next delay, as LiveKit's engine does: wrapped in try/catch, so an
 * application's policy that throws (or answers something that is not a number) stops the
 * retries and is reported, rather than escaping into a timer callback. Returns the delay in
 * milliseconds, `null` when the policy gives up, or the error to report.
 */
export function nextDelay(policy: ReconnectPolicy, context: ReconnectContext): number | null | SignalingError {
  let delay: unknown;
  try {
    delay = policy.nextRetryDelayInMs(context);
  } catch (cause) {
    return new SignalingError(
      'policy-failed',
      `reconnect policy threw, retrying stopped (${cause instanceof Error ? cause.message : String(cause)})`,
      { cause },
    );
  }
  if (delay === null) return null;
  if (typeof delay !== 'number' || Number.isNaN(delay)) {
    return new SignalingError(
      'policy-failed',
      `reconnect policy answered ${describeValue(delay)}, not a number of milliseconds or null; retrying stopped`,
    );
  }
  return Math.min(MAX_TIMER_MS, Math.max(0, delay));
}

/** `value` as a message can show it: JSON where it has a form, else its type (`NaN` stays `NaN`). */
function describeValue(value: unknown): string {
  if (typeof value === 'number') return String(value);
  try {
    return JSON.stringify(value) ?? typeof value;
  } catch {
    return typeof value;
  }
}
