import type { Parsed } from './env-parsers.ts';

/** Where to find a Redis Cluster, from REDIS_CLUSTER_NODES. */
export interface RedisClusterSeeds {
  /** Seed nodes; the client learns the rest of the cluster from any one of them. */
  nodes: Array<{ host: string; port: number }>;
  /** rediss:// seeds: every node connection uses TLS. */
  tls: boolean;
  username: string | undefined;
  password: string | undefined;
}

const EXAMPLE = 'such as 10.0.0.1:6379,10.0.0.2:6379 or rediss://:password@host1:6379,rediss://:password@host2:6379';

/**
 * REDIS_CLUSTER_NODES: comma-separated seeds, each `host:port` or a redis:// / rediss:// URL
 * as in REDIS_URL. A cluster has one password and one transport, so the URLs that carry
 * credentials or a scheme must agree; bare `host:port` seeds take them from the URLs. Problem
 * texts name a seed by its position and host only: a password must never reach the log.
 */
export function redisClusterNodes(raw: string): Parsed<RedisClusterSeeds> {
  const entries = raw
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  if (entries.length === 0) return { ok: false, problem: `lists no nodes; give host:port seeds ${EXAMPLE}` };
  const nodes: RedisClusterSeeds['nodes'] = [];
  const schemes = new Set<string>();
  const credentials = new Set<string>();
  let username: string | undefined;
  let password: string | undefined;
  for (const [index, entry] of entries.entries()) {
    const which = `seed ${index + 1}`;
    const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(entry);
    let url: URL;
    try {
      url = new URL(hasScheme ? entry : `redis://${entry}`);
    } catch {
      return { ok: false, problem: `has ${which}, which is not host:port or a redis:// URL (${EXAMPLE})` };
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
      return { ok: false, problem: `has ${which} starting with ${url.protocol}//; use redis://, rediss:// or plain host:port` };
    }
    if (!url.hostname) return { ok: false, problem: `has ${which} without a host` };
    const where = `${which} (${url.host})`;
    if (url.pathname !== '' && url.pathname !== '/' && url.pathname !== '/0') {
      return { ok: false, problem: `has ${where} naming database ${url.pathname.slice(1)}; a Redis Cluster only has database 0` };
    }
    if (!hasScheme && !url.port) return { ok: false, problem: `has ${where} without a port; write host:port` };
    if (hasScheme) schemes.add(url.protocol);
    if (url.username || url.password) {
      username = url.username ? decodeURIComponent(url.username) : undefined;
      password = url.password ? decodeURIComponent(url.password) : undefined;
      credentials.add(`${url.username}:${url.password}`);
    }
    // IPv6 hosts come back bracketed from URL; sockets want them bare.
    nodes.push({ host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port ? Number(url.port) : 6379 });
  }
  if (schemes.size > 1) return { ok: false, problem: 'mixes redis:// and rediss:// seeds; a cluster uses TLS on every node or on none' };
  if (credentials.size > 1) return { ok: false, problem: 'gives different credentials in different seeds; a cluster has one password' };
  return { ok: true, value: { nodes, tls: schemes.has('rediss:'), username, password } };
}
