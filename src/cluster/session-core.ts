import type { Logger } from 'pino';
import type { EndReason } from './backend.ts';
import { ownerTag } from './backend.ts';
import type { Namespace } from './keys.ts';
import type { Membership } from './membership.ts';
import { applyRoomEvent, encodeSnapshot, pendingFrames, reconcileReregistered } from './membership.ts';
import type { RoomEvent } from './bus-codec.ts';
import { encodeHandover } from './bus-codec.ts';
import type { ReregisterResult, SessionSink } from './session-types.ts';
import type { SessionHost } from './host.ts';
import { replayCatchUp } from './catch-up.ts';
import type { SignalOrder } from './signal-order.ts';

const SETTLED: Promise<unknown> = Promise.resolve();
import type { LifecycleEvent, LifecycleState } from './lifecycle.ts';
import { bufferOf, holdsMembership, IDLE, liveRule, next } from './lifecycle.ts';

/**
 * The side of a session the dyno drives: bus messages routed to it (frames, room events,
 * hand-overs, removal and replacement notices), bus recovery (buffering, catch-up, audits
 * while the bus is down), re-registration, and the endings a membership meets elsewhere.
 * Everything that changes the membership runs one at a time in arrival order in one queue
 * (serial). The client's side (join, signal, leave...) is Session, in session.ts.
 */
export class SessionCore {
  readonly connectionId: string;
  readonly owner: string;
  /** Where the membership is (lifecycle.ts): changed only through move(). */
  protected life: LifecycleState = IDLE;
  protected membership: Membership | null = null;
  /** The last queued operation; a shared settled promise while nothing is queued (an idle member holds none). */
  protected tail: Promise<unknown> = SETTLED;
  protected queued = 0;
  /** Made at the first signal: most members of a dyno are idle and never send one. */
  protected order: SignalOrder | undefined;
  protected readonly node: SessionHost<SessionCore>;
  protected readonly namespace: Namespace;
  protected readonly sink: SessionSink;
  protected readonly log: Logger;

  constructor(node: SessionHost<SessionCore>, namespace: Namespace, connectionId: string, sink: SessionSink, log: Logger) {
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
    return holdsMembership(this.life);
  }

  /** Applies a lifecycle event; false when it means nothing in the current state. */
  protected move(event: LifecycleEvent): boolean {
    const after = next(this.life, event);
    if (after) this.life = after;
    return after !== null;
  }

  /** The hash of the current resume secret (kept so a re-registration keeps it valid). */
  protected secretHash = '';

  /** Called by the node for a frame published to the whole room (Tag.RoomFrame in bus-codec.ts). */
  roomFrame(from: string, frame: string): void {
    if (from === this.membership?.name) return;
    this.frame(frame);
  }

  /** Puts this membership back in the backend (see SignalingNode.requestRestore). */
  reregister(): Promise<ReregisterResult> {
    return this.serial(() => this.doReregister());
  }

  /**
   * The bus lost this member's channel and is re-subscribing it: from now on frames and
   * events wait in the state's buffer, so what was held meanwhile can be handed over before them.
   */
  bufferLive(): void {
    if (this.membership) this.move({ type: 'buffer' });
  }

