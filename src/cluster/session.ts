import type { MemberRef } from './backend.ts';
import type { Unconfirmed } from './delivery.ts';
import { Delivery } from './delivery.ts';
import { RoomKeys } from './keys.ts';
import { hashResumeSecret, newResumeSecret } from './resume-secret.ts';
import type { Membership } from './membership.ts';
import { encodeSnapshot, flushPending, pendingFrames, replayResume } from './membership.ts';
import { encodeRoomEvent, encodeRoomFrame } from './bus-codec.ts';
import type { Metadata } from '../protocol/messages.ts';
import type { BroadcastResult, CloseReason, JoinAuthorizer, JoinOptions, JoinResult, SignalResult } from './session-types.ts';
import type { JoiningKept } from './lifecycle.ts';
import { bufferOf, holdsMembership, joiningKept, takenOrEnded } from './lifecycle.ts';
import { SessionCore } from './session-core.ts';
import { Pacer } from './pacer.ts';
import { SignalOrder } from './signal-order.ts';

/**
 * Clean-ups after dropped connections (suspend or leave) are paced, as a dyno's members often
 * drop together. Twice the pacer's default in flight: each awaits two commands in turn (the
 * unsubscribe, then its script), so about as many wait at Redis ahead of live signals as for
 * other paced work.
 */
const DEPARTURES_IN_FLIGHT = 64;
const departures = new Pacer({ inFlight: DEPARTURES_IN_FLIGHT });

export type { BroadcastResult, CloseReason, JoinAuthorizer, JoinInfo, JoinResult, SessionSink, SignalResult } from './session-types.ts';

/**
 * What a protocol adapter sees of its session: its side of the membership. What the node
 * and bus recovery call (routing, re-registration, catch-up, hand-over) is not on it.
 */
export type SessionHandle = Pick<Session, 'room' | 'name' | 'isJoined' | 'join' | 'confirm' | 'signal' | 'broadcast' | 'leave' | 'close'>;

/**
 * One connection's membership, transport- and protocol-neutral: the client's side (join,
 * signal, broadcast, leave, close) on top of SessionCore, the dyno's side. Signals skip the
 * queue when nothing is queued, so a burst of ICE candidates is pipelined instead of waiting
 * a round trip each.
 */
export class Session extends SessionCore {
  /**
   * `authorize` is asked before a new membership starts (never for a resume that finds its
   * own). `lastSeq`: the client numbers frames (delivery.ts) and processed those up to it.
   * `secret`: the resume secret to keep instead of a fresh one, for protocols whose client
   * chooses it (a PeerJS token); absent, the server mints one.
   */
  join(
    room: string,
    name: string,
    resume?: string,
    authorize?: JoinAuthorizer,
    metadata: Metadata = {},
    options: JoinOptions = {},
  ): Promise<JoinResult> {
    return this.serial(() => this.doJoin(room, name, resume, authorize, metadata, options));
  }

  /**
   * The client sent something: if a `joined` went out before, it got it (and every frame
   * written before it), so nothing needs keeping for a `joined` lost in a dying socket.
   */
  confirm(): void {
    const delivery = this.membership?.delivery;
    if (delivery?.unconfirmed && this.life.phase === 'joined') delivery.confirm();
  }

