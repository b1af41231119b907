/**
 * Keeps TURN credentials fresh. coturn checks a credential's expiry when a new allocation is
 * made: a relay already in use keeps working, but a peer connection created later, or an ICE
 * restart after a network change, would fail with expired credentials. So the client asks for
 * new ones (`{"type":"ice-servers"}`) at 80 % of their lifetime: early enough to survive a slow
 * answer or a reconnect, late enough not to bother the server. A re-join also brings fresh ones
 * and restarts the countdown.
 */

/** Fraction of the TTL after which fresh servers are requested. */
export const ICE_REFRESH_FRACTION = 0.8;
/** Never sooner: a tiny or bogus TTL must not turn into a request loop. */
const MIN_DELAY_MS = 1_000;
/** setTimeout fires at once for delays over 2^31 - 1 ms (about 24.8 days). */
const MAX_DELAY_MS = 2 ** 31 - 1;

/** Milliseconds after which to refresh credentials that last `ttlSeconds`. */
export function iceRefreshDelayMs(ttlSeconds: number): number {
  return Math.min(MAX_DELAY_MS, Math.max(MIN_DELAY_MS, Math.floor(ttlSeconds * 1000 * ICE_REFRESH_FRACTION)));
}

export class IceRefreshTimer {
  readonly #request: () => void;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** `request` sends `{"type":"ice-servers"}`; the answer should call {@link schedule} again. */
  constructor(request: () => void) {
    this.#request = request;
  }

  /** Starts the countdown for credentials lasting `ttlSeconds`; undefined means they never expire. */
  schedule(ttlSeconds: number | undefined): void {
    this.stop();
    if (ttlSeconds === undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#request();
    }, iceRefreshDelayMs(ttlSeconds));
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
