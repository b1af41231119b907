import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type {
  Backend,
  BusHandler,
  HoldOutcome,
  HoldRequest,
  MemberEntry,
  MemberRef,
  RegisterOutcome,
  RegisterRequest,
  ReregisterEntry,
  ResumeOutcome,
  ResumeRequest,
  SuspendRequest,
  SweepOutcome,
} from '../../cluster/backend.ts';
import { NodeKeys } from '../../cluster/keys.ts';
import { runScript } from './connection.ts';
import * as lua from './scripts.ts';
import type { MembershipChange } from '../../webhooks/events.ts';
import type { WebhookQueueOptions } from '../../webhooks/queue.ts';
import { RedisWebhookQueue } from '../../webhooks/redis-queue.ts';

/** A single Redis or a Redis Cluster client: both route each command (or script) by its keys. */
export type RedisClient = Redis | Cluster;

type Script = { source: string; sha: string };
const script = (source: string): Script => ({ source, sha: createHash('sha1').update(source).digest('hex') });
const S = {
  register: script(lua.REGISTER),
  unregister: script(lua.UNREGISTER),
  suspend: script(lua.SUSPEND),
  expire: script(lua.EXPIRE),
  hold: script(lua.HOLD),
  holdSharded: script(lua.HOLD_SHARDED),
  resume: script(lua.RESUME),
  reregister: script(lua.REREGISTER),
  sweepMember: script(lua.SWEEP_MEMBER),
  renewLease: script(lua.RENEW_LEASE),
  deadNodes: script(lua.DEAD_NODES),
};

const HOLD_OUTCOMES: Record<number, HoldOutcome> = { 1: 'delivered', 0: 'held', [-1]: 'not-found', [-2]: 'full' };

