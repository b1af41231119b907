/**
 * The states and events of a SignalingClient: the part of its API an
 * application listens to.
 */
import type { MemberSummary, Metadata } from './protocol.ts';
import type { SignalingError } from './signaling-error.ts';

/**
 * - `connecting`: first attempt since `connect()`; not yet joined.
 * - `open`: joined; signals can be sent.
 * - `reconnecting`: the link was lost (or the first attempt failed); waiting or retrying.
 * - `closed`: not connected and not trying: before `connect()`, after `leave()`, or after a fatal error.
 */
export type SignalingState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** Payload of `joined`. */
export interface JoinedEvent {
  room: string;
  name: string;
  /** The other members, in join order. */
  peers: readonly string[];
  /** The same members, in the same order, with the metadata their applications attached. */
  members: readonly MemberSummary[];
  /** ICE servers from the server (empty when it sends none); use for new peer connections. */
  iceServers: RTCIceServer[];
  /** Seconds those credentials stay valid from this event; absent when they do not expire. */
  iceServersTtl?: number;
  /** Secret the next re-join will carry, if the server offers resume. */
  resume: string | undefined;
  /** True for every `joined` after the first since `connect()`. */
  rejoin: boolean;
  /** True when the server resumed the earlier membership (peers saw nothing); false for a new one. */
  resumed: boolean;
}

/** Payload of `state`. */
export interface StateChangeEvent {
  state: SignalingState;
  previous: SignalingState;
  /** Why the client closed, when it was not `leave()`. */
  error?: SignalingError;
}

/** Events of {@link SignalingClient}. */
export interface SignalingClientEvents {
  /** Joined (or re-joined) the room. */
  joined: JoinedEvent;
  /** Someone joined after us; members already present make the offer. */
  'peer-joined': { name: string; metadata: Metadata };
  'peer-left': { name: string };
  /**
   * Signals between us and `peers` may have been lost in the server (its Redis subscriber
   * connection dropped). MeshCall re-sends or renegotiates what was pending with them.
   */
  'signals-lost': { peers: string[] };
  /**
   * Fresh ICE servers, fetched before the previous credentials expire (at 80 % of their TTL).
   * Apply them to open peer connections (`setConfiguration`) so an ICE restart can still use TURN.
   */
  'ice-servers': { iceServers: RTCIceServer[]; iceServersTtl?: number };
  /** Opaque data from another member; `from` is stamped by the server. */
  signal: { from: string; data: Record<string, unknown> };
  /** Data another member sent to the whole room with `broadcast()`; `from` is stamped by the server. */
  broadcast: { from: string; data: Record<string, unknown> };
  /** Data from the application's backend (the server API's messages), not from a member. */
  message: { data: Record<string, unknown> };
  /** Something went wrong; the client keeps going unless `state` says `closed`. */
  error: SignalingError;
  state: StateChangeEvent;
}
