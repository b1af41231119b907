import type { Backend } from './backend.ts';

/**
 * A failed UNSUBSCRIBE is sent again after this long, doubling per attempt up to
 * UNSUBSCRIBE_MAX_RETRY_MS: soon after the subscriber connection is back (a channel left
 * subscribed swallows what is sent to the member that left), rarely while it stays away.
 */
const UNSUBSCRIBE_FIRST_RETRY_MS = 250;
const UNSUBSCRIBE_MAX_RETRY_MS = 5000;

interface Entry {
  count: number;
  /**
   * Settles when the backend has confirmed the subscription; null once it has, so an idle
   * member's channel holds no promise.
   */
  ready: Promise<void> | null;
}

/**
 * Reference-counted channel subscriptions for one dyno. Many local sessions can need the
 * same room events channel; the backend subscription lives while any of them does.
 */
export class SubscriptionSet {
  private readonly entries = new Map<string, Entry>();
  private readonly backend: Backend;
  private readonly onUnsubscribeError: (error: unknown) => void;

  constructor(backend: Backend, onUnsubscribeError: (error: unknown) => void) {
    this.backend = backend;
    this.onUnsubscribeError = onUnsubscribeError;
  }

  /** Resolves once every channel is subscribed; on rejection the caller holds nothing. */
  async acquire(channels: readonly string[]): Promise<void> {
    const fresh: string[] = [];
    const waits: Promise<void>[] = [];
    for (const channel of channels) {
      const entry = this.entries.get(channel);
      if (entry) {
        entry.count++;
        if (entry.ready) waits.push(entry.ready);
      } else {
        fresh.push(channel);
      }
    }
    if (fresh.length > 0) {
      const ready = this.backend.subscribe(fresh);
      // Other acquirers await `ready` too; swallow here so a failure is not reported unhandled.
      const entries = fresh.map((channel) => {
        const entry: Entry = { count: 1, ready };
        this.entries.set(channel, entry);
        return entry;
      });
      ready.then(
        () => {
          for (const entry of entries) if (entry.ready === ready) entry.ready = null;
        },
        () => undefined,
      );
      waits.push(ready);
    }
    try {
      await Promise.all(waits);
    } catch (error) {
      void this.release(channels);
      throw error;
    }
  }

  /**
   * Resolves when the backend has dropped the channels nobody holds any more. A failed
   * UNSUBSCRIBE (the subscriber connection is away) is sent again until it goes through or
   * a session takes the channel again: the subscription may have survived on the server, or
   * in the client library's own list that it replays after a reconnect, and a channel
   * subscribed with no member behind it swallows what is sent to that member.
   */
  release(channels: readonly string[]): Promise<void> {
    const gone: string[] = [];
    for (const channel of channels) {
      const entry = this.entries.get(channel);
      if (!entry) continue;
      if (--entry.count === 0) {
        this.entries.delete(channel);
        gone.push(channel);
      }
    }
    if (gone.length === 0) return Promise.resolve();
    return this.backend.unsubscribe(gone).catch((error: unknown) => {
      this.onUnsubscribeError(error);
      this.unsubscribeLater(gone, 0);
    });
  }

  /** Unsubscribes channels released meanwhile and not held again (a recovery's last step too). */
  dropReleased(channels: readonly string[]): Promise<void> {
    const released = channels.filter((channel) => !this.entries.has(channel));
    if (released.length === 0) return Promise.resolve();
    return this.backend.unsubscribe(released).catch(() => this.unsubscribeLater(released, 0));
  }

  private unsubscribeLater(channels: readonly string[], attempt: number): void {
    const timer = setTimeout(
      () => {
        const released = channels.filter((channel) => !this.entries.has(channel));
        if (released.length > 0) this.backend.unsubscribe(released).catch(() => this.unsubscribeLater(released, attempt + 1));
      },
      Math.min(UNSUBSCRIBE_FIRST_RETRY_MS * 2 ** attempt, UNSUBSCRIBE_MAX_RETRY_MS),
    );
    timer.unref();
  }

  /** The channels one holder takes together, to acquire and give back once (ChannelLease). */
  lease(channels: readonly string[]): ChannelLease {
    return new ChannelLease(this, channels);
  }

  /** Whether a local session still holds `channel`. */
  holds(channel: string): boolean {
    return this.entries.has(channel);
  }

  /** Channels currently held, for re-subscription after a backend restart. */
  channels(): string[] {
    return [...this.entries.keys()];
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * Channels one holder (a membership: its room's events channel and its member channel)
 * acquires together and gives back at most once, however many of its endings run: the room
 * channel is counted once per local member, and a second release would cut the others off.
 * A failed acquire holds nothing (SubscriptionSet.acquire gave it back), so its release is a no-op.
 */
export class ChannelLease {
  private readonly set: SubscriptionSet;
  private readonly channels: readonly string[];
  private held = false;

  constructor(set: SubscriptionSet, channels: readonly string[]) {
    this.set = set;
    this.channels = channels;
  }

  /** Resolves once every channel is subscribed; on rejection nothing is held. */
  async acquire(): Promise<void> {
    await this.set.acquire(this.channels);
    this.held = true;
  }

  /** Gives the channels back; resolves at once when they are not held (never acquired, or released already). */
  release(): Promise<void> {
    if (!this.held) return Promise.resolve();
    this.held = false;
    return this.set.release(this.channels);
  }
}
