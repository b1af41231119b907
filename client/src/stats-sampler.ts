/**
 * One getStats() per peer connection per interval, shared by everything that reads it (the
 * media-stall watch, call statistics, link quality, who is speaking): each consumer says when
 * it wants a sample, and the sampler asks the engine only when one does. Paused (the tab is
 * hidden), it keeps no timer at all.
 *
 * With `slowMs` set, a link whose readings stay steady is sampled less often: after
 * STEADY_SAMPLES samples in which every consumer reported nothing new (returned `true`), the
 * period grows to `slowMs`; the first sample in which any consumer sees a change (or returns
 * anything but `true`) brings it back to `intervalMs`. Each getStats() builds the whole report
 * (every candidate, codec, certificate) on the engine's threads and the page's main thread,
 * and a steady link has nothing new to say every second.
 *
 * Consumers may name the stats `type`s they read: the report is passed over once and only
 * those entries are handed on (all of them when any consumer names none).
 */

/** Sampling period: one getStats per peer per second is cheap next to decoding video. */
export const SAMPLE_MS = 1_000;
/**
 * Period of a link's sampler (PeerLink) while its readings stay steady: a person who starts
 * speaking on a quiet link is highlighted at most this late (the level is averaged over the
 * interval, so no syllable is missed), and a stall is noticed at most this much later.
 */
export const SLOW_SAMPLE_MS = 2_000;
/** Steady samples in a row after which a sampler with `slowMs` slows down. */
export const STEADY_SAMPLES = 3;
/** A getStats() pending this long is given up for this sample. */
const STATS_TIMEOUT_MS = 2_000;

/** Reads one sample; returns `true` when it saw nothing new (the link is steady), anything else asks for the next sample soon. */
export type StatsConsumer = (report: RTCStatsReport) => boolean | void;

export interface StatsSamplerOptions {
  /** [intervalMs=SAMPLE_MS] Period while readings change. */
  intervalMs?: number;
  /** [slowMs=intervalMs] Period while every consumer reports steady readings (no backoff by default). */
  slowMs?: number;
}

interface Registration {
  consumer: StatsConsumer;
  wanted: () => boolean;
  /** Stats types this consumer reads now; undefined: every type. */
  types: () => readonly string[] | undefined;
}

export class StatsSampler {
  readonly #pc: RTCPeerConnection;
  readonly #intervalMs: number;
  readonly #slowMs: number;
  readonly #registrations = new Set<Registration>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #period = 0;
  #paused = false;
  #stopped = false;
  #sampling = false;
  /** Samples in a row in which every consumer read nothing new. */
  #steady = 0;

  constructor(pc: RTCPeerConnection, options: StatsSamplerOptions | number = {}) {
    const { intervalMs = SAMPLE_MS, slowMs = intervalMs } = typeof options === 'number' ? { intervalMs: options } : options;
    this.#pc = pc;
    this.#intervalMs = intervalMs;
    this.#slowMs = Math.max(intervalMs, slowMs);
  }

  /** Feeds `consumer` each sample taken while `wanted()` (of any consumer) holds; returns the unsubscribe. */
  add(
    consumer: StatsConsumer,
    wanted: () => boolean = () => true,
    types?: readonly string[] | (() => readonly string[] | undefined),
  ): () => void {
    const registration = { consumer, wanted, types: typeof types === 'function' ? types : () => types };
    this.#registrations.add(registration);
    this.#steady = 0;
    this.#schedule();
    return () => {
      this.#registrations.delete(registration);
      this.#schedule();
    };
  }

  /** No sampling (and no timer) while paused; resumed, it samples at the fast period again. */
  setPaused(paused: boolean): void {
    this.#paused = paused;
    if (paused) this.#steady = 0;
    this.#schedule();
  }

  /** Something outside the statistics changed (a restart, a new track): sample at the fast period again. */
  hurry(): void {
    if (this.#steady < STEADY_SAMPLES) return;
    this.#steady = 0;
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    this.#registrations.clear();
    this.#schedule();
  }

  #running(): boolean {
    // Engines (or fakes) without getStats cannot be sampled.
    return !this.#stopped && !this.#paused && this.#registrations.size > 0 && typeof this.#pc.getStats === 'function';
  }

  /** One interval at the current period, made again when the period changes. */
  #schedule(): void {
    if (!this.#running()) {
      this.#cancel();
      return;
    }
    const period = this.#steady >= STEADY_SAMPLES ? this.#slowMs : this.#intervalMs;
    if (this.#timer !== undefined && this.#period === period) return;
    this.#cancel();
    this.#period = period;
    this.#timer = setInterval(() => void this.#sample().finally(() => this.#schedule()), period);
  }

  #cancel(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #sample(): Promise<void> {
    if (this.#sampling) return;
    const wanting = [...this.#registrations].filter((r) => r.wanted());
    if (wanting.length === 0) {
      // Nobody reads (not connected yet, or nothing received): the next reading starts fast.
      this.#steady = 0;
      return;
    }
    this.#sampling = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      // Firefox can leave getStats() pending forever on a connection being torn down; a
      // sample that never ends must not stop sampling for good (#sampling would stay set).
      const timedOut = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), STATS_TIMEOUT_MS)));
      const report = await Promise.race([this.#pc.getStats(), timedOut]);
      if (report === null || this.#stopped) return;
      const snapshot = select(report, wanting);
      let steady = true;
      for (const { consumer } of wanting) if (consumer(snapshot) !== true) steady = false;
      this.#steady = steady ? this.#steady + 1 : 0;
    } catch {
      // Closed meanwhile: nothing to read.
    } finally {
      clearTimeout(timer);
      this.#sampling = false;
    }
  }
}

/**
 * The entries the consumers read, in one pass over the engine's report: each pass over an
 * RTCStatsReport makes a new object for every entry (Blink converts on access), so it is read
 * once into a plain Map, and only the types someone reads are kept.
 */
function select(report: RTCStatsReport, wanting: readonly Registration[]): RTCStatsReport {
  const union = unionOfTypes(wanting.map((registration) => registration.types()));
  if (union === undefined && wanting.length === 1) return report;
  const types = union === undefined ? undefined : new Set(union);
  const kept = new Map<string, { type?: string }>();
  report.forEach((stat: { type?: string }, id: string) => {
    if (types === undefined || (stat.type !== undefined && types.has(stat.type))) kept.set(id, stat);
  });
  return kept;
}

/** Every type some reader names; undefined (every type) when a reader names none. */
export function unionOfTypes(lists: ReadonlyArray<readonly string[] | undefined>): readonly string[] | undefined {
  const types = new Set<string>();
  for (const list of lists) {
    if (list === undefined) return undefined;
    for (const type of list) types.add(type);
  }
  return [...types];
}
