import type { Logger } from 'pino';
import type { Backend } from './backend.ts';
import type { Namespace } from './keys.ts';
import { decodeRoomEvent, SIGNAL_PREFIX } from './room-events.ts';
import type { SessionSink } from './session.ts';
import { Session } from './session.ts';
import { SubscriptionSet } from './subscription-set.ts';

export interface SignalingNodeOptions {
  /** Identifies this dyno in owner tags and its private channel. */
  nodeId: string;
  /** Prefix of every backend key and channel. */
  prefix: string;
  /** Members a room may hold. */
  maxRoomSize: number;
  logger: Logger;
}

/**
 * The cluster core of one dyno: its local sessions and the routing of bus messages to them.
 * It knows nothing of WebSockets or of Redis; protocol adapters create sessions, backends
 * carry the messages.
 */
export class SignalingNode {
  readonly nodeId: string;
  readonly prefix: string;
  readonly maxRoomSize: number;
  readonly subscriptions: SubscriptionSet;
  /** Member channel -> the local session registered under it. */
  private readonly members = new Map<string, Session>();
  /** Room events channel -> local sessions joined to (or joining) that room. */
  private readonly rooms = new Map<string, Set<Session>>();
  private readonly log: Logger;
  readonly backend: Backend;

  constructor(backend: Backend, options: SignalingNodeOptions) {
    this.backend = backend;
    this.nodeId = options.nodeId;
    this.prefix = options.prefix;
    this.maxRoomSize = options.maxRoomSize;
    this.log = options.logger;
    this.subscriptions = new SubscriptionSet(backend, (error) =>
      this.log.warn({ err: error }, 'unsubscribe failed; the backend drops it when the connection resets'),
    );
    backend.onMessage((channel, payload) => this.route(channel, payload));
  }

  createSession(namespace: Namespace, connectionId: string, sink: SessionSink, logger: Logger): Session {
    return new Session(this, namespace, connectionId, sink, logger);
  }

  /** Rooms with at least one local session, for metrics. */
  get localRooms(): number {
    return this.rooms.size;
  }

  get localMembers(): number {
    return this.members.size;
  }

  attachMember(channel: string, session: Session): void {
    this.members.set(channel, session);
  }

  detachMember(channel: string, session: Session): void {
    if (this.members.get(channel) === session) this.members.delete(channel);
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

  private route(channel: string, payload: string): void {
    const member = this.members.get(channel);
    if (member) {
      if (payload.startsWith(SIGNAL_PREFIX)) member.frame(payload.slice(SIGNAL_PREFIX.length));
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
