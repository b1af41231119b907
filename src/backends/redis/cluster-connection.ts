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
    // MOVED is followed at once; a closed connection or CLUSTERDOWN is retried a few times,
    // ~100 ms apart, before the caller hears `unavailable` (a failover takes longer than that).
    maxRedirections: 6,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    // Besides the refresh that MOVED and lost connections trigger: notices a promoted replica
    // even when no command touched its slots.
    slotsRefreshInterval: 2000,
    redisOptions: {
      connectionName: name,
      username: config.username,
      password: config.password,
      maxRetriesPerRequest: 0,
      commandTimeout: config.commandTimeoutMs,
      connectTimeout: 3000,
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
