import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
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
import { BackendUnavailableError } from '../../cluster/backend.ts';
import { NodeKeys } from '../../cluster/keys.ts';
import type { RedisConnectionConfig } from './connection.ts';
import { createConnection, runScript } from './connection.ts';
import * as lua from './scripts.ts';

type Script = { source: string; sha: string };
const script = (source: string): Script => ({ source, sha: createHash('sha1').update(source).digest('hex') });
const S = {
  register: script(lua.REGISTER),
  unregister: script(lua.UNREGISTER),
  suspend: script(lua.SUSPEND),
  expire: script(lua.EXPIRE),
  hold: script(lua.HOLD),
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
 * Redis as presence store and bus. Two connections, because a subscribed connection can run
 * nothing but (un)subscribe commands. All logic stays in the cluster core; this class only
 * maps Backend calls onto scripts and commands.
 */
export class RedisBackend implements Backend {
  readonly kind = 'redis';
  private readonly commands: Redis;
  private readonly subscriber: Redis;
  private readonly nodes: NodeKeys;
  private handler: BusHandler = () => undefined;
  private reconnectHandler: () => void = () => undefined;
  private everReady = false;

  constructor(config: RedisConnectionConfig & { prefix: string }, nodeId: string, log: Logger) {
    this.nodes = new NodeKeys(config.prefix);
    this.commands = createConnection(config, `signaling:${nodeId}:cmd`);
    this.subscriber = createConnection(config, `signaling:${nodeId}:sub`);
    for (const [role, client] of [['commands', this.commands], ['subscriber', this.subscriber]] as const) {
      client.on('error', (error: Error) => log.warn({ role, err: error.message }, 'redis connection error; reconnecting'));
      client.on('end', () => log.info({ role }, 'redis connection closed'));
    }
    this.commands.on('ready', () => {
      log.info('redis ready');
      if (this.everReady) this.reconnectHandler();
      this.everReady = true;
    });
    this.subscriber.on('message', (channel: string, payload: string) => this.handler(channel, payload));
  }

  /** Connects both clients; rejects with a message that says what to check. */
  async connect(): Promise<void> {
    try {
      await Promise.all([this.commands.connect(), this.subscriber.connect()]);
    } catch (error) {
      throw new BackendUnavailableError(
        `cannot connect to Redis (${error instanceof Error ? error.message : String(error)}); check REDIS_URL and that Redis is running`,
        { cause: error },
      );
    }
  }

  private run(s: Script, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    return runScript(this.commands, s, keys, args);
  }

  async register(r: RegisterRequest): Promise<RegisterOutcome> {
    const reply = (await this.run(S.register, [r.membersKey], [r.name, r.owner, r.maxRoomSize, lua.COUNTER_FIELD, r.secretHash])) as unknown[];
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
    const seq = Number(await this.run(S.unregister, [m.membersKey, m.holdKey], [m.name, owner]));
    return seq === -1 ? null : seq;
  }

  async suspend(r: SuspendRequest): Promise<boolean> {
    return Number(await this.run(S.suspend, [r.membersKey, r.holdKey], [r.name, r.owner, r.graceMs, r.snapshot, r.holdTtlMs, ...r.frames])) === 1;
  }

  async expire(m: MemberRef, owner: string): Promise<number | null> {
    const seq = Number(await this.run(S.expire, [m.membersKey, m.holdKey], [m.name, owner]));
    return seq === -1 ? null : seq;
  }

  async hold(r: HoldRequest): Promise<HoldOutcome> {
    const code = Number(await this.run(S.hold, [r.membersKey, r.holdKey], [r.name, r.channel, r.payload, r.maxHeld, r.ttlMs]));
    return HOLD_OUTCOMES[code] ?? 'not-found';
  }

  async reregister(entries: readonly ReregisterEntry[]): Promise<ReregisterEntry[]> {
    const replies = await Promise.all(
      entries.map((e) => this.run(S.reregister, [e.membersKey], [e.name, `${e.seq}|${e.owner}|${e.secretHash}|0`, e.seq])),
    );
    return entries.filter((_, i) => Number(replies[i]) === 0);
  }

  publish(channel: string, payload: string): Promise<number> {
    return this.commands.publish(channel, payload);
  }

  async subscribe(channels: readonly string[]): Promise<void> {
    await this.subscriber.subscribe(...channels);
  }

  async unsubscribe(channels: readonly string[]): Promise<void> {
    await this.subscriber.unsubscribe(...channels);
  }

  onMessage(handler: BusHandler): void {
    this.handler = handler;
  }

  onReconnect(handler: () => void): void {
    this.reconnectHandler = handler;
  }

  async renewLease(nodeId: string, ttlMs: number): Promise<void> {
    await this.run(S.renewLease, [this.nodes.leases], [nodeId, ttlMs]);
  }

  async indexMember(nodeId: string, m: MemberRef): Promise<void> {
    await this.commands.sadd(this.nodes.members(nodeId), `${m.membersKey}\n${m.holdKey}\n${m.name}`);
  }

  async releaseLease(nodeId: string): Promise<void> {
    await this.commands.zadd(this.nodes.leases, 0, nodeId);
  }

  async claimDeadNodes(claimant: string, claimMs: number): Promise<string[]> {
    const dead = ((await this.run(S.deadNodes, [this.nodes.leases], [])) as unknown[]).map(String);
    const claimed: string[] = [];
    for (const nodeId of dead) {
      if ((await this.commands.set(this.nodes.sweepLock(nodeId), claimant, 'PX', claimMs, 'NX')) === 'OK') claimed.push(nodeId);
    }
    return claimed;
  }

  async deadNodeMembers(nodeId: string): Promise<MemberRef[]> {
    const entries = await this.commands.smembers(this.nodes.members(nodeId));
    return entries.flatMap((entry) => {
      // Names cannot contain control characters, so a newline separates the parts safely.
      const [membersKey, holdKey, name] = entry.split('\n');
      return membersKey && holdKey && name ? [{ membersKey, holdKey, name }] : [];
    });
  }

  async sweepMember(nodeId: string, m: MemberRef, graceMs: number): Promise<SweepOutcome> {
    const seq = Number(await this.run(S.sweepMember, [m.membersKey, m.holdKey], [m.name, nodeId, graceMs]));
    if (seq === -2) return { action: 'kept' };
    await this.commands.srem(this.nodes.members(nodeId), `${m.membersKey}\n${m.holdKey}\n${m.name}`);
    return seq === -1 ? { action: 'forgotten' } : { action: 'removed', seq };
  }

  async forgetNode(nodeId: string): Promise<void> {
    if ((await this.commands.scard(this.nodes.members(nodeId))) > 0) return;
    await this.commands.zrem(this.nodes.leases, nodeId);
    await this.commands.del(this.nodes.sweepLock(nodeId));
  }

  isReady(): boolean {
    return this.commands.status === 'ready' && this.subscriber.status === 'ready';
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.commands.quit(), this.subscriber.quit()]);
    this.commands.disconnect();
    this.subscriber.disconnect();
  }
}