/** Parses "name, value, name, value..." (value = "seq|...") into peers in join order. */
function peersFrom(reply: ReadonlyArray<unknown>, start: number): MemberEntry[] {
  const peers: MemberEntry[] = [];
  for (let i = start; i + 1 < reply.length; i += 2) {
    peers.push({ name: String(reply[i]), seq: Number.parseInt(String(reply[i + 1]), 10) });
  }
  return peers.sort((a, b) => a.seq - b.seq);
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
  private readonly holdScript: Script;
  private readonly prefix: string;
  /** Set when WEBHOOK_URL is: membership scripts then queue their webhook events too. */
  private webhooks: RedisWebhookQueue | undefined;
  protected handler: BusHandler = () => undefined;
  protected reconnectHandler: () => void = () => undefined;

  /** `sharded`: the bus is sharded pub/sub, so the hold script must publish with SPUBLISH. */
  protected constructor(client: RedisClient, prefix: string, sharded: boolean) {
    this.client = client;
    this.nodes = new NodeKeys(prefix);
    this.holdScript = sharded ? S.holdSharded : S.hold;
    this.prefix = prefix;
  }

  /** Turns webhook events on (src/webhooks/): the returned queue is what delivery workers read. */
  enableWebhooks(options: WebhookQueueOptions): RedisWebhookQueue {
    this.webhooks = new RedisWebhookQueue(this.client, this.prefix, options, (s, k, a) => this.run(s, k, a));
    return this.webhooks;
  }

  /** A membership script; with webhooks on, the same atomic call queues its events. */
  private change(s: Script, keys: readonly string[], args: readonly (string | number)[], m: { membersKey: string }, change: MembershipChange): Promise<unknown> {
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
    const reply = (await this.change(S.register, [r.membersKey], [r.name, r.owner, r.maxRoomSize, lua.COUNTER_FIELD, r.secretHash], r, { kind: 'join', name: r.name })) as unknown[];
    const seq = Number(reply[0]);
    if (seq === -1) return { ok: false, reason: 'name-taken' };
    if (seq === -2) return { ok: false, reason: 'room-full' };
    return { ok: true, seq, peers: peersFrom(reply, 1) };
  }

  async resume(r: ResumeRequest): Promise<ResumeOutcome> {
    const reply = (await this.run(S.resume, [r.membersKey, r.holdKey], [r.name, r.secretHash, r.owner, r.newSecretHash])) as unknown[];
    const seq = Number(reply[0]);
    if (seq === -3) return { ok: false, reason: 'gone' };
    if (seq === -1) return { ok: false, reason: 'name-taken' };
    const heldCount = Number(reply[2]);
    const held = reply.slice(3, 3 + heldCount).map(String);
    return { ok: true, seq, previousOwner: String(reply[1]), held, peers: peersFrom(reply, 3 + heldCount) };
  }

  async unregister(m: MemberRef, owner: string): Promise<number | null> {
    const seq = Number(await this.change(S.unregister, [m.membersKey, m.holdKey], [m.name, owner], m, { kind: 'leave', name: m.name, reason: 'left' }));
    return seq === -1 ? null : seq;
  }

  async suspend(r: SuspendRequest): Promise<boolean> {
    return Number(await this.run(S.suspend, [r.membersKey, r.holdKey], [r.name, r.owner, r.graceMs, r.snapshot, r.holdTtlMs, ...r.frames])) === 1;
  }

  async expire(m: MemberRef, owner: string): Promise<number | null> {
    const seq = Number(await this.change(S.expire, [m.membersKey, m.holdKey], [m.name, owner], m, { kind: 'leave', name: m.name, reason: 'disconnected' }));
    return seq === -1 ? null : seq;
  }

  async hold(r: HoldRequest): Promise<HoldOutcome> {
    const code = Number(await this.run(this.holdScript, [r.membersKey, r.holdKey], [r.name, r.channel, r.payload, r.maxHeld, r.ttlMs]));
    return HOLD_OUTCOMES[code] ?? 'not-found';
  }

  async reregister(entries: readonly ReregisterEntry[]): Promise<ReregisterEntry[]> {
    const replies = await Promise.all(
      entries.map((e) => this.run(S.reregister, [e.membersKey], [e.name, `${e.seq}|${e.owner}|${e.secretHash}|0`, e.seq])),
    );
    return entries.filter((_, i) => Number(replies[i]) === 0);
  }

  onMessage(handler: BusHandler): void {
    this.handler = handler;
  }

  onReconnect(handler: () => void): void {
    this.reconnectHandler = handler;
  }

  // The dyno registry below uses single-key commands only: on a cluster the leases, each
  // dyno's member set and its sweep lock may live on different shards, and need not agree.

  async renewLease(nodeId: string, ttlMs: number): Promise<void> {
    await this.run(S.renewLease, [this.nodes.leases], [nodeId, ttlMs]);
  }

  async indexMember(nodeId: string, m: MemberRef): Promise<void> {
    await this.client.sadd(this.nodes.members(nodeId), `${m.membersKey}\n${m.holdKey}\n${m.name}`);
  }

  async releaseLease(nodeId: string): Promise<void> {
    await this.client.zadd(this.nodes.leases, 0, nodeId);
  }

  async claimDeadNodes(claimant: string, claimMs: number): Promise<string[]> {
    const dead = ((await this.run(S.deadNodes, [this.nodes.leases], [])) as unknown[]).map(String);
    const claimed: string[] = [];
    for (const nodeId of dead) {
      if ((await this.client.set(this.nodes.sweepLock(nodeId), claimant, 'PX', claimMs, 'NX')) === 'OK') claimed.push(nodeId);
    }
    return claimed;
  }

  async deadNodeMembers(nodeId: string): Promise<MemberRef[]> {
    const entries = await this.client.smembers(this.nodes.members(nodeId));
    return entries.flatMap((entry) => {
      // Names cannot contain control characters, so a newline separates the parts safely.
      const [membersKey, holdKey, name] = entry.split('\n');
      return membersKey && holdKey && name ? [{ membersKey, holdKey, name }] : [];
    });
  }

  async sweepMember(nodeId: string, m: MemberRef, graceMs: number): Promise<SweepOutcome> {
    const seq = Number(await this.change(S.sweepMember, [m.membersKey, m.holdKey], [m.name, nodeId, graceMs], m, { kind: 'leave', name: m.name, reason: 'dyno-lost' }));
    if (seq === -2) return { action: 'kept' };
    await this.client.srem(this.nodes.members(nodeId), `${m.membersKey}\n${m.holdKey}\n${m.name}`);
    return seq === -1 ? { action: 'forgotten' } : { action: 'removed', seq };
  }

  async forgetNode(nodeId: string): Promise<void> {
    if ((await this.client.scard(this.nodes.members(nodeId))) > 0) return;
    await this.client.zrem(this.nodes.leases, nodeId);
    await this.client.del(this.nodes.sweepLock(nodeId));
  }
}
