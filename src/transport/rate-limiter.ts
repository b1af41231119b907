/** What to do with one incoming message. */
export type RateDecision = 'allow' | 'refuse' | 'cut';

/**
 * A per-connection token bucket. A burst (a page trickling 30 ICE candidates at once) fits;
 * a sustained flood gets `rate-limited` errors, and a client that keeps going regardless is
 * cut off: refused messages still count, so the deficit grows until `cut`.
 */
export class RateLimiter {
  private tokens: number;
  private last: number;
  private readonly perSecond: number;
  private readonly burst: number;
  private readonly now: () => number;

  constructor(perSecond: number, burst: number, now: () => number = () => performance.now()) {
    this.perSecond = perSecond;
    this.burst = burst;
    this.now = now;
    this.tokens = burst;
    this.last = now();
  }

  /** `cost`: 1 for a message bucket, the frame's size for a byte bucket. */
  take(cost = 1): RateDecision {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.perSecond);
    this.last = t;
    this.tokens -= cost;
    if (this.tokens >= 0) return 'allow';
    return this.tokens < -this.burst ? 'cut' : 'refuse';
  }
}
