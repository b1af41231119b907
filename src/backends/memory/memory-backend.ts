import type {
  Backend,
  BusHandler,
  CatchUp,
  Gone,
  HoldOutcome,
  HoldRequest,
  MemberEntry,
  MemberDetail,
  MemberInfo,
  MemberRef,
  MemberStatus,
  RegisterOutcome,
  RegisterRequest,
  LeaseState,
  ReregisterEntry,
  ReregisterOutcome,
  ResumeOutcome,
  ResumeRequest,
  RoomPage,
  SuspendRequest,
  SweepOutcome,
} from '../../cluster/backend.ts';
import type { LeaveReason } from '../../webhooks/events.ts';
import { MemoryWebhookQueue } from '../../webhooks/memory-queue.ts';
import type { WebhookQueueOptions } from '../../webhooks/queue.ts';
import { roomBase } from '../../webhooks/queue.ts';
import { RoomKeys } from '../../cluster/keys.ts';
import { encodeBus, Tag } from '../../cluster/bus-codec.ts';

interface Member {
  seq: number;
  owner: string;
  secretHash: string;
  /** Grace deadline (ms) while reconnecting, 0 while connected. */
  graceUntil: number;
  info: MemberInfo | undefined;
}

interface Room {
  nextSeq: number;
  members: Map<string, Member>;
}

/**
 * The embedded backend: one process, rooms in memory, no Redis. It keeps the Redis
 * backend's semantics (atomic registration, receiver counts, held signals, asynchronous
 * delivery) so the core cannot tell them apart and one protocol suite covers both. With a
 * single process there are no other dynos, so leases and sweeps have nothing to do.
 */
export class MemoryBackend implements Backend {
  readonly kind = 'embedded';
  private readonly rooms = new Map<string, Room>();
  private readonly holds = new Map<string, { entries: string[]; expires: number }>();
  private readonly subscribed = new Set<string>();
  private handler: BusHandler = () => undefined;
  private closed = false;
  /** Set when WEBHOOK_URL is: membership changes queue their webhook events there. */
  private webhooks: MemoryWebhookQueue | undefined;

  enableWebhooks(options: WebhookQueueOptions): MemoryWebhookQueue {
    return (this.webhooks = new MemoryWebhookQueue(options));
  }

  async register(r: RegisterRequest): Promise<RegisterOutcome> {
    let room = this.rooms.get(r.membersKey);
    if (room?.members.has(r.name)) return { ok: false, reason: 'name-taken' };
    if (room && room.members.size >= r.maxRoomSize) return { ok: false, reason: 'room-full' };
    if (!room) this.rooms.set(r.membersKey, (room = { nextSeq: 1, members: new Map() }));
    const peers = this.peers(room, r.name);
    const seq = room.nextSeq++;
    room.members.set(r.name, { seq, owner: r.owner, secretHash: r.secretHash, graceUntil: 0, info: r.info });
    if (this.webhooks) {
      if (seq === 1) this.webhooks.emit(roomBase(r.membersKey), 'room.started');
      this.webhooks.emit(roomBase(r.membersKey), 'member.joined', r.name);
    }
    return { ok: true, seq, peers };
  }

  async resume(r: ResumeRequest): Promise<ResumeOutcome> {
    const room = this.rooms.get(r.membersKey);
    const member = room?.members.get(r.name);
    if (!room || !member) return { ok: false, reason: 'gone' };
    if (!secretMatches(member.secretHash, r.secretHash)) return { ok: false, reason: 'name-taken' };
    const previousOwner = member.owner;
    const previousConnected = member.graceUntil === 0;
    // As the RESUME script: the secret resumed with stays valid until the client is proven to hold the new one.
    Object.assign(member, { owner: r.owner, secretHash: `${r.newSecretHash},${r.secretHash}`, graceUntil: 0 });
    const held = this.takeHeld(r.holdKey);
    return { ok: true, seq: member.seq, previousOwner, previousConnected, held, peers: this.peers(room, r.name) };
  }

  async unregister(m: MemberRef, owner: string): Promise<number | null> {
    const member = this.rooms.get(m.membersKey)?.members.get(m.name);
    if (!member || member.owner !== owner) return null;
    this.drop(m, member.seq, 'left');
    return member.seq;
  }

  async suspend(r: SuspendRequest): Promise<boolean> {
    const member = this.rooms.get(r.membersKey)?.members.get(r.name);
    if (!member || member.owner !== r.owner) return false;
    member.graceUntil = Date.now() + r.graceMs;
    if (r.secretHash) member.secretHash = r.secretHash;
    const later = this.holds.get(r.holdKey)?.entries ?? [];
    const first = r.snapshot === '' ? [] : [r.snapshot];
    this.holds.set(r.holdKey, { entries: [...first, ...r.frames, ...later], expires: Date.now() + r.holdTtlMs });
    return true;
  }

  async expire(m: MemberRef, owner: string): Promise<number | null> {
    const member = this.rooms.get(m.membersKey)?.members.get(m.name);
    if (!member || member.owner !== owner || member.graceUntil === 0) return null;
    this.drop(m, member.seq, 'disconnected');
    return member.seq;
  }

  async hold(r: HoldRequest): Promise<HoldOutcome> {
    if (!this.rooms.get(r.membersKey)?.members.has(r.name)) return 'not-found';
    if ((await this.publish(r.channel, r.payload)) > 0) return 'delivered';
    let hold = this.holds.get(r.holdKey);
    if (!hold || hold.expires < Date.now()) this.holds.set(r.holdKey, (hold = { entries: [], expires: 0 }));
    // One slot more than the limit: the first entry is usually the peers snapshot.
    if (hold.entries.length > r.maxHeld) return 'full';
    if (hold.entries.reduce((sum, entry) => sum + entry.length, r.payload.length) > r.maxHeldBytes) return 'full';
    hold.entries.push(r.payload);
    hold.expires = Date.now() + r.ttlMs;
    return 'held';
  }

