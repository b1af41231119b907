/**
 * Keeps one sender's signals to one receiver in order (docs/protocol.md, "Ordering and
 * delivery") across the hold path. A signal is one PUBLISH; when that reaches nobody, a
 * second command holds it, and a PUBLISH of the next signal issued meanwhile could reach a
 * subscriber that came back in between and overtake it (issue 18, item 10). So each signal
 * to a target starts only once the previous one to that target has its answer: one round
 * trip each, which the per-connection rate limit (tens of messages per second) never
 * notices, and signals to different targets still go out in parallel.
 */
export class SignalOrder {
  /** Target -> the last signal to it that has not settled yet. */
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(target: string, send: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(target);
    const current = previous === undefined ? send() : previous.then(send, send);
    const settled: Promise<void> = current.then(
      (): void => this.settle(target, settled),
      (): void => this.settle(target, settled),
    );
    this.tails.set(target, settled);
    return current;
  }

  /** Targets with a signal in flight (for tests and memory accounting). */
  get size(): number {
    return this.tails.size;
  }

  private settle(target: string, settled: Promise<unknown>): void {
    // Forget the target once its last signal is done, so idle sessions keep no entries.
    if (this.tails.get(target) === settled) this.tails.delete(target);
  }
}
