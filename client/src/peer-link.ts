/**
 * One RTCPeerConnection to one peer, negotiated with the "perfect
 * negotiation" pattern (W3C WebRTC spec §10.7 / MDN): either side may
 * renegotiate at any time, and when both offer at once the polite side rolls
 * back and answers while the impolite side ignores the colliding offer.
 *
 * DTLS role. The first negotiation fixes who is DTLS client (`a=setup:active`)
 * and server (`passive`); later offers say `actpass` and the answer must keep
 * the roles, because the DTLS association is not restarted. Firefox does not:
 * answering a renegotiation it answers `active` whatever it was, and Chromium,
 * already the client, refuses that answer ("Failed to set SSL role for the
 * transport") and stays in have-local-offer for good. This happens whenever
 * Firefox made the first offer and Chromium later restarts ICE or wins an
 * offer collision. So once the roles are known, our own answers are rewritten
 * to the role we already have (a no-op for engines that keep it anyway); see
 * sdp-lines.ts.
 *
 * ICE restarts between Chromium and Firefox can leave a pair that reads
 * `connected` while no media arrives; media-stall.ts notices and restarts ICE.
 *
 * Never wedged: a failure to apply or make a description, or a pair that stays
 * unsettled past the deadline (settle-watchdog.ts), reports the link broken;
 * MeshCall then replaces it with a new connection (and a new session id).
 */
import { preferVp8 } from './codec-preference.ts';
import { MediaStallMonitor } from './media-stall.ts';
import { type PeerLinkOptions, type IceCandidateErrorInfo, type IceFailure } from './peer-link-options.ts';
import { type DtlsRole, answerRole, oppositeRole, readSetup, readUfrag, withSetup } from './sdp-lines.ts';
import { SettleWatchdog } from './settle-watchdog.ts';
import { SLOW_SAMPLE_MS, StatsSampler } from './stats-sampler.ts';
import { SignalingError } from './signaling-error.ts';
import { type MeshSignalData, newSessionId } from './signal-data.ts';

export type { IceCandidateErrorInfo, IceFailure, LocalMedia, PeerLinkOptions, TrackKind } from './peer-link-options.ts';

const MAX_CANDIDATE_ERRORS = 8;
/** Candidates held before the remote description: a peer cannot make us hoard memory. */
export const MAX_PENDING_CANDIDATES = 64;
const KINDS = ['audio', 'video'] as const;

export class PeerLink {
  readonly peer: string;
  readonly polite: boolean;
  /** Our connection id, sent with every signal (see signal-data.ts). */
  readonly session = newSessionId();
  /** The remote connection id: given, or learnt from the first description received. */
  remoteSession: string | undefined;
  readonly #pc: RTCPeerConnection;
  readonly #options: PeerLinkOptions;
  readonly #watchdog: SettleWatchdog;
  readonly #stall: MediaStallMonitor;
  /** The one getStats() loop of this connection: the stall watch and the app's statistics share it. */
  readonly #sampler: StatsSampler;
  #makingOffer = false;
  #ignoreOffer = false;
  /** Our DTLS role once a negotiation completed; our answers keep it. */
  #dtlsRole: DtlsRole | undefined;
  /** Candidates that arrived before any remote description (addIceCandidate would throw). */
  #pendingCandidates: RTCIceCandidateInit[] = [];
  /** Incoming signals are applied one at a time, in arrival order. */
  #queue: Promise<void> = Promise.resolve();
  #closed = false;
  #broken = false;
  /** A signal could not be sent (the signaling socket was down): see {@link resync}. */
  #unsent = false;
  /** Local candidates and candidate errors of the current gathering round. */
  #gathered = 0;
  #candidateErrors: IceCandidateErrorInfo[] = [];

