/**
 * MeshCall: a full-mesh video call on top of a SignalingClient, one
 * RTCPeerConnection per peer (see peer-link.ts for the negotiation itself).
 *
 * Who offers: members already in the room offer to a newcomer (on
 * `peer-joined`); the newcomer waits for their offers. After a re-join the
 * client offers to every peer it has no working connection with; if the peer
 * offers at the same moment, perfect negotiation resolves the collision.
 * Roles: the side whose name sorts first (UTF-16 code units) is polite.
 */
import { type IceFailure, PeerLink, type LocalMedia, type TrackKind } from "./peer-link.ts";
import type { JoinedEvent, SignalingClientEvents } from "./signaling-events.ts";
import { SignalingError } from "./signaling-error.ts";
import { type MeshSignalData, parseMeshSignal } from "./signal-data.ts";
import { TypedEmitter } from "./typed-emitter.ts";

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
}

/** Events of {@link MeshCall}. */
export interface MeshCallEvents {
  /** A peer is in the room (a tile can appear before media flows). */
  "peer-added": { peer: string };
  /** The peer left, or we did: its connection is closed. */
  "peer-removed": { peer: string };
  /** A remote stream of `peer` (emitted once per stream; tracks may be added to it later). */
  stream: { peer: string; stream: MediaStream };
  "connection-state": { peer: string; state: RTCPeerConnectionState };
  /**
   * ICE cannot connect to `peer` (see {@link IceFailure}); after `failed` an ICE restart is
   * tried. With `no-candidates` under a relay-only policy, the TURN settings are the suspect.
   */
  "ice-failed": { peer: string } & IceFailure;
  /** A non-fatal problem with one peer's connection. */
  error: { peer: string; error: SignalingError };
}

interface PeerEntry {
  link: PeerLink | undefined;
  /** Ids of the remote streams already announced for the current link. */
  streams: Set<string>;
  /** Holds tracks that arrived without a stream id. */
  looseTracks: MediaStream | undefined;
  /** Candidates from a connection whose description has not arrived yet. */
  early: MeshSignalData[];
}

/** Bound on held early candidates per peer: a peer cannot make us hoard memory. */
const MAX_EARLY_CANDIDATES = 64;

export class MeshCall extends TypedEmitter<MeshCallEvents> {
  readonly #signaling: MeshSignaling;
  readonly #PeerConnection: PeerConnectionConstructor;
  readonly #baseConfiguration: RTCConfiguration;
  readonly #local: LocalMedia;
  readonly #peers = new Map<string, PeerEntry>();
  readonly #unsubscribe: Array<() => void>;
  #iceServers: RTCIceServer[] = [];
  #closed = false;

