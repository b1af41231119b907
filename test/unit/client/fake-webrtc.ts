/**
 * A fake RTCPeerConnection for Node, strict where real browsers are strict,
 * so the negotiation tests prove something:
 * - setRemoteDescription(answer) outside have-local-offer throws InvalidStateError;
 * - setRemoteDescription(offer) in have-local-offer rolls back implicitly (counted);
 * - addIceCandidate before any remote description throws InvalidStateError, and a
 *   candidate for another ICE username fragment throws OperationError;
 * - a remote description with another DTLS fingerprint than the one already applied
 *   throws InvalidAccessError (Chrome refuses a fingerprint change);
 * - negotiationneeded fires from a task, only in `stable` with no operation pending,
 *   and again after negotiation if something still needs negotiating;
 * - `connected` needs both descriptions, stable state, and candidates both ways; once
 *   connected it stays so through renegotiations, as the transport does in browsers.
 * - with `relayRefused` and iceTransportPolicy "relay", gathering yields no candidate but a
 *   401 icecandidateerror, and ICE stays `new` (what Chrome does with bad TURN credentials).
 * - DTLS roles as Chromium enforces them: offers say `a=setup:actpass`; the first completed
 *   negotiation fixes our role; later a remote answer whose `a=setup` would give us the
 *   same role again throws InvalidAccessError ("Failed to set SSL role for the transport"),
 *   and so does applying a local answer with another role than ours. A `FirefoxLikePeerConnection`
 *   answers `active` whatever its role, and accepts a role switch, as Firefox does.
 * The "SDP" is a JSON line { fingerprint, ufrag, media: [{ mid, kind, direction, streamId }] }
 * followed by `a=setup:` and `a=ice-ufrag:` lines.
 */

let counter = 0;
const nextId = (prefix: string): string => `${prefix}-${++counter}`;

class DomError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

export class FakeTrack {
  readonly id = nextId('track');
  enabled = true;
  readyState = 'live';
  readonly kind: 'audio' | 'video';
  constructor(kind: 'audio' | 'video') {
    this.kind = kind;
  }
  stop(): void {
    this.readyState = 'ended';
  }
}