  /**
   * Sends `frame` (built from the sender's name, when the broadcast runs) to every other
   * member of the room: one publish on the room's events channel, whoever holds them.
   */
  broadcast(frame: (from: string) => string): Promise<BroadcastResult> {
    if (this.queued === 0) return this.doBroadcast(frame);
    return this.serial(() => this.doBroadcast(frame));
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

  /** The connection is gone: leave (or start the grace period) and refuse everything after. */
  close(reason: CloseReason = 'leave'): Promise<boolean> {
    // From now on nothing reaches the dead socket: frames wait in the closing state's buffer until the grace starts.
    if (reason === 'disconnect') this.move({ type: 'socket-closed' });
    return this.serial(async () => {
      const left = await departures.run(() => this.doLeave(reason));
      this.move({ type: 'closed' });
      this.node.forget(this);
      return left;
    });
  }

  private async doJoin(
    room: string,
    name: string,
    resume: string | undefined,
    authorize: JoinAuthorizer | undefined,
    metadata: Metadata,
    { lastSeq, secret: given }: JoinOptions,
  ): Promise<JoinResult> {
    if (holdsMembership(this.life)) return { ok: false, code: 'already-joined' };
    if (takenOrEnded(this.life)) return { ok: false, code: 'unavailable' };
    const keys = new RoomKeys(this.node.prefix, this.namespace, room);
    const ref: MemberRef = { membersKey: keys.members, holdKey: keys.holdKey(name), name };
    const memberChannel = keys.memberChannel(name);
    const delivery = new Delivery(this.sink, lastSeq !== undefined);
    const m: Membership = {
      room,
      name,
      keys,
      ref,
      memberChannel,
      seq: 0,
      known: new Map(),
      info: { metadata, joinedAt: Date.now() },
      delivery,
      subscriptions: this.node.subscriptions.lease([keys.events, memberChannel]),
    };
    this.move({ type: 'join', resume: resume !== undefined });
    this.membership = m;
    // Room events are heard from before registration on, so none published after our seq
    // was assigned can be missed; the seq filter in applyRoomEvent() drops the ones from before.
    this.node.routes.attachRoom(keys.events, this);
    // A resumed member's peers keep signalling it: what arrives before the takeover is its.
    this.node.routes.attachJoining(memberChannel, this);
    try {
      await m.subscriptions.acquire();
    } catch (error) {
      this.node.routes.detachJoining(memberChannel, this);
      this.node.routes.detachRoom(keys.events, this);
      this.membership = null;
      this.move({ type: 'join-failed' });
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
    const secret = given ?? newResumeSecret();
    const secretHash = hashResumeSecret(secret);
    if (resume !== undefined) {
      let result: JoinResult | 'gone';
      try {
        result = await this.takeOver(m, hashResumeSecret(resume), secret, secretHash, lastSeq);
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
      const check = await authorize().catch((error: unknown) => ({
        ok: false as const,
        reason: `the token could not be checked (${String(error)})`,
      }));
      if (!check.ok) return this.fail(m, { ok: false, code: 'unauthorized', reason: check.reason }, 'unindex');
      // A trusted claim (TOKEN_SECRET) replaces whatever the client sent.
      if (check.metadata !== undefined) m.info.metadata = check.metadata;
    }
    const peerMetadata = new Map<string, Metadata>();
    try {
      const outcome = await this.node.backend.register({
        ...ref,
        owner: this.owner,
        secretHash,
        maxRoomSize: this.node.maxRoomSize,
        info: m.info,
      });
      if (!outcome.ok) return this.fail(m, outcome.reason, 'unindex');
      this.secretHash = secretHash;
      m.seq = outcome.seq;
      for (const peer of outcome.peers) {
        m.known.set(peer.name, peer.seq);
        peerMetadata.set(peer.name, peer.metadata ?? {});
      }
      // Our member channel was subscribed before registering, so an offer can only reach
      // us once peers hear this event: peer-joined must go out after the subscription.
      this.node.routes.detachJoining(memberChannel, this);
      this.node.routes.attachMember(memberChannel, this);
      await this.node.backend.publish(keys.events, encodeRoomEvent({ kind: 'joined', seq: m.seq, name, metadata: m.info.metadata }));
    } catch (error) {
      // The register may have run although its reply was lost: remove it, retrying until
      // the backend confirms, or the name would stay taken with nobody to free it.
      this.log.warn({ conn: this.connectionId, err: error }, 'join failed: backend unavailable');
      return this.fail(m, 'unavailable', 'unregister');
    }
    // A fresh member's early frames are dropped: its peers heard of it only just now.
    const { removedEarly } = this.registered();
    // A `joined` the socket refused (it closed meanwhile) never reached the client: it holds no
    // secret, so its membership ends with this connection instead of locking its name.
    const sent = this.sink.joined(room, name, [...m.known.keys()], { resume: secret, resumed: false, metadata: peerMetadata }) !== false;
    m.delivery.unconfirmed = { previousSecretHash: null, known: null, frames: [], joinedUnsent: !sent };
    this.drain((pending) => {
      flushPending(m, pending, m.delivery);
      return null;
    });
    this.enforceEarlyRemoval(m, removedEarly);
    return { ok: true, resumed: false };
  }

  /**
   * The registration is done: moves to `joined`, returning what the joining state kept.
   * Called after the member channel left the joining route, so nothing more is kept.
   */
  private registered(): JoiningKept {
    const kept = joiningKept(this.life);
    this.move({ type: 'registered' });
    return kept;
  }

  /** A removal notice that came while registering (earlyRemoved) ends the membership now. */
  private enforceEarlyRemoval(m: Membership, removedEarly: boolean): void {
    if (removedEarly && this.membership === m) this.endFor('removed');
  }

  /** Resumes the membership `previousHash` proves; 'gone' when its grace is over. */
  private async takeOver(
    m: Membership,
    previousHash: string,
    secret: string,
    secretHash: string,
    lastSeq: number | undefined,
  ): Promise<JoinResult | 'gone'> {
    const outcome = await this.node.backend.resume({ ...m.ref, secretHash: previousHash, owner: this.owner, newSecretHash: secretHash });
    if (!outcome.ok) return outcome.reason === 'gone' ? 'gone' : this.fail(m, 'name-taken', 'unindex');
    this.secretHash = secretHash;
    this.node.routes.detachJoining(m.memberChannel, this);
    this.node.routes.attachMember(m.memberChannel, this);
    this.node.replaceElsewhere(m.memberChannel, outcome.previousOwner, this);
    m.seq = outcome.seq;
    const { early, removedEarly } = this.registered();
    let handed: string[] | null = [];
    // Live frames and room events wait in the buffer meanwhile (carried from joining), and the
    // hand-over lands in its inbox, wherever a socket close or a removal moves it.
    if (outcome.previousConnected) {
      const inbox = bufferOf(this.life)?.handover;
      handed = inbox ? await inbox.wait(outcome.previousOwner, this.node.handoverTimeoutMs) : null;
    }
    const unconfirmed: Unconfirmed = { previousSecretHash: previousHash, known: null, frames: [] };
    m.delivery.unconfirmed = unconfirmed;
    // Until the client answers, it is taken to know only what it knew before this `joined`.
    unconfirmed.known = replayResume(
      m,
      [...(handed ?? []), ...outcome.held],
      early,
      outcome.peers,
      m.delivery,
      lastSeq === undefined ? { resume: secret } : { resume: secret, lastSeq },
    );
    // A drain request waits in the queue behind this replay: what arrives live until it runs
    // must stay behind the frame it hands over (catch-up.ts).
    const drainRequested = bufferOf(this.life)?.drainRequested === true;
    this.drain((pending) => {
      flushPending(m, pending, m.delivery);
      return drainRequested ? [] : null;
    });
    this.enforceEarlyRemoval(m, removedEarly);
    if (handed === null) {
      this.log.warn(
        { conn: this.connectionId, member: m.name },
        `no hand-over from the previous connection's dyno within ${this.node.handoverTimeoutMs} ms (it may have died); telling the client signals may be lost`,
      );
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
    this.node.routes.detachJoining(m.memberChannel, this);
    void this.detach(m);
    this.membership = null;
    if (!this.move({ type: 'join-failed' })) this.move({ type: 'left' });
    void this.node.retire({
      ref: m.ref,
      owner: this.owner,
      step: cleanup,
      ...(previousSecretHash ? { secretHash: previousSecretHash } : {}),
    });
    return typeof result === 'string' ? { ok: false, code: result } : result;
  }

  private async doLeave(reason: CloseReason): Promise<boolean> {
    const m = this.membership;
    // A membership taken meanwhile still ends here: what reached us is handed over.
    const taken = this.life.phase === 'handing-over';
    if (!m || !(holdsMembership(this.life) || taken)) return false;
    const node = this.node;
    const job = { ref: m.ref, owner: this.owner };
    // A first `joined` the socket refused: the client has no secret to resume with.
    const joinedUnsent = m.delivery.unconfirmed?.joinedUnsent === true;
    if (reason === 'disconnect' && node.graceMs > 0 && !taken && !joinedUnsent) {
      // Once the unsubscribe is done, signals for us are held by their senders' dynos; the
      // ones that reached us before that are handed to the backend with the snapshot.
      // Still closing until the unsubscribe is done: what arrives meanwhile waits for the suspend.
      await this.detachAfterUnsubscribe(m);
      const waiting = bufferOf(this.life)?.items ?? [];
      this.membership = null;
      this.move({ type: 'left' });
      const snapshot = encodeSnapshot(m);
      const frames = pendingFrames(m, waiting);
      try {
        const request = {
          ...m.ref,
          owner: this.owner,
          graceMs: node.graceMs,
          snapshot,
          frames,
          holdTtlMs: node.graceMs + node.leaseMs,
          secretHash: this.suspendSecret(m),
        };
        if (await node.backend.suspend(request)) {
          void node.retire(
            { ...job, step: 'expire', seq: m.seq, secretHash: this.secretHash, graceUntil: Date.now() + node.graceMs },
            node.graceMs,
          );
        } else {
          // Resumed elsewhere meanwhile: the record is another connection's, and what
          // reached us after the drop is its client's. (A hand-over published before `left`
          // kept this connection handing-over, which `left` does not change: not sent twice.)
          this.handOver(m, waiting);
          void node.retire({ ...job, step: 'unindex' });
        }
      } catch (error) {
        this.log.warn(
          { conn: this.connectionId, err: error },
          'could not start the grace period (backend unavailable); removing the member when it is back',
        );
        void node.retire({ ...job, step: 'unregister' }, node.graceMs);
      }
      return true;
    }
    this.move({ type: 'left' });
    this.membership = null;
    if (taken) this.handOver(m);
    void this.detach(m);
    // Removed and announced in one script; retried (idempotently) until the backend confirms.
    await node.retire({ ...job, step: 'unregister' });
    return true;
  }

  /**
   * The secret a suspended membership keeps: only the new one once the client proved it has
   * it, else both, as RESUME wrote them ('' keeps the stored field).
   */
  private suspendSecret(m: Membership): string {
    return m.delivery.unconfirmed ? '' : this.secretHash;
  }

  private async doBroadcast(frame: (from: string) => string): Promise<BroadcastResult> {
    const m = this.membership;
    if (!holdsMembership(this.life) || !m) return 'not-joined';
    try {
      await this.node.backend.publish(m.keys.events, encodeRoomFrame(m.name, frame(m.name)));
      return 'sent';
    } catch {
      return 'unavailable';
    }
  }

  private async doSignal(to: string, frame: string | ((from: string) => string)): Promise<SignalResult> {
    const m = this.membership;
    if (!holdsMembership(this.life) || !m) return 'not-joined';
    try {
      const outcome = await this.node.sendTo(m.keys, to, typeof frame === 'string' ? frame : frame(m.name));
      if (outcome === 'not-found') return 'peer-not-found';
      return outcome === 'full' ? 'peer-backlogged' : 'sent';
    } catch {
      return 'unavailable';
    }
  }
}
