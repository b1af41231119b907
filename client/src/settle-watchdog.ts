/**
 * The deadline that keeps a peer connection from wedging silently: a pair that is not
 * `connected` and `stable` for `timeoutMs` in a row is declared broken (and rebuilt by
 * MeshCall). Every way negotiation can get stuck without an error ends here: an answer that
 * never comes (lost, or refused by the other side), an ICE restart that finds no path, a
 * peer whose connection was replaced without us noticing.
 */
export class SettleWatchdog {
  readonly #timeoutMs: number;
  readonly #onExpired: () => void;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(timeoutMs: number, onExpired: () => void) {
    this.#timeoutMs = timeoutMs;
    this.#onExpired = onExpired;
  }

  /** Call on every state change: a settled pair stops the countdown, an unsettled one starts it if not running. */
  update(settled: boolean): void {
    if (settled) {
      this.stop();
      return;
    }
    if (this.#timer !== undefined || !(this.#timeoutMs > 0)) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#onExpired();
    }, this.#timeoutMs);
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