  async reregister(e: ReregisterEntry): Promise<ReregisterOutcome> {
    // Memory cannot lose its data while the process lives: a member is there or was taken.
    const room = this.rooms.get(e.membersKey);
    const member = room?.members.get(e.name);
    if (!room || !member || member.owner !== e.owner) return { status: 'clash' };
    return { status: 'kept', seq: member.seq, peers: this.peers(room, e.name) };
  }

  async roomMembers(membersKey: string): Promise<MemberDetail[]> {
    const room = this.rooms.get(membersKey);
    if (!room) return [];
    return [...room.members].map(([name, member]) => {
      const detail: MemberDetail = { name, seq: member.seq, metadata: member.info?.metadata ?? {}, reconnecting: member.graceUntil > 0 };
      if (member.info) detail.joinedAt = member.info.joinedAt;
      return detail;
    });
  }

  async listRooms(after: string, below: string, limit: number): Promise<RoomPage> {
    // Rooms are deleted when they empty, so every room here has members. One process holds
    // few enough rooms that sorting them per page is fine.
    const keys = [...this.rooms.keys()].filter((key) => key > after && key < below).sort();
    const page = keys.slice(0, limit);
    const rooms = page.map((membersKey) => ({ membersKey, members: this.rooms.get(membersKey)?.members.size ?? 0 }));
    return keys.length > limit ? { rooms, after: page[page.length - 1] as string } : { rooms };
  }

  async remove(m: MemberRef): Promise<boolean> {
    const member = this.rooms.get(m.membersKey)?.members.get(m.name);
    if (!member) return false;
    this.drop(m, member.seq, 'removed');
    void this.publish(RoomKeys.memberChannelOf(m.membersKey, m.name), encodeBus({ tag: Tag.Removed, owner: member.owner }));
    return true;
  }

  async publish(channel: string, payload: string): Promise<number> {
    if (!this.subscribed.has(channel)) return 0;
    // Deliver on a later tick, as Redis would, so no code path depends on synchronous delivery.
    queueMicrotask(() => {
      if (this.subscribed.has(channel)) this.handler(channel, payload);
    });
    return 1;
  }

  async subscribe(channels: readonly string[]): Promise<void> {
    for (const channel of channels) this.subscribed.add(channel);
  }

  async unsubscribe(channels: readonly string[]): Promise<void> {
    for (const channel of channels) this.subscribed.delete(channel);
  }

  onMessage(handler: BusHandler): void {
    this.handler = handler;
  }

  onReconnect(): void {}
  /** In-process delivery never drops a subscription. */
  onBusReset(): void {}
  /** In-process rooms are never lost, so there is no renumbering to report. */
  async catchUp(m: MemberRef, owner: string): Promise<CatchUp | Gone> {
    const room = this.rooms.get(m.membersKey);
    const member = room?.members.get(m.name);
    if (!room || !member || member.owner !== owner || member.graceUntil !== 0) return { ended: null };
    return { held: this.takeHeld(m.holdKey), peers: this.peers(room, m.name) };
  }
  async memberStatus(m: MemberRef, owner: string): Promise<MemberStatus> {
    const member = this.rooms.get(m.membersKey)?.members.get(m.name);
    if (!member) return 'missing';
    return member.owner === owner ? 'ours' : { ended: 'replaced' };
  }
  busGaps(): null {
    return null;
  }
  async renewLease(): Promise<LeaseState> {
    return 'live';
  }
  async indexMember(): Promise<void> {}
  async unindexMember(): Promise<void> {}
  async releaseLease(): Promise<void> {}
  async claimDeadNodes(): Promise<string[]> {
    return [];
  }
  async deadNodeMembers(): Promise<MemberRef[]> {
    return [];
  }
  async sweepMember(): Promise<SweepOutcome> {
    return { action: 'forgotten' };
  }
  async forgetNode(): Promise<void> {}

  isReady(): boolean {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.rooms.clear();
    this.holds.clear();
    this.subscribed.clear();
  }

  private peers(room: Room, except: string): MemberEntry[] {
    const peers: MemberEntry[] = [];
    for (const [name, member] of room.members) {
      if (name === except) continue;
      peers.push(member.info === undefined ? { name, seq: member.seq } : { name, seq: member.seq, metadata: member.info.metadata });
    }
    return peers;
  }

  private takeHeld(holdKey: string): string[] {
    const hold = this.holds.get(holdKey);
    this.holds.delete(holdKey);
    return hold && hold.expires >= Date.now() ? hold.entries : [];
  }

  /** Removes a member and announces it, in one step as the Redis scripts do. */
  private drop(m: MemberRef, seq: number, reason: LeaveReason): void {
    const room = this.rooms.get(m.membersKey);
    room?.members.delete(m.name);
    this.holds.delete(m.holdKey);
    if (room && room.members.size === 0) this.rooms.delete(m.membersKey);
    void this.publish(RoomKeys.eventsOf(m.membersKey), encodeBus({ tag: Tag.Left, seq, name: m.name }));
    this.webhooks?.emit(roomBase(m.membersKey), 'member.left', m.name, reason);
    if (room && room.members.size === 0) this.webhooks?.emit(roomBase(m.membersKey), 'room.finished');
  }
}

/** As the scripts' secretMatches: one hash, or "new,previous". */
function secretMatches(stored: string, given: string): boolean {
  if (stored === given) return true;
  const comma = stored.indexOf(',');
  return comma !== -1 && (stored.slice(0, comma) === given || stored.slice(comma + 1) === given);
}
