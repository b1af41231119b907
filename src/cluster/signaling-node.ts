import type { Logger } from 'pino';
import type { Backend, MemberRef, ReregisterEntry } from './backend.ts';
import { ownerNode } from './backend.ts';
import type { Namespace } from './keys.ts';
import { RoomKeys } from './keys.ts';
import { decodeRoomEvent, DRAIN_REQUEST, encodeRoomEvent, REPLACED_PREFIX, SIGNAL_PREFIX } from './room-events.ts';
import type { SessionSink } from './session.ts';
import { Session } from './session.ts';
import { SubscriptionSet } from './subscription-set.ts';
import { BusRecovery } from './bus-recovery.ts';

export interface SignalingNodeOptions {
  /** Identifies this dyno in owner tags, leases and its private channel. */
  nodeId: string;
  /** Prefix of every backend key and channel. */
  prefix: string;
  /** Members a room may hold. */
  maxRoomSize: number;
  /** How long a dropped member stays registered, waiting to resume (0 = leave at once). */
  graceMs: number;
  /** Lease of a dyno: survivors sweep its members once it runs out. */
  leaseMs: number;
  /** Signals held at most for one reconnecting member. */
  maxHeld: number;
  /** Bytes held at most for one reconnecting member (MAX_HELD_BYTES). */
  maxHeldBytes?: number;
  logger: Logger;
}

/**
 * The cluster core of one dyno: its local sessions and the routing of bus messages to them,
 * plus the timers that end grace periods. It knows nothing of WebSockets or of Redis;
 * protocol adapters create sessions, backends carry the messages.
 */
export class SignalingNode {
  readonly nodeId: string;
  readonly prefix: string;
  readonly maxRoomSize: number;
  readonly graceMs: number;
  readonly leaseMs: number;
  readonly maxHeld: number;
  readonly maxHeldBytes: number;
  readonly subscriptions: SubscriptionSet;
  readonly backend: Backend;
  /** Member channel -> the local session registered under it. */
  private readonly members = new Map<string, Session>();
  /** Member channel -> local sessions subscribed to it but not registered yet. */
  private readonly joining = new Map<string, Set<Session>>();
  /** Room events channel -> local sessions joined to (or joining) that room. */
  private readonly rooms = new Map<string, Set<Session>>();
  /** Connection id -> every open local session. */
  private readonly sessions = new Map<string, Session>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly log: Logger;
  private readonly recovery: BusRecovery;

  constructor(backend: Backend, options: SignalingNodeOptions) {
    this.backend = backend;
    this.nodeId = options.nodeId;
    this.prefix = options.prefix;
    this.maxRoomSize = options.maxRoomSize;
    this.graceMs = options.graceMs;
    this.leaseMs = options.leaseMs;
    this.maxHeld = options.maxHeld;
    this.maxHeldBytes = options.maxHeldBytes ?? 512 * 1024;
    this.log = options.logger;
    this.subscriptions = new SubscriptionSet(backend, (error) =>
      this.log.warn({ err: error }, 'unsubscribe failed; the backend drops it when the connection resets'),
    );
    backend.onMessage((channel, payload) => this.route(channel, payload));
    backend.onReconnect(() => void this.restore());
    this.recovery = new BusRecovery(this, this.log);
    backend.onBusReset((affected) => void this.recovery.reset(affected));
  }

  /** Local joined sessions by member channel (bus recovery walks them). */
  memberSessions(): IterableIterator<[string, Session]> {
    return this.members.entries();
  }

  createSession(namespace: Namespace, connectionId: string, sink: SessionSink, logger: Logger): Session {
    const session = new Session(this, namespace, connectionId, sink, logger);
    this.sessions.set(connectionId, session);
    return session;
  }

  /** Rooms with at least one local session, for metrics. */
  get localRooms(): number {
    return this.rooms.size;
  }

  get localMembers(): number {
    return this.members.size;
  }

  forget(session: Session): void {
    if (this.sessions.get(session.connectionId) === session) this.sessions.delete(session.connectionId);
  }

  attachMember(channel: string, session: Session): void {
    this.members.set(channel, session);
  }

  detachMember(channel: string, session: Session): void {
    if (this.members.get(channel) === session) this.members.delete(channel);
  }

