import type { Cluster, Redis } from 'ioredis';

/** Triggers this close together are one recovery: a failover fires several within a few ms. */
const SETTLE_MS = 50;
/**
 * Longest wait for a node that triggered to say cluster_state:ok before the members are put
 * back anyway: longer than a cluster takes to agree after a restart or failover
 * (cluster-node-timeout is 15 s by default), so only a node that never rejoins is given up on.
 */
const CLUSTER_OK_LIMIT_MS = 30_000;
/**
 * How often CLUSTER INFO is asked meanwhile. Short: joins that reach the node between its
 * recovery and re-registration see a room without the members this dyno is about to put back.
 */
const CLUSTER_OK_POLL_MS = 50;

/**
 * Decides when a Redis Cluster may have lost data, so the core re-registers its members
 * (idempotent: calling it too often costs one script per local member, never correctness).
 *
 * A single Redis says so with one event: its connection is ready again. A cluster loses data
 * per shard, and ioredis Cluster only emits 'ready' again when every node was lost, so this
 * watches the node connections and the slot map instead:
 *  - a master connection becomes ready for an address that had been ready before: that
 *    master restarted, possibly empty (no replica to fail over to, no persistence);
 *  - a master connection becomes ready for an address that was not a master at start-up:
 *    a replica was promoted (asynchronous replication may have dropped the last writes) or
 *    a new master took slots over;
 *  - a slot refresh shows a slot served by another master than before (a failover seen
 *    before any command reached the new master);
 *  - the whole cluster client reconnected.
 * Triggers within `settleMs` are coalesced: a failover fires several of them at once. A node
 * that restarted answers commands before it has rejoined the cluster (CLUSTERDOWN until its
 * view of the cluster is ok), and a re-registration failing then would not be retried, so
 * the handler waits until every node that triggered says cluster_state:ok.
 */
export class ClusterRecovery {
  private readonly cluster: Cluster;
  private readonly onRecovered: (reason: string) => void;
  private readonly settleMs: number;
  /** Masters of the first slot map; undefined until the cluster was first ready. */
  private initialMasters: Set<string> | undefined;
  /** Master addresses whose connection has been ready at least once. */
  private readonly readyBefore = new Set<string>();
  private slotMasters: string[] = [];
  private everReady = false;
  private timer: NodeJS.Timeout | undefined;
  private reasons = new Set<string>();
  /** Node connections that must report cluster_state:ok before the handler runs. */
  private waitFor = new Set<Redis>();
  private stopped = false;

  constructor(cluster: Cluster, onRecovered: (reason: string) => void, settleMs = SETTLE_MS) {
    this.cluster = cluster;
    this.onRecovered = onRecovered;
    this.settleMs = settleMs;
    cluster.on('+node', (redis: Redis) => this.watchNode(redis));
    cluster.on('refresh', () => this.compareSlots());
    cluster.on('ready', () => {
      if (this.everReady) this.trigger('the cluster client reconnected');
      this.everReady = true;
      this.slotMasters = this.currentSlotMasters();
      this.initialMasters ??= new Set(this.slotMasters.filter(Boolean));
    });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private watchNode(redis: Redis): void {
    const key = `${redis.options.host ?? ''}:${redis.options.port ?? ''}`;
    redis.on('ready', () => {
      // Replicas serve no commands here (reads go to masters), so their data does not matter.
      if (redis.options.readOnly) return;
      if (this.readyBefore.has(key)) this.trigger(`master ${key} is back`, redis);
      else if (this.initialMasters && !this.initialMasters.has(key)) this.trigger(`${key} became a master`, redis);
      this.readyBefore.add(key);
    });
    // ioredis connects to a node only when a command needs it. A master that came back is
    // connected at once instead, so re-registration runs before clients' joins reach it,
    // not after the first of them. (Deferred: the pool adds its error listener after this.)
    if (this.everReady && !redis.options.readOnly) {
      setImmediate(() => {
        if (redis.status === 'wait') redis.connect().catch(() => undefined);
      });
    }
  }

  private compareSlots(): void {
    if (!this.everReady) return;
    const now = this.currentSlotMasters();
    const before = this.slotMasters;
    const moved = before.length > 0 && now.some((master, slot) => master !== before[slot]);
    this.slotMasters = now;
    if (moved) this.trigger('slots moved to another master');
  }

  private currentSlotMasters(): string[] {
    // Array.from, not map: the slot array has holes for slots no node serves.
    return Array.from(this.cluster.slots, (nodes: string[] | undefined) => nodes?.[0] ?? '');
  }

  private trigger(reason: string, node?: Redis): void {
    this.reasons.add(reason);
    if (node) this.waitFor.add(node);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.fire(), this.settleMs);
    this.timer.unref();
  }

  private async fire(): Promise<void> {
    this.timer = undefined;
    const reasons = [...this.reasons].join('; ');
    const nodes = [...this.waitFor];
    this.reasons.clear();
    this.waitFor.clear();
    await Promise.all(nodes.map((node) => this.untilClusterOk(node)));
    if (!this.stopped) this.onRecovered(reasons);
  }

  /** Polls CLUSTER INFO on one node; gives up when its connection ends or after CLUSTER_OK_LIMIT_MS. */
  private async untilClusterOk(node: Redis): Promise<void> {
    const deadline = Date.now() + CLUSTER_OK_LIMIT_MS;
    while (!this.stopped && node.status !== 'end' && Date.now() < deadline) {
      const info = await node.cluster('INFO').catch(() => '');
      if (String(info).includes('cluster_state:ok')) return;
      await new Promise((resolve) => setTimeout(resolve, CLUSTER_OK_POLL_MS).unref());
    }
  }
}
