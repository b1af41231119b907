import type { SessionSink } from './session-types.ts';

/** At most this many recently written frames are kept for a resume that names its last one. */
export const WRITTEN_MAX_FRAMES = 64;
/** ... and at most this many bytes of them. */
export const WRITTEN_MAX_BYTES = 64 * 1024;

/** What a client that has not yet proven it got its `joined` may still need (see Delivery.unconfirmed). */
export interface Unconfirmed {
  /** The secret hash it resumed with (still valid), or null after a first join (it holds none). */
  previousSecretHash: string | null;
  /** The peers it knew before this `joined` (a resume's snapshot), or null: those it was told in it. */
  known: Array<[string, number]> | null;
  /**
   * Frames delivered since (for clients without frame numbers; numbered ones are in
   * `written`), the newest WRITTEN_MAX_FRAMES / WRITTEN_MAX_BYTES: a client that never sends
   * anything must not make this grow without bound, and a `joined` lost in a dying socket is
   * followed by few frames before the close.
   */
  frames: string[];
  /** A first `joined` the socket refused (it was closing): the client holds no secret. */
  joinedUnsent?: boolean;
}

/**
 * What reaches one member's client, frame by frame: the one place that decides what is kept
 * of it for a later resume.
 *
 * - Numbered (the client's join carried `lastSeq`): every frame gets the next number of the
 *   membership and is kept in a bounded record of recently written frames, so a resume that
 *   names the last frame its client processed gets what was written after it, even into a
 *   half-open socket. A frame the socket refused is kept there too: the record replays it.
 * - Unconfirmed (from a `joined` until the client sends anything): frames are logged, so a
 *   `joined` written into a socket that just died loses nothing.
 */
export class Delivery implements SessionSink {
  private readonly sink: SessionSink;
  /** The next frame number; 0: frames are not numbered (the client did not ask). */
  next: number;
  readonly written: Array<[number, string]> = [];
  private writtenBytes = 0;
  unconfirmed: Unconfirmed | null = null;
  private unconfirmedBytes = 0;

  constructor(sink: SessionSink, numbered: boolean) {
    this.sink = sink;
    this.next = numbered ? 1 : 0;
  }

  get numbered(): boolean {
    return this.next > 0;
  }

  /** The client answered after its `joined`: it has it, and everything written before. */
  confirm(): void {
    this.unconfirmed = null;
    this.unconfirmedBytes = 0;
  }

  /**
   * True when the frame is taken care of: written, or kept here for a resume. False: the
   * socket refused it and nothing here keeps it (the caller holds it for the suspend).
   */
  deliver(frame: string): boolean {
    if (!this.numbered) {
      const written = this.sink.deliver(frame) !== false;
      if (!this.unconfirmed) return written;
      const { frames } = this.unconfirmed;
      frames.push(frame);
      this.unconfirmedBytes += frame.length;
      while (frames.length > WRITTEN_MAX_FRAMES || this.unconfirmedBytes > WRITTEN_MAX_BYTES)
        this.unconfirmedBytes -= (frames.shift() as string).length;
      return true;
    }
    const n = this.next++;
    this.remember(n, frame);
    this.sink.deliver(frame, n);
    return true;
  }

  /** Delivers a frame written before under number `n` again (a resume's replay). */
  redeliver(n: number, frame: string): void {
    this.remember(n, frame);
    if (this.next <= n) this.next = n + 1;
    this.sink.deliver(frame, n);
  }

  private remember(n: number, frame: string): void {
    this.written.push([n, frame]);
    this.writtenBytes += frame.length;
    while (this.written.length > WRITTEN_MAX_FRAMES || this.writtenBytes > WRITTEN_MAX_BYTES) {
      const [, dropped] = this.written.shift() as [number, string];
      this.writtenBytes -= dropped.length;
    }
  }

  joined(...args: Parameters<SessionSink['joined']>): boolean | void {
    return this.sink.joined(...args);
  }
  peerJoined(...args: Parameters<SessionSink['peerJoined']>): void {
    this.sink.peerJoined(...args);
  }
  peerLeft(name: string): void {
    this.sink.peerLeft(name);
  }
  signalsLost(peers: string[]): void {
    this.sink.signalsLost?.(peers);
  }
}