export class FakeStream {
  readonly id = nextId('stream');
  readonly #tracks: FakeTrack[] = [];
  constructor(tracks: FakeTrack[] = []) {
    this.#tracks.push(...tracks);
  }
  getTracks(): FakeTrack[] {
    return [...this.#tracks];
  }
  getAudioTracks(): FakeTrack[] {
    return this.#tracks.filter((t) => t.kind === 'audio');
  }
  getVideoTracks(): FakeTrack[] {
    return this.#tracks.filter((t) => t.kind === 'video');
  }
  addTrack(track: FakeTrack): void {
    if (!this.#tracks.includes(track)) this.#tracks.push(track);
  }
}

type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
interface Media {
  mid: string;
  kind: 'audio' | 'video';
  direction: Direction;
  streamId: string | null;
}
interface FakeSdp {
  fingerprint: string;
  ufrag: string;
  media: Media[];
}
type Init = { type: 'offer' | 'answer' | 'rollback'; sdp?: string };
type Role = 'active' | 'passive';

function parseSdp(text: string): FakeSdp & { setup: string | undefined } {
  const sdp = JSON.parse(text.split('\n')[0] ?? '') as FakeSdp;
  return { ...sdp, setup: /^a=setup:(\S+)$/m.exec(text)?.[1] };
}
const opposite = (role: string | undefined): Role => (role === 'active' ? 'passive' : 'active');
const sslRoleError = (): Error => new DomError('InvalidAccessError', 'Failed to set SSL role for the transport.');

const sends = (d: Direction | null): boolean => d === 'sendrecv' || d === 'sendonly';
const recvs = (d: Direction): boolean => d === 'sendrecv' || d === 'recvonly';
const reverse = (d: Direction): Direction => (d === 'sendonly' ? 'recvonly' : d === 'recvonly' ? 'sendonly' : d);
const intersect = (mine: Direction, offered: Direction): Direction => {
  const send = sends(mine) && recvs(offered);
  const recv = recvs(mine) && sends(offered);
  return send && recv ? 'sendrecv' : send ? 'sendonly' : recv ? 'recvonly' : 'inactive';
};

export class FakeTransceiver {
  mid: string | null = null;
  currentDirection: Direction | null = null;
  /** `direction` as of the last completed negotiation (what negotiationneeded compares with). */
  stableIntent: Direction | null = null;
  pendingIntent: Direction | null = null;
  streamIds: string[] = [];
  #direction: Direction;
  readonly sender: { track: FakeTrack | null; replaceTrack(t: FakeTrack | null): Promise<void>; setStreams(...s: FakeStream[]): void };
  readonly receiver: { track: FakeTrack };
  readonly kind: 'audio' | 'video';
  readonly byAddTrack: boolean;
  readonly #onChange: () => void;
  constructor(kind: 'audio' | 'video', direction: Direction, byAddTrack: boolean, track: FakeTrack | null, onChange: () => void) {
    this.kind = kind;
    this.byAddTrack = byAddTrack;
    this.#onChange = onChange;
    this.#direction = direction;
    this.sender = {
      track,
      replaceTrack: async (t: FakeTrack | null) => {
        if (t !== null && t.kind !== this.kind) throw new TypeError('kind mismatch');
        this.sender.track = t;
      },
      setStreams: (...s: FakeStream[]) => {
        this.streamIds = s.map((x) => x.id);
        this.#onChange();
      },
    };
    this.receiver = { track: new FakeTrack(kind) };
  }

  get direction(): Direction {
    return this.#direction;
  }
  /** Like the real setter: a change makes negotiation needed. */
  set direction(value: Direction) {
    this.#direction = value;
    this.#onChange();
  }
}

export class FakePeerConnection {
  static readonly instances: FakePeerConnection[] = [];
  readonly fingerprint = nextId('fp');
  #configuration: RTCConfiguration;
  #signalingState: RTCSignalingState = 'stable';
  onsignalingstatechange: (() => void) | null = null;
  get signalingState(): RTCSignalingState {
    return this.#signalingState;
  }
  /** Like browsers, a change fires signalingstatechange (not for close()). */
  set signalingState(state: RTCSignalingState) {
    if (state === this.#signalingState) return;
    this.#signalingState = state;
    if (state !== 'closed') this.onsignalingstatechange?.();
  }
  connectionState: RTCPeerConnectionState = 'new';
  iceConnectionState: RTCIceConnectionState = 'new';
  localDescription: { type: 'offer' | 'answer'; sdp: string } | null = null;
  remoteDescription: { type: 'offer' | 'answer'; sdp: string } | null = null;
  onnegotiationneeded: (() => void) | null = null;
  onicecandidate: ((e: { candidate: { candidate: string; toJSON(): RTCIceCandidateInit } | null }) => void) | null = null;
  ontrack: ((e: { track: FakeTrack; streams: FakeStream[]; transceiver: FakeTransceiver }) => void) | null = null;
  onconnectionstatechange: (() => void) | null = null;
  oniceconnectionstatechange: (() => void) | null = null;
  iceGatheringState: RTCIceGatheringState = 'new';
  onicegatheringstatechange: (() => void) | null = null;
  onicecandidateerror: ((e: { url: string; errorCode: number; errorText: string }) => void) | null = null;
  /** Makes relay-only connections fail to gather, as with a TURN server refusing the credentials. */
  static relayRefused = false;
  /** Firefox's habit: answer `active` whatever the role, accept a switched role. */
  answersFlipRole = false;
  /** Our DTLS role once a negotiation completed. */
  dtlsRole: Role | null = null;
  /** Counters the tests look at. */
  rollbacks = 0;
  offersMade = 0;
  remoteCandidates = 0;
  localCandidates = 0;
  readonly #transceivers: FakeTransceiver[] = [];
  readonly #remoteStreams = new Map<string, FakeStream>();
  readonly #announced = new Set<FakeTransceiver>();
  #mids = 0;
  #ufrag = nextId('ufrag');
  #gatheredFor = '';
  #remoteUfrag: string | null = null;
  #remoteFingerprint: string | null = null;
  #pendingOps = 0;
  #needFired = false;
  #iceRestart = false;
  #closed = false;

  constructor(configuration: RTCConfiguration = {}) {
    this.#configuration = configuration;
    FakePeerConnection.instances.push(this);
  }

  getConfiguration(): RTCConfiguration {
    return this.#configuration;
  }
  setConfiguration(configuration: RTCConfiguration): void {
    this.#configuration = configuration;
  }
  getTransceivers(): FakeTransceiver[] {
    return [...this.#transceivers];
  }

  addTrack(track: FakeTrack, ...streams: FakeStream[]): FakeTransceiver['sender'] {
    this.#assertOpen();
    if (this.#transceivers.some((t) => t.sender.track === track)) throw new DomError('InvalidAccessError', 'track already added');
    const t = new FakeTransceiver(track.kind, 'sendrecv', true, track, () => this.#checkNegotiationSoon());
    t.streamIds = streams.map((s) => s.id);
    this.#transceivers.push(t);
    this.#checkNegotiationSoon();
    return t.sender;
  }

  addTransceiver(kind: 'audio' | 'video', init: { direction?: Direction } = {}): FakeTransceiver {
    this.#assertOpen();
    const t = new FakeTransceiver(kind, init.direction ?? 'sendrecv', false, null, () => this.#checkNegotiationSoon());
    this.#transceivers.push(t);
    this.#checkNegotiationSoon();
    return t;
  }

  restartIce(): void {
    this.#iceRestart = true;
    this.#checkNegotiationSoon();
  }

  async setLocalDescription(init?: Init): Promise<void> {
    await this.#op(() => {
      const type = init?.type ?? (this.signalingState === 'have-remote-offer' ? 'answer' : 'offer');
      if (type === 'rollback') return this.#rollback();
      if (type === 'offer') {
        if (this.signalingState !== 'stable' && this.signalingState !== 'have-local-offer')
          throw new DomError('InvalidStateError', `offer in ${this.signalingState}`);
        if (this.#iceRestart) this.#ufrag = nextId('ufrag');
        this.#iceRestart = false;
        for (const t of this.#transceivers) {
          t.mid ??= String(this.#mids++);
          t.pendingIntent = t.direction;
        }
        const media = this.#transceivers.map((t) => this.#media(t, t.direction));
        this.localDescription = { type: 'offer', sdp: this.#sdp(media, 'actpass') };
        this.signalingState = 'have-local-offer';
        this.offersMade++;
      } else {
        if (this.signalingState !== 'have-remote-offer' || this.remoteDescription === null)
          throw new DomError('InvalidStateError', 'answer without offer');
        const setup = init?.sdp === undefined ? this.#answerSetup() : parseSdp(init.sdp).setup;
        if (setup !== 'active' && setup !== 'passive') throw new DomError('InvalidAccessError', `bad a=setup in answer: ${setup}`);
        if (this.dtlsRole !== null && setup !== this.dtlsRole && !this.answersFlipRole) throw sslRoleError();
        const offer = parseSdp(this.remoteDescription.sdp);
        const media = offer.media.map((m) => {
          const t = this.#byMid(m.mid);
          const direction = intersect(t.direction, m.direction);
          t.currentDirection = direction;
          t.stableIntent = t.direction;
          return this.#media(t, direction);
        });
        this.dtlsRole = setup;
        this.localDescription = { type: 'answer', sdp: this.#sdp(media, setup) };
        this.signalingState = 'stable';
        this.#needFired = false;
      }
      this.#gatherSoon();
    });
  }

  /** The answer setLocalDescription() would apply now, without applying it. */
  async createAnswer(): Promise<{ type: 'answer'; sdp: string }> {
    let answer: { type: 'answer'; sdp: string } | undefined;
    await this.#op(() => {
      if (this.signalingState !== 'have-remote-offer' || this.remoteDescription === null)
        throw new DomError('InvalidStateError', 'answer without offer');
      const offer = parseSdp(this.remoteDescription.sdp);
      const media = offer.media.map((m) => this.#media(this.#byMid(m.mid), intersect(this.#byMid(m.mid).direction, m.direction)));
      answer = { type: 'answer', sdp: this.#sdp(media, this.#answerSetup()) };
    });
    return answer as { type: 'answer'; sdp: string };
  }

  #answerSetup(): Role {
    return this.answersFlipRole ? 'active' : (this.dtlsRole ?? 'active');
  }

  async setRemoteDescription(init: Init): Promise<void> {
    await this.#op(() => {
      if (init.type === 'rollback') return this.#rollback();
      const sdp = parseSdp(init.sdp ?? '');
      if (this.#remoteFingerprint !== null && sdp.fingerprint !== this.#remoteFingerprint)
        throw new DomError('InvalidAccessError', 'DTLS fingerprint changed');
      if (init.type === 'offer') {
        if (this.signalingState === 'have-local-offer') {
          this.#rollback();
          this.rollbacks++;
        }
        for (const m of sdp.media) {
          let t = this.#transceivers.find((x) => x.mid === m.mid);
          t ??= this.#transceivers.find((x) => x.byAddTrack && x.mid === null && x.kind === m.kind);
          if (t === undefined) {
            t = new FakeTransceiver(m.kind, 'recvonly', false, null, () => this.#checkNegotiationSoon());
            this.#transceivers.push(t);
          }
          t.mid = m.mid;
          this.#mids = Math.max(this.#mids, Number(m.mid) + 1);
        }
        this.signalingState = 'have-remote-offer';
      } else {
        if (this.signalingState !== 'have-local-offer') throw new DomError('InvalidStateError', `answer in ${this.signalingState}`);
        const ours = opposite(sdp.setup);
        if (this.dtlsRole !== null && ours !== this.dtlsRole && !this.answersFlipRole) throw sslRoleError();
        this.dtlsRole = ours;
        for (const m of sdp.media) {
          const t = this.#byMid(m.mid);
          t.currentDirection = reverse(m.direction);
          t.stableIntent = t.pendingIntent;
        }
        this.signalingState = 'stable';
        this.#needFired = false;
      }
      this.remoteDescription = { type: init.type, sdp: init.sdp ?? '' };
      this.#remoteUfrag = sdp.ufrag;
      this.#remoteFingerprint = sdp.fingerprint;
      for (const m of sdp.media) if (sends(m.direction)) this.#announce(this.#byMid(m.mid), m.streamId);
      this.#updateConnection();
    });
  }

  async addIceCandidate(candidate: RTCIceCandidateInit): Promise<void> {
    await this.#op(() => {
      if (this.remoteDescription === null) throw new DomError('InvalidStateError', 'no remote description');
      if (candidate.usernameFragment !== this.#remoteUfrag) throw new DomError('OperationError', 'unknown ufrag');
      this.remoteCandidates++;
      this.#updateConnection();
    });
  }

  close(): void {
    this.#closed = true;
    this.signalingState = 'closed';
    this.connectionState = 'closed';
  }

  #assertOpen(): void {
    if (this.#closed) throw new DomError('InvalidStateError', 'closed');
  }

  async #op(body: () => void): Promise<void> {
    this.#assertOpen();
    this.#pendingOps++;
    await new Promise((resolve) => setTimeout(resolve, 0)); // real operations are never synchronous
    try {
      this.#assertOpen();
      body();
    } finally {
      this.#pendingOps--;
      this.#checkNegotiationSoon();
    }
  }

  #rollback(): void {
    if (this.signalingState === 'have-local-offer') {
      for (const t of this.#transceivers) if (t.currentDirection === null) t.mid = null;
      this.localDescription = null;
    }
    this.signalingState = 'stable';
  }

  #byMid(mid: string): FakeTransceiver {
    const t = this.#transceivers.find((x) => x.mid === mid);
    if (t === undefined) throw new DomError('OperationError', `no transceiver for mid ${mid}`);
    return t;
  }

  #media(t: FakeTransceiver, direction: Direction): Media {
    return { mid: t.mid ?? '', kind: t.kind, direction, streamId: t.streamIds[0] ?? null };
  }

  #sdp(media: Media[], setup: string): string {
    const json = JSON.stringify({ fingerprint: this.fingerprint, ufrag: this.#ufrag, media } satisfies FakeSdp);
    return `${json}\na=setup:${setup}\na=ice-ufrag:${this.#ufrag}`;
  }

  #announce(t: FakeTransceiver, streamId: string | null): void {
    if (this.#announced.has(t)) return;
    this.#announced.add(t);
    const streams: FakeStream[] = [];
    if (streamId !== null) {
      let stream = this.#remoteStreams.get(streamId);
      if (stream === undefined) {
        stream = new FakeStream();
        Object.defineProperty(stream, 'id', { value: streamId });
        this.#remoteStreams.set(streamId, stream);
      }
      stream.addTrack(t.receiver.track);
      streams.push(stream);
    }
    const event = { track: t.receiver.track, streams, transceiver: t };
    setTimeout(() => !this.#closed && this.ontrack?.(event), 0);
  }

  #needsNegotiation(): boolean {
    if (this.#iceRestart) return true;
    return this.#transceivers.some((t) => t.mid === null || (t.stableIntent !== null && t.stableIntent !== t.direction));
  }

  #checkNegotiationSoon(): void {
    setTimeout(() => {
      if (this.#closed || this.signalingState !== 'stable' || this.#pendingOps > 0 || this.#needFired) return;
      if (!this.#needsNegotiation()) return;
      this.#needFired = true;
      this.onnegotiationneeded?.();
    }, 0);
  }

  #gatherSoon(): void {
    if (this.#gatheredFor === this.#ufrag) return;
    const ufrag = (this.#gatheredFor = this.#ufrag);
    const refused = FakePeerConnection.relayRefused && this.#configuration.iceTransportPolicy === 'relay';
    this.#setGathering('gathering');
    for (let i = 0; i < 2; i++) {
      setTimeout(() => {
        if (this.#closed) return;
        if (refused) {
          if (i === 0)
            this.onicecandidateerror?.({ url: 'turn:turn.example.org:3478?transport=udp', errorCode: 401, errorText: 'Unauthorized' });
          else this.#setGathering('complete');
          return;
        }
        if (i === 1) setTimeout(() => this.#setGathering('complete'), 0);
        const init: RTCIceCandidateInit = {
          candidate: `candidate:${i} 1 udp 2122 10.0.0.${i} 5000 typ host`,
          sdpMid: '0',
          sdpMLineIndex: 0,
          usernameFragment: ufrag,
        };
        this.localCandidates++;
        this.onicecandidate?.({ candidate: { candidate: init.candidate ?? '', toJSON: () => init } });
        this.#updateConnection();
      }, 1);
    }
  }

  #setGathering(state: RTCIceGatheringState): void {
    if (this.#closed || this.iceGatheringState === state) return;
    this.iceGatheringState = state;
    this.onicegatheringstatechange?.();
  }

  #updateConnection(): void {
    // As in browsers, the connection state is the transport's: a renegotiation does not drop it.
    if (this.connectionState === 'connected') return;
    const ready = this.signalingState === 'stable' && this.localDescription !== null && this.remoteDescription !== null;
    const next: RTCPeerConnectionState = ready && this.remoteCandidates > 0 && this.localCandidates > 0 ? 'connected' : 'connecting';
    if (next === this.connectionState || this.#closed) return;
    this.connectionState = next;
    this.iceConnectionState = next === 'connected' ? 'connected' : 'checking';
    this.onconnectionstatechange?.();
    this.oniceconnectionstatechange?.();
  }
}

/** Answers like Firefox: `a=setup:active` in every answer, and tolerates a switched role. */
export class FirefoxLikePeerConnection extends FakePeerConnection {
  override answersFlipRole = true;
}
