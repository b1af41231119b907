import type { Logger } from 'pino';
import type { MemberRef } from './backend.ts';
import { ownerTag } from './backend.ts';
import type { Namespace } from './keys.ts';
import { RoomKeys } from './keys.ts';
import { hashResumeSecret, newResumeSecret } from './resume-secret.ts';
import type { Membership } from './membership.ts';
import { applyRoomEvent, encodeSnapshot, flushPending, replayResume } from './membership.ts';
import type { RoomEvent } from './room-events.ts';
import { encodeRoomEvent, SIGNAL_PREFIX } from './room-events.ts';
import type { CloseReason, JoinResult, SessionSink, SignalResult } from './session-types.ts';
import type { SignalingNode } from './signaling-node.ts';
import { replayCatchUp } from './catch-up.ts';
import { SignalOrder } from './signal-order.ts';

export type { CloseReason, JoinInfo, JoinResult, SessionSink, SignalResult } from './session-types.ts';

type State = 'idle' | 'joining' | 'joined' | 'closed';

/**
 * One connection's membership, transport- and protocol-neutral. Membership operations run
 * one at a time in arrival order; signals skip the queue when nothing is queued, so a burst
 * of ICE candidates is pipelined instead of waiting a round trip each.
 */
export class Session {
  readonly connectionId: string;
  readonly owner: string;
  private state: State = 'idle';
  private membership: Membership | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  private queued = 0;
  private readonly order = new SignalOrder();
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

  /** The registration to restore if the backend loses its data. */
  get registration(): { ref: MemberRef; seq: number } | null {
    const m = this.membership;
    return this.state === 'joined' && m ? { ref: m.ref, seq: m.seq } : null;
  }

  /** The hash of the current resume secret (kept so a re-registration keeps it valid). */
  secretHash = '';

  join(room: string, name: string, resume?: string): Promise<JoinResult> {
    return this.serial(() => this.doJoin(room, name, resume));
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
    if (this.queued === 0) return this.order.run(to, () => this.doSignal(to, frame));
    return this.serial(() => this.order.run(to, () => this.doSignal(to, frame)));
  }

