import { createHash } from 'node:crypto';
import type { MembershipChange, QueuedEvent } from './events.ts';
import { decodeEvent } from './events.ts';
import * as lua from './lua.ts';
import type { ClaimResult, WebhookQueue, WebhookQueueOptions } from './queue.ts';
import { FORGET_AFTER_MS, QUEUE_SHARDS, roomBase, shardOf } from './queue.ts';
import type { BestEffortWrites } from '../backends/redis/best-effort-writes.ts';

type Script = { source: string; sha: string };
type Run = (script: Script, keys: readonly string[], args: readonly (string | number)[]) => Promise<unknown>;

/**
 * A room's outbox keys live twice maxAgeMs plus this: longer than every event they may hold
 * (dropped at maxAgeMs), and its seq keeps counting up for a while after.
 */
const SEQ_KEPT_MS = 3_600_000;

/**
 * How long a scan waits for the queue shards: one whose master hangs answers late (its rooms
 * come with the next scan) instead of holding back the rooms of every other shard.
 */
const DUE_WAIT_MS = 250;
/** How long a membership change waits for its room to be listed on its queue shard (see runMembership). */
const TOUCH_WAIT_MS = 250;
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
  private readonly writes: BestEffortWrites;
  /** Shards whose last DUE is still unanswered: not asked again until it is. */
  private readonly scanning = new Set<number>();
  /** Rooms a late shard answered with after its scan had given up waiting: the next scan's. */
  private late: string[] = [];

  constructor(prefix: string, options: WebhookQueueOptions, run: Run, writes: BestEffortWrites) {
    this.run = run;
    this.writes = writes;
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
   * Runs a membership script so that it also queues the events of `change` atomically: the
   * outbox lives with the room, so the change needs nothing but the room's master. The room
   * is listed on its shard (another slot, maybe another master) first, so that a dyno dying
   * between the two leaves a listed room with nothing to send, never events nobody knows
   * of; but that wait lasts TOUCH_WAIT_MS at most: a shard whose master hangs must not hold
   * or refuse the change. The touch is then retried until it lands (best-effort-writes.ts),
   * any order being safe (FORGET only unlists a room untouched for a while, and a touch
   * lists it again), and this dyno delivers the room itself meanwhile.
   */
  async runMembership(
    s: Script,
    keys: readonly string[],
    args: readonly (string | number)[],
    membersKey: string,
    change: MembershipChange,
  ): Promise<unknown> {
    const base = roomBase(membersKey);
    await this.writes.run(`webhook\n${base}`, () => this.run(SCRIPTS.schedule, this.shard(base), [base, 0, 1]), TOUCH_WAIT_MS);
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

  /**
   * Asks every shard at once and waits DUE_WAIT_MS at most: a shard whose master hangs is
   * left to answer later (its rooms join the next scan) and is not asked again meanwhile.
   * Rejects only when no shard answered and none is still pending (the store is away).
   */
  async due(limit: number): Promise<string[]> {
    const found: string[][] = [];
    let failed: Error | undefined;
    // Answers after the wait go to `late`: decided when they arrive, so none is dropped.
    let waiting = true;
    const asks: Promise<void>[] = [];
    for (let i = 0; i < QUEUE_SHARDS; i++) {
      const shard = (this.nextShard + i) % QUEUE_SHARDS;
      if (this.scanning.has(shard)) continue;
      this.scanning.add(shard);
      const ask = (this.run(SCRIPTS.due, [`${this.shardKeys[shard] as string}:due`], [limit]) as Promise<unknown[]>)
        .then((rooms) => {
          const names = rooms.map(String);
          if (waiting) found[i] = names;
          else this.late.push(...names);
        })
        .catch((error: unknown) => {
          failed = error instanceof Error ? error : new Error('the webhook queue scan failed', { cause: error });
        })
        .finally(() => this.scanning.delete(shard));
      asks.push(ask);
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(asks), new Promise<void>((resolve) => (timer = setTimeout(resolve, DUE_WAIT_MS)))]);
    clearTimeout(timer);
    waiting = false;
    // Start from the next shard next time, so a busy shard cannot starve the others.
    this.nextShard = (this.nextShard + 1) % QUEUE_SHARDS;
    const rooms = [...new Set([...this.late.splice(0), ...found.flat()])];
    if (rooms.length === 0 && failed !== undefined && this.scanning.size === 0) throw failed;
    return rooms.slice(0, limit);
  }

  async claim(room: string, owner: string, leaseMs: number): Promise<ClaimResult> {
    const reply = (await this.run(
      SCRIPTS.claim,
      [`${room}:wh`, `${room}:whm`],
      [owner, leaseMs, this.options.maxAgeMs, this.ttlMs()],
    )) as unknown[];
    const code = Number(reply[0]);
    const expired = reply
      .slice(4)
      .map((line) => decodeEvent(String(line)))
      .filter((e): e is QueuedEvent => e !== null);
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
    // The shard may be on a master that hangs: the worker also retries the room itself.
    void this.defer(room, delayMs).catch(() => undefined);
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
