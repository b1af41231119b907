import type { Logger } from 'pino';
import type { Backend } from './backend.ts';
import { ownerNode } from './backend.ts';
import type { Namespace, RoomKeys } from './keys.ts';
import type { CleanupJob } from './cleanup-queue.ts';
import { CleanupQueue } from './cleanup-queue.ts';
import { decodeHandover, decodeRoomEvent, decodeRoomFrame, encodeBus, encodeSignal, Tag } from './bus-codec.ts';
import type { SessionSink } from './session.ts';
import type { SessionHandle } from './session.ts';
import { Session } from './session.ts';
import type { SessionCore } from './session-core.ts';
import type { SessionHost } from './host.ts';
import { Routes } from './routes.ts';
import { SubscriptionSet } from './subscription-set.ts';
import { BusRecovery } from './bus-recovery.ts';
import { DEFAULTS } from '../config/defaults.ts';

/** A re-registration that partly failed runs again after this long. */
const RESTORE_RETRY_MS = 1000;
/** How often settled() looks whether every session has closed. */
const SETTLED_POLL_MS = 20;

/** Receives what is published on a channel an adapter listens to (SignalingNode.listen). */
export type ChannelListener = (payload: string) => void;

/** How often members cut off from the bus ask the store whether their membership ended. */
const BUS_GAP_AUDIT_MS = 1000;

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
  /**
   * How long a resume that found its previous connection not yet suspended waits for that
   * dyno's hand-over before replaying without it (HANDOVER_TIMEOUT_MS, handover.ts).
   */
  handoverTimeoutMs?: number;
  logger: Logger;
}

/**
 * The cluster core of one dyno: its local sessions and the routing of bus messages to them,
 * plus the timers that end grace periods. It knows nothing of WebSockets or of Redis;
 * protocol adapters create sessions, backends carry the messages.
 */
export class SignalingNode implements SessionHost<SessionCore> {
  readonly nodeId: string;
  readonly prefix: string;
  readonly maxRoomSize: number;
  readonly graceMs: number;
  readonly leaseMs: number;
  readonly maxHeld: number;
  readonly maxHeldBytes: number;
  readonly handoverTimeoutMs: number;
  readonly subscriptions: SubscriptionSet;
  readonly backend: Backend;
  /** Where bus messages go (member channels, joining sessions, rooms). */
  readonly routes = new Routes<SessionCore>();
  /** Channel -> adapters' own listeners (y-webrtc topics, PeerJS ids awaited): see listen(). */
  private readonly listeners = new Map<string, Set<ChannelListener>>();
  /** Connection id -> every open local session. */
  private readonly sessions = new Map<string, SessionCore>();
  private readonly cleanups: CleanupQueue;
  /** The re-registration running now, and whether another was asked for meanwhile. */
  private restoring: Promise<void> | null = null;
  private restoreAgain = false;
  private restoreTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly log: Logger;
  private readonly recovery: BusRecovery;
  private readonly auditTimer: NodeJS.Timeout;
  private auditing: Promise<void> | null = null;

  constructor(backend: Backend, options: SignalingNodeOptions) {
    this.backend = backend;
    this.nodeId = options.nodeId;
    this.prefix = options.prefix;
    this.maxRoomSize = options.maxRoomSize;
    this.graceMs = options.graceMs;
    this.leaseMs = options.leaseMs;
    this.maxHeld = options.maxHeld;
    this.maxHeldBytes = options.maxHeldBytes ?? DEFAULTS.maxHeldBytes;
    this.handoverTimeoutMs = options.handoverTimeoutMs ?? DEFAULTS.handoverTimeoutMs;
    this.log = options.logger;
    this.subscriptions = new SubscriptionSet(backend, (error) =>
      this.log.warn({ err: error }, 'unsubscribe failed; the backend drops it when the connection resets'),
    );
    this.cleanups = new CleanupQueue(backend, { nodeId: this.nodeId, graceMs: this.graceMs, leaseMs: this.leaseMs, logger: this.log });
    backend.onMessage((channel, payload) => this.route(channel, payload));
    backend.onReconnect(() => this.requestRestore('the backend reconnected'));
    this.recovery = new BusRecovery(this, this.log);
    backend.onBusReset((affected) => void this.recovery.reset(affected));
    this.auditTimer = setInterval(() => this.auditCutOff(), BUS_GAP_AUDIT_MS);
    this.auditTimer.unref();
  }

