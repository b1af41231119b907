/**
 * One RTCPeerConnection to one peer, negotiated with the "perfect
 * negotiation" pattern (W3C WebRTC spec §10.7 / MDN): either side may
 * renegotiate at any time, and when both offer at once the polite side rolls
 * back and answers while the impolite side ignores the colliding offer.
 */
import { SignalingError } from "./signaling-error.ts";
import { type MeshSignalData, newSessionId } from "./signal-data.ts";

/** Audio and video are the only kinds a call carries. */
export type TrackKind = "audio" | "video";

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
  reason: "no-candidates" | "failed";
  /** The candidate errors of the last gathering (at most 8). */
  candidateErrors: IceCandidateErrorInfo[];
}

const MAX_CANDIDATE_ERRORS = 8;

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
  pc: RTCPeerConnection;
  local: LocalMedia;
  send: (data: MeshSignalData) => void;
  onTrack: (event: RTCTrackEvent) => void;
  onConnectionState: (state: RTCPeerConnectionState) => void;
  onError: (error: SignalingError) => void;
  onIceFailed?: (failure: IceFailure) => void;
}

const KINDS: readonly TrackKind[] = ["audio", "video"];

export class PeerLink {
  readonly peer: string;
  readonly polite: boolean;
  /** Our connection id, sent with every signal (see signal-data.ts). */
  readonly session = newSessionId();
  /** The remote connection id, learnt from its first description. */
  remoteSession: string | undefined;
  readonly #pc: RTCPeerConnection;
  readonly #options: PeerLinkOptions;
  #makingOffer = false;
  #ignoreOffer = false;
  /** Candidates that arrived before any remote description (addIceCandidate would throw). */
  #pendingCandidates: RTCIceCandidateInit[] = [];
  /** Incoming signals are applied one at a time, in arrival order. */
  #queue: Promise<void> = Promise.resolve();
  #closed = false;
  /** Local candidates and candidate errors of the current gathering round. */
  #gathered = 0;
  #candidateErrors: IceCandidateErrorInfo[] = [];

