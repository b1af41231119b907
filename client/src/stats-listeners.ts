/**
 * MeshCall's listeners of statistics samples (call-stats.ts, or an app's): each sample of a
 * peer's connection goes to every listener, the link counts as steady only when every listener
 * read nothing new, and the sampler keeps only the stats types some listener reads.
 */
import { unionOfTypes } from './stats-sampler.ts';

/** Reads one sample of `peer`'s connection; returns `true` when it read nothing new, so a steady link is sampled less often. */
export type StatsListener = (peer: string, report: RTCStatsReport) => boolean | void;

export class StatsListeners {
  readonly #entries = new Set<{ listener: StatsListener; types: readonly string[] | undefined }>();

  get size(): number {
    return this.#entries.size;
  }

  /** `types`: the stats types the listener reads (undefined: every type). Returns the unsubscribe. */
  add(listener: StatsListener, types?: readonly string[]): () => void {
    const entry = { listener, types };
    this.#entries.add(entry);
    return () => this.#entries.delete(entry);
  }

  /** Hands the sample to every listener; true when none of them read anything new. */
  deliver(peer: string, report: RTCStatsReport): boolean {
    let steady = true;
    for (const { listener } of this.#entries) if (listener(peer, report) !== true) steady = false;
    return steady;
  }

  /** The types some listener reads; undefined (every type) when one names none. */
  types(): readonly string[] | undefined {
    return unionOfTypes([...this.#entries].map((entry) => entry.types));
  }

  clear(): void {
    this.#entries.clear();
  }
}
