import type { Logger } from 'pino';
import type { MemberRef } from './backend.ts';
import { ownerTag } from './backend.ts';
import type { Namespace } from './keys.ts';
import { RoomKeys } from './keys.ts';
import { hashResumeSecret, newResumeSecret } from './resume-secret.ts';
import type { Membership } from './membership.ts';
import { applyRoomEvent, encodeSnapshot, flushPending, pendingFrames, reconcileReregistered, replayResume } from './membership.ts';
import type { RoomEvent } from './bus-codec.ts';
import { encodeRoomEvent, encodeRoomFrame } from './bus-codec.ts';
import type { Metadata } from '../protocol/messages.ts';
import type { BroadcastResult, CloseReason, JoinAuthorizer, JoinResult, ReregisterResult, SessionSink, SignalResult } from './session-types.ts';
import type { SignalingNode } from './signaling-node.ts';
import { replayCatchUp } from './catch-up.ts';
import { encodeHandover, HandoverInbox } from './handover.ts';
import { SignalOrder } from './signal-order.ts';
import { Pacer } from './pacer.ts';

/** Clean-ups after dropped connections (suspend or leave): a dyno's members dropping at once are paced. */
const departures = new Pacer({ inFlight: 64 });
const SETTLED: Promise<unknown> = Promise.resolve();

export type { BroadcastResult, CloseReason, JoinAuthorizer, JoinInfo, JoinResult, ReregisterResult, SessionSink, SignalResult } from './session-types.ts';

type State = 'idle' | 'joining' | 'joined' | 'closed';

/**
 * One connection's membership, transport- and protocol-neutral. Everything that changes it
 * (join, leave, close, re-registration, being replaced) runs one at a time in arrival order
 * in one queue; signals skip the queue when nothing is queued, so a burst of ICE candidates
 * is pipelined instead of waiting a round trip each.
 */
export class Session {
  readonly connectionId: string;
  readonly owner: string;
  private state: State = 'idle';
  private membership: Membership | null = null;
  /** The last queued operation; a shared settled promise while nothing is queued (an idle member holds none). */
  private tail: Promise<unknown> = SETTLED;
  private queued = 0;
  /** Made at the first signal: most members of a dyno are idle and never send one. */
  private order: SignalOrder | undefined;
  /** Set as soon as another connection took the membership over: nothing more reaches the client. */
  private replacing = false;
  private readonly node: SignalingNode;
  private readonly namespace: Namespace;
  private readonly sink: SessionSink;
  private readonly log: Logger;

  constructor(node: SignalingNode, namespace: Namespace, connectionId: string, sink: SessionSink, log: Logger) {
    this.node = node;
    this.namespace = namespace;
    this.connectionId = connectionId;
    this.sink = sink;
    this.log = log;
    this.owner = ownerTag(node.nodeId, connectionId);
  }

  get room(): string | undefined {
    return this.membership?.room;
  }

  get name(): string | undefined {
    return this.membership?.name;
  }

  get isJoined(): boolean {
    return this.state === 'joined';
  }

  /** The hash of the current resume secret (kept so a re-registration keeps it valid). */
  private secretHash = '';

  /** `authorize` is asked before a new membership starts (never for a resume that finds its own). */
  join(room: string, name: string, resume?: string, authorize?: JoinAuthorizer, metadata: Metadata = {}): Promise<JoinResult> {
    return this.serial(() => this.doJoin(room, name, resume, authorize, metadata));
  }

  /**
   * Sends `frame` (built from the sender's name, when the broadcast runs) to every other
   * member of the room: one publish on the room's events channel, whoever holds them.
   */
  broadcast(frame: (from: string) => string): Promise<BroadcastResult> {
    if (this.queued === 0) return this.doBroadcast(frame);
    return this.serial(() => this.doBroadcast(frame));
  }

  /** Called by the node for a frame published to the whole room (ROOM_FRAME_PREFIX). */
  roomFrame(from: string, frame: string): void {
    if (from === this.membership?.name) return;
    this.frame(frame);
  }

  /** Puts this membership back in the backend (see SignalingNode.requestRestore). */
  reregister(): Promise<ReregisterResult> {
    return this.serial(() => this.doReregister());
  }

  /** Resolves to true when the session was a member and is not any more. */
  leave(): Promise<boolean> {
    return this.serial(() => this.doLeave('leave'));
  }

