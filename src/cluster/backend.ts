/**
 * What the cluster core needs from a backend: a presence store (who is in which room, who
 * is reconnecting, which dynos are alive) and a message bus (channels with subscribers). The
 * core holds all signaling logic; a backend is thin I/O, so the embedded and Redis backends
 * behave identically by construction.
 */

import type { Metadata } from '../protocol/messages.ts';

/** What is stored with a member besides its routing state: for its peers and the server API. */
export interface MemberInfo {
  metadata: Metadata;
  /** When the membership started, ms since the epoch (the joining dyno's clock). */
  joinedAt: number;
}

/** One registration in a room, as stored by the backend. */
export interface MemberEntry {
  name: string;
  /** Position in the room's join order; unique per room while the room exists. */
  seq: number;
  /** Absent for records written without it (before metadata existed, or after a store loss). */
  metadata?: Metadata;
}

/** Where one member's state lives. */
export interface MemberRef {
  /** The room's hash (see RoomKeys.members). */
  membersKey: string;
  /** List of entries held for the member while it reconnects (RoomKeys.holdKey). */
  holdKey: string;
  name: string;
}

export type RegisterOutcome =
  { ok: true; seq: number; /** Other members, in join order. */ peers: MemberEntry[] } | { ok: false; reason: 'name-taken' | 'room-full' };

/**
 * Why a membership ended, as its tombstone says: the webhook's `member.left` reasons, and
 * `replaced` for one resumed on another connection. A membership that ended is never put back.
 */
export type EndReason = 'left' | 'disconnected' | 'removed' | 'dyno-lost' | 'replaced';

/** No membership of ours any more: `ended` says why, null when the store simply lost it (re-registration puts it back). */
export interface Gone {
  ended: EndReason | null;
}

/** What the store says of a membership this dyno holds. */
export type MemberStatus = 'ours' | 'missing' | { ended: EndReason };

export interface RegisterRequest extends MemberRef {
  /** Opaque owner tag (dyno + connection); removal only succeeds with the same tag. */
  owner: string;
  /** Hash of the resume secret; only its holder may take the membership over. */
  secretHash: string;
  maxRoomSize: number;
  info?: MemberInfo;
}

export interface ResumeRequest extends MemberRef {
  secretHash: string;
  owner: string;
  newSecretHash: string;
}

export type ResumeOutcome =
  | {
      ok: true;
      seq: number;
      previousOwner: string;
      /**
       * The previous connection had not been suspended (its dyno had not yet noticed the
       * drop, or its socket is half-open): its dyno may still hand frames over (handover.ts).
       */
      previousConnected: boolean;
      /** Held entries in order: at most one snapshot ("V...") first, then signal frames. */
      held: string[];
      peers: MemberEntry[];
    }
  | { ok: false; reason: 'name-taken' | 'gone' };

export interface SuspendRequest extends MemberRef {
  owner: string;
  graceMs: number;
  /** What the client had been told, stored as the first held entry ('' for none). */
  snapshot: string;
  /** Replaces the stored secret hash (undoing a resume whose reply was lost); '' keeps it. */
  secretHash?: string;
  /** Signals that reached this dyno after the socket dropped; held before any later ones. */
  frames: readonly string[];
  holdTtlMs: number;
}

/** Outcome of holding a signal for a member nobody subscribes to right now. */
export type HoldOutcome = 'delivered' | 'held' | 'not-found' | 'full';

export interface HoldRequest extends MemberRef {
  channel: string;
  payload: string;
  maxHeld: number;
  /** Bytes held at most, this payload included (MAX_HELD_BYTES). */
  maxHeldBytes: number;
  ttlMs: number;
}

/** A member put back after the backend lost its data or a sweep removed it. */
export interface ReregisterEntry extends MemberRef {
  seq: number;
  owner: string;
  secretHash: string;
  /** Grace left for a member that is reconnecting; 0 for a connected one. */
  graceMs: number;
  /** The highest seq of the room this member knew of (its own or a peer's): how many to renumber. */
  highestKnownSeq: number;
  /** Written with a member put back anew (the store lost it), so peers still see its metadata. */
  info?: MemberInfo;
}

