/** The types a PeerLink is built from and reports with. */
import type { SignalingError } from './signaling-error.ts';
import type { MeshSignalData } from './signal-data.ts';

/** Audio and video are the only kinds a call carries. */
export type TrackKind = 'audio' | 'video';

/** An `icecandidateerror`: a STUN or TURN server that could not be used (401: refused credentials). */
export interface IceCandidateErrorInfo {
  url: string;
  errorCode: number;
  errorText: string;
}

/**
 * ICE cannot connect this pair. `no-candidates`: gathering ended without a single local
 * candidate (with `iceTransportPolicy: "relay"`, no TURN relay could be allocated), so Chrome
 * waits forever in `new` rather than failing; `failed`: ICE tried every pair and none worked.
 */
export interface IceFailure {
  reason: 'no-candidates' | 'failed';
  /** The candidate errors of the last gathering (at most 8). */
  candidateErrors: IceCandidateErrorInfo[];
}

/** The local media a new connection starts with. */
export interface LocalMedia {
  stream: MediaStream | null;
  tracks: Record<TrackKind, MediaStreamTrack | null>;
}

export interface PeerLinkOptions {
  peer: string;
  /** Polite peers yield (roll back) on offer collisions. */
  polite: boolean;
  /** True when this side makes the first offer (members already in the room). */
  initiator: boolean;
  /** The peer's connection id, when this link is made to answer its offer. */
  remoteSession?: string;
  pc: RTCPeerConnection;
  local: LocalMedia;
  /** Hands a signal to the signaling link; false when it could not be sent. */
  send: (data: MeshSignalData) => boolean;
  onTrack: (event: RTCTrackEvent) => void;
  onConnectionState: (state: RTCPeerConnectionState) => void;
  onError: (error: SignalingError) => void;
  onIceFailed?: (failure: IceFailure) => void;
  /** The link gave up (it is closed already): the owner should start a new connection. */
  onBroken?: (why: string) => void;
  /** Milliseconds the pair may stay not connected or not stable before it counts as broken; 0: never. */
  settleTimeoutMs?: number;
  /** Milliseconds a connected pair may receive no media before ICE is restarted (media-stall.ts); 0: never. */
  mediaStallMs?: number;
  /**
   * Each statistics sample of the connected pair, from the link's one sampler (stats-sampler.ts);
   * returns `true` when it read nothing new, which lets a steady link be sampled less often.
   */
  onStats?: (report: RTCStatsReport) => boolean | void;
  /** The stats types `onStats` reads now (every type when it returns undefined). */
  statsTypes?: () => readonly string[] | undefined;
  /** Whether `onStats` wants samples now (someone listens). Default: always. */
  wantsStats?: () => boolean;
  /** Start with sampling paused (the page is hidden): see PeerLink.setStatsPaused. */
  statsPaused?: boolean;
}