  /** Between subscribing and registering, frames on the channel go to `session.earlyFrame`. */
  attachJoining(channel: string, session: Session): void {
    let set = this.joining.get(channel);
    if (!set) this.joining.set(channel, (set = new Set()));
    set.add(session);
  }

  detachJoining(channel: string, session: Session): void {
    const set = this.joining.get(channel);
    if (set?.delete(session) && set.size === 0) this.joining.delete(channel);
  }

  attachRoom(channel: string, session: Session): void {
    let set = this.rooms.get(channel);
    if (!set) this.rooms.set(channel, (set = new Set()));
    set.add(session);
  }

  detachRoom(channel: string, session: Session): void {
    const set = this.rooms.get(channel);
    if (set?.delete(session) && set.size === 0) this.rooms.delete(channel);
  }

  /** A membership moved to `current`: the connection that held it before must go. */
  replaceElsewhere(channel: string, previousOwner: string, current: Session): void {
    if (ownerNode(previousOwner) === this.nodeId) {
      const old = this.sessions.get(previousOwner.slice(this.nodeId.length + 1));
      if (old && old !== current) old.replaced();
      return;
    }
    // The old dyno still subscribes to the member channel if its socket looks alive to it.
    this.backend.publish(channel, REPLACED_PREFIX + previousOwner).catch(() => undefined);
  }

  /**
   * Removes a member later: at the end of its grace ('expire': only if still suspended by
   * `owner`), or once the backend is back ('unregister'). Retries while the backend is away,
   * then tells the room.
   */
  removeLater(ref: MemberRef, owner: string, delayMs: number, mode: 'expire' | 'unregister'): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      const attempt = mode === 'expire' ? this.backend.expire(ref, owner) : this.backend.unregister(ref, owner);
      attempt
        .then((seq) => {
          if (seq === null) return;
          this.log.info({ member: ref.name }, 'grace over: member removed');
          return this.backend.publish(RoomKeys.eventsOf(ref.membersKey), encodeRoomEvent({ kind: 'left', seq, name: ref.name }));
        })
        .catch(() => this.removeLater(ref, owner, 1000, mode));
    }, delayMs);
    this.timers.add(timer);
  }

  /** After a backend reconnect, possibly to an empty Redis: put every local member back. */
  private async restore(): Promise<void> {
    const entries: ReregisterEntry[] = [];
    const byOwner = new Map<string, Session>();
    for (const session of this.sessions.values()) {
      const reg = session.registration;
      if (!reg) continue;
      entries.push({ ...reg.ref, seq: reg.seq, owner: session.owner, secretHash: session.secretHash });
      byOwner.set(session.owner, session);
    }
    try {
      await this.backend.renewLease(this.nodeId, this.leaseMs);
      const clashes = await this.backend.reregister(entries);
      await Promise.all(entries.map((e) => this.backend.indexMember(this.nodeId, e)));
      for (const clash of clashes) {
        this.log.warn({ member: clash.name }, 'after the backend restarted, another connection took this name; closing ours');
        byOwner.get(clash.owner)?.replaced();
      }
      this.log.info({ members: entries.length, clashes: clashes.length }, 'backend reconnected: local members re-registered');
    } catch (error) {
      this.log.warn({ err: error }, 're-registration failed; will retry on the next reconnect');
    }
  }

  /** Resolves once every session has closed (or after `timeoutMs`). */
  async settled(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.sessions.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  }

  /** Stops grace timers (the process is exiting; survivors sweep what is left). */
  stop(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private route(channel: string, payload: string): void {
    const member = this.members.get(channel);
    if (member) {
      if (payload.startsWith(SIGNAL_PREFIX)) member.frame(payload.slice(SIGNAL_PREFIX.length));
      else if (payload === DRAIN_REQUEST) this.recovery.drain(member);
      else if (payload.startsWith(REPLACED_PREFIX) && payload.slice(REPLACED_PREFIX.length) === member.owner) member.replaced();
      return;
    }
    const joining = this.joining.get(channel);
    if (joining) {
      if (payload.startsWith(SIGNAL_PREFIX)) for (const session of joining) session.earlyFrame(payload.slice(SIGNAL_PREFIX.length));
      return;
    }
    const sessions = this.rooms.get(channel);
    if (!sessions) return;
    const event = decodeRoomEvent(payload);
    if (!event) {
      this.log.warn({ channel }, 'dropped a malformed room event');
      return;
    }
    for (const session of sessions) session.roomEvent(event);
  }
}