  /**
   * `frame` may be built from the sender's name: it is then built when the signal runs, after
   * any join or leave queued before it, so it names the member that actually sends it.
   */
  signal(to: string, frame: string | ((from: string) => string)): Promise<SignalResult> {
    const order = (this.order ??= new SignalOrder());
    if (this.queued === 0) return order.run(to, () => this.doSignal(to, frame));
    return this.serial(() => order.run(to, () => this.doSignal(to, frame)));
  }

  /**
   * The bus lost this member's channel and is re-subscribing it: from now on frames and
   * events wait in `pending`, so what was held meanwhile can be handed over before them.
   */
  bufferLive(): void {
    const m = this.membership;
    if (!m || this.state !== 'joined') return;
    if (m.pending) m.drainRequested = true;
    else m.pending = [];
  }

  /**
   * After bufferLive() and the re-subscription: hands over the signals held while the
   * channel had no subscriber and the room changes missed, then what waited in `pending`.
   * With `bySubscriberDrop` (a bus reset, not a drain request), signals in flight at the drop
   * may be lost: the client gets `signals-lost`, and this resolves to the peers to tell too
   * (empty when the membership is not this dyno's any more). Rejects when the backend cannot
   * be reached.
   */
  catchUp(bySubscriberDrop: boolean): Promise<string[]> {
    return this.serial(async () => {
      const m = this.membership;
      if (!m || this.state !== 'joined') return [];
      let caught;
      try {
        caught = await this.node.backend.catchUp(m.ref, this.owner);
      } catch (error) {
        replayCatchUp(m, [], null, this.sink);
        throw error;
      }
      if (this.membership !== m || this.state !== 'joined') return [];
      if (!caught) {
        replayCatchUp(m, [], null, this.sink);
        return [];
      }
      replayCatchUp(m, caught.held, caught.peers, this.sink);
      if (!bySubscriberDrop) return [];
      const peers = [...m.known.keys()];
      if (peers.length > 0) this.sink.signalsLost?.(peers);
      return peers;
    });
  }

  /** Where this member's frames are published, once joined. */
  get memberChannel(): string | undefined {
    return this.state === 'joined' ? this.membership?.memberChannel : undefined;
  }

  /** The frame telling a peer that signals between it and this member may be lost. */
  lostFrame(): string | undefined {
    const m = this.membership;
    return m ? this.sink.lostFrame?.(m.name) : undefined;
  }

  /** The member channel of `peer` in this session's room. */
  peerChannel(peer: string): string | undefined {
    return this.membership?.keys.memberChannel(peer);
  }

  /** The connection is gone: leave (or start the grace period) and refuse everything after. */
  close(reason: CloseReason = 'leave'): Promise<boolean> {
    // From now on nothing reaches the dead socket: frames wait here until the grace starts.
    if (reason === 'disconnect' && this.membership && !this.membership.pending) this.membership.pending = [];
    return this.serial(async () => {
      const left = await departures.run(() => this.doLeave(reason));
      this.state = 'closed';
      this.node.forget(this);
      return left;
    });
  }

  /** Called by the node for events on this session's room channel. */
  roomEvent(event: RoomEvent): void {
    const m = this.membership;
    if (!m || this.replacing) return;
    if (m.pending) m.pending.push(event);
    else if (this.state === 'joined') applyRoomEvent(m, event, this.sink);
  }

  /** Called by the node for a frame published on this member's channel. */
  frame(frame: string): void {
    const m = this.membership;
    if (!m || this.replacing) return;
    if (m.pending) m.pending.push(frame);
    // The socket is closing but close() has not run yet: keep this and what follows for it.
    else if (this.state === 'joined' && this.sink.deliver(frame) === false) m.pending = [frame];
  }

  /** Called by the node for a frame on the member channel while still registering. */
  earlyFrame(frame: string): void {
    this.membership?.early.push(frame);
  }

  /** Called by the node for a hand-over on the member channel (handover.ts). */
  handover(from: string, entries: string[]): void {
    if (from !== this.owner) this.membership?.inbox?.offer(from, entries);
  }

  /**
   * The membership was taken over before this dyno stored what reached it after the drop:
   * publish it to the new holder, with what the client had been told. Empty hand-overs are
   * sent too, so the new holder need not wait out its deadline.
   */
  private handOver(m: Membership): void {
    if (m.handedOver) return;
    m.handedOver = true;
    const frames = pendingFrames(m);
    this.node.backend.publish(m.memberChannel, encodeHandover(this.owner, [encodeSnapshot(m), ...frames])).catch((error: unknown) => {
      this.log.warn({ conn: this.connectionId, err: error, frames: frames.length }, 'could not hand frames over to the connection that resumed this member; its client is told signals may be lost');
    });
  }

