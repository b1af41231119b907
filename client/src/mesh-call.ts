/**
 * MeshCall: a full-mesh video call on top of a SignalingClient, one
 * RTCPeerConnection per peer (see peer-link.ts for the negotiation itself).
 *
 * Who offers: members already in the room offer to a newcomer (on
 * `peer-joined`); the newcomer waits for their offers. After a re-join the
 * client offers to every peer it has no working connection with; if the peer
 * offers at the same moment, perfect negotiation resolves the collision.
 * Roles: the side whose name sorts first (UTF-16 code units) is polite.
 *
 * Recovery: a link that breaks (a description that cannot be applied or made,
 * or a pair unsettled past `settleTimeoutMs`) is replaced by a new connection
 * with a new session id, so the peer drops its old one too, after a backoff
 * delay; meanwhile the peer's state reads `reconnecting`, until it connects.
 * When the rebuild policy answers `null` (or throws: reported as an `error`),
 * rebuilding stops and the peer reads `failed` until a re-join or the peer's
 * next offer starts over.
 */
import { type MediaState, parseMediaState } from './media-state.ts';
import type { MeshCallEvents, MeshCallOptions, MeshSignaling, PeerConnectionConstructor, PeerEntry, PeerState } from './mesh-call-types.ts';
import { MAX_PENDING_CANDIDATES, PeerLink, type LocalMedia, type TrackKind } from './peer-link.ts';
import { applyRoomSendSettings } from './send-quality.ts';
import { ExponentialBackoffPolicy, type ReconnectPolicy, nextDelay } from './reconnect-policy.ts';
import type { JoinedEvent } from './signaling-events.ts';
import { SignalingError } from './signaling-error.ts';
import { type MeshSignalData, parseMeshSignal } from './signal-data.ts';
import { TypedEmitter } from './typed-emitter.ts';
import { remoteStream } from './remote-stream.ts';
import { type StatsListener, StatsListeners } from './stats-listeners.ts';

export type { MeshCallEvents, MeshCallOptions, MeshSignaling, PeerConnectionConstructor, PeerState } from './mesh-call-types.ts';

export class MeshCall extends TypedEmitter<MeshCallEvents> {
  readonly #signaling: MeshSignaling;
  readonly #PeerConnection: PeerConnectionConstructor;
  readonly #baseConfiguration: RTCConfiguration;
  readonly #local: LocalMedia;
  readonly #peers = new Map<string, PeerEntry>();
  readonly #unsubscribe: Array<() => void>;
  readonly #settleTimeoutMs: number;
  readonly #mediaStallMs: number;
  readonly #rebuildPolicy: ReconnectPolicy;
  readonly #adaptiveQuality: boolean;
  #iceServers: RTCIceServer[] = [];
  /** Ours, told to every peer when it changes and to each new peer; undefined until the app calls setMediaState. */
  #mediaState: MediaState | undefined;
  /** Listeners of every link's statistics samples (call-stats.ts). */
  readonly #statsListeners = new StatsListeners();
  #statsPaused = false;
  /** Our own name in the room, from the last `joined`. */
  #self: string | undefined;
  #closed = false;