/**
 * `kept`: the record was still there (rewritten). `renumbered`: written anew with a higher seq
 * after the room was lost; peers that knew the old seq keep the member. `ended`: the
 * membership ended meanwhile (left, expired, removed, swept, resumed elsewhere): not put back.
 */
export type ReregisterOutcome =
  | { status: 'kept' | 'renumbered'; seq: number; /** Other members, in join order. */ peers: MemberEntry[] }
  | { status: 'clash' }
  | { status: 'ended'; reason: EndReason };

/** What a renewal found: the lease still running, run out (we may have been swept), or none. */
export type LeaseState = 'live' | 'lapsed' | 'missing';

/** An entry of a dyno's sweep index: one registration made through that dyno. */
export interface IndexedMember extends MemberRef {
  /** The connection that made it; absent from an entry without the owner part (any connection of that dyno). */
  owner?: string;
}

/** What a sweep did to one member of a dead dyno. */
export type SweepOutcome = { action: 'kept' | 'forgotten' } | { action: 'removed'; seq: number };

/** A member as the server API shows it. */
export interface MemberDetail {
  name: string;
  seq: number;
  metadata: Metadata;
  /** Absent for records written without it (put back after a store loss by an older dyno). */
  joinedAt?: number;
  /** Its socket dropped and it may still resume (grace period running). */
  reconnecting: boolean;
}

/** One page of the rooms index (server API). */
export interface RoomPage {
  /** Rooms with at least one member, by members key, with their member counts. */
  rooms: Array<{ membersKey: string; members: number }>;
  /** The last members key looked at, when more rooms may follow it. */
  after?: string;
  /** Rooms of this page left out because their store did not answer (a Redis Cluster master down). */
  unreachable?: number;
}

export type BusHandler = (channel: string, payload: string) => void;

/**
 * The bus lost its subscriptions and is connected again: `affected(channel)` says which of
 * them are gone (a Redis Cluster loses one shard's at a time). The backend does not
 * re-subscribe by itself; the core does, from the subscriptions it holds.
 */
export type BusResetHandler = (affected: (channel: string) => boolean) => void;

/** What a connected member missed while its dyno was not subscribed to its channel. */
export interface CatchUp {
  /** Signal entries held for it (published while nobody subscribed), in order. */
  held: string[];
  /** The room's other members now. */
  peers: MemberEntry[];
  /** Set while the store puts a room it lost back together (see RoomRenumbering). */
  renumbering?: RoomRenumbering;
}

/**
 * A room the store lost is being put back, member by member, by each member's own dyno: a
 * member put back takes `base` + the seq it had, and announces itself renumbered. Until then
 * it is missing without having ended: `pending` names the peers asked about that are neither
 * in the room nor have a tombstone. Neither kind left, so neither is reported as leaving.
 */
export interface RoomRenumbering {
  base: number;
  pending: readonly string[];
}