  /** Replays the buffer through `replay`, which returns what is still to wait (null: nothing). */
  protected drain(replay: (pending: readonly (RoomEvent | string)[]) => Array<RoomEvent | string> | null): void {
    const rest = replay(bufferOf(this.life)?.items ?? []);
    this.move({ type: 'drained', rest });
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
      if (!m || !holdsMembership(this.life)) return [];
      let caught;
      try {
        caught = await this.node.backend.catchUp(m.ref, this.owner, [...m.known.keys()]);
      } catch (error) {
        this.drain((pending) => replayCatchUp(m, null, pending, m.delivery));
        throw error;
      }
      if (this.membership !== m || !holdsMembership(this.life)) return [];
      if ('ended' in caught) {
        this.drain((pending) => replayCatchUp(m, null, pending, m.delivery));
        // A notice missed while the bus was away (removed, resumed elsewhere, swept).
        if (caught.ended) this.endFor(caught.ended);
        return [];
      }
      this.drain((pending) => replayCatchUp(m, caught, pending, m.delivery));
      if (!bySubscriberDrop) return [];
      const peers = [...m.known.keys()];
      if (peers.length > 0) this.sink.signalsLost?.(peers);
      return peers;
    });
  }

  /**
   * While this member's channel has no subscription (the bus is down), notices on it cannot
   * arrive: asks the store whether the membership ended (removed, resumed elsewhere, swept)
   * and ends it here if so. Rejects when the backend cannot be reached.
   */
  audit(): Promise<void> {
    return this.serial(async () => {
      const m = this.membership;
      if (!m || !holdsMembership(this.life)) return;
      const status = await this.node.backend.memberStatus(m.ref, this.owner);
      if (this.membership === m && typeof status === 'object') this.endFor(status.ended);
    });
  }

  /** Ends this session for a membership that ended elsewhere; runs in the queue. */
  protected endFor(reason: EndReason): void {
    if (reason === 'replaced') this.endReplaced();
    else if (reason === 'removed') this.endTakenAway('removed', () => this.sink.removed?.());
    else this.endTakenAway(reason, () => this.sink.ended?.(reason));
  }

  /** Where this member's frames are published, once joined. */
  get memberChannel(): string | undefined {
    return holdsMembership(this.life) ? this.membership?.memberChannel : undefined;
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

  /** Called by the node for events on this session's room channel. */
  roomEvent(event: RoomEvent): void {
    const m = this.membership;
    if (!m) return;
    const rule = liveRule(this.life);
    if (rule === 'buffer') bufferOf(this.life)?.items.push(event);
    else if (rule === 'deliver') applyRoomEvent(m, event, m.delivery);
  }

  /** Called by the node for a frame published on this member's channel. */
  frame(frame: string): void {
    const m = this.membership;
    if (!m) return;
    const rule = liveRule(this.life);
    if (rule === 'buffer') bufferOf(this.life)?.items.push(frame);
    // The socket is closing but close() has not run yet: keep this and what follows for it.
    else if (rule === 'deliver' && !m.delivery.deliver(frame)) this.move({ type: 'refused', frame });
  }

  /** Called by the node for a frame on the member channel while still registering. */
  earlyFrame(frame: string): void {
    this.move({ type: 'early-frame', frame });
  }

  /**
   * Called by the node for a removal notice on the member channel while still registering:
   * the removal ran after our registration, whose reply has not arrived yet. Enforced once
   * the join is done.
   */
  earlyRemoved(owner: string): void {
    if (owner === this.owner) this.move({ type: 'removed-early' });
  }

  /** Called by the node for a hand-over on the member channel (handover.ts): a resume's buffer holds its inbox. */
  handover(from: string, entries: string[]): void {
    if (from !== this.owner) bufferOf(this.life)?.handover?.offer(from, entries);
  }

  /**
   * The membership was taken over before this dyno stored what reached it after the drop:
   * publish it to the new holder, with what the client had been told. Empty hand-overs are
   * sent too, so the new holder need not wait out its deadline.
   */
  protected handOver(m: Membership, waiting = bufferOf(this.life)?.items ?? []): void {
    if (this.life.phase === 'handing-over' && this.life.handedOver) return;
    this.move({ type: 'handed-over' });
    const frames = pendingFrames(m, waiting);
    this.node.backend.publish(m.memberChannel, encodeHandover(this.owner, [encodeSnapshot(m), ...frames])).catch((error: unknown) => {
      this.log.warn(
        { conn: this.connectionId, err: error, frames: frames.length },
        'could not hand frames over to the connection that resumed this member; its client is told signals may be lost',
      );
    });
  }

  /**
   * Called by the node when this membership was resumed on another connection. Queued like
   * every change: a disconnect already running finishes first (its suspend then finds the
   * membership moved on), and the subscriptions are given back once.
   */
  replaced(): void {
    if (!this.move({ type: 'taken', reason: 'replaced' })) return;
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
    if (!this.move({ type: 'taken', reason: 'removed' })) return;
    // The record is gone already: nothing to hand over, only our side to end.
    void this.serial(async () => this.endTakenAway('removed', () => this.sink.removed?.()));
  }

  /** Ends this session for a membership another connection holds now; runs in the queue. */
  protected endReplaced(): void {
    const m = this.membership;
    this.move({ type: 'taken', reason: 'replaced' });
    if (m) this.handOver(m);
    this.endTakenAway('replaced', () => this.sink.replaced?.());
  }

  /**
   * Ends this session for a membership the backend no longer gives it (resumed elsewhere,
   * or removed by the application), then tells the client through `tell`.
   */
  protected endTakenAway(reason: EndReason, tell: () => void): void {
    const m = this.membership;
    this.move({ type: 'taken', reason });
    this.move({ type: 'closed' });
    this.membership = null;
    if (m) {
      void this.detach(m);
      // The record is not ours any more; only our index entry is left to forget.
      void this.node.retire({ ref: m.ref, owner: this.owner, step: 'unindex' });
    }
    this.node.forget(this);
    tell();
  }

  protected serial<T>(operation: () => Promise<T>): Promise<T> {
    this.queued++;
    const run = this.tail.then(operation).finally(() => {
      if (--this.queued === 0) this.tail = SETTLED;
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  protected detach(m: Membership): Promise<void> {
    this.node.routes.detachMember(m.memberChannel, this);
    this.node.routes.detachRoom(m.keys.events, this);
    return m.subscriptions.release();
  }

  /**
   * Unsubscribes first and detaches after: until the backend confirms, frames already
   * counted as delivered to this dyno still arrive, and they must land in `pending`.
   */
  protected async detachAfterUnsubscribe(m: Membership): Promise<void> {
    await m.subscriptions.release();
    this.node.routes.detachMember(m.memberChannel, this);
    this.node.routes.detachRoom(m.keys.events, this);
  }

  protected async doReregister(): Promise<ReregisterResult> {
    const m = this.membership;
    if (!holdsMembership(this.life) || !m) return 'skipped';
    const { backend, nodeId } = this.node;
    try {
      await backend.indexMember(nodeId, m.ref, this.owner);
      const highestKnownSeq = Math.max(m.seq, ...m.known.values());
      const outcome = await backend.reregister({
        ...m.ref,
        seq: m.seq,
        owner: this.owner,
        secretHash: this.secretHash,
        graceMs: 0,
        highestKnownSeq,
        info: m.info,
      });
      if (outcome.status === 'clash') {
        this.log.warn(
          { conn: this.connectionId, member: m.name },
          'after the backend lost this member, another connection took its name; closing ours',
        );
        this.endReplaced();
        return 'clash';
      }
      if (outcome.status === 'ended') {
        // Its peers heard it leave (or it is someone else's now): it is never put back.
        this.log.warn(
          { conn: this.connectionId, member: m.name, reason: outcome.reason },
          'this membership ended while this dyno was cut off; closing the connection so its client joins again',
        );
        this.endFor(outcome.reason);
        return 'ended';
      }
      // A closing socket (buffering) hears nothing more; its snapshot must not claim it did.
      reconcileReregistered(m, outcome.seq, outcome.peers, bufferOf(this.life) ? null : m.delivery);
      return outcome.status;
    } catch (error) {
      this.log.warn({ conn: this.connectionId, err: error }, 're-registration failed');
      return 'failed';
    }
  }
}