  constructor(options: PeerLinkOptions) {
    this.peer = options.peer;
    this.polite = options.polite;
    this.#options = options;
    const pc = options.pc;
    this.#pc = pc;
    pc.onnegotiationneeded = () => void this.#negotiate();
    pc.onicecandidate = ({ candidate }) => {
      // A null candidate only marks the end of gathering; peers do not need it.
      if (candidate !== null && candidate.candidate !== "") {
        this.#gathered++;
        this.#send({ session: this.session, candidate: candidate.toJSON() });
      }
    };
    pc.onicecandidateerror = (event) => {
      if (this.#candidateErrors.length >= MAX_CANDIDATE_ERRORS) return;
      const { url, errorCode, errorText } = event as RTCPeerConnectionIceErrorEvent;
      this.#candidateErrors.push({ url, errorCode, errorText });
    };
    pc.onicegatheringstatechange = () => {
      if (pc.iceGatheringState === "gathering") {
        this.#gathered = 0;
        this.#candidateErrors = [];
      } else if (pc.iceGatheringState === "complete" && this.#gathered === 0) {
        this.#iceFailed("no-candidates");
      }
    };
    pc.ontrack = (event) => options.onTrack(event);
    pc.onconnectionstatechange = () => options.onConnectionState(pc.connectionState);
    pc.oniceconnectionstatechange = () => {
      // A network change (Wi-Fi to cellular) fails ICE; a restart finds new paths.
      if (pc.iceConnectionState === "failed") {
        this.#iceFailed("failed");
        pc.restartIce();
      }
    };
    for (const kind of KINDS) {
      const track = options.local.tracks[kind];
      if (track !== null) {
        // addTrack (not addTransceiver) so the answerer's sender can be matched to the offer's m-line.
        if (options.local.stream !== null) pc.addTrack(track, options.local.stream);
        else pc.addTrack(track);
      } else if (options.initiator) {
        // Without a local track, still ask to receive this kind, or the offer would omit it.
        pc.addTransceiver(kind, { direction: "recvonly" });
      }
    }
  }

  get connectionState(): RTCPeerConnectionState {
    return this.#pc.connectionState;
  }

  /** Applies a description or candidate from the peer, after those received before it. */
  receive(data: MeshSignalData): void {
    this.#queue = this.#queue.then(() => this.#apply(data)).catch((cause: unknown) => this.#fail("applying a signal", cause));
  }

  /** Fresh ICE servers (TURN credentials expire): used by the next ICE restart. */
  setIceServers(iceServers: RTCIceServer[]): void {
    try {
      this.#pc.setConfiguration({ ...this.#pc.getConfiguration(), iceServers });
    } catch (cause) {
      this.#fail("updating ICE servers", cause);
    }
  }

  /** Sends `track` (or nothing, for null) as this link's `kind`; renegotiates only if needed. */
  async setLocalTrack(kind: TrackKind, track: MediaStreamTrack | null, stream: MediaStream | null): Promise<void> {
    const candidates = this.#pc.getTransceivers().filter((t) => t.receiver.track.kind === kind && t.currentDirection !== "stopped");
    const transceiver = candidates.find((t) => t.sender.track !== null) ?? candidates[0];
    if (transceiver === undefined) {
      if (track !== null) {
        if (stream !== null) this.#pc.addTrack(track, stream);
        else this.#pc.addTrack(track);
      }
      return;
    }
    await transceiver.sender.replaceTrack(track);
    if (track !== null && (transceiver.direction === "recvonly" || transceiver.direction === "inactive")) {
      if (stream !== null) transceiver.sender.setStreams?.(stream);
      transceiver.direction = "sendrecv"; // fires negotiationneeded
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const pc = this.#pc;
    pc.onnegotiationneeded = null;
    pc.onicecandidate = null;
    pc.ontrack = null;
    pc.onconnectionstatechange = null;
    pc.oniceconnectionstatechange = null;
    pc.onicecandidateerror = null;
    pc.onicegatheringstatechange = null;
    pc.close();
  }

  async #negotiate(): Promise<void> {
    try {
      this.#makingOffer = true;
      await this.#pc.setLocalDescription();
      this.#sendLocalDescription();
    } catch (cause) {
      this.#fail("making an offer", cause);
    } finally {
      this.#makingOffer = false;
    }
  }

  async #apply(data: MeshSignalData): Promise<void> {
    if (this.#closed) return;
    const pc = this.#pc;
    if ("candidate" in data) {
      if (pc.remoteDescription === null) this.#pendingCandidates.push(data.candidate);
      else await this.#addCandidate(data.candidate);
      return;
    }
    const description = data.description;
    this.remoteSession ??= data.session;
    if (description.type === "answer" && pc.signalingState !== "have-local-offer") return; // stale answer
    // Signals are applied one at a time here, so the spec's
    // isSettingRemoteAnswerPending case cannot arise.
    const offerCollision = description.type === "offer" && (this.#makingOffer || pc.signalingState !== "stable");
    this.#ignoreOffer = !this.polite && offerCollision;
    if (this.#ignoreOffer) return;
    await pc.setRemoteDescription(description); // the polite side rolls back implicitly
    const pending = this.#pendingCandidates;
    this.#pendingCandidates = [];
    for (const candidate of pending) await this.#addCandidate(candidate);
    if (description.type === "offer") {
      await pc.setLocalDescription();
      this.#sendLocalDescription();
    }
  }

  async #addCandidate(candidate: RTCIceCandidateInit): Promise<void> {
    try {
      await this.#pc.addIceCandidate(candidate);
    } catch (cause) {
      // Candidates of an offer we chose to ignore are expected to fail.
      if (!this.#ignoreOffer) this.#fail("adding an ICE candidate", cause);
    }
  }

  #sendLocalDescription(): void {
    const local = this.#pc.localDescription;
    if (local !== null && !this.#closed) this.#send({ session: this.session, description: { type: local.type, sdp: local.sdp } });
  }

  #send(data: MeshSignalData): void {
    if (!this.#closed) this.#options.send(data);
  }

  #iceFailed(reason: IceFailure["reason"]): void {
    if (!this.#closed) this.#options.onIceFailed?.({ reason, candidateErrors: [...this.#candidateErrors] });
  }

  #fail(doing: string, cause: unknown): void {
    if (this.#closed) return;
    const text = cause instanceof Error ? cause.message : String(cause);
    this.#options.onError(new SignalingError("peer-connection", `${this.peer}: ${doing} failed: ${text}`, { cause }));
  }
}