  /**
   * Called by the node when this membership was resumed on another connection. Queued like
   * every change: a disconnect already running finishes first (its suspend then finds the
   * membership moved on), and the subscriptions are given back once.
   */
  replaced(): void {
    if (this.replacing || this.state === 'closed') return;
    this.replacing = true;
    // The new holder waits for what reached us and never reached the client: hand it over
    // now, not after the close or leave queued before us (frames after this reach it too).
    if (this.membership) this.handOver(this.membership);
    void this.serial(async () => this.endReplaced());
  }

  /**
   * Called by the node when the application removed this member (server API): the backend
   * has deleted the record and announced peer-left already. Nothing more reaches the client
   * but the sink's `removed` (an error, then close 4001).
   */
  removed(): void {
    if (this.replacing || this.state === 'closed') return;
    this.replacing = true;
    // The record is gone already: nothing to hand over, only our side to end.
    void this.serial(async () => this.endTakenAway(() => this.sink.removed?.()));
  }

  /** Ends this session for a membership another connection holds now; runs in the queue. */
  private endReplaced(): void {
    const m = this.membership;
    if (m) this.handOver(m);
    this.endTakenAway(() => this.sink.replaced?.());
  }

  /**
   * Ends this session for a membership the backend no longer gives it (resumed elsewhere,
   * or removed by the application), then tells the client through `tell`.
   */
  private endTakenAway(tell: () => void): void {
    const m = this.membership;
    this.replacing = true;
    this.state = 'closed';
    this.membership = null;
    if (m) {
      void this.detach(m);
      // The record is not ours any more; only our index entry is left to forget.
      void this.node.retire({ ref: m.ref, owner: this.owner, step: 'unindex' });
    }
    this.node.forget(this);
    tell();
  }