export interface Backend {
  /** Human-readable kind for logs and /readyz. */
  readonly kind: 'embedded' | 'redis';
  /** Atomically registers `name` unless it is taken or the room is full. */
  register(request: RegisterRequest): Promise<RegisterOutcome>;
  /** Takes over a membership whose secret matches, returning what was held for it. */
  resume(request: ResumeRequest): Promise<ResumeOutcome>;
  /**
   * Removes the member if `owner` still holds it and announces it on the room's events
   * channel in the same atomic step; resolves to the removed seq or null.
   */
  unregister(member: MemberRef, owner: string): Promise<number | null>;
  /** Starts the grace period of a member whose connection dropped; false if not the owner. */
  suspend(request: SuspendRequest): Promise<boolean>;
  /** Removes (and announces) a member still suspended by `owner` once its grace is over. */
  expire(member: MemberRef, owner: string): Promise<number | null>;
  /** Publishes again, or holds the payload when the member exists but nobody subscribes. */
  hold(request: HoldRequest): Promise<HoldOutcome>;
  /** Puts a member back (idempotent); a member written anew is announced by the backend. */
  reregister(entry: ReregisterEntry): Promise<ReregisterOutcome>;
  /** Every member of a room, in join order (server API). */
  roomMembers(membersKey: string): Promise<MemberDetail[]>;
  /**
   * Rooms with at least one member whose members key sorts after `after` and before `below`,
   * in key order, at most `limit` (server API). Read from an index the backend keeps, never
   * from a scan of the keyspace.
   */
  listRooms(after: string, below: string, limit: number): Promise<RoomPage>;
  /**
   * Removes a member whoever holds it, reconnecting or not, and in the same atomic step
   * announces it (peer-left) and tells its dyno to close its socket (Tag.Removed on its
   * member channel); false when it is not a member. Webhook reason: `removed`.
   */
  remove(member: MemberRef): Promise<boolean>;
  /** Publishes to a channel; resolves to how many dynos are subscribed to it. */
  publish(channel: string, payload: string): Promise<number>;
  subscribe(channels: readonly string[]): Promise<void>;
  unsubscribe(channels: readonly string[]): Promise<void>;
  /** Registers the single receiver of every message on subscribed channels. */
  onMessage(handler: BusHandler): void;
  /** Called after the backend reconnected (its data may be gone). */
  onReconnect(handler: () => void): void;
  /** Called when subscriptions were lost (the subscriber connection dropped) and it is back. */
  onBusReset(handler: BusResetHandler): void;
  /**
   * Takes what was held for a member that `owner` holds and that is not reconnecting (held
   * because the bus dropped its channel), with the room's members; Gone when it is not ours.
   */
  /** `known`: the peers the member's client knows, for CatchUp.renumbering's `pending`. */
  catchUp(member: MemberRef, owner: string, known: readonly string[]): Promise<CatchUp | Gone>;
  /** Whether `owner` still holds the member, read-only (checked while the bus is down). */
  memberStatus(member: MemberRef, owner: string): Promise<MemberStatus>;
  /**
   * Member channels whose subscription is lost right now (the subscriber connection is down
   * and not back yet), or null when the bus is whole. While a channel is lost, notices on it
   * (removal, replacement) cannot arrive: the core asks the store instead.
   */
  busGaps(): ((channel: string) => boolean) | null;

  /** Extends this dyno's lease; says whether it had run out meanwhile. */
  renewLease(nodeId: string, ttlMs: number): Promise<LeaseState>;
  /** Records a registration under this dyno for crash sweeps (idempotent; done before it). */
  indexMember(nodeId: string, member: MemberRef, owner: string): Promise<void>;
  /** Forgets that entry once the registration is gone or belongs to another connection. */
  unindexMember(nodeId: string, member: MemberRef, owner: string): Promise<void>;
  /** Ends the lease at once (graceful exit), so survivors sweep without waiting. */
  releaseLease(nodeId: string): Promise<void>;
  /** Dynos whose lease ran out, claimed for sweeping by this caller. */
  claimDeadNodes(claimant: string, claimMs: number): Promise<string[]>;
  deadNodeMembers(nodeId: string): Promise<IndexedMember[]>;
  /** Starts the grace of, or removes and announces, one member of a dead dyno. */
  sweepMember(nodeId: string, member: IndexedMember, graceMs: number): Promise<SweepOutcome>;
  /** Forgets a dead dyno once none of its members is left. */
  forgetNode(nodeId: string): Promise<void>;

  /** True when the backend answers now (used by /readyz). */
  isReady(): boolean;
  close(): Promise<void>;
}

/** Thrown (or rejected with) by a backend that cannot reach its store. */
export class BackendUnavailableError extends Error {
  readonly code = 'ERR_BACKEND_UNAVAILABLE';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'BackendUnavailableError';
  }
}

/** The owner tag kept with a registration: "<node>/<connection>" (node ids hold no slash). */
export function ownerTag(nodeId: string, connectionId: string): string {
  return `${nodeId}/${connectionId}`;
}

export function ownerNode(owner: string): string {
  return owner.slice(0, owner.indexOf('/'));
}