  /**
   * The bus lost this member's channel and is re-subscribing it: from now on frames and
   * events wait in `pending`, so what was held meanwhile can be handed over before them.
   */
  bufferLive(): void {
    const m = this.membership;
    if (m && this.state === 'joined' && !m.pending) m.pending = [];
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
      const left = await this.doLeave(reason);
      this.state = 'closed';
      this.node.forget(this);
      return left;
    });
  }

  /** Called by the node for events on this session's room channel. */
  roomEvent(event: RoomEvent): void {
    const m = this.membership;
    if (!m) return;
    if (m.pending) m.pending.push(event);
    else if (this.state === 'joined') applyRoomEvent(m, event, this.sink);
  }

  /** Called by the node for a frame published on this member's channel. */
  frame(frame: string): void {
    const m = this.membership;
    if (!m) return;
    if (m.pending) m.pending.push(frame);
    // The socket is closing but close() has not run yet: keep this and what follows for it.
    else if (this.state === 'joined' && this.sink.deliver(frame) === false) m.pending = [frame];
  }

  /** Called by the node for a frame on the member channel while still registering. */
  earlyFrame(frame: string): void {
    this.membership?.early.push(frame);
  }

  /** Called by the node when this membership was resumed on another connection. */
  replaced(): void {
    const m = this.membership;
    this.state = 'closed';
    this.membership = null;
    if (m) void this.detach(m);
    this.node.forget(this);
    this.sink.replaced?.();
  }

  private serial<T>(operation: () => Promise<T>): Promise<T> {
    this.queued++;
    const run = this.tail.then(operation).finally(() => this.queued--);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private detach(m: Membership): Promise<void> {
    this.node.detachMember(m.memberChannel, this);
    this.node.detachRoom(m.keys.events, this);
    return this.node.subscriptions.release([m.keys.events, m.memberChannel]);
  }

  /**
   * Unsubscribes first and detaches after: until the backend confirms, frames already
   * counted as delivered to this dyno still arrive, and they must land in `pending`.
   */
  private async detachAfterUnsubscribe(m: Membership): Promise<void> {
    await this.node.subscriptions.release([m.keys.events, m.memberChannel]);
    this.node.detachMember(m.memberChannel, this);
    this.node.detachRoom(m.keys.events, this);
  }

  private async doJoin(room: string, name: string, resume: string | undefined): Promise<JoinResult> {
    if (this.state === 'joined') return { ok: false, code: 'already-joined' };
    if (this.state === 'closed') return { ok: false, code: 'unavailable' };
    const keys = new RoomKeys(this.node.prefix, this.namespace, room);
    const ref: MemberRef = { membersKey: keys.members, holdKey: keys.holdKey(name), name };
    const memberChannel = keys.memberChannel(name);
    const m: Membership = { room, name, keys, ref, memberChannel, seq: 0, known: new Map(), pending: [], early: [] };
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
    const secret = newResumeSecret();
    const secretHash = hashResumeSecret(secret);
    try {
      if (resume !== undefined) {
        const result = await this.takeOver(m, resume, secret, secretHash);
        // 'gone': the grace ran out; start a new membership under the same name.
        if (result !== 'gone') return result;
      }
      const outcome = await this.node.backend.register({ ...ref, owner: this.owner, secretHash, maxRoomSize: this.node.maxRoomSize });
      if (!outcome.ok) return this.fail(m, outcome.reason);
      this.secretHash = secretHash;
      m.seq = outcome.seq;
      for (const peer of outcome.peers) m.known.set(peer.name, peer.seq);
      // Our member channel was subscribed before registering, so an offer can only reach
      // us once peers hear this event: peer-joined must go out after the subscription.
      this.node.detachJoining(memberChannel, this);
      m.early = [];
      this.node.attachMember(memberChannel, this);
      void this.node.backend.indexMember(this.node.nodeId, ref).catch(() => undefined);
      await this.node.backend.publish(keys.events, encodeRoomEvent({ kind: 'joined', seq: m.seq, name }));
    } catch (error) {
      this.log.warn({ conn: this.connectionId, err: error }, 'join failed: backend unavailable');
      await this.node.backend.unregister(ref, this.owner).catch(() => null);
      return this.fail(m, 'unavailable');
    }
    this.state = 'joined';
    this.sink.joined(room, name, [...m.known.keys()], { resume: secret, resumed: false });
    flushPending(m, this.sink);
    return { ok: true, resumed: false };
  }

  /** Resumes the membership `resume` proves; 'gone' when its grace is over. */
  private async takeOver(m: Membership, resume: string, secret: string, secretHash: string): Promise<JoinResult | 'gone'> {
    const outcome = await this.node.backend.resume({ ...m.ref, secretHash: hashResumeSecret(resume), owner: this.owner, newSecretHash: secretHash });
    if (!outcome.ok) return outcome.reason === 'gone' ? 'gone' : this.fail(m, 'name-taken');
    this.secretHash = secretHash;
    this.node.detachJoining(m.memberChannel, this);
    this.node.attachMember(m.memberChannel, this);
    this.node.replaceElsewhere(m.memberChannel, outcome.previousOwner, this);
    void this.node.backend.indexMember(this.node.nodeId, m.ref).catch(() => undefined);
    m.seq = outcome.seq;
    this.state = 'joined';
    replayResume(m, outcome.held, outcome.peers, this.sink, { resume: secret });
    return { ok: true, resumed: true };
  }

  private fail(m: Membership, code: 'name-taken' | 'room-full' | 'unavailable'): JoinResult {
    this.node.detachJoining(m.memberChannel, this);
    void this.detach(m);
    this.membership = null;
    this.state = 'idle';
    return { ok: false, code };
  }





  private async doLeave(reason: CloseReason): Promise<boolean> {
    const m = this.membership;
    if (this.state !== 'joined' || !m) return false;
    this.state = 'idle';
    const node = this.node;
    if (reason === 'disconnect' && node.graceMs > 0) {
      // Once the unsubscribe is done, signals for us are held by their senders' dynos; the
      // ones that reached us before that are handed to the backend with the snapshot.
      await this.detachAfterUnsubscribe(m);
      this.membership = null;
      const snapshot = encodeSnapshot(m);
      const frames = (m.pending ?? []).filter((item): item is string => typeof item === 'string').map((f) => SIGNAL_PREFIX + f);
      try {
        const request = { ...m.ref, owner: this.owner, graceMs: node.graceMs, snapshot, frames, holdTtlMs: node.graceMs + node.leaseMs };
        if (await node.backend.suspend(request)) {
          node.removeLater(m.ref, this.owner, node.graceMs, 'expire');
        }
      } catch (error) {
        this.log.warn({ conn: this.connectionId, err: error }, 'could not start the grace period (backend unavailable); removing the member when it is back');
        node.removeLater(m.ref, this.owner, node.graceMs, 'unregister');
      }
      return true;
    }
    this.membership = null;
    void this.detach(m);
    try {
      const seq = await node.backend.unregister(m.ref, this.owner);
      if (seq !== null) await node.backend.publish(m.keys.events, encodeRoomEvent({ kind: 'left', seq, name: m.name }));
    } catch (error) {
      this.log.warn({ conn: this.connectionId, err: error }, 'leave could not reach the backend; retrying until it is back');
      node.removeLater(m.ref, this.owner, 1000, 'unregister');
    }
    return true;
  }

  private async doSignal(to: string, frame: string | ((from: string) => string)): Promise<SignalResult> {
    const m = this.membership;
    if (this.state !== 'joined' || !m) return 'not-joined';
    const channel = m.keys.memberChannel(to);
    const payload = SIGNAL_PREFIX + (typeof frame === 'string' ? frame : frame(m.name));
    try {
      // The hot path is this one PUBLISH; only a miss costs a second command.
      if ((await this.node.backend.publish(channel, payload)) > 0) return 'sent';
      const outcome = await this.node.backend.hold({
        membersKey: m.keys.members,
        holdKey: m.keys.holdKey(to),
        name: to,
        channel,
        payload,
        maxHeld: this.node.maxHeld,
        maxHeldBytes: this.node.maxHeldBytes,
        ttlMs: this.node.graceMs + this.node.leaseMs,
      });
      if (outcome === 'not-found') return 'peer-not-found';
      return outcome === 'full' ? 'peer-backlogged' : 'sent';
    } catch {
      return 'unavailable';
    }
  }


}
