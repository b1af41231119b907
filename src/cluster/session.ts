import type { Logger } from 'pino';
import { ownerTag } from './backend.ts';
import type { Namespace } from './keys.ts';
import { RoomKeys } from './keys.ts';
import type { RoomEvent } from './room-events.ts';
import { encodeRoomEvent, SIGNAL_PREFIX } from './room-events.ts';
import type { SignalingNode } from './signaling-node.ts';

/** How a protocol adapter hears about its session. One sink per connection. */
export interface SessionSink {
  joined(room: string, name: string, peers: string[]): void;
  peerJoined(name: string): void;
  peerLeft(name: string): void;
  /** A frame encoded by the sender's protocol adapter, ready to send as is. */
  deliver(frame: string): void;
}

export type JoinResult =
  | { ok: true }
  | { ok: false; code: 'already-joined' | 'name-taken' | 'room-full' | 'unavailable' };

export type SignalResult = 'sent' | 'not-joined' | 'peer-not-found' | 'unavailable';

interface Membership {
  room: string;
  name: string;
  keys: RoomKeys;
  memberChannel: string;
  seq: number;
  /** Peers this client has been told about, with the seq they joined with. */
  known: Map<string, number>;
  /** Events and frames that arrive between registration and the `joined` reply. */
  pending: Array<RoomEvent | string> | null;
}

type State = 'idle' | 'joining' | 'joined' | 'closed';

/**
 * One connection's membership, transport- and protocol-neutral. Membership operations run
 * one at a time in arrival order; signals skip the queue when nothing is queued, so a burst
 * of ICE candidates is pipelined instead of waiting a round trip each.
 */
export class Session {
  private state: State = 'idle';
  private membership: Membership | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  private queued = 0;
  private readonly owner: string;
  private readonly node: SignalingNode;
  private readonly namespace: Namespace;
  private readonly sink: SessionSink;
  private readonly log: Logger;
  readonly connectionId: string;

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

  join(room: string, name: string): Promise<JoinResult> {
    return this.serial(() => this.doJoin(room, name));
  }

  /** Resolves to true when the session was a member and is not any more. */
  leave(): Promise<boolean> {
    return this.serial(() => this.doLeave());
  }

  signal(to: string, frame: string): Promise<SignalResult> {
    if (this.queued === 0) return this.doSignal(to, frame);
    return this.serial(() => this.doSignal(to, frame));
  }

  /** The connection is gone: leave if joined and refuse everything afterwards. */
  close(): Promise<boolean> {
    return this.serial(async () => {
      const left = await this.doLeave();
      this.state = 'closed';
      return left;
    });
  }

  /** Called by the node for events on this session's room channel. */
  roomEvent(event: RoomEvent): void {
    const m = this.membership;
    if (!m) return;
    if (m.pending) m.pending.push(event);
    else if (this.state === 'joined') this.apply(m, event);
  }

  /** Called by the node for a frame published on this member's channel. */
  frame(frame: string): void {
    const m = this.membership;
    if (!m) return;
    if (m.pending) m.pending.push(frame);
    else if (this.state === 'joined') this.sink.deliver(frame);
  }

  private serial<T>(operation: () => Promise<T>): Promise<T> {
    this.queued++;
    const run = this.tail.then(operation).finally(() => this.queued--);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async doJoin(room: string, name: string): Promise<JoinResult> {
    if (this.state === 'joined') return { ok: false, code: 'already-joined' };
    if (this.state === 'closed') return { ok: false, code: 'unavailable' };
    const keys = new RoomKeys(this.node.prefix, this.namespace, room);
    const memberChannel = keys.memberChannel(name);
    const m: Membership = { room, name, keys, memberChannel, seq: 0, known: new Map(), pending: [] };
    const channels = [keys.events, memberChannel];
    this.state = 'joining';
    this.membership = m;
    // Room events are heard from before registration on, so none published after our seq
    // was assigned can be missed; the seq filter in apply() drops the ones from before.
    this.node.attachRoom(keys.events, this);
    const undo = (): void => {
      this.node.detachRoom(keys.events, this);
      this.node.detachMember(memberChannel, this);
      this.membership = null;
      this.state = 'idle';
    };
    try {
      await this.node.subscriptions.acquire(channels);
    } catch (error) {
      undo();
      this.log.warn({ err: error }, 'join failed: cannot subscribe (backend unavailable)');
      return { ok: false, code: 'unavailable' };
    }
    const release = (): void => this.node.subscriptions.release(channels);
    try {
      const outcome = await this.node.backend.register({
        membersKey: keys.members,
        name,
        owner: this.owner,
        maxRoomSize: this.node.maxRoomSize,
      });
      if (!outcome.ok) {
        undo();
        release();
        return { ok: false, code: outcome.reason };
      }
      m.seq = outcome.seq;
      for (const peer of outcome.peers) m.known.set(peer.name, peer.seq);
      // Our member channel was subscribed before registering, so an offer can only reach
      // us once peers hear this event: peer-joined must go out after the subscription.
      this.node.attachMember(memberChannel, this);
      await this.node.backend.publish(keys.events, encodeRoomEvent({ kind: 'joined', seq: m.seq, name }));
    } catch (error) {
      this.log.warn({ err: error }, 'join failed: backend unavailable');
      await this.node.backend.unregister(keys.members, name, this.owner).catch(() => null);
      undo();
      release();
      return { ok: false, code: 'unavailable' };
    }
    this.state = 'joined';
    const pending = m.pending ?? [];
    m.pending = null;
    this.sink.joined(room, name, [...m.known.keys()]);
    for (const item of pending) {
      if (typeof item === 'string') this.sink.deliver(item);
      else this.apply(m, item);
    }
    return { ok: true };
  }

  private async doLeave(): Promise<boolean> {
    const m = this.membership;
    if (this.state !== 'joined' || !m) return false;
    this.state = 'idle';
    this.membership = null;
    this.node.detachMember(m.memberChannel, this);
    this.node.detachRoom(m.keys.events, this);
    try {
      const seq = await this.node.backend.unregister(m.keys.members, m.name, this.owner);
      if (seq !== null) {
        await this.node.backend.publish(m.keys.events, encodeRoomEvent({ kind: 'left', seq, name: m.name }));
      }
    } catch (error) {
      this.log.warn({ err: error }, 'leave could not reach the backend; the member stays registered until it recovers');
    } finally {
      this.node.subscriptions.release([m.keys.events, m.memberChannel]);
    }
    return true;
  }

  private async doSignal(to: string, frame: string): Promise<SignalResult> {
    const m = this.membership;
    if (this.state !== 'joined' || !m) return 'not-joined';
    try {
      const receivers = await this.node.backend.publish(m.keys.memberChannel(to), SIGNAL_PREFIX + frame);
      return receivers > 0 ? 'sent' : 'peer-not-found';
    } catch {
      return 'unavailable';
    }
  }

  /** Tells the client about an event unless it already knows (see docs/protocol.md, ordering). */
  private apply(m: Membership, event: RoomEvent): void {
    if (event.name === m.name) return;
    const known = m.known.get(event.name);
    if (event.kind === 'joined') {
      if (event.seq <= m.seq || (known !== undefined && known >= event.seq)) return;
      // A newer seq for a known name means we missed its leave: report both, in order.
      if (known !== undefined) this.sink.peerLeft(event.name);
      m.known.set(event.name, event.seq);
      this.sink.peerJoined(event.name);
    } else if (known === event.seq) {
      m.known.delete(event.name);
      this.sink.peerLeft(event.name);
    }
  }
}
