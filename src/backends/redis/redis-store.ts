import type { Cluster, Redis } from 'ioredis';
import type {
  Backend,
  BusHandler,
  BusResetHandler,
  CatchUp,
  EndReason,
  Gone,
  HoldOutcome,
  HoldRequest,
  IndexedMember,
  LeaseState,
  MemberDetail,
  MemberRef,
  MemberStatus,
  RegisterOutcome,
  RegisterRequest,
  ReregisterEntry,
  ReregisterOutcome,
  ResumeOutcome,
  ResumeRequest,
  RoomPage,
  SuspendRequest,
  SweepOutcome,
} from '../../cluster/backend.ts';
import { NodeKeys, RoomKeys, roomsIndexKey } from '../../cluster/keys.ts';
import { metadataSuffix } from '../../cluster/bus-codec.ts';
import { runScript } from './connection.ts';
import * as lua from './scripts.ts';
import type { MembershipChange } from '../../webhooks/events.ts';
import type { WebhookQueueOptions } from '../../webhooks/queue.ts';
import { RedisWebhookQueue } from '../../webhooks/redis-queue.ts';
import { catchUpMember, endedKey, memberStatus, renumberingKey } from './subscriber-recovery.ts';
import { infoTail, parseRecord, peersFrom } from './member-record.ts';
import type { FailureReport } from './best-effort-writes.ts';
import { BestEffortWrites } from './best-effort-writes.ts';
import type { Script } from './loaded-scripts.ts';
import { HOLD_OUTCOMES, LEASE_STATES, PLAIN, publishingScripts, REREGISTER_STATUS, SCRIPTS, SHARDED } from './loaded-scripts.ts';

/** A single Redis or a Redis Cluster client: both route each command (or script) by its keys. */
export type RedisClient = Redis | Cluster;

/**
 * How long a join waits for its crash-index entry before registering anyway: a healthy
 * master answers in a millisecond, so the entry is nearly always written first; a hung one
 * must not hold the join (the entry is retried until it lands, see best-effort-writes.ts).
 */
const INDEX_WAIT_MS = 250;

/** One sweep-index entry: names cannot contain control characters, so newlines separate parts. */
function indexEntry(m: MemberRef, owner: string): string {
  return `${m.membersKey}\n${m.holdKey}\n${m.name}\n${owner}`;
}

/**
 * The part of the Redis backend that is the same on one Redis and on a Redis Cluster: every
 * presence call mapped onto a script or a single-key command. Every script's keys share the
 * room's hash tag, so on a cluster it runs whole on the room's shard. Subclasses own the
 * connections and the bus (PUBLISH/SUBSCRIBE or SPUBLISH/SSUBSCRIBE).
 */
export abstract class RedisStore implements Backend {
  readonly kind = 'redis';
  private readonly client: RedisClient;
  private readonly nodes: NodeKeys;
  private readonly scripts: ReturnType<typeof publishingScripts>;
  private readonly prefix: string;
  /** Set when WEBHOOK_URL is: membership scripts then queue their webhook events too. */
  private webhooks: RedisWebhookQueue | undefined;
  /** Index writes outside the room's slot: they may lag, never refuse (best-effort-writes.ts). */
  protected readonly indexes: BestEffortWrites;
  protected handler: BusHandler = () => undefined;
  protected reconnectHandler: () => void = () => undefined;
  protected busResetHandler: BusResetHandler = () => undefined;

  /** `sharded`: the bus is sharded pub/sub, so the hold script must publish with SPUBLISH. */
  protected constructor(client: RedisClient, prefix: string, sharded: boolean, onIndexFailure?: FailureReport) {
    this.client = client;
    this.indexes = new BestEffortWrites(onIndexFailure);
    this.nodes = new NodeKeys(prefix);
    this.scripts = sharded ? SHARDED : PLAIN;
    this.prefix = prefix;
  }

  /** Turns webhook events on (src/webhooks/): the returned queue is what delivery workers read. */
  enableWebhooks(options: WebhookQueueOptions): RedisWebhookQueue {
    this.webhooks = new RedisWebhookQueue(this.prefix, options, (s, k, a) => this.run(s, k, a), this.indexes);
    return this.webhooks;
  }

