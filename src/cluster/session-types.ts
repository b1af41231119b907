/** What protocol adapters see of the core: the sink they implement and the results they get. */

import type { EndReason } from './backend.ts';
import type { Metadata } from '../protocol/messages.ts';

export interface JoinInfo {
  /** The secret that lets this membership be resumed after a dropped connection. */
  resume: string;
  /** True when an earlier membership was taken over rather than a new one started. */
  resumed: boolean;
  /** Metadata of the peers listed with it, by name (`{}` for a name missing here). */
  metadata?: ReadonlyMap<string, Metadata>;
}

/** How a protocol adapter hears about its session. One sink per connection. */
export interface SessionSink {
  /** Returns false when the socket refused it (already closing): the client never got it. */
  joined(room: string, name: string, peers: string[], info: JoinInfo): boolean | void;
  /** `metadata`: what the peer's application attached to it (absent when the backend has none). */
  peerJoined(name: string, metadata?: Metadata): void;
  peerLeft(name: string): void;
  /**
   * A frame encoded by the sender's protocol adapter, ready to send as is. Returns false
   * when the socket is already closing, so the frame can be held for a resume instead.
   * `seq`: its number in this membership, when the client asked for numbered frames.
   */
  deliver(frame: string, seq?: number): boolean | void;
  /** The membership was resumed on another connection: close this one without leaving. */
  replaced?(): void;
  /** The application removed this member (server API): tell the client, close, never resume. */
  removed?(): void;
  /**
   * The membership ended while this connection was cut off from the cluster (its dyno was
   * swept as dead, say): close so the client joins again (its resume finds nothing and it
   * starts a new membership). Never `removed` or `replaced`, which have their own methods.
   */
  ended?(reason: EndReason): void;
  /**
   * Signals between this member and `peers` may have been lost: the dyno's bus connection
   * dropped with some in flight (docs/protocol.md, "Ordering and delivery").
   */
  signalsLost?(peers: string[]): void;
  /** The frame, in this protocol, that tells a peer signals between it and `name` may be lost. */
  lostFrame?(name: string): string;
}

/** What a join may add besides room, name, resume secret, authorizer and metadata. */
export interface JoinOptions {
  /** The client numbers frames and processed those up to this seq (docs/protocol.md, Numbered frames). */
  lastSeq?: number;
  /** A resume secret chosen by the client (a PeerJS token) instead of one the server mints. */
  secret?: string;
}

export type JoinResult =
  | { ok: true; resumed: boolean }
  | { ok: false; code: 'already-joined' | 'name-taken' | 'room-full' | 'unavailable' }
  | { ok: false; code: 'unauthorized'; reason: string };

/**
 * Asked only when a join is about to start a new membership: a first join, or a resume
 * whose membership is gone. A resume that finds its membership needs no token: the resume
 * secret proves it (docs/protocol.md, Join tokens).
 */
export type JoinAuthorizer = () => Promise<{ ok: true; metadata?: Metadata } | { ok: false; reason: string }>;

/** What one session's re-registration did (see ReregisterOutcome); `skipped`: it holds no membership. */
export type ReregisterResult = 'kept' | 'renumbered' | 'ended' | 'clash' | 'skipped' | 'failed';

export type SignalResult = 'sent' | 'not-joined' | 'peer-not-found' | 'peer-backlogged' | 'unavailable';

export type BroadcastResult = 'sent' | 'not-joined' | 'unavailable';

/** `leave` removes the member now; `disconnect` keeps it for the resume grace period. */
export type CloseReason = 'leave' | 'disconnect';
