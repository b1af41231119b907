/**
 * Per peer of a MeshCall, once a second: how good the link is (link-quality.ts) and whether
 * that peer is speaking; and whether we are (our microphone as sent, where the engine says).
 * Speaking is the audio level over the interval above a threshold, held for a moment after it
 * drops so the highlight does not flicker between words.
 *
 * With a MeshCall the samples come from each connection's one sampler (MeshCall.onStats),
 * shared with the media-stall watch: no getStats() of its own. Another source is polled.
 */
import { LINK_STATS_TYPES, type LinkQuality, type LinkSample, type StatsCounters, readLinkSample } from './link-quality.ts';
import { TypedEmitter } from './typed-emitter.ts';

/** What CallStats needs from a MeshCall. */
export interface StatsSource {
  readonly peers: string[];
  stats(peer: string): Promise<RTCStatsReport | null>;
  /**
   * Samples pushed by the source (MeshCall's): then CallStats polls nothing itself. The listener
   * reads only `types`, and returns `true` when nothing it shows changed (the source may then sample less often).
   */
  onStats?(listener: (peer: string, report: RTCStatsReport) => boolean, types?: readonly string[]): () => void;
}

export interface PeerStatsEvent extends Omit<LinkSample, 'counters' | 'localAudioLevel'> {
  peer: string;
  speaking: boolean;
}

/** Our own microphone, as sent; `level` null when the engine does not report it (Firefox). */
export interface LocalStatsEvent {
  level: number | null;
  speaking: boolean;
}

export interface CallStatsEvents {
  sample: PeerStatsEvent;
  local: LocalStatsEvent;
}

export interface CallStatsOptions {
  /** Polling period for sources that do not push samples. Default 1000 ms. */
  intervalMs?: number;
  /** Mean audio level (0..1) above which a peer counts as speaking. Default 0.02. */
  speakingLevel?: number;
  /** How long speaking stays on after the level drops. Default 1200 ms. */
  holdMs?: number;
}

const STATS_TIMEOUT_MS = 2_000;
/** Our own speaking state, next to the peers' in the same map. */
const SELF = Symbol('self');

export class CallStats extends TypedEmitter<CallStatsEvents> {
  readonly #source: StatsSource;
  readonly #speakingLevel: number;
  readonly #holdMs: number;
  readonly #timer: ReturnType<typeof setInterval> | undefined;
  readonly #unsubscribe: (() => void) | undefined;
  readonly #counters = new Map<string, StatsCounters>();
  readonly #lastLoud = new Map<string | typeof SELF, number>();
  /** What was last shown per peer (quality and speaking), and our own speaking: a change asks for the next sample soon. */
  readonly #shown = new Map<string | typeof SELF, `${LinkQuality | 'self'}:${boolean}`>();
  #sampling = false;

  constructor(source: StatsSource, options: CallStatsOptions = {}) {
    super();
    this.#source = source;
    this.#speakingLevel = options.speakingLevel ?? 0.02;
    this.#holdMs = options.holdMs ?? 1_200;
    if (source.onStats !== undefined) this.#unsubscribe = source.onStats((peer, report) => this.#read(peer, report), LINK_STATS_TYPES);
    else this.#timer = setInterval(() => void this.#poll(), options.intervalMs ?? 1_000);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#unsubscribe?.();
    this.removeAllListeners();
  }

  async #poll(): Promise<void> {
    if (this.#sampling) return;
    this.#sampling = true;
    try {
      await Promise.all(this.#source.peers.map((peer) => this.#pollPeer(peer)));
    } finally {
      this.#sampling = false;
    }
  }

  async #pollPeer(peer: string): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    // A getStats() that never answers (Firefox, on a connection being torn down) skips this sample.
    const timedOut = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), STATS_TIMEOUT_MS)));
    const report = await Promise.race([this.#source.stats(peer).catch(() => null), timedOut]).finally(() => clearTimeout(timer));
    if (report === null) this.#counters.delete(peer);
    else this.#read(peer, report);
  }

  /** Returns true (steady) when the peer's quality and speaking, and ours, are what they were. */
  #read(peer: string, report: RTCStatsReport): boolean {
    const peers = this.#source.peers;
    for (const gone of [...this.#counters.keys()]) {
      if (peers.includes(gone)) continue;
      this.#counters.delete(gone);
      this.#shown.delete(gone);
    }
    if (!peers.includes(peer)) return true;
    const sample = readLinkSample(report, this.#counters.get(peer));
    const first = !this.#counters.has(peer);
    this.#counters.set(peer, sample.counters);
    if (first) return false; // loss and level need two samples
    const { counters: _counters, localAudioLevel, ...rest } = sample;
    const speaking = this.#speaking(peer, sample.audioLevel);
    const local = localAudioLevel !== null && this.#speaking(SELF, localAudioLevel);
    this.emit('sample', { peer, ...rest, speaking });
    this.emit('local', { level: localAudioLevel, speaking: local });
    const steadyPeer = this.#same(peer, `${sample.quality}:${speaking}`);
    return this.#same(SELF, `self:${local}`) && steadyPeer;
  }

  #same(who: string | typeof SELF, shown: `${LinkQuality | 'self'}:${boolean}`): boolean {
    const same = this.#shown.get(who) === shown;
    this.#shown.set(who, shown);
    return same;
  }

  #speaking(who: string | typeof SELF, level: number): boolean {
    const now = Date.now();
    if (level >= this.#speakingLevel) this.#lastLoud.set(who, now);
    return now - (this.#lastLoud.get(who) ?? -Infinity) < this.#holdMs;
  }
}
