import { Redis } from 'ioredis';
import type { Cluster, RedisOptions } from 'ioredis';

export interface RedisConnectionConfig {
  url: string;
  /**
   * Verify the server certificate on rediss:// URLs. Default false, because Heroku Redis
   * serves a self-signed certificate and its docs say to skip verification.
   */
  tlsVerify: boolean;
  /**
   * REDIS_COMMAND_TIMEOUT_MS: a command unanswered this long fails (`unavailable`). Without
   * it, a Redis that stops answering but keeps the connection open stalls every session's
   * queue; the core treats the timeout like a lost reply (the command may still have run).
   */
  commandTimeoutMs: number;
}

/** First reconnect delay, doubling per attempt up to RECONNECT_MAX_MS. */
const RECONNECT_FIRST_MS = 50;
const RECONNECT_MAX_MS = 2000;

/** Reconnect forever, quickly at first: a dyno without Redis is useless but must not die. */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(RECONNECT_FIRST_MS * 2 ** attempt, RECONNECT_MAX_MS);
}

/**
 * Options shared by every connection. Fail fast instead of queueing: while Redis is away a
 * client gets `unavailable` at once, and memory does not grow with an offline queue.
 */
export function connectionOptions(config: RedisConnectionConfig, name: string): RedisOptions {
  const options: RedisOptions = {
    connectionName: name,
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: config.commandTimeoutMs,
    retryStrategy: reconnectDelayMs,
    lazyConnect: true,
  };
  if (config.url.startsWith('rediss://')) options.tls = { rejectUnauthorized: config.tlsVerify };
  return options;
}

export function createConnection(config: RedisConnectionConfig, name: string): Redis {
  return new Redis(config.url, connectionOptions(config, name));
}

/** Runs a Lua script by SHA, loading it on NOSCRIPT (after a Redis restart, for instance). */
export async function runScript(
  client: Redis | Cluster,
  script: { source: string; sha: string },
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  try {
    return await client.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('NOSCRIPT')) {
      return client.eval(script.source, keys.length, ...keys, ...args);
    }
    throw error;
  }
}
