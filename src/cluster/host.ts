import type { Backend } from './backend.ts';
import type { CleanupJob } from './cleanup-queue.ts';
import type { RoomKeys } from './keys.ts';
import type { Routes } from './routes.ts';
import type { SubscriptionSet } from './subscription-set.ts';

/**
 * What a session needs of the dyno it lives on, and nothing more: its settings, the backend,
 * the routes of bus messages, and the few node-wide acts a membership triggers. SignalingNode
 * implements it; a test implements it with fakes. `S` is the session type, so this module
 * needs no import of it.
 */
export interface SessionHost<S> {
  readonly nodeId: string;
  readonly prefix: string;
  readonly maxRoomSize: number;
  readonly graceMs: number;
  readonly leaseMs: number;
  /** How long a resume waits for the previous connection's hand-over (handover.ts). */
  readonly handoverTimeoutMs: number;
  readonly backend: Backend;
  readonly subscriptions: SubscriptionSet;
  readonly routes: Routes<S>;
  /** The session closed: the node stops counting it. */
  forget(session: S): void;
  /** A membership moved to `current`: the connection that held it before must go. */
  replaceElsewhere(channel: string, previousOwner: string, current: S): void;
  /** Hands a registration no session holds any more to the cleanup queue. */
  retire(job: CleanupJob, delayMs?: number): Promise<void>;
  /** The hot path: one publish, or the hold script (SignalingNode.sendTo). */
  sendTo(keys: RoomKeys, to: string, frame: string): Promise<'sent' | 'not-found' | 'full'>;
}

/** What bus recovery needs of a session whose channel was lost. */
export interface RecoveringSession {
  bufferLive(): void;
  catchUp(bySubscriberDrop: boolean): Promise<string[]>;
  lostFrame(): string | undefined;
  peerChannel(peer: string): string | undefined;
}

/** What bus recovery needs of the dyno. */
export interface BusHost {
  readonly backend: Backend;
  readonly subscriptions: SubscriptionSet;
  /** Local joined sessions by member channel. */
  memberSessions(): Iterable<[string, RecoveringSession]>;
}