  constructor(options: MeshCallOptions) {
    super();
    const Ctor = options.RTCPeerConnection ?? (globalThis as { RTCPeerConnection?: PeerConnectionConstructor }).RTCPeerConnection;
    if (Ctor === undefined) throw new SignalingError('invalid-options', 'no RTCPeerConnection implementation available');
    this.#PeerConnection = Ctor;
    this.#signaling = options.signaling;
    this.#baseConfiguration = options.rtcConfiguration ?? {};
    this.#settleTimeoutMs = options.settleTimeoutMs ?? 15_000;
    this.#mediaStallMs = options.mediaStallMs ?? 3_000;
    this.#rebuildPolicy = options.rebuildPolicy ?? new ExponentialBackoffPolicy({ initialDelayMs: 1_000, maxDelayMs: 10_000 });
    this.#adaptiveQuality = options.adaptiveQuality ?? true;
    const stream = options.localStream ?? null;
    this.#local = {
      stream,
      tracks: { audio: stream?.getAudioTracks()[0] ?? null, video: stream?.getVideoTracks()[0] ?? null },
    };
    const s = this.#signaling;
    this.#unsubscribe = [
      s.on('joined', (event) => this.#onJoined(event)),
      s.on('peer-joined', ({ name }) => {
        this.#connect(name, true);
        this.#sendMediaState(name);
      }),
      s.on('signals-lost', ({ peers }) => this.#onSignalsLost(peers)),
      s.on('peer-left', ({ name }) => this.#remove(name)),
      s.on('ice-servers', ({ iceServers }) => this.#onIceServers(iceServers)),
      s.on('signal', ({ from, data }) => this.#onSignal(from, data)),
      s.on('state', ({ state }) => {
        if (state === 'closed') for (const peer of [...this.#peers.keys()]) this.#remove(peer);
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
  connectionState(peer: string): PeerState | undefined {
    const entry = this.#peers.get(peer);
    if (entry === undefined) return undefined;
    return this.#shown(entry, entry.link === undefined || entry.link.closed ? 'new' : entry.link.connectionState);
  }

  /** Mutes or unmutes (audio) or blanks (video) the local track without renegotiating. */
  setTrackEnabled(kind: TrackKind, enabled: boolean): boolean {
    const track = this.#local.tracks[kind];
    if (track === null) return false;
    track.enabled = enabled;
    if (this.#mediaState !== undefined) this.setMediaState({ ...this.#mediaState, [kind]: enabled });
    return true;
  }

  /**
   * Tells every peer (now, and each one that arrives or that we re-join) what we send; see
   * media-state.ts. Nothing is told before the first call: apps that show no muted marks
   * send no extra signals.
   */
  setMediaState(state: MediaState): void {
    this.#mediaState = { ...state };
    for (const peer of this.#peers.keys()) this.#sendMediaState(peer);
  }

  /** A snapshot of the connection's statistics with `peer`, or null without a live connection. */
  async stats(peer: string): Promise<RTCStatsReport | null> {
    const link = this.#peers.get(peer)?.link;
    if (link === undefined || link.closed) return null;
    return await link.getStats();
  }

  /**
   * Each statistics sample of each connected peer (1-2 s apart while someone listens), from the one sampler
   * per connection that also feeds the media-stall watch; `types`: those read (default all). Returns the unsubscribe.
   */
  onStats(listener: StatsListener, types?: readonly string[]): () => void {
    return this.#statsListeners.add(listener, types);
  }

  /**
   * Pauses all statistics sampling (the app's and the media-stall watch's) while nobody looks,
   * for instance while the page is hidden; no timer runs meanwhile.
   */
  setStatsPaused(paused: boolean): void {
    this.#statsPaused = paused;
    for (const entry of this.#peers.values()) entry.link?.setStatsPaused(paused);
  }

  /** Sends another track of `kind` (a different camera, or a device that appeared later) to everyone. */
  async replaceTrack(kind: TrackKind, track: MediaStreamTrack | null): Promise<void> {
    this.#local.tracks[kind] = track;
    await Promise.all(
      [...this.#peers.values()].map((entry) => entry.link?.setLocalTrack(kind, track, this.#local.stream) ?? Promise.resolve()),
    );
    if (kind === 'video') this.#applySendSettings();
  }

  /** Video send settings for the room's size on every link, or on `links` (send-quality.ts). */
  #applySendSettings(links = [...this.#peers.values()].map((entry) => entry.link)): void {
    if (!this.#adaptiveQuality) return;
    applyRoomSendSettings(links, this.#peers.size + 1, (peer, cause) =>
      this.emit('error', {
        peer,
        error: new SignalingError('peer-connection', `${peer}: setting video send parameters failed`, { cause }),
      }),
    );
  }

  #sendMediaState(peer: string): void {
    if (this.#mediaState !== undefined) this.#signaling.signal(peer, { media: { ...this.#mediaState } });
  }

  /** Closes every connection and stops listening to the signaling client (which stays as it is). */
  close(): void {
    if (this.#closed) return;
    for (const peer of [...this.#peers.keys()]) this.#remove(peer);
    this.#closed = true;
    this.#statsListeners.clear();
    for (const off of this.#unsubscribe) off();
  }

  /**
   * The server may have lost signals between us and `peers`; both ends hear it. Each finishes
   * what it had pending; a connection that is not up is rebuilt (or its ICE restarted) by the
   * end whose name sorts first, so the two never offer at once.
   */
  #onSignalsLost(peers: readonly string[]): void {
    for (const peer of peers) {
      const entry = this.#peers.get(peer);
      if (entry === undefined || entry.rebuildTimer !== undefined) continue;
      const first = this.#self !== undefined && this.#self < peer;
      const link = entry.link;
      if (link === undefined || link.closed) {
        if (first) this.#connect(peer, true);
      } else {
        link.recover(first);
      }
    }
  }

  #onJoined(event: JoinedEvent): void {
    this.#self = event.name;
    if (event.iceServers.length > 0) this.#iceServers = event.iceServers;
    if (!event.rejoin) {
      // Newcomer: the members present will offer to us.
      for (const peer of event.peers) this.#add(peer);
      for (const peer of event.peers) this.#sendMediaState(peer);
      return;
    }
    // Re-joined: we may have missed arrivals, departures and signals meanwhile.
    const present = new Set(event.peers);
    for (const peer of [...this.#peers.keys()]) if (!present.has(peer)) this.#remove(peer);
    for (const peer of event.peers) {
      const entry = this.#peers.get(peer);
      const link = entry?.link;
      if (entry?.rebuildTimer !== undefined) continue; // a new connection is already on its way
      if (link !== undefined && !link.closed && link.connectionState === 'connected') {
        // Media does not need the server: keep it, but finish what the outage interrupted.
        if (event.iceServers.length > 0) link.setIceServers(event.iceServers);
        link.resync();
      } else {
        this.#connect(peer, true);
      }
    }
    // A media-state signal may have been lost in the outage.
    for (const peer of event.peers) this.#sendMediaState(peer);
  }

  /** Fresh credentials: for new connections, and for the ICE restarts of the current ones. */
  #onIceServers(iceServers: RTCIceServer[]): void {
    if (iceServers.length === 0) return;
    this.#iceServers = iceServers;
    for (const entry of this.#peers.values()) entry.link?.setIceServers(iceServers);
  }

  #onSignal(from: string, raw: Record<string, unknown>): void {
    const media = parseMediaState(raw);
    if (media !== null) {
      if (this.#peers.has(from)) this.emit('peer-media', { peer: from, ...media });
      return;
    }
    const data = parseMeshSignal(raw);
    if (data === null) return; // not ours, or malformed: a peer cannot break us
    const entry = this.#peers.get(from);
    const link = entry?.link;
    // For a connection of ours that is gone (replaced, or from before a reload): the peer
    // learns about the current one from its signals; nothing to do with this one.
    if (data.to !== undefined && data.to !== link?.session) return;
    const live = link !== undefined && !link.closed;
    const stale = link?.remoteSession !== undefined && link.remoteSession !== data.session;
    if ('candidate' in data) {
      if (live && !stale) link.receive(data);
      // Ahead of its description: hold it until a connection for that session exists (bounded
      // as a link bounds its own: a peer cannot make us hoard memory).
      else if (entry !== undefined && entry.early.length < MAX_PENDING_CANDIDATES) entry.early.push(data);
      return;
    }
    const early = entry?.early ?? [];
    let target = link;
    if (!live || stale) {
      // An offer from a new connection of the peer: start over too, and answer it. An answer
      // can only be for a connection of ours that is gone: our deadline or rebuild covers it.
      if (data.description.type !== 'offer') return;
      // Still the peer's connection that broke here: our replacement will tell it to start over.
      if (!live && link !== undefined && data.session === link.remoteSession) return;
      target = this.#connect(from, false, data.session);
    }
    if (target === undefined) return;
    target.receive(data);
    for (const candidate of early) if (candidate.session === data.session) target.receive(candidate);
    const current = this.#peers.get(from);
    if (current !== undefined) current.early = [];
  }

  #add(peer: string): PeerEntry {
    let entry = this.#peers.get(peer);
    if (entry === undefined) {
      entry = {
        link: undefined,
        streams: new Set(),
        looseTracks: undefined,
        early: [],
        failures: 0,
        brokenAt: undefined,
        gaveUp: false,
        recovering: false,
        rebuildTimer: undefined,
      };
      this.#peers.set(peer, entry);
      this.emit('peer-added', { peer });
      this.#applySendSettings();
    }
    return entry;
  }

  /** Replaces any connection with `peer` by a new one; an initiator offers at once. */
  #connect(peer: string, initiator: boolean, remoteSession?: string): PeerLink {
    const entry = this.#add(peer);
    clearTimeout(entry.rebuildTimer);
    entry.rebuildTimer = undefined;
    if (entry.gaveUp) {
      // Started over (a re-join, the peer's offer): the policy counts from scratch.
      entry.gaveUp = false;
      entry.failures = 0;
      entry.brokenAt = undefined;
    }
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
      ...(remoteSession === undefined ? {} : { remoteSession }),
      pc: new this.#PeerConnection(configuration),
      local: { stream: this.#local.stream, tracks: { ...this.#local.tracks } },
      send: (data: MeshSignalData) => this.#signaling.signal(peer, data),
      onTrack: (event) => this.#onTrack(peer, entry, event),
      onConnectionState: (state) => this.#onConnectionState(peer, entry, state),
      onError: (error) => this.emit('error', { peer, error }),
      onIceFailed: (failure) => this.emit('ice-failed', { peer, ...failure }),
      onBroken: (why) => this.#onBroken(peer, link, why),
      settleTimeoutMs: this.#settleTimeoutMs,
      mediaStallMs: this.#mediaStallMs,
      onStats: (report) => this.#statsListeners.deliver(peer, report),
      statsTypes: () => this.#statsListeners.types(),
      wantsStats: () => this.#statsListeners.size > 0,
      statsPaused: this.#statsPaused,
    });
    entry.link = link;
    // Chromium has encodings before negotiating: its encoder starts at the room's size (else a no-op).
    this.#applySendSettings([link]);
    this.emit('connection-state', { peer, state: this.#shown(entry, link.connectionState) });
    return link;
  }

  #onConnectionState(peer: string, entry: PeerEntry, state: RTCPeerConnectionState): void {
    if (state === 'connected') {
      entry.recovering = false;
      entry.failures = 0;
      entry.brokenAt = undefined;
      // Senders have encodings once negotiated; the room may have grown meanwhile.
      this.#applySendSettings();
    }
    this.emit('connection-state', { peer, state: this.#shown(entry, state) });
  }

  /** What the app sees: while recovering, anything short of `connected` is `reconnecting`. */
  #shown(entry: PeerEntry, state: RTCPeerConnectionState): PeerState {
    if (entry.gaveUp) return 'failed';
    return entry.recovering && state !== 'connected' && state !== 'closed' ? 'reconnecting' : state;
  }

  /** The link gave up: build a new one after the policy's delay (unless the peer beats us to it with a new offer). */
  #onBroken(peer: string, link: PeerLink, reason: string): void {
    const entry = this.#peers.get(peer);
    if (this.#closed || entry === undefined || entry.link !== link) return;
    const attempt = entry.failures++;
    const now = Date.now();
    entry.brokenAt ??= now;
    const delay = nextDelay(this.#rebuildPolicy, { retryCount: attempt, elapsedMs: now - entry.brokenAt, reason });
    clearTimeout(entry.rebuildTimer);
    entry.rebuildTimer = undefined;
    if (delay === null || delay instanceof SignalingError) {
      entry.recovering = false;
      entry.gaveUp = true;
      if (delay !== null) this.emit('error', { peer, error: delay });
      this.emit('peer-failed', { peer, reason, attempt: attempt + 1 });
      this.emit('connection-state', { peer, state: 'failed' });
      return;
    }
    entry.recovering = true;
    entry.rebuildTimer = setTimeout(() => {
      entry.rebuildTimer = undefined;
      if (!this.#closed && this.#peers.get(peer) === entry && entry.link === link) this.#connect(peer, true);
    }, delay);
    this.emit('peer-reconnecting', { peer, reason, delayMs: delay, attempt: attempt + 1 });
    this.emit('connection-state', { peer, state: 'reconnecting' });
  }

  #onTrack(peer: string, entry: PeerEntry, event: RTCTrackEvent): void {
    const stream = remoteStream(entry, event);
    if (stream === undefined || entry.streams.has(stream.id)) return;
    entry.streams.add(stream.id);
    this.emit('stream', { peer, stream });
  }

  #remove(peer: string): void {
    const entry = this.#peers.get(peer);
    if (entry === undefined) return;
    this.#peers.delete(peer);
    clearTimeout(entry.rebuildTimer);
    entry.rebuildTimer = undefined;
    // Announced before the connection is closed: closing can block the thread for hundreds
    // of milliseconds (Firefox), and the tile should not wait for that.
    this.emit('peer-removed', { peer });
    entry.link?.close();
    if (!this.#closed) this.#applySendSettings();
  }
}
