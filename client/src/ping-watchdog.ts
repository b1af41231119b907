/**
 * Application-level liveness check. Browsers answer protocol pings without
 * telling scripts, so a script cannot see a half-open TCP connection (a phone
 * that changed networks, a NAT that forgot us) until the OS gives up minutes
 * later. We therefore ping in JSON and expect some frame back in time.
 */
export interface PingWatchdogOptions {
  /** How often to send a ping. */
  intervalMs: number;
  /** How long after a ping some frame must have arrived. */
  timeoutMs: number;
  /** Sends `{"type":"ping"}`. */
  sendPing: () => void;
  /** Called once when the link is declared dead; the watchdog is then stopped. */
  onDead: () => void;
}

export class PingWatchdog {
  readonly #options: PingWatchdogOptions;
  #intervalTimer: ReturnType<typeof setTimeout> | undefined;
  #deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  #lastFrameAt = 0;
  #pingSentAt = 0;

  constructor(options: PingWatchdogOptions) {
    this.#options = options;
  }

  start(): void {
    this.stop();
    this.#lastFrameAt = Date.now();
    this.#scheduleNextPing();
  }

  stop(): void {
    clearTimeout(this.#intervalTimer);
    clearTimeout(this.#deadlineTimer);
    this.#intervalTimer = undefined;
    this.#deadlineTimer = undefined;
  }

  /** Any frame proves the link is alive, not only a pong. */
  frameReceived(): void {
    this.#lastFrameAt = Date.now();
    clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = undefined;
  }

  #scheduleNextPing(): void {
    this.#intervalTimer = setTimeout(() => {
      this.#options.sendPing();
      if (this.#deadlineTimer === undefined) {
        // The deadline runs from the oldest unanswered ping.
        this.#pingSentAt = Date.now();
        this.#deadlineTimer = setTimeout(() => this.#checkDeadline(), this.#options.timeoutMs);
      }
      this.#scheduleNextPing();
    }, this.#options.intervalMs);
  }

  #checkDeadline(): void {
    this.#deadlineTimer = undefined;
    // Background tabs fire timers late; a frame that arrived meanwhile counts.
    if (this.#lastFrameAt >= this.#pingSentAt) return;
    this.stop();
    this.#options.onDead();
  }
}
