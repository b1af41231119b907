import type { Logger } from 'pino';

/**
 * Writes that must not refuse the operation they accompany, and must still happen.
 *
 * On a Redis Cluster a membership change runs whole in its room's slot, but a few indexes
 * live elsewhere: the rooms index the server API lists, each dyno's crash index the sweeps
 * read, and the webhook queue shards. A master that hangs or fails over must cost those
 * indexes a delay, never the join, leave or signal of a room on a healthy master. So each
 * such write is started, awaited for at most `waitMs`, and, when it fails, retried in the
 * background with backoff until it succeeds. Writes share a key when a later one supersedes
 * an earlier (adding then removing one index entry): a retry runs only while its write is
 * still the latest for its key, so an old retry cannot undo a newer write.
 */

/** Retries of one failed write: 100 ms doubling to 5 s, forever (the index must converge). */
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 5000;

export type FailureReport = (key: string, error: unknown, attempt: number) => void;

export class BestEffortWrites {
  /** Key -> the latest write's generation. */
  private readonly latest = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private generation = 0;
  private stopped = false;
  private readonly onFailure: FailureReport;

  constructor(onFailure: FailureReport = () => undefined) {
    this.onFailure = onFailure;
  }

  /** Writes waiting for a retry (for tests and logs). */
  get pending(): number {
    return this.latest.size;
  }

  /**
   * Starts `write`; resolves when it succeeded, failed, or `waitMs` passed, whichever comes
   * first, never rejects. A failed write is retried until it succeeds or a newer write for
   * `key` replaces it.
   */
  run(key: string, write: () => Promise<unknown>, waitMs = 0): Promise<void> {
    const generation = ++this.generation;
    this.latest.set(key, generation);
    const first = this.attempt(key, generation, write, 0);
    if (waitMs <= 0) return Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, waitMs);
      timer.unref();
    });
    return Promise.race([first, waited]).finally(() => clearTimeout(timer));
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private async attempt(key: string, generation: number, write: () => Promise<unknown>, attempt: number): Promise<void> {
    if (this.stopped || this.latest.get(key) !== generation) return;
    try {
      await write();
      if (this.latest.get(key) === generation) this.latest.delete(key);
    } catch (error) {
      if (this.stopped || this.latest.get(key) !== generation) return;
      this.onFailure(key, error, attempt);
      const timer = setTimeout(
        () => {
          this.timers.delete(timer);
          void this.attempt(key, generation, write, attempt + 1);
        },
        Math.min(FIRST_RETRY_MS * 2 ** attempt, MAX_RETRY_MS),
      );
      timer.unref();
      this.timers.add(timer);
    }
  }
}

/** Logs a failed index write at its 1st, 2nd, 4th, 8th... attempt: visible, not a line per retry. */
export function indexFailureLogger(log: Logger): FailureReport {
  return (key, error, attempt) => {
    if ((attempt & (attempt + 1)) !== 0) return;
    const what = key.slice(0, key.indexOf('\n'));
    log.warn(
      { index: what, attempt: attempt + 1, err: error instanceof Error ? error.message : String(error) },
      "an index write outside the room's slot failed; retrying (the membership change itself went ahead)",
    );
  };
}
