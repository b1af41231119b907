/**
 * Samples every peer connection of a MeshCall once a second and tells, per peer, how good
 * the link is (link-quality.ts) and whether that peer is speaking. Speaking is the audio
 * level over the interval above a threshold, held for a moment after it drops so the
 * highlight does not flicker between words.
 */
import { type LinkSample, type StatsCounters, readLinkSample } from "./link-quality.ts";
import { TypedEmitter } from "./typed-emitter.ts";

/** What CallStats needs from a MeshCall. */
export interface StatsSource {
  readonly peers: string[];
  stats(peer: string): Promise<RTCStatsReport | null>;
}

export interface PeerStatsEvent extends Omit<LinkSample, "counters"> {
  peer: string;
  speaking: boolean;
}

export interface CallStatsEvents {
  sample: PeerStatsEvent;
}

export interface CallStatsOptions {
  intervalMs?: number;
  /** Mean audio level (0..1) above which a peer counts as speaking. Default 0.02. */
  speakingLevel?: number;
  /** How long speaking stays on after the level drops. Default 1200 ms. */
  holdMs?: number;
}

const STATS_TIMEOUT_MS = 2_000;

export class CallStats extends TypedEmitter<CallStatsEvents> {
  readonly #source: StatsSource;
  readonly #speakingLevel: number;
  readonly #holdMs: number;
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #counters = new Map<string, StatsCounters>();
  readonly #lastLoud = new Map<string, number>();
  #sampling = false;

  constructor(source: StatsSource, options: CallStatsOptions = {}) {
    super();
    this.#source = source;
    this.#speakingLevel = options.speakingLevel ?? 0.02;
    this.#holdMs = options.holdMs ?? 1_200;
    this.#timer = setInterval(() => void this.#sample(), options.intervalMs ?? 1_000);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.removeAllListeners();
  }

  async #sample(): Promise<void> {
    if (this.#sampling) return;
    this.#sampling = true;
    try {
      const peers = this.#source.peers;
      for (const gone of [...this.#counters.keys()]) if (!peers.includes(gone)) this.#counters.delete(gone);
      await Promise.all(peers.map((peer) => this.#samplePeer(peer)));
    } finally {
      this.#sampling = false;
    }
  }

  async #samplePeer(peer: string): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    // A getStats() that never answers (Firefox, on a connection being torn down) skips this sample.
    const timedOut = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), STATS_TIMEOUT_MS)));
    const report = await Promise.race([this.#source.stats(peer).catch(() => null), timedOut]).finally(() => clearTimeout(timer));
    if (report === null) {
      this.#counters.delete(peer);
      return;
    }
    const sample = readLinkSample(report as unknown as Parameters<typeof readLinkSample>[0], this.#counters.get(peer));
    const first = !this.#counters.has(peer);
    this.#counters.set(peer, sample.counters);
    if (first) return; // loss and level need two samples
    const now = Date.now();
    if (sample.audioLevel >= this.#speakingLevel) this.#lastLoud.set(peer, now);
    const speaking = now - (this.#lastLoud.get(peer) ?? -Infinity) < this.#holdMs;
    const { counters: _counters, ...rest } = sample;
    this.emit("sample", { peer, ...rest, speaking });
  }
}