  constructor(options: MeshCallOptions) {
    super();
    const Ctor = options.RTCPeerConnection ?? (globalThis as { RTCPeerConnection?: PeerConnectionConstructor }).RTCPeerConnection;
    if (Ctor === undefined) throw new SignalingError("invalid-options", "no RTCPeerConnection implementation available");
    this.#PeerConnection = Ctor;
    this.#signaling = options.signaling;
    this.#baseConfiguration = options.rtcConfiguration ?? {};
    const stream = options.localStream ?? null;
    this.#local = {
      stream,
      tracks: { audio: stream?.getAudioTracks()[0] ?? null, video: stream?.getVideoTracks()[0] ?? null },
    };
    const s = this.#signaling;
    this.#unsubscribe = [
      s.on("joined", (event) => this.#onJoined(event)),
      s.on("peer-joined", ({ name }) => this.#connect(name, true)),
      s.on("peer-left", ({ name }) => this.#remove(name)),
      s.on("ice-servers", ({ iceServers }) => this.#onIceServers(iceServers)),
      s.on("signal", ({ from, data }) => this.#onSignal(from, data)),
      s.on("state", ({ state }) => {
        if (state === "closed") for (const peer of [...this.#peers.keys()]) this.#remove(peer);
      }),
    ];
    // Created after the client joined: treat that join as our first.
    if (s.lastJoined !== undefined) this.#onJoined({ ...s.lastJoined, rejoin: false });
  }

  /** Names of the peers in the call. */
  get peers(): string[] {
    return [...this.#peers.keys()];
  }

  /** Connection state with `peer` (`new` while waiting for its offer), or undefined if unknown. */
  connectionState(peer: string): RTCPeerConnectionState | undefined {
    const entry = this.#peers.get(peer);
    return entry === undefined ? undefined : (entry.link?.connectionState ?? "new");
  }

  /** Mutes or unmutes (audio) or blanks (video) the local track without renegotiating. */
  setTrackEnabled(kind: TrackKind, enabled: boolean): boolean {
    const track = this.#local.tracks[kind];
    if (track === null) return false;
    track.enabled = enabled;
    return true;
  }

  /** Sends another track of `kind` (a different camera, or a device that appeared later) to everyone. */
  async replaceTrack(kind: TrackKind, track: MediaStreamTrack | null): Promise<void> {
    this.#local.tracks[kind] = track;
    await Promise.all([...this.#peers.values()].map((entry) => entry.link?.setLocalTrack(kind, track, this.#local.stream)));
  }

  /** Closes every connection and stops listening to the signaling client (which stays as it is). */
  close(): void {
    if (this.#closed) return;
    for (const peer of [...this.#peers.keys()]) this.#remove(peer);
    this.#closed = true;
    for (const off of this.#unsubscribe) off();
  }

  #onJoined(event: JoinedEvent): void {
    if (event.iceServers.length > 0) this.#iceServers = event.iceServers;
    if (!event.rejoin) {
      // Newcomer: the members present will offer to us.
      for (const peer of event.peers) this.#add(peer);
      return;
    }
    // Re-joined: we may have missed arrivals, departures and signals meanwhile.
    const present = new Set(event.peers);
    for (const peer of [...this.#peers.keys()]) if (!present.has(peer)) this.#remove(peer);
    for (const peer of event.peers) {
      const link = this.#peers.get(peer)?.link;
      if (link !== undefined && link.connectionState === "connected") {
        if (event.iceServers.length > 0) link.setIceServers(event.iceServers);
      } else {
        this.#connect(peer, true);
      }
    }
  }

  /** Fresh credentials: for new connections, and for the ICE restarts of the current ones. */
  #onIceServers(iceServers: RTCIceServer[]): void {
    if (iceServers.length === 0) return;
    this.#iceServers = iceServers;
    for (const entry of this.#peers.values()) entry.link?.setIceServers(iceServers);
  }

  #onSignal(from: string, raw: Record<string, unknown>): void {
    const data = parseMeshSignal(raw);
    if (data === null) return; // not ours, or malformed: a peer cannot break us
    const entry = this.#peers.get(from);
    let link = entry?.link;
    const stale = link?.remoteSession !== undefined && link.remoteSession !== data.session;
    if ("candidate" in data) {
      if (link !== undefined && !stale) link.receive(data);
      // Ahead of its description: hold it until a connection for that session exists.
      else if (entry !== undefined && entry.early.length < MAX_EARLY_CANDIDATES) entry.early.push(data);
      return;
    }
    const early = entry?.early ?? [];
    if (link === undefined || stale) {
      // The peer started over with a new connection. For its offer, start over
      // too and answer; an answer meant for our old connection is useless, so
      // make a fresh offer instead.
      const offer = data.description.type === "offer";
      link = this.#connect(from, !offer);
      if (!offer) return;
    }
    link.receive(data);
    for (const candidate of early) if (candidate.session === data.session) link.receive(candidate);
    const current = this.#peers.get(from);
    if (current !== undefined) current.early = [];
  }

  #add(peer: string): PeerEntry {
    let entry = this.#peers.get(peer);
    if (entry === undefined) {
      entry = { link: undefined, streams: new Set(), looseTracks: undefined, early: [] };
      this.#peers.set(peer, entry);
      this.emit("peer-added", { peer });
    }
    return entry;
  }

  /** Replaces any connection with `peer` by a new one; an initiator offers at once. */
  #connect(peer: string, initiator: boolean): PeerLink {
    const entry = this.#add(peer);
    entry.link?.close();
    // A new connection brings new stream objects, even under the same ids.
    entry.streams.clear();
    entry.looseTracks = undefined;
    entry.early = [];
    const configuration: RTCConfiguration = { ...this.#baseConfiguration };
    if (this.#iceServers.length > 0) configuration.iceServers = this.#iceServers;
    const link: PeerLink = new PeerLink({
      peer,
      polite: this.#signaling.name < peer,
      initiator,
      pc: new this.#PeerConnection(configuration),
      local: { stream: this.#local.stream, tracks: { ...this.#local.tracks } },
      send: (data: MeshSignalData) => this.#signaling.signal(peer, data),
      onTrack: (event) => this.#onTrack(peer, entry, event),
      onConnectionState: (state) => this.emit("connection-state", { peer, state }),
      onError: (error) => this.emit("error", { peer, error }),
      onIceFailed: (failure) => this.emit("ice-failed", { peer, ...failure }),
    });
    entry.link = link;
    this.emit("connection-state", { peer, state: link.connectionState });
    return link;
  }

  #onTrack(peer: string, entry: PeerEntry, event: RTCTrackEvent): void {
    let stream = event.streams[0];
    if (stream === undefined) {
      // A sender without a stream id (msid): gather such tracks in one stream per peer.
      const Stream = (globalThis as { MediaStream?: new () => MediaStream }).MediaStream;
      if (Stream === undefined) return;
      entry.looseTracks ??= new Stream();
      stream = entry.looseTracks;
      stream.addTrack(event.track);
    }
    if (entry.streams.has(stream.id)) return;
    entry.streams.add(stream.id);
    this.emit("stream", { peer, stream });
  }

  #remove(peer: string): void {
    const entry = this.#peers.get(peer);
    if (entry === undefined) return;
    this.#peers.delete(peer);
    entry.link?.close();
    this.emit("peer-removed", { peer });
  }
}
