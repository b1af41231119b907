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
 * rising. Nothing is sampled while we do not expect media (no transceiver receiving). The
 * reports come from the link's StatsSampler, shared with the call's statistics.
 */
import { StatsSampler } from './stats-sampler.ts';

export interface MediaStallOptions {
  pc: RTCPeerConnection;
  /** Milliseconds without a new inbound packet after which `onStall` runs; 0 disables. */
  stallMs: number;
  /** Whether a stall matters now (connected, stable, not closed). */
  active: () => boolean;
  onStall: () => void;
  /** The connection's sampler; default: one of its own. */
  sampler?: StatsSampler;
}

export class MediaStallMonitor {
  readonly #options: MediaStallOptions;
  readonly #sampler: StatsSampler | undefined;
  readonly #unsubscribe: (() => void) | undefined;
  #lastCount = -1;
  #lastChange = Date.now();

  constructor(options: MediaStallOptions) {
    this.#options = options;
    if (options.stallMs > 0) {
      // An own sampler only when none is shared; stop() stops only the own one.
      const sampler = options.sampler ?? (this.#sampler = new StatsSampler(options.pc));
      this.#unsubscribe = sampler.add(
        (report) => this.#observe(report),
        () => this.#wanted(),
        ['inbound-rtp'],
      );
    }
  }

  stop(): void {
    this.#unsubscribe?.();
    this.#sampler?.stop();
  }

  /** Forget the history (after a restart, or a pause): the path gets the full `stallMs`. */
  reset(): void {
    this.#lastChange = Date.now();
  }

  #wanted(): boolean {
    const wanted = this.#options.active() && expectsMedia(this.#options.pc);
    if (!wanted) this.reset();
    return wanted;
  }

  /** Returns true (steady) while packets keep arriving; a pause in them asks for the next sample soon. */
  #observe(report: RTCStatsReport): boolean {
    let count = 0;
    report.forEach((s: { type?: string; packetsReceived?: number }) => {
      if (s.type === 'inbound-rtp') count += s.packetsReceived ?? 0;
    });
    const now = Date.now();
    if (count !== this.#lastCount) {
      this.#lastCount = count;
      this.#lastChange = now;
      return true;
    }
    if (now - this.#lastChange >= this.#options.stallMs && this.#options.active()) {
      this.#lastChange = now;
      this.#options.onStall();
    }
    return false;
  }
}

/** Some transceiver receives, so the peer sends us something. */
function expectsMedia(pc: RTCPeerConnection): boolean {
  return pc.getTransceivers().some((t) => t.currentDirection === 'sendrecv' || t.currentDirection === 'recvonly');
}
