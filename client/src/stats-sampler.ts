/**
 * One getStats() per peer connection per interval, shared by everything that reads it (the
 * media-stall watch, call statistics, link quality, who is speaking): each consumer says when
 * it wants a sample, and the sampler asks the engine only when one does. Paused (the tab is
 * hidden), it keeps no timer at all.
 */

/** Sampling period: one getStats per peer per second is cheap next to decoding video. */
export const SAMPLE_MS = 1_000;
/** A getStats() pending this long is given up for this sample. */
const STATS_TIMEOUT_MS = 2_000;

export type StatsConsumer = (report: RTCStatsReport) => void;

interface Registration {
  consumer: StatsConsumer;
  wanted: () => boolean;
}

export class StatsSampler {
  readonly #pc: RTCPeerConnection;
  readonly #intervalMs: number;
  readonly #registrations = new Set<Registration>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #paused = false;
  #stopped = false;
  #sampling = false;

  constructor(pc: RTCPeerConnection, intervalMs = SAMPLE_MS) {
    this.#pc = pc;
    this.#intervalMs = intervalMs;
  }

  /** Feeds `consumer` each sample taken while `wanted()` (of any consumer) holds; returns the unsubscribe. */
  add(consumer: StatsConsumer, wanted: () => boolean = () => true): () => void {
    const registration = { consumer, wanted };
    this.#registrations.add(registration);
    this.#schedule();
    return () => {
      this.#registrations.delete(registration);
      this.#schedule();
    };
  }

  /** No sampling (and no timer) while paused. */
  setPaused(paused: boolean): void {
    this.#paused = paused;
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    this.#registrations.clear();
    this.#schedule();
  }

  #schedule(): void {
    // Engines (or fakes) without getStats cannot be sampled.
    const run = !this.#stopped && !this.#paused && this.#registrations.size > 0 && typeof this.#pc.getStats === 'function';
    if (run && this.#timer === undefined) {
      this.#timer = setInterval(() => void this.#sample(), this.#intervalMs);
    } else if (!run && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  async #sample(): Promise<void> {
    if (this.#sampling) return;
    const wanting = [...this.#registrations].filter((r) => r.wanted());
    if (wanting.length === 0) return;
    this.#sampling = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      // Firefox can leave getStats() pending forever on a connection being torn down; a
      // sample that never ends must not stop sampling for good (#sampling would stay set).
      const timedOut = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), STATS_TIMEOUT_MS)));
      const report = await Promise.race([this.#pc.getStats(), timedOut]);
      if (report === null || this.#stopped) return;
      // Read the engine's report once into a plain Map: each pass over an RTCStatsReport makes
      // a new object for every entry (Blink converts on access), and every consumer passes over it.
      const snapshot: RTCStatsReport = wanting.length === 1 ? report : new Map(report);
      for (const { consumer } of wanting) consumer(snapshot);
    } catch {
      // Closed meanwhile: nothing to read.
    } finally {
      clearTimeout(timer);
      this.#sampling = false;
    }
  }
}
