import type { Cluster } from 'ioredis';
import type { Logger } from 'pino';
import { BackendUnavailableError } from '../../cluster/backend.ts';
import type { RedisClusterConfig } from './cluster-connection.ts';
import { createClusterClient } from './cluster-connection.ts';
import { ClusterRecovery } from './cluster-recovery.ts';
import { RedisStore } from './redis-store.ts';
import { indexFailureLogger } from './best-effort-writes.ts';
import { hashTag, keySlot } from './subscriber-recovery.ts';
import { SubscriberWatch } from './subscriber-watch.ts';

/** SSUBSCRIBE takes channels of one slot only: split a request by hash tag. */
function bySlot(channels: readonly string[]): string[][] {
  const groups = new Map<string, string[]>();
  for (const channel of channels) {
    const tag = hashTag(channel);
    const group = groups.get(tag);
    if (group) group.push(channel);
    else groups.set(tag, [channel]);
  }
  return [...groups.values()];
}

/**
 * A Redis Cluster as presence store and bus, with sharded pub/sub: a signal or room event is
 * an SPUBLISH that only the shard owning the room carries (classic PUBLISH is broadcast to
 * every node and would not scale with shards). Room keys and channels share the room's hash
 * tag (see cluster/keys.ts), so a room lives on one shard and its scripts stay atomic.
 */
export class RedisClusterBackend extends RedisStore {
  private readonly cluster: Cluster;
  /**
   * Sharded subscriptions live on a client of their own, as the single-Redis backend keeps a
   * subscriber connection apart: with one client for both, SPUBLISHes issued while other
   * sessions were subscribing made a shard's subscriber stop emitting messages
   * (bench/cluster-loss-repro.ts).
   */
  private readonly subscriber: Cluster;
  private readonly recovery: ClusterRecovery;
  private readonly watch: SubscriberWatch;
  /**
   * Slots whose subscriptions were lost and whose shard subscribers ioredis has not made
   * ready again: their members are audited against the store meanwhile (busGaps).
   */
  private readonly lostSlots = new Set<number>();

  constructor(config: RedisClusterConfig & { prefix: string }, nodeId: string, log: Logger) {
    const cluster = createClusterClient(config, `signaling:${nodeId}`);
    super(cluster, config.prefix, true, indexFailureLogger(log));
    this.cluster = cluster;
    this.subscriber = createClusterClient(config, `signaling:${nodeId}:sub`);
    this.subscriber.on('error', (error: Error) => log.warn({ err: error.message }, 'redis cluster subscriber error; reconnecting'));
    cluster.on('error', (error: Error) => log.warn({ err: error.message }, 'redis cluster error; reconnecting'));
    cluster.on('node error', (error: Error, address: string) =>
      log.warn({ redisNode: address, err: error.message }, 'redis cluster node error'),
    );
    cluster.on('ready', () => log.info('redis cluster ready'));
    cluster.on('end', () => log.info('redis cluster connection closed'));
    this.subscriber.on('smessage', (channel: string, payload: string) => this.handler(channel, payload));
    this.watch = this.watchSubscribers(nodeId, log);
    // ioredis follows MOVED/ASK and re-subscribes by itself; what it cannot know is that a
    // shard came back without our data, which is what re-registration is for.
    this.recovery = new ClusterRecovery(cluster, (reason) => {
      log.info({ reason }, 'redis cluster shard changed or came back: re-registering local members');
      this.reconnectHandler();
    });
  }

  /**
   * One shard's subscriber connection can drop alone (CLIENT KILL, a network blip, Redis
   * cutting a slow subscriber) or be replaced by the client library after a failover. It
   * then replays its own channel list on a new connection; what it cannot do is hand over
   * what was held for those members meanwhile. SubscriberWatch says which slots were lost,
   * the core re-subscribes their channels and catches their members up.
   */
  private watchSubscribers(nodeId: string, log: Logger): SubscriberWatch {
    this.subscriber.on('subscribersReady', () => this.lostSlots.clear());
    return new SubscriberWatch(
      this.subscriber,
      this.cluster,
      `signaling:${nodeId}:sub`,
      (slots) => {
        for (const slot of slots) this.lostSlots.add(slot);
        this.busResetHandler((channel) => slots.has(keySlot(channel)));
      },
      log,
    );
  }

  busGaps(): ((channel: string) => boolean) | null {
    if (this.lostSlots.size === 0) return null;
    const slots = new Set(this.lostSlots);
    return (channel) => slots.has(keySlot(channel));
  }

  async connect(): Promise<void> {
    try {
      await Promise.all([this.cluster.connect(), this.subscriber.connect()]);
    } catch (error) {
      throw new BackendUnavailableError(
        `cannot connect to the Redis Cluster (${error instanceof Error ? error.message : String(error)}); check REDIS_CLUSTER_NODES and that the cluster is up`,
        { cause: error },
      );
    }
  }

  async publish(channel: string, payload: string): Promise<number> {
    return Number(await this.cluster.spublish(channel, payload));
  }

  async subscribe(channels: readonly string[]): Promise<void> {
    await Promise.all(bySlot(channels).map((group) => this.subscriber.ssubscribe(...group)));
  }

  async unsubscribe(channels: readonly string[]): Promise<void> {
    await Promise.all(bySlot(channels).map((group) => this.subscriber.sunsubscribe(...group)));
  }

  isReady(): boolean {
    return this.cluster.status === 'ready' && this.subscriber.status === 'ready';
  }

  async close(): Promise<void> {
    this.indexes.stop();
    this.recovery.stop();
    this.watch.stop();
    await Promise.all([this.cluster.quit().catch(() => undefined), this.subscriber.quit().catch(() => undefined)]);
    this.cluster.disconnect();
    this.subscriber.disconnect();
  }
}