  /** A membership script; with webhooks on, the same atomic call queues its events. */
  private change(
    s: Script,
    keys: readonly string[],
    args: readonly (string | number)[],
    m: { membersKey: string },
    change: MembershipChange,
  ): Promise<unknown> {
    return this.webhooks ? this.webhooks.runMembership(s, keys, args, m.membersKey, change) : this.run(s, keys, args);
  }

  abstract publish(channel: string, payload: string): Promise<number>;
  abstract subscribe(channels: readonly string[]): Promise<void>;
  abstract unsubscribe(channels: readonly string[]): Promise<void>;
  abstract isReady(): boolean;
  abstract close(): Promise<void>;

  private run(s: Script, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    return runScript(this.client, s, keys, args);
  }

  async register(r: RegisterRequest): Promise<RegisterOutcome> {
    const reply = (await this.change(
      SCRIPTS.register,
      [r.membersKey],
      [r.name, r.owner, r.maxRoomSize, lua.COUNTER_FIELD, r.secretHash, infoTail(r.info)],
      r,
      { kind: 'join', name: r.name },
    )) as unknown[];
    const seq = Number(reply[0]);
    if (seq === -1) return { ok: false, reason: 'name-taken' };
    if (seq === -2) return { ok: false, reason: 'room-full' };
    // The first member of a room (re)creates it: list it for the server API. Later members
    // find it listed (a listing only unlists a room it found empty, see listRooms). The
    // index may live on another master: written best effort, so that master cannot refuse
    // the join.
    if (seq === 1) this.indexRoom(r.membersKey);
    return { ok: true, seq, peers: peersFrom(reply, 1) };
  }

  async resume(r: ResumeRequest): Promise<ResumeOutcome> {
    const reply = (await this.run(
      SCRIPTS.resume,
      [r.membersKey, r.holdKey, endedKey(r)],
      [r.name, r.secretHash, r.owner, r.newSecretHash],
    )) as unknown[];
    const seq = Number(reply[0]);
    if (seq === -3) return { ok: false, reason: 'gone' };
    if (seq === -1) return { ok: false, reason: 'name-taken' };
    const heldCount = Number(reply[3]);
    const held = reply.slice(4, 4 + heldCount).map(String);
    return {
      ok: true,
      seq,
      previousOwner: String(reply[1]),
      previousConnected: Number(reply[2]) === 1,
      held,
      peers: peersFrom(reply, 4 + heldCount),
    };
  }

  async unregister(m: MemberRef, owner: string): Promise<number | null> {
    const seq = Number(
      await this.change(
        this.scripts.unregister,
        [m.membersKey, m.holdKey, endedKey(m)],
        [m.name, owner, RoomKeys.eventsOf(m.membersKey)],
        m,
        { kind: 'leave', name: m.name, reason: 'left' },
      ),
    );
    if (seq !== -1) this.unindexIfEmpty(m.membersKey);
    return seq === -1 ? null : seq;
  }

  async suspend(r: SuspendRequest): Promise<boolean> {
    const args = [r.name, r.owner, r.graceMs, r.snapshot, r.holdTtlMs, r.secretHash ?? '', ...r.frames];
    return Number(await this.run(SCRIPTS.suspend, [r.membersKey, r.holdKey], args)) === 1;
  }

  async expire(m: MemberRef, owner: string): Promise<number | null> {
    const seq = Number(
      await this.change(this.scripts.expire, [m.membersKey, m.holdKey, endedKey(m)], [m.name, owner, RoomKeys.eventsOf(m.membersKey)], m, {
        kind: 'leave',
        name: m.name,
        reason: 'disconnected',
      }),
    );
    if (seq !== -1) this.unindexIfEmpty(m.membersKey);
    return seq === -1 ? null : seq;
  }

  async hold(r: HoldRequest): Promise<HoldOutcome> {
    const code = Number(
      await this.run(this.scripts.hold, [r.membersKey, r.holdKey], [r.name, r.channel, r.payload, r.maxHeld, r.ttlMs, r.maxHeldBytes]),
    );
    return HOLD_OUTCOMES[code] ?? 'not-found';
  }

