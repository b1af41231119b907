import { createHash } from 'node:crypto';
import type { MembershipChange, QueuedEvent } from './events.ts';
import { decodeEvent } from './events.ts';
import * as lua from './lua.ts';
import type { ClaimResult, WebhookQueue, WebhookQueueOptions } from './queue.ts';
import { FORGET_AFTER_MS, QUEUE_SHARDS, roomBase, shardOf } from './queue.ts';

type Script = { source: string; sha: string };
type Run = (script: Script, keys: readonly string[], args: readonly (string | number)[]) => Promise<unknown>;

/**
 * A room's outbox keys live twice maxAgeMs plus this: longer than every event they may hold
 * (dropped at maxAgeMs), and its seq keeps counting up for a while after.
 */
const SEQ_KEPT_MS = 3_600_000;
const script = (source: string): Script => ({ source, sha: createHash('sha1').update(source).digest('hex') });
const SCRIPTS = {
  claim: script(lua.CLAIM),
  ack: script(lua.ACK),
  retry: script(lua.RETRY),
  release: script(lua.RELEASE),
  schedule: script(lua.SCHEDULE),
  due: script(lua.DUE),
  forget: script(lua.FORGET),
};

/**
 * The webhook queue in Redis (one Redis or a Redis Cluster). Per room, next to its members:
 * `<base>:wh` (outbox list) and `<base>:whm` (hash: seq, lease, owner, att, next, lost).
 * Per shard i of QUEUE_SHARDS: `<prefix>{wh.i}:due`, room bases scored by when they are due
 * (Redis clock, ms), and `<prefix>{wh.i}:touched`, scored by their last membership change. The shard keys have hash tags of their own, so on a
 * cluster they spread over the masters like any other keys.
 */
export class RedisWebhookQueue implements WebhookQueue {
  private readonly run: Run;
  private readonly options: WebhookQueueOptions;
  private readonly shardKeys: string[];
  private readonly wrapped = new Map<string, Script>();
  private listener: (room: string) => void = () => undefined;
  private nextShard = 0;

  constructor(prefix: string, options: WebhookQueueOptions, run: Run) {
    this.run = run;
    this.options = options;
    this.shardKeys = Array.from({ length: QUEUE_SHARDS }, (_, i) => `${prefix}{wh.${i}}`);
  }

  private ttlMs(): number {
    return this.options.maxAgeMs * 2 + SEQ_KEPT_MS;
  }

  /** The due and touched sets of a room's shard. */
  private shard(base: string): [string, string] {
    const key = this.shardKeys[shardOf(base)] as string;
    return [`${key}:due`, `${key}:touched`];
  }

  /**
   * Runs a membership script so that it also queues the events of `change` atomically. The
   * room is scheduled on its shard first: if this dyno dies between the two, the shard lists
   * a room with nothing to send (harmless), never a queued event nobody knows about.
   */
  async runMembership(s: Script, keys: readonly string[], args: readonly (string | number)[], membersKey: string, change: MembershipChange): Promise<unknown> {
    const base = roomBase(membersKey);
    await this.run(SCRIPTS.schedule, this.shard(base), [base, 0, 1]);
    let wrapped = this.wrapped.get(s.sha);
    if (!wrapped) this.wrapped.set(s.sha, (wrapped = script(lua.withWebhookEvents(s.source))));
    const reason = change.kind === 'leave' ? change.reason : '';
    const reply = await this.run(
      wrapped,
      [...keys, membersKey, `${base}:wh`, `${base}:whm`],
      [...args, change.kind, change.name, reason, this.options.maxQueued, this.ttlMs()],
    );
    this.listener(base);
    return reply;
  }

  async due(limit: number): Promise<string[]> {
    const rooms: string[] = [];
    for (let i = 0; i < QUEUE_SHARDS && rooms.length < limit; i++) {
      const key = this.shardKeys[(this.nextShard + i) % QUEUE_SHARDS] as string;
      const found = (await this.run(SCRIPTS.due, [`${key}:due`], [limit - rooms.length])) as unknown[];
      for (const room of found) rooms.push(String(room));
    }
    // Start from the next shard next time, so a busy shard cannot starve the others.
    this.nextShard = (this.nextShard + 1) % QUEUE_SHARDS;
    return rooms;
  }

  async claim(room: string, owner: string, leaseMs: number): Promise<ClaimResult> {
    const reply = (await this.run(SCRIPTS.claim, [`${room}:wh`, `${room}:whm`], [owner, leaseMs, this.options.maxAgeMs, this.ttlMs()])) as unknown[];
    const code = Number(reply[0]);
    const expired = reply.slice(4).map((line) => decodeEvent(String(line))).filter((e): e is QueuedEvent => e !== null);
    const lost = Number(reply[2]);
    if (code === 0) return { claim: { kind: 'empty' }, expired, lost };
    if (code === 1) return { claim: { kind: 'wait', delayMs: Number(reply[1]) }, expired, lost };
    const event = decodeEvent(String(reply[3]));
    if (!event) {
      // Cannot happen with our own scripts; drop the line rather than retry it forever.
      await this.ack(room, owner, Number(String(reply[3]).split('\n')[0]));
      return { claim: { kind: 'wait', delayMs: 0 }, expired, lost };
    }
    return { claim: { kind: 'event', event, attempts: Number(reply[1]) }, expired, lost };
  }

  async ack(room: string, owner: string, seq: number): Promise<number> {
    return Number(await this.run(SCRIPTS.ack, [`${room}:wh`, `${room}:whm`], [owner, String(seq)]));
  }

  async retry(room: string, owner: string, seq: number, delayMs: number): Promise<void> {
    await this.run(SCRIPTS.retry, [`${room}:wh`, `${room}:whm`], [owner, String(seq), Math.round(delayMs)]);
    await this.defer(room, delayMs);
  }

  async release(room: string, owner: string): Promise<void> {
    await this.run(SCRIPTS.release, [`${room}:wh`, `${room}:whm`], [owner]);
  }

  async defer(room: string, delayMs: number): Promise<void> {
    await this.run(SCRIPTS.schedule, this.shard(room), [room, Math.round(delayMs), 0]);
  }

  async forget(room: string): Promise<void> {
    await this.run(SCRIPTS.forget, this.shard(room), [room, FORGET_AFTER_MS]);
  }

  onActivity(listener: (room: string) => void): void {
    this.listener = listener;
  }
}
