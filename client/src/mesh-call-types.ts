/**
 * The options, events and per-peer record of a MeshCall (mesh-call.ts), apart from its logic.
 */
import type { MediaState } from './media-state.ts';
import type { IceFailure, PeerLink } from './peer-link.ts';
import type { ReconnectPolicy } from './reconnect-policy.ts';
import type { JoinedEvent, SignalingClientEvents } from './signaling-events.ts';
import type { SignalingError } from './signaling-error.ts';
import type { MeshSignalData } from './signal-data.ts';

/** What a MeshCall needs from its signaling link; {@link SignalingClient} provides it. */
export interface MeshSignaling {
  readonly name: string;
  readonly lastJoined: JoinedEvent | undefined;
  signal(to: string, data: object): boolean;
  on<K extends keyof SignalingClientEvents>(event: K, listener: (payload: SignalingClientEvents[K]) => void): () => void;
}

export type PeerConnectionConstructor = new (configuration?: RTCConfiguration) => RTCPeerConnection;

export interface MeshCallOptions {
  signaling: MeshSignaling;
  /** Camera and microphone to send; null or absent to join receive-only. */
  localStream?: MediaStream | null;
  /** Default `globalThis.RTCPeerConnection`. */
  RTCPeerConnection?: PeerConnectionConstructor;
  /** Base configuration; `iceServers` from `joined` replace its own when the server sends some. */
  rtcConfiguration?: RTCConfiguration;
  /**
   * A pair not `connected` and `stable` for this long counts as broken and is rebuilt.
   * Default 15 000 ms: longer than any healthy negotiation or ICE restart takes.
   */
  settleTimeoutMs?: number;
  /**
   * A connected pair that receives no media packet for this long restarts ICE (a path can
   * die while every state still says `connected`: media-stall.ts). Default 3000 ms; 0: off.
   */
  mediaStallMs?: number;
  /**
   * Delay before rebuilding a broken link (`retryCount`: rebuilds since it last connected;
   * `elapsedMs`: since it first broke). `null` stops rebuilding that peer's link (the peer
   * reads `failed`); a policy that throws stops it too, reported as an `error`. Default: full
   * jitter, 1 s doubling to 10 s, never gives up.
   */
  rebuildPolicy?: ReconnectPolicy;
  /**
   * Lower each video sender's resolution, frame rate and bitrate as the room grows
   * (send-quality.ts). Default true; false sends what the browser picks (for comparisons).
   */
  adaptiveQuality?: boolean;
}

/** A peer's connection state, or `reconnecting` from a broken link until its replacement connects. */
export type PeerState = RTCPeerConnectionState | 'reconnecting';

/** Events of {@link MeshCall}. */
export interface MeshCallEvents {
  /** A peer is in the room (a tile can appear before media flows). */
  'peer-added': { peer: string };
  /** The peer left, or we did: its connection is closed right after this event. */
  'peer-removed': { peer: string };
  /** A remote stream of `peer` (emitted once per stream; tracks may be added to it later). */
  stream: { peer: string; stream: MediaStream };
  'connection-state': { peer: string; state: PeerState };
  /** The connection with `peer` broke (`reason`); a new one is made after `delayMs`. */
  'peer-reconnecting': { peer: string; reason: string; delayMs: number; attempt: number };
  /**
   * The rebuild policy gave up on `peer` (or threw): no new connection is made, the state
   * reads `failed`. A re-join, or an offer from the peer, starts over.
   */
  'peer-failed': { peer: string; reason: string; attempt: number };
  /**
   * ICE cannot connect to `peer` (see {@link IceFailure}); after `failed` an ICE restart is
   * tried. With `no-candidates` under a relay-only policy, the TURN settings are the suspect.
   */
  'ice-failed': { peer: string } & IceFailure;
  /** What `peer` says about its own media (muted, camera off, sharing its screen). */
  'peer-media': { peer: string } & MediaState;
  /** A non-fatal problem with one peer's connection. */
  error: { peer: string; error: SignalingError };
}

export interface PeerEntry {
  link: PeerLink | undefined;
  /** Ids of the remote streams already announced for the current link. */
  streams: Set<string>;
  /** Holds tracks that arrived without a stream id. */
  looseTracks: MediaStream | undefined;
  /** Candidates from a connection whose description has not arrived yet. */
  early: MeshSignalData[];
  /** Rebuilds since the peer was last connected (the backoff's retry count). */
  failures: number;
  /** When the link first broke since the peer was last connected (the policy's `elapsedMs`). */
  brokenAt: number | undefined;
  /** The rebuild policy gave up: the state reads `failed` until something starts over. */
  gaveUp: boolean;
  /** From a break until the replacement connects: the state reads `reconnecting`. */
  recovering: boolean;
  rebuildTimer: ReturnType<typeof setTimeout> | undefined;
}