  async reregister(e: ReregisterEntry): Promise<ReregisterOutcome> {
    const args = [
      e.name,
      e.owner,
      e.secretHash,
      e.seq,
      e.graceMs,
      RoomKeys.eventsOf(e.membersKey),
      e.highestKnownSeq,
      infoTail(e.info),
      metadataSuffix(e.info?.metadata),
    ];
    const keys = [e.membersKey, endedKey(e), renumberingKey(e.membersKey)];
    // No webhook event: a member the store lost is the same membership, and one that ended is not put back.
    const reply = (await this.run(this.scripts.reregister, keys, args)) as unknown[];
    if (Number(reply[0]) === -1) return { status: 'ended', reason: String(reply[1]) as EndReason };
    const status = REREGISTER_STATUS[Number(reply[0]) as 1 | 2];
    if (status === undefined) return { status: 'clash' };
    if (status !== 'kept') this.indexRoom(e.membersKey);
    return { status, seq: Number(reply[1]), peers: peersFrom(reply, 2) };
  }

  async roomMembers(membersKey: string): Promise<MemberDetail[]> {
    const all = await this.client.hgetall(membersKey);
    const members: MemberDetail[] = [];
    for (const [name, value] of Object.entries(all)) {
      if (name === lua.COUNTER_FIELD) continue;
      const record = parseRecord(value);
      const detail: MemberDetail = { name, seq: record.seq, metadata: record.metadata ?? {}, reconnecting: record.graceUntil > 0 };
      if (record.joinedAt !== undefined) detail.joinedAt = record.joinedAt;
      members.push(detail);
    }
    return members.sort((a, b) => a.seq - b.seq);
  }

