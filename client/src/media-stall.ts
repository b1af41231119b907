/**
 * Notices a pair that reads `connected` while no media arrives, and asks for an ICE restart.
 *
 * Seen between Chromium and Firefox: after Chromium restarted ICE, it nominated a pair
 * towards a candidate of Firefox's previous ICE generation and sent its media there, while
 * Firefox's transport stayed in ICE checking with no pair selected; yet every state Firefox
 * exposes (`iceConnectionState`, `connectionState`) still said `connected`, and the video
 * froze for good. Only the statistics tell: inbound packets stop counting. A restart from
 * the stalled side always recovered, so that is what this asks for.
 *
 * Counting is by `inbound-rtp` packetsReceived summed over kinds: a muted or blanked track
 * still sends (silence, black frames), so a live pair whose peer sends anything keeps it
 * rising. Nothing is checked while we do not expect media (no transceiver receiving).
 */

/** Sampling period: one getStats per peer per second is cheap next to decoding video. */
const SAMPLE_MS = 1_000;
/** A getStats() pending this long is given up for this sample. */
const STATS_TIMEOUT_MS = 2_000;

export interface MediaStallOptions {
  pc: RTCPeerConnection;
  /** Milliseconds without a new inbound packet after which `onStall` runs; 0 disables. */
  stallMs: number;
  /** Whether a stall matters now (connected, stable, not closed). */
  active: () => boolean;
  onStall: () => void;
}

export class MediaStallMonitor {
  readonly #options: MediaStallOptions;
  readonly #timer: ReturnType<typeof setInterval> | undefined;
  #lastCount = -1;
  #lastChange = Date.now();
  #sampling = false;

  constructor(options: MediaStallOptions) {
    this.#options = options;
    // Engines (or fakes) without getStats cannot be watched this way.
    if (options.stallMs > 0 && typeof options.pc.getStats === "function") {
      this.#timer = setInterval(() => void this.#sample(), SAMPLE_MS);
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Forget the history (after a restart): the new path gets the full `stallMs`. */
  reset(): void {
    this.#lastChange = Date.now();
  }

  async #sample(): Promise<void> {
    if (this.#sampling) return;
    const { pc, stallMs, active, onStall } = this.#options;
    if (!active() || !expectsMedia(pc)) {
      this.reset();
      return;
    }
    this.#sampling = true;
    try {
      // Firefox can leave getStats() pending forever on a connection being torn down; a
      // sample that never ends must not stop the watch for good (#sampling would stay set).
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), STATS_TIMEOUT_MS)));
      const stats = await Promise.race([pc.getStats(), timedOut]).finally(() => clearTimeout(timer));
      if (stats === null) return;
      let count = 0;
      stats.forEach((s: { type?: string; packetsReceived?: number }) => {
        if (s.type === "inbound-rtp") count += s.packetsReceived ?? 0;
      });
      const now = Date.now();
      if (count !== this.#lastCount) {
        this.#lastCount = count;
        this.#lastChange = now;
      } else if (now - this.#lastChange >= stallMs && active()) {
        this.#lastChange = now;
        onStall();
      }
    } catch {
      // Closed meanwhile: nothing to watch.
    } finally {
      this.#sampling = false;
    }
  }
}

/** Some transceiver receives, so the peer sends us something. */
function expectsMedia(pc: RTCPeerConnection): boolean {
  return pc.getTransceivers().some((t) => t.currentDirection === "sendrecv" || t.currentDirection === "recvonly");
}
