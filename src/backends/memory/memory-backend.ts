import type { Backend, BusHandler, MemberEntry, RegisterOutcome, RegisterRequest } from '../../cluster/backend.ts';

interface Room {
  nextSeq: number;
  members: Map<string, { seq: number; owner: string }>;
}

/**
 * The embedded backend: one process, rooms in memory, no Redis. It keeps the Redis
 * backend's semantics exactly (atomic registration, receiver counts, asynchronous delivery)
 * so the core cannot tell them apart and one protocol suite covers both.
 */
export class MemoryBackend implements Backend {
  readonly kind = 'embedded';
  private readonly rooms = new Map<string, Room>();
  private readonly subscribed = new Set<string>();
  private handler: BusHandler = () => undefined;
  private closed = false;

  async register(request: RegisterRequest): Promise<RegisterOutcome> {
    let room = this.rooms.get(request.membersKey);
    if (room?.members.has(request.name)) return { ok: false, reason: 'name-taken' };
    if (room && room.members.size >= request.maxRoomSize) return { ok: false, reason: 'room-full' };
    if (!room) this.rooms.set(request.membersKey, (room = { nextSeq: 1, members: new Map() }));
    const peers: MemberEntry[] = [];
    for (const [name, member] of room.members) peers.push({ name, seq: member.seq });
    const seq = room.nextSeq++;
    room.members.set(request.name, { seq, owner: request.owner });
    return { ok: true, seq, peers };
  }

  async unregister(membersKey: string, name: string, owner: string): Promise<number | null> {
    const room = this.rooms.get(membersKey);
    const member = room?.members.get(name);
    if (!room || !member || member.owner !== owner) return null;
    room.members.delete(name);
    if (room.members.size === 0) this.rooms.delete(membersKey);
    return member.seq;
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

  isReady(): boolean {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.rooms.clear();
    this.subscribed.clear();
  }
}