  /**
   * While the bus is down for some member channels, a removal or a resume elsewhere cannot
   * reach us as a notice: every second, each member whose channel is lost asks the store
   * instead (one read-only script each, only during the outage), so a removed member is
   * closed within seconds whatever the bus does.
   */
  private auditCutOff(): void {
    const down = this.backend.busGaps();
    const recovering = this.recovery.recovering();
    if ((!down && !recovering) || this.auditing) return;
    const gaps = (channel: string): boolean => (down?.(channel) ?? false) || (recovering?.(channel) ?? false);
    const sessions = [...this.routes.members].filter(([channel]) => gaps(channel)).map(([, session]) => session);
    this.auditing = Promise.all(sessions.map((session) => session.audit().catch(() => undefined))).then(() => {
      this.auditing = null;
    });
  }

  /** Local joined sessions by member channel (bus recovery walks them). */
  memberSessions(): IterableIterator<[string, SessionCore]> {
    return this.routes.members.entries();
  }

  /** A session for a protocol adapter, which sees only its side of it (SessionHandle). */
  createSession(namespace: Namespace, connectionId: string, sink: SessionSink, logger: Logger): SessionHandle {
    const session = new Session(this, namespace, connectionId, sink, logger);
    this.sessions.set(connectionId, session);
    return session;
  }

  /** Rooms with at least one local session, for metrics. */
  get localRooms(): number {
    return this.routes.rooms.size;
  }

  get localMembers(): number {
    return this.routes.members.size;
  }

  forget(session: SessionCore): void {
    if (this.sessions.get(session.connectionId) === session) this.sessions.delete(session.connectionId);
  }

  /** A membership moved to `current`: the connection that held it before must go. */
  replaceElsewhere(channel: string, previousOwner: string, current: SessionCore): void {
    if (ownerNode(previousOwner) === this.nodeId) {
      const old = this.sessions.get(previousOwner.slice(this.nodeId.length + 1));
      if (old && old !== current) old.replaced();
      return;
    }
    // The old dyno still subscribes to the member channel if its socket looks alive to it.
    this.backend.publish(channel, encodeBus({ tag: Tag.Replaced, owner: previousOwner })).catch(() => undefined);
  }

  /**
   * Hands a registration no session holds any more to the cleanup queue (see
   * cleanup-queue.ts): removed, expired or forgotten, retried until the backend confirms.
   * Resolves after the first attempt.
   */
  retire(job: CleanupJob, delayMs = 0): Promise<void> {
    return this.cleanups.schedule(job, delayMs);
  }

  /** Registrations waiting for their cleanup (for tests and metrics). */
  get pendingCleanups(): number {
    return this.cleanups.size;
  }

  /**
   * Puts every local member back: after a reconnect (Redis may have restarted empty), a
   * cluster shard change, or a lease that ran out (survivors may have swept us). Idempotent;
   * runs one at a time, and again when asked meanwhile or when part of it failed.
   */
  requestRestore(reason: string): void {
    if (this.stopped) return;
    if (this.restoring) {
      this.restoreAgain = true;
      return;
    }
    this.restoring = this.restore(reason).finally(() => {
      this.restoring = null;
      if (this.restoreAgain) {
        this.restoreAgain = false;
        this.requestRestore(reason);
      }
    });
  }

  private async restore(reason: string): Promise<void> {
    // Each session re-registers in its own queue, so a leave or a drop that comes meanwhile
    // runs before or after it, never against a stale copy of its state.
    const outcomes = await Promise.all([...this.sessions.values()].map((session) => session.reregister()));
    const suspended = await Promise.all(
      this.cleanups.suspended().map(async ({ job, entry }) => {
        try {
          await this.backend.indexMember(this.nodeId, entry, entry.owner);
          const { status } = await this.backend.reregister(entry);
          // Its expiry ran meanwhile: what was just put back must go again, or it stays a ghost.
          if (status !== 'clash' && status !== 'ended' && !this.cleanups.has(job)) void this.retire({ ...job, step: 'expire' });
          return status;
        } catch {
          return 'failed' as const;
        }
      }),
    );
    const count = (status: string): number => [...outcomes, ...suspended].filter((o) => o === status).length;
    const failed = count('failed');
    const summary = {
      reason,
      kept: count('kept'),
      renumbered: count('renumbered'),
      ended: count('ended'),
      clashes: count('clash'),
      failed,
    };
    if (failed > 0) {
      this.log.warn(summary, 're-registration partly failed; retrying in a second');
      clearTimeout(this.restoreTimer);
      this.restoreTimer = setTimeout(() => this.requestRestore(reason), RESTORE_RETRY_MS);
      this.restoreTimer.unref();
    } else {
      this.log.info(summary, 'local members re-registered');
    }
  }

