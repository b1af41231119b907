import { Cluster } from 'ioredis';
import type { ClusterOptions } from 'ioredis';
import type { RedisClusterSeeds } from '../../config/redis-cluster-nodes.ts';
import { reconnectDelayMs } from './connection.ts';

export interface RedisClusterConfig extends RedisClusterSeeds {
  /** As REDIS_TLS_VERIFY for one Redis: managed clusters often serve self-signed certificates. */
  tlsVerify: boolean;
  /** As for one Redis (RedisConnectionConfig.commandTimeoutMs). */
  commandTimeoutMs: number;
}

/**
 * A command that meets a closed connection or CLUSTERDOWN is sent again this long after, up
 * to MAX_REDIRECTIONS times (MOVED is followed at once), before the caller hears
 * `unavailable`: under a second in all, as a failover takes longer than that.
 */
const CLUSTER_RETRY_DELAY_MS = 100;
const MAX_REDIRECTIONS = 6;
/**
 * The slot map is read again this often, besides the refresh that MOVED and lost connections
 * trigger: a promoted replica is noticed even when no command touched its slots.
 */
const SLOTS_REFRESH_MS = 2000;
/**
 * A node that accepts no connection in this long counts as down (ioredis waits 10 s): a join
 * whose room lives on a dead master's address gets `unavailable` instead of hanging.
 */
const CONNECT_TIMEOUT_MS = 3000;

/**
 * One ioredis Cluster client for commands and sharded pub/sub alike: it keeps a command
 * connection per master and, with `shardedSubscribers`, one subscriber connection per master
 * holding subscribed channels, and re-subscribes them on the new master after a failover.
 * Same fail-fast stance as the single-Redis connection (connection.ts): no offline queue, so
 * while a shard has no master its rooms get `unavailable` instead of waiting.
 */
export function createClusterClient(config: RedisClusterConfig, name: string): Cluster {
  const options: ClusterOptions = {
    shardedSubscribers: true,
    // Membership reads must see the writes just made: replicas lag, so only masters serve.
    scaleReads: 'master',
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    lazyConnect: true,
    // Used only when every node was lost at once.
    clusterRetryStrategy: reconnectDelayMs,
    maxRedirections: MAX_REDIRECTIONS,
    retryDelayOnFailover: CLUSTER_RETRY_DELAY_MS,
    retryDelayOnClusterDown: CLUSTER_RETRY_DELAY_MS,
    slotsRefreshInterval: SLOTS_REFRESH_MS,
    redisOptions: {
      connectionName: name,
      username: config.username,
      password: config.password,
      maxRetriesPerRequest: 0,
      commandTimeout: config.commandTimeoutMs,
      connectTimeout: CONNECT_TIMEOUT_MS,
      ...(config.tls ? { tls: { rejectUnauthorized: config.tlsVerify } } : {}),
    },
  };
  if (config.tls) {
    // Keep host names instead of resolving them to IPs, so TLS checks the certificate (and
    // sends SNI) for the name it was issued to, as managed clusters require.
    options.dnsLookup = (address, callback) => callback(null, address);
  }
  return new Cluster(config.nodes, options);
}