  private serial<T>(operation: () => Promise<T>): Promise<T> {
    this.queued++;
    const run = this.tail.then(operation).finally(() => {
      if (--this.queued === 0) this.tail = SETTLED;
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  private detach(m: Membership): Promise<void> {
    this.node.detachMember(m.memberChannel, this);
    this.node.detachRoom(m.keys.events, this);
    return this.releaseOnce(m);
  }

  /**
   * Unsubscribes first and detaches after: until the backend confirms, frames already
   * counted as delivered to this dyno still arrive, and they must land in `pending`.
   */
  private async detachAfterUnsubscribe(m: Membership): Promise<void> {
    await this.releaseOnce(m);
    this.node.detachMember(m.memberChannel, this);
    this.node.detachRoom(m.keys.events, this);
  }

  /** The room channel is shared by every local member: giving it back twice would cut the others off. */
  private releaseOnce(m: Membership): Promise<void> {
    if (m.released) return Promise.resolve();
    m.released = true;
    return this.node.subscriptions.release([m.keys.events, m.memberChannel]);
  }

  private async doJoin(room: string, name: string, resume: string | undefined, authorize: JoinAuthorizer | undefined, metadata: Metadata): Promise<JoinResult> {
    if (this.state === 'joined') return { ok: false, code: 'already-joined' };
    if (this.state === 'closed' || this.replacing) return { ok: false, code: 'unavailable' };
    const keys = new RoomKeys(this.node.prefix, this.namespace, room);
    const ref: MemberRef = { membersKey: keys.members, holdKey: keys.holdKey(name), name };
    const memberChannel = keys.memberChannel(name);
    const m: Membership = { room, name, keys, ref, memberChannel, seq: 0, known: new Map(), pending: [], early: [], info: { metadata, joinedAt: Date.now() } };
    if (resume !== undefined) m.inbox = new HandoverInbox();
    this.state = 'joining';
    this.membership = m;
    // Room events are heard from before registration on, so none published after our seq
    // was assigned can be missed; the seq filter in applyRoomEvent() drops the ones from before.
    this.node.attachRoom(keys.events, this);
    // A resumed member's peers keep signalling it: what arrives before the takeover is its.
    this.node.attachJoining(memberChannel, this);
    try {
      await this.node.subscriptions.acquire([keys.events, memberChannel]);
    } catch (error) {
      this.node.detachJoining(memberChannel, this);
      this.node.detachRoom(keys.events, this);
      this.membership = null;
      this.state = 'idle';
      this.log.warn({ conn: this.connectionId, err: error }, 'join failed: cannot subscribe (backend unavailable)');
      return { ok: false, code: 'unavailable' };
    }
    // Indexed before the registration exists: if its reply is lost or this process dies
    // right after it, a sweep can still find it. Every way out below forgets the entry again.
    try {
      await this.node.backend.indexMember(this.node.nodeId, ref, this.owner);
    } catch (error) {
      this.log.warn({ conn: this.connectionId, err: error }, 'join failed: backend unavailable');
      return this.fail(m, 'unavailable', 'unindex');
    }
    const secret = newResumeSecret();
    const secretHash = hashResumeSecret(secret);
    if (resume !== undefined) {
      let result: JoinResult | 'gone';
      try {
        result = await this.takeOver(m, resume, secret, secretHash);
      } catch (error) {
        // The resume may have run: then the record is ours under a secret the client never
        // got. Put it back to reconnecting under the one it holds, so its retry resumes.
        this.log.warn({ conn: this.connectionId, err: error }, 'resume failed: backend unavailable');
        return this.fail(m, 'unavailable', this.node.graceMs > 0 ? 'resuspend' : 'unregister', hashResumeSecret(resume));
      }
      // 'gone': the grace ran out; start a new membership under the same name.
      if (result !== 'gone') return result;
    }
    if (authorize) {
      const check = await authorize().catch((error: unknown) => ({ ok: false as const, reason: `the token could not be checked (${String(error)})` }));
      if (!check.ok) return this.fail(m, { ok: false, code: 'unauthorized', reason: check.reason }, 'unindex');
      // A trusted claim (TOKEN_SECRET) replaces whatever the client sent.
      if (check.metadata !== undefined) m.info.metadata = check.metadata;
    }
    const peerMetadata = new Map<string, Metadata>();
    try {
      const outcome = await this.node.backend.register({ ...ref, owner: this.owner, secretHash, maxRoomSize: this.node.maxRoomSize, info: m.info });
      if (!outcome.ok) return this.fail(m, outcome.reason, 'unindex');
      this.secretHash = secretHash;
      m.seq = outcome.seq;
      for (const peer of outcome.peers) {
        m.known.set(peer.name, peer.seq);
        peerMetadata.set(peer.name, peer.metadata ?? {});
      }
      // Our member channel was subscribed before registering, so an offer can only reach
      // us once peers hear this event: peer-joined must go out after the subscription.
      this.node.detachJoining(memberChannel, this);
      m.early = [];
      this.node.attachMember(memberChannel, this);
      await this.node.backend.publish(keys.events, encodeRoomEvent({ kind: 'joined', seq: m.seq, name, metadata: m.info.metadata }));
    } catch (error) {
      // The register may have run although its reply was lost: remove it, retrying until
      // the backend confirms, or the name would stay taken with nobody to free it.
      this.log.warn({ conn: this.connectionId, err: error }, 'join failed: backend unavailable');
      return this.fail(m, 'unavailable', 'unregister');
    }
    this.state = 'joined';
    this.sink.joined(room, name, [...m.known.keys()], { resume: secret, resumed: false, metadata: peerMetadata });
    flushPending(m, this.sink);
    return { ok: true, resumed: false };
  }

  /** Resumes the membership `resume` proves; 'gone' when its grace is over. */
  private async takeOver(m: Membership, resume: string, secret: string, secretHash: string): Promise<JoinResult | 'gone'> {
    const outcome = await this.node.backend.resume({ ...m.ref, secretHash: hashResumeSecret(resume), owner: this.owner, newSecretHash: secretHash });
    if (!outcome.ok) return outcome.reason === 'gone' ? 'gone' : this.fail(m, 'name-taken', 'unindex');
    this.secretHash = secretHash;
    this.node.detachJoining(m.memberChannel, this);
    this.node.attachMember(m.memberChannel, this);
    this.node.replaceElsewhere(m.memberChannel, outcome.previousOwner, this);
    m.seq = outcome.seq;
    this.state = 'joined';
    let handed: string[] | null = [];
    // Live frames and room events wait in `pending` meanwhile (it is still set).
    if (outcome.previousConnected) handed = await (m.inbox ?? new HandoverInbox()).wait(outcome.previousOwner, this.node.handoverTimeoutMs);
    m.inbox = undefined;
    replayResume(m, [...(handed ?? []), ...outcome.held], outcome.peers, this.sink, { resume: secret });
    if (handed === null) {
      this.log.warn({ conn: this.connectionId, member: m.name }, `no hand-over from the previous connection's dyno within ${this.node.handoverTimeoutMs} ms (it may have died); telling the client signals may be lost`);
      const peers = [...m.known.keys()];
      if (peers.length > 0) this.sink.signalsLost?.(peers);
    }
    return { ok: true, resumed: true };
  }

  /** Gives up a join; `cleanup` says what the backend may hold of it (see cleanup-queue.ts). */
  private fail(
    m: Membership,
    result: 'name-taken' | 'room-full' | 'unavailable' | JoinResult,
    cleanup: 'unindex' | 'unregister' | 'resuspend',
    previousSecretHash?: string,
  ): JoinResult {
    this.node.detachJoining(m.memberChannel, this);
    void this.detach(m);
    this.membership = null;
    this.state = 'idle';
    void this.node.retire({ ref: m.ref, owner: this.owner, step: cleanup, ...(previousSecretHash ? { secretHash: previousSecretHash } : {}) });
    return typeof result === 'string' ? { ok: false, code: result } : result;
  }

  private async doReregister(): Promise<ReregisterResult> {
    const m = this.membership;
    if (this.state !== 'joined' || !m || this.replacing) return 'skipped';
    const { backend, nodeId } = this.node;
    try {
      await backend.indexMember(nodeId, m.ref, this.owner);
      const highestKnownSeq = Math.max(m.seq, ...m.known.values());
      const outcome = await backend.reregister({ ...m.ref, seq: m.seq, owner: this.owner, secretHash: this.secretHash, graceMs: 0, highestKnownSeq, info: m.info });
      if (outcome.status === 'clash') {
        this.log.warn({ conn: this.connectionId, member: m.name }, 'after the backend lost this member, another connection took its name; closing ours');
        this.endReplaced();
        return 'clash';
      }
      // A closing socket (m.pending set) hears nothing more; its snapshot must not claim it did.
      reconcileReregistered(m, outcome.seq, outcome.peers, outcome.status === 'rejoined', m.pending ? null : this.sink);
      return outcome.status;
    } catch (error) {
      this.log.warn({ conn: this.connectionId, err: error }, 're-registration failed');
      return 'failed';
    }
  }

  private async doLeave(reason: CloseReason): Promise<boolean> {
    const m = this.membership;
    if (this.state !== 'joined' || !m) return false;
    this.state = 'idle';
    const node = this.node;
    const job = { ref: m.ref, owner: this.owner };
    if (reason === 'disconnect' && node.graceMs > 0 && !this.replacing) {
      // Once the unsubscribe is done, signals for us are held by their senders' dynos; the
      // ones that reached us before that are handed to the backend with the snapshot.
      await this.detachAfterUnsubscribe(m);
      this.membership = null;
      const snapshot = encodeSnapshot(m);
      const frames = pendingFrames(m);
      try {
        const request = { ...m.ref, owner: this.owner, graceMs: node.graceMs, snapshot, frames, holdTtlMs: node.graceMs + node.leaseMs };
        if (await node.backend.suspend(request)) {
          void node.retire({ ...job, step: 'expire', seq: m.seq, secretHash: this.secretHash, graceUntil: Date.now() + node.graceMs }, node.graceMs);
        } else {
          // Resumed elsewhere meanwhile: the record is another connection's, and what
          // reached us after the drop is its client's.
          this.handOver(m);
          void node.retire({ ...job, step: 'unindex' });
        }
      } catch (error) {
        this.log.warn({ conn: this.connectionId, err: error }, 'could not start the grace period (backend unavailable); removing the member when it is back');
        void node.retire({ ...job, step: 'unregister' }, node.graceMs);
      }
      return true;
    }
    this.membership = null;
    if (this.replacing) this.handOver(m);
    void this.detach(m);
    // Removed and announced in one script; retried (idempotently) until the backend confirms.
    await node.retire({ ...job, step: 'unregister' });
    return true;
  }

  private async doBroadcast(frame: (from: string) => string): Promise<BroadcastResult> {
    const m = this.membership;
    if (this.state !== 'joined' || !m || this.replacing) return 'not-joined';
    try {
      await this.node.backend.publish(m.keys.events, encodeRoomFrame(m.name, frame(m.name)));
      return 'sent';
    } catch {
      return 'unavailable';
    }
  }

  private async doSignal(to: string, frame: string | ((from: string) => string)): Promise<SignalResult> {
    const m = this.membership;
    if (this.state !== 'joined' || !m || this.replacing) return 'not-joined';
    try {
      const outcome = await this.node.sendTo(m.keys, to, typeof frame === 'string' ? frame : frame(m.name));
      if (outcome === 'not-found') return 'peer-not-found';
      return outcome === 'full' ? 'peer-backlogged' : 'sent';
    } catch {
      return 'unavailable';
    }
  }


}