  /**
   * Hands every payload published on `channel` to `listener` (besides any session routed
   * on it) until unlisten(). The subscription is shared and counted with the sessions' own,
   * and re-made after a bus reset like theirs. Rejects (holding nothing) when the backend
   * cannot subscribe.
   */
  async listen(channel: string, listener: ChannelListener): Promise<void> {
    let set = this.listeners.get(channel);
    if (!set) this.listeners.set(channel, (set = new Set()));
    set.add(listener);
    try {
      await this.subscriptions.acquire([channel]);
    } catch (error) {
      this.dropListener(channel, listener);
      throw error;
    }
  }

  unlisten(channel: string, listener: ChannelListener): void {
    if (this.dropListener(channel, listener)) void this.subscriptions.release([channel]);
  }

  private dropListener(channel: string, listener: ChannelListener): boolean {
    const set = this.listeners.get(channel);
    if (!set?.delete(listener)) return false;
    if (set.size === 0) this.listeners.delete(channel);
    return true;
  }

  /** Resolves once every session has closed (or after `timeoutMs`). */
  async settled(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.sessions.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, SETTLED_POLL_MS));
  }

  /** Stops grace timers and cleanups, now and later (the process is exiting; survivors sweep what is left). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.restoreTimer);
    clearInterval(this.auditTimer);
    this.cleanups.stop();
  }

  /**
   * Puts `frame` on the member channel of `to` in the room of `keys`: the one PUBLISH of the
   * hot path, and only when it reaches nobody the hold script (held while `to` reconnects,
   * or `not-found`, or `full`). Used for members' signals and the server API's messages.
   * Rejects when the backend cannot be reached.
   */
  async sendTo(keys: RoomKeys, to: string, frame: string): Promise<'sent' | 'not-found' | 'full'> {
    const channel = keys.memberChannel(to);
    const payload = encodeSignal(frame);
    if ((await this.backend.publish(channel, payload)) > 0) return 'sent';
    const outcome = await this.backend.hold({
      membersKey: keys.members,
      holdKey: keys.holdKey(to),
      name: to,
      channel,
      payload,
      maxHeld: this.maxHeld,
      maxHeldBytes: this.maxHeldBytes,
      ttlMs: this.graceMs + this.leaseMs,
    });
    return outcome === 'not-found' || outcome === 'full' ? outcome : 'sent';
  }

  private handover(payload: string, sessions: Iterable<SessionCore>): void {
    const handover = decodeHandover(payload);
    if (!handover) {
      this.log.warn('dropped a malformed hand-over');
      return;
    }
    for (const session of sessions) session.handover(handover.owner, handover.frames);
  }

  private route(channel: string, payload: string): void {
    const listening = this.listeners.get(channel);
    if (listening) for (const listener of listening) listener(payload);
    const member = this.routes.members.get(channel);
    if (member) {
      if (payload.startsWith(Tag.Signal)) member.frame(payload.slice(Tag.Signal.length));
      else if (payload === Tag.DrainRequest) this.recovery.drain(member);
      else if (payload.startsWith(Tag.Replaced) && payload.slice(Tag.Replaced.length) === member.owner) member.replaced();
      else if (payload.startsWith(Tag.Handover)) this.handover(payload, [member]);
      else if (payload.startsWith(Tag.Removed) && payload.slice(Tag.Removed.length) === member.owner) member.removed();
      return;
    }
    const joining = this.routes.joining.get(channel);
    if (joining) {
      if (payload.startsWith(Tag.Signal)) for (const session of joining) session.earlyFrame(payload.slice(Tag.Signal.length));
      else if (payload.startsWith(Tag.Handover)) this.handover(payload, joining);
      else if (payload.startsWith(Tag.Removed)) for (const session of joining) session.earlyRemoved(payload.slice(Tag.Removed.length));
      return;
    }
    const sessions = this.routes.rooms.get(channel);
    if (!sessions) return;
    if (payload.startsWith(Tag.RoomFrame)) {
      const roomFrame = decodeRoomFrame(payload);
      if (roomFrame) for (const session of sessions) session.roomFrame(roomFrame.from, roomFrame.frame);
      return;
    }
    const event = decodeRoomEvent(payload);
    if (!event) {
      this.log.warn({ channel }, 'dropped a malformed room event');
      return;
    }
    for (const session of sessions) session.roomEvent(event);
  }
}