  async listRooms(after: string, below: string, limit: number): Promise<RoomPage> {
    const index = roomsIndexKey(this.prefix);
    const rooms: RoomPage['rooms'] = [];
    let unreachable = 0;
    const page = (next?: string): RoomPage => ({
      rooms,
      ...(next === undefined ? {} : { after: next }),
      ...(unreachable > 0 ? { unreachable } : {}),
    });
    let cursor = after;
    while (rooms.length < limit) {
      const want = limit - rooms.length;
      const keys = await this.client.zrangebylex(index, `(${cursor}`, `(${below}`, 'LIMIT', 0, want);
      // One HLEN per room, each routed to the room's shard: the index lives on one shard, the
      // rooms on all. A room whose master does not answer is left out and counted.
      const sizes = await Promise.allSettled(keys.map((key) => this.client.hlen(key)));
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i] as string;
        const read = sizes[i];
        if (read?.status !== 'fulfilled') {
          unreachable++;
          continue;
        }
        let size = read.value;
        if (size <= 1) {
          // Unlist, then look again: a first member registering meanwhile indexes the room
          // after its registration, so either it sees our removal or we see its member.
          await this.client.zrem(index, key);
          size = await this.client.hlen(key);
          if (size > 1) await this.listRoom(key);
        }
        // The counter field is one of the hash's fields.
        if (size > 1) rooms.push({ membersKey: key, members: size - 1 });
      }
      if (keys.length < want) return page();
      cursor = keys[keys.length - 1] as string;
    }
    return page(cursor);
  }

  async remove(m: MemberRef): Promise<boolean> {
    const args = [m.name, RoomKeys.eventsOf(m.membersKey), RoomKeys.memberChannelOf(m.membersKey, m.name)];
    const seq = Number(
      await this.change(this.scripts.remove, [m.membersKey, m.holdKey, endedKey(m)], args, m, {
        kind: 'leave',
        name: m.name,
        reason: 'removed',
      }),
    );
    if (seq !== -1) this.unindexIfEmpty(m.membersKey);
    return seq !== -1;
  }

  /**
   * After a removal: unlist the room if that was its last member, so the index does not keep
   * every room that ever existed when nobody lists rooms. Same order as listRooms (unlist,
   * then look again and list it back if a first member registered meanwhile). Best effort:
   * an entry left behind is unlisted by the next listing that finds the room empty.
   */
  private unindexIfEmpty(membersKey: string): void {
    const index = roomsIndexKey(this.prefix);
    void (async () => {
      if ((await this.client.exists(membersKey)) === 1) return;
      await this.client.zrem(index, membersKey);
      if ((await this.client.exists(membersKey)) === 1) await this.listRoom(membersKey);
    })().catch(() => undefined);
  }

  private async listRoom(membersKey: string): Promise<void> {
    await this.client.zadd(roomsIndexKey(this.prefix), 0, membersKey);
  }

  /** Lists a room without waiting: retried until the index's master takes it. */
  private indexRoom(membersKey: string): void {
    void this.indexes.run(`room\n${membersKey}`, () => this.listRoom(membersKey));
  }

  onMessage(handler: BusHandler): void {
    this.handler = handler;
  }

  onReconnect(handler: () => void): void {
    this.reconnectHandler = handler;
  }

  onBusReset(handler: BusResetHandler): void {
    this.busResetHandler = handler;
  }

  catchUp(m: MemberRef, owner: string, known: readonly string[]): Promise<CatchUp | Gone> {
    return catchUpMember(this.client, m, owner, known);
  }

  memberStatus(m: MemberRef, owner: string): Promise<MemberStatus> {
    return memberStatus(this.client, m, owner);
  }

  abstract busGaps(): ((channel: string) => boolean) | null;

  // The dyno registry below uses single-key commands only: on a cluster the leases, each
  // dyno's member set and its sweep lock may live on different shards, and need not agree.
  // A dyno's member set is written best effort: a join or leave waits for it at most
  // INDEX_WAIT_MS, then goes ahead while the write is retried until it lands. Until then a
  // crash of this dyno leaves that member to its room (docs/scaling.md).

  async renewLease(nodeId: string, ttlMs: number): Promise<LeaseState> {
    return LEASE_STATES[Number(await this.run(SCRIPTS.renewLease, [this.nodes.leases], [nodeId, ttlMs]))] ?? 'missing';
  }

  indexMember(nodeId: string, m: MemberRef, owner: string): Promise<void> {
    const entry = indexEntry(m, owner);
    return this.indexes.run(`member\n${entry}`, () => this.client.sadd(this.nodes.members(nodeId), entry), INDEX_WAIT_MS);
  }

  unindexMember(nodeId: string, m: MemberRef, owner: string): Promise<void> {
    const entry = indexEntry(m, owner);
    return this.indexes.run(`member\n${entry}`, () => this.client.srem(this.nodes.members(nodeId), entry), INDEX_WAIT_MS);
  }

  async releaseLease(nodeId: string): Promise<void> {
    await this.client.zadd(this.nodes.leases, 0, nodeId);
  }

  async claimDeadNodes(claimant: string, claimMs: number): Promise<string[]> {
    const dead = ((await this.run(SCRIPTS.deadNodes, [this.nodes.leases], [])) as unknown[]).map(String);
    // Each lock may be on another master: one that does not answer costs only its dyno's sweep.
    const locks = await Promise.allSettled(
      dead.map((nodeId) => this.client.set(this.nodes.sweepLock(nodeId), claimant, 'PX', claimMs, 'NX')),
    );
    return dead.filter((_, i) => {
      const lock = locks[i];
      return lock?.status === 'fulfilled' && lock.value === 'OK';
    });
  }

  async deadNodeMembers(nodeId: string): Promise<IndexedMember[]> {
    const entries = await this.client.smembers(this.nodes.members(nodeId));
    return entries.flatMap((entry): IndexedMember[] => {
      const [membersKey, holdKey, name, owner] = entry.split('\n');
      if (!membersKey || !holdKey || !name) return [];
      return owner ? [{ membersKey, holdKey, name, owner }] : [{ membersKey, holdKey, name }];
    });
  }

  async sweepMember(nodeId: string, m: IndexedMember, graceMs: number): Promise<SweepOutcome> {
    const args = [m.name, nodeId, graceMs, m.owner ?? '', RoomKeys.eventsOf(m.membersKey)];
    const seq = Number(
      await this.change(this.scripts.sweepMember, [m.membersKey, m.holdKey, endedKey(m)], args, m, {
        kind: 'leave',
        name: m.name,
        reason: 'dyno-lost',
      }),
    );
    if (seq === -2) return { action: 'kept' };
    if (seq !== -1) this.unindexIfEmpty(m.membersKey);
    // An entry without the owner part (any connection of that dyno) has three parts.
    const entry = m.owner === undefined ? `${m.membersKey}\n${m.holdKey}\n${m.name}` : indexEntry(m, m.owner);
    await this.client.srem(this.nodes.members(nodeId), entry);
    return seq === -1 ? { action: 'forgotten' } : { action: 'removed', seq };
  }

  async forgetNode(nodeId: string): Promise<void> {
    if ((await this.client.scard(this.nodes.members(nodeId))) > 0) return;
    await this.client.zrem(this.nodes.leases, nodeId);
    await this.client.del(this.nodes.sweepLock(nodeId));
  }
}
