import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';

/** How often each master is asked whether this dyno's subscriber connection is still the one it was. */
const PROBE_MS = 1000;

/** `host:port`, as ioredis keys nodes in its slot map. */
function nodeKeyOf(redis: Redis): string {
  return `${redis.options.host ?? ''}:${redis.options.port ?? ''}`;
}

/** The `id=` of the client line whose `name=` ends with `name`, if any. */
function clientIdNamed(list: string, name: string): string | undefined {
  for (const line of list.split('\n')) {
    const id = /(?:^| )id=(\d+)/.exec(line)?.[1];
    const client = /(?:^| )name=(\S*)/.exec(line)?.[1];
    if (id && client?.endsWith(name)) return id;
  }
  return undefined;
}

/**
 * Tells which slots' sharded subscriptions this dyno may have lost, from what it owns rather
 * than from the client library's events. The client library (ioredis 6) replaces a shard's
 * subscriber in more ways than it reports: after a slot refresh that shows the shard moved
 * (a failover it learned of late), it stops the old subscriber with its listeners removed,
 * so no `-node` is emitted, and replays its own channel list on a new one. Signals sent in
 * between reached nobody and were held; nobody asks for them unless this says so. Three
 * detectors, any of which reports:
 *  - after every slot refresh, the node serving each slot is compared with the one that
 *    served it before: a slot that changed hands lost its subscriptions;
 *  - a subscriber connection that ends (`-node` with a node key), while the library emits it;
 *  - a probe per master every PROBE_MS: the id of this dyno's subscriber connection there
 *    (found by its connection name in `CLIENT LIST TYPE pubsub`, then checked with
 *    `CLIENT LIST ID`, one line); a connection that is gone was replaced.
 */
export class SubscriberWatch {
  private readonly subscriber: Cluster;
  private readonly commands: Cluster;
  /** What this dyno's subscriber connections are named (the library may add a prefix). */
  private readonly connectionName: string;
  private readonly onLost: (slots: ReadonlySet<number>) => void;
  private readonly log: Logger;
  /** Slot -> node key that served it when last looked at ('' for none). */
  private servedBy: string[] = [];
  private readonly lost = new Set<number>();
  /** Master node key -> client id of this dyno's subscriber connection there. */
  private readonly connectionIds = new Map<string, string>();
  private readonly probing = new Set<string>();
  private probeTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private probeWarned = false;

  constructor(subscriber: Cluster, commands: Cluster, connectionName: string, onLost: (slots: ReadonlySet<number>) => void, log: Logger) {
    this.subscriber = subscriber;
    this.commands = commands;
    this.connectionName = connectionName;
    this.onLost = onLost;
    this.log = log;
    subscriber.on('ready', () => {
      if (this.servedBy.length === 0) this.servedBy = this.currentMap();
    });
    subscriber.on('refresh', () => this.compare());
    // A 2-argument '-node' comes from the sharded subscriber group; the connection pool's has one.
    subscriber.on('-node', (_redis: unknown, nodeKey?: string) => {
      if (nodeKey !== undefined) this.lose(nodeKey, 'its subscriber connection ended');
    });
    this.probeTimer = setInterval(() => this.probeAll(), PROBE_MS);
    this.probeTimer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.probeTimer);
  }

  private currentMap(): string[] {
    // Array.from, not map: the slot array has holes for slots no node serves.
    return Array.from(this.subscriber.slots, (nodes: string[] | undefined) => nodes?.[0] ?? '');
  }

  /** After a slot refresh: every slot now served by another node than before was lost. */
  private compare(): void {
    if (this.servedBy.length === 0) return;
    const now = this.currentMap();
    const moved = new Set<string>();
    for (let slot = 0; slot < now.length; slot++) {
      const before = this.servedBy[slot] ?? '';
      if (before !== '' && before !== now[slot]) {
        this.lost.add(slot);
        moved.add(before);
      }
    }
    this.servedBy = now;
    if (moved.size === 0) return;
    for (const nodeKey of moved) this.connectionIds.delete(nodeKey);
    this.log.warn(
      { from: [...moved] },
      'redis cluster slots moved to another master: re-subscribing their channels and catching their members up',
    );
    this.report();
  }

  private lose(nodeKey: string, why: string): void {
    const map = this.servedBy.length > 0 ? this.servedBy : this.currentMap();
    for (let slot = 0; slot < map.length; slot++) if (map[slot] === nodeKey) this.lost.add(slot);
    this.connectionIds.delete(nodeKey);
    this.log.warn({ redisNode: nodeKey, why }, 'redis cluster subscriber connection lost; re-subscribing once it is back');
    this.report();
  }

  /**
   * At once, in the same tick as the event that showed the loss: the refresh that replaced
   * a subscriber starts its successor asynchronously, so the members' sessions start
   * buffering before anything can arrive on it, and what was held is handed over first.
   * Reports that follow while the recovery still re-subscribes join it (BusRecovery).
   */
  private report(): void {
    if (this.stopped || this.lost.size === 0) return;
    const slots = new Set(this.lost);
    this.lost.clear();
    this.onLost(slots);
  }

  private probeAll(): void {
    if (this.stopped || this.commands.status !== 'ready') return;
    for (const master of this.commands.nodes('master')) {
      const nodeKey = nodeKeyOf(master);
      if (this.probing.has(nodeKey)) continue;
      this.probing.add(nodeKey);
      // A master that hangs keeps only its own probe waiting.
      void this.probe(master, nodeKey)
        .catch((error: unknown) => this.probeFailed(error))
        .finally(() => this.probing.delete(nodeKey));
    }
  }

  /** A refused CLIENT LIST (a managed Redis whose ACL forbids it) is said once: the other detectors still run. */
  private probeFailed(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    if (this.probeWarned || !/NOPERM|unknown command|ERR/i.test(message)) return;
    this.probeWarned = true;
    this.log.warn(
      { err: message },
      'cannot probe the subscriber connections (CLIENT LIST refused); subscriber replacements are still detected from slot refreshes',
    );
  }

  private async probe(master: Redis, nodeKey: string): Promise<void> {
    const known = this.connectionIds.get(nodeKey);
    if (known === undefined) {
      const id = clientIdNamed(String(await master.call('CLIENT', 'LIST', 'TYPE', 'pubsub')), this.connectionName);
      if (id !== undefined && !this.connectionIds.has(nodeKey)) this.connectionIds.set(nodeKey, id);
      return;
    }
    const line = String(await master.call('CLIENT', 'LIST', 'ID', known));
    if (line.trim() === '' && this.connectionIds.get(nodeKey) === known) this.lose(nodeKey, 'its subscriber connection was replaced');
  }
}
