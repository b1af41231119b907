/**
 * Keeps one sender's signals to one receiver in order (docs/protocol.md, "Ordering and
 * delivery") around the hold path and around a dropped subscriber
 * connection. A signal is one PUBLISH; when that reaches nobody a second command holds it,
 * and a PUBLISH of the next signal issued meanwhile, or pipelined before the miss was known,
 * could reach a subscriber that came back in between and overtake the held one. So a signal
 * to a target starts once the previous one to that target has its answer: per target one
 * round trip at a time, which the per-connection rate limit (50 messages/s by default) never
 * comes near, while signals to different targets still go out in parallel. Measured cost:
 * docs/benchmarks.md ("Per-target order").
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

  /** Targets with a signal in flight. */
  get size(): number {
    return this.tails.size;
  }

  private settle(target: string, settled: Promise<void>): void {
    // Forget the target once its last signal is done, so idle sessions keep no entries.
    if (this.tails.get(target) === settled) this.tails.delete(target);
  }
}