  constructor(options: PeerLinkOptions) {
    this.peer = options.peer;
    this.polite = options.polite;
    this.remoteSession = options.remoteSession;
    this.#options = options;
    const pc = options.pc;
    this.#pc = pc;
    this.#watchdog = new SettleWatchdog(options.settleTimeoutMs ?? 0, () =>
      this.#break(`not connected within ${options.settleTimeoutMs} ms (connection ${pc.connectionState}, signaling ${pc.signalingState})`),
    );
    this.#sampler = new StatsSampler(pc, { slowMs: SLOW_SAMPLE_MS });
    if (options.statsPaused === true) this.#sampler.setPaused(true);
    const onStats = options.onStats;
    if (onStats !== undefined) {
      const wants = options.wantsStats ?? (() => true);
      this.#sampler.add(onStats, () => wants() && !this.#closed && pc.connectionState === 'connected', options.statsTypes);
    }
    this.#stall = new MediaStallMonitor({
      pc,
      sampler: this.#sampler,
      stallMs: options.mediaStallMs ?? 0,
      active: () => !this.#closed && pc.connectionState === 'connected' && pc.signalingState === 'stable',
      onStall: () => pc.restartIce(),
    });
    pc.onnegotiationneeded = () => void this.#negotiate();
    pc.onicecandidate = ({ candidate }) => {
      // A null candidate only marks the end of gathering; peers do not need it.
      if (candidate !== null && candidate.candidate !== '') {
        this.#gathered++;
        this.#send({ candidate: candidate.toJSON() });
      }
    };
    pc.onicecandidateerror = (event) => {
      if (this.#candidateErrors.length >= MAX_CANDIDATE_ERRORS) return;
      const { url, errorCode, errorText } = event;
      this.#candidateErrors.push({ url, errorCode, errorText });
    };
    pc.onicegatheringstatechange = () => {
      if (pc.iceGatheringState === 'gathering') {
        this.#gathered = 0;
        this.#candidateErrors = [];
      } else if (pc.iceGatheringState === 'complete' && this.#gathered === 0) {
        this.#iceFailed('no-candidates');
      }
    };
    pc.ontrack = (event) => options.onTrack(event);
    pc.onconnectionstatechange = () => {
      this.#watch();
      options.onConnectionState(pc.connectionState);
    };
    pc.onsignalingstatechange = () => this.#watch();
    pc.oniceconnectionstatechange = () => {
      this.#watch();
      // A network change (Wi-Fi to cellular) fails ICE; a restart finds new paths.
      if (pc.iceConnectionState === 'failed') {
        this.#iceFailed('failed');
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
        pc.addTransceiver(kind, { direction: 'recvonly' });
      }
    }
    this.#watch();
  }

  get connectionState(): RTCPeerConnectionState {
    return this.#pc.connectionState;
  }

  get signalingState(): RTCSignalingState {
    return this.#pc.signalingState;
  }

  /** Closed, or broken (MeshCall is replacing it). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Applies a description or candidate from the peer, after those received before it. The
   * first description names the remote session at once, not when it is applied, so a second
   * description from another session arriving right behind it is recognised as stale.
   */
  receive(data: MeshSignalData): void {
    if ('description' in data) this.remoteSession ??= data.session;
    this.#queue = this.#queue
      .then(() => this.#apply(data))
      .catch((cause: unknown) => this.#break(`applying a signal failed: ${message(cause)}`, cause));
  }

  /** Fresh ICE servers (TURN credentials expire): used by the next ICE restart. */
  setIceServers(iceServers: RTCIceServer[]): void {
    try {
      this.#pc.setConfiguration({ ...this.#pc.getConfiguration(), iceServers });
    } catch (cause) {
      this.#report('updating ICE servers', cause);
    }
  }

  /**
   * Signals to or from the peer may have been lost in the server: re-send the pending
   * description, or (`mayRestart`: one end only, so the two do not offer at once) restart
   * ICE on a connection that is not up.
   */
  recover(mayRestart: boolean): void {
    if (this.#closed) return;
    if (this.#pc.signalingState === 'stable' && this.#pc.localDescription?.type !== 'answer' && !mayRestart) return;
    this.#unsent = true;
    this.resync();
  }

  /**
   * After the signaling socket came back: if a signal of ours was dropped while it was down,
   * send again what the peer needs to finish. Our pending offer, or our last answer, is sent
   * again (its SDP carries the candidates gathered so far); a settled negotiation whose
   * candidates went missing before it connected is redone with an ICE restart.
   */
  resync(): void {
    if (!this.#unsent || this.#closed) return;
    this.#unsent = false;
    const local = this.#pc.localDescription;
    switch (this.#pc.signalingState) {
      case 'have-local-offer':
        this.#sendLocalDescription();
        break;
      case 'stable':
        if (local?.type === 'answer') this.#sendLocalDescription();
        else if (this.#pc.connectionState !== 'connected') this.#pc.restartIce();
        break;
      default:
        // Mid-way through answering: the answer goes out when it is made.
        break;
    }
  }

  /**
   * Pauses statistics sampling, the stall watch's included (nothing polls while the page is
   * hidden); on resume the stall watch starts its count afresh.
   */
  setStatsPaused(paused: boolean): void {
    this.#sampler.setPaused(paused);
    if (!paused) this.#stall.reset();
  }

  /** Sends `track` (or nothing, for null) as this link's `kind`; renegotiates only if needed. */
  async setLocalTrack(kind: 'audio' | 'video', track: MediaStreamTrack | null, stream: MediaStream | null): Promise<void> {
    this.#sampler.hurry(); // what is sent changes: read the link at the fast period again
    const candidates = this.#pc.getTransceivers().filter((t) => t.receiver.track.kind === kind && t.currentDirection !== 'stopped');
    const transceiver = candidates.find((t) => t.sender.track !== null) ?? candidates[0];
    if (transceiver === undefined) {
      if (track !== null) {
        if (stream !== null) this.#pc.addTrack(track, stream);
        else this.#pc.addTrack(track);
      }
      return;
    }
    await transceiver.sender.replaceTrack(track);
    if (track !== null && (transceiver.direction === 'recvonly' || transceiver.direction === 'inactive')) {
      if (stream !== null) transceiver.sender.setStreams?.(stream);
      transceiver.direction = 'sendrecv'; // fires negotiationneeded
    }
  }

  async getStats(): Promise<RTCStatsReport> {
    return await this.#pc.getStats();
  }

  /** Senders currently sending video (send-quality.ts tunes them). */
  videoSenders(): RTCRtpSender[] {
    // Test fakes may have no senders at all.
    if (typeof this.#pc.getSenders !== 'function') return [];
    return this.#pc.getSenders().filter((s) => s.track?.kind === 'video');
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#watchdog.stop();
    this.#stall.stop();
    this.#sampler.stop();
    const pc = this.#pc;
    pc.onnegotiationneeded = null;
    pc.onicecandidate = null;
    pc.ontrack = null;
    pc.onconnectionstatechange = null;
    pc.onsignalingstatechange = null;
    pc.oniceconnectionstatechange = null;
    pc.onicecandidateerror = null;
    pc.onicegatheringstatechange = null;
    pc.close();
  }

  async #negotiate(): Promise<void> {
    try {
      this.#makingOffer = true;
      preferVp8(this.#pc);
      await this.#pc.setLocalDescription();
      this.#sendLocalDescription();
    } catch (cause) {
      this.#break(`making an offer failed: ${message(cause)}`, cause);
    } finally {
      this.#makingOffer = false;
    }
  }

  async #apply(data: MeshSignalData): Promise<void> {
    if (this.#closed) return;
    // Checked here, where it is applied: anything for another connection is dropped quietly.
    if (this.remoteSession !== undefined && data.session !== this.remoteSession) return;
    if (data.to !== undefined && data.to !== this.session) return;
    const pc = this.#pc;
    if ('candidate' in data) {
      if (pc.remoteDescription === null) {
        if (this.#pendingCandidates.length < MAX_PENDING_CANDIDATES) this.#pendingCandidates.push(data.candidate);
      } else await this.#addCandidate(data.candidate);
      return;
    }
    const description = data.description;
    if (description.type === 'answer' && pc.signalingState !== 'have-local-offer') return; // stale answer
    // Signals are applied one at a time here, so the spec's
    // isSettingRemoteAnswerPending case cannot arise.
    const offerCollision = description.type === 'offer' && (this.#makingOffer || pc.signalingState !== 'stable');
    this.#ignoreOffer = !this.polite && offerCollision;
    if (this.#ignoreOffer) return;
    await pc.setRemoteDescription(description); // the polite side rolls back implicitly
    if (description.type === 'answer') {
      const theirs = answerRole(description.sdp ?? '');
      if (theirs !== undefined) this.#dtlsRole = oppositeRole(theirs);
    }
    const pending = this.#pendingCandidates;
    this.#pendingCandidates = [];
    for (const candidate of pending) await this.#addCandidate(candidate);
    if (description.type === 'offer') await this.#answer(description.sdp ?? '');
  }

  async #answer(offerSdp: string): Promise<void> {
    const pc = this.#pc;
    preferVp8(pc);
    const role = this.#dtlsRole;
    if (role !== undefined && readSetup(offerSdp) === 'actpass') {
      // A renegotiation: keep the DTLS role the association has (see the top of this file).
      const answer = await pc.createAnswer();
      await pc.setLocalDescription({ type: 'answer', sdp: withSetup(answer.sdp ?? '', role) });
    } else {
      await pc.setLocalDescription();
    }
    this.#dtlsRole ??= answerRole(pc.localDescription?.sdp ?? '');
    this.#sendLocalDescription();
  }

  async #addCandidate(candidate: RTCIceCandidateInit): Promise<void> {
    // A candidate of an earlier ICE round (it crossed our restart) or of an offer we ignored:
    // it cannot apply to the current one, and is no sign of trouble.
    const ufrag = readUfrag(this.#pc.remoteDescription?.sdp ?? '');
    if (candidate.usernameFragment != null && ufrag !== undefined && candidate.usernameFragment !== ufrag) return;
    try {
      await this.#pc.addIceCandidate(candidate);
    } catch (cause) {
      if (!this.#ignoreOffer) this.#report('adding an ICE candidate', cause);
    }
  }

  #sendLocalDescription(): void {
    const local = this.#pc.localDescription;
    if (local !== null) this.#send({ description: { type: local.type, sdp: local.sdp } });
  }

  #send(body: { description: RTCSessionDescriptionInit } | { candidate: RTCIceCandidateInit }): void {
    if (this.#closed) return;
    const tag = this.remoteSession === undefined ? { session: this.session } : { session: this.session, to: this.remoteSession };
    if (!this.#options.send({ ...tag, ...body })) this.#unsent = true;
  }

  #watch(): void {
    if (this.#closed) return;
    const pc = this.#pc;
    this.#watchdog.update(pc.connectionState === 'connected' && pc.signalingState === 'stable');
  }

  #iceFailed(reason: IceFailure['reason']): void {
    if (!this.#closed) this.#options.onIceFailed?.({ reason, candidateErrors: [...this.#candidateErrors] });
  }

  /** A non-fatal problem: reported, the link carries on. */
  #report(doing: string, cause: unknown): void {
    if (this.#closed) return;
    this.#options.onError(new SignalingError('peer-connection', `${this.peer}: ${doing} failed: ${message(cause)}`, { cause }));
  }

  /** Negotiation cannot go on: report it, close, and let MeshCall build a new connection. */
  #break(why: string, cause?: unknown): void {
    if (this.#closed || this.#broken) return;
    this.#broken = true;
    const error = new SignalingError(
      'peer-connection',
      `${this.peer}: ${why}; starting a new connection`,
      cause === undefined ? {} : { cause },
    );
    this.#options.onError(error);
    this.close();
    this.#options.onBroken?.(why);
  }
}

function message(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
