import type { TargetKind } from './bench-client.ts';
import type { BenchOptions } from './options.ts';
import type { Watched } from './proc-stats.ts';
import type { Server } from './servers.ts';
import { startNode, startRedis } from './servers.ts';

/**
 * The dynos' settings for the bench. The rate limit is raised because one bench connection
 * sends far more than the 50/s a browser is allowed; logs go down to warn so per-connection
 * info lines do not cost CPU that a real deployment would spend elsewhere (the log drain).
 */
export const DYNO_ENV: Record<string, string> = {
  LOG_LEVEL: 'warn',
  RATE_LIMIT_PER_SEC: '100000',
  RATE_LIMIT_BURST: '100000',
  // Admission control off: the bench measures what a dyno carries, and its clients do not
  // retry a refused join the way the client library does (bench/reconnect-storm.ts does).
  MAX_JOINS_PER_SEC: '1000000',
  MAX_CONNECTIONS: '1000000',
  RATE_LIMIT_BYTES_PER_SEC: '100000000',
  RATE_LIMIT_BYTES_BURST: '100000000',
  // The join storm puts 10 members in a room (2000 in 200 rooms), over the default of 8.
  MAX_ROOM_SIZE: '16',
};

/** One Redis and two nodes of one target, started fresh or given by URL. */
export interface BenchCluster {
  kind: TargetKind;
  redis: Server;
  nodes: [Server, Server];
  urls: [string, string];
  /** Started by the bench, so their CPU and RSS can be read. */
  watched(): Watched[];
  stop(): Promise<void>;
}

export interface ClusterExtras {
  /** Open each node's inspector (to force GC). */
  inspect?: boolean;
  /** More dyno settings on top of DYNO_ENV. */
  env?: Record<string, string>;
  /** The dynos run this src/main.ts (another checkout: before/after in one run). */
  main?: string;
}

const live = new Set<Server>();

/** Every server started and not yet stopped, for the kill-on-exit hook. */
export function liveServers(): Server[] {
  return [...live];
}

export async function startCluster(kind: TargetKind, options: BenchOptions, extras: ClusterExtras = {}): Promise<BenchCluster> {
  const givenNodes = kind === 'signaling' ? options.dynoUrls : options.socketioUrls;
  const external = (role: string, url: string): Server => ({ role, url, stop: async () => undefined });
  const redis = givenNodes || options.redisUrl ? external('redis', options.redisUrl ?? '') : await startRedis();
  live.add(redis);
  const serverKind = kind === 'signaling' ? 'dyno' : 'socketio';
  const nodes: [Server, Server] = givenNodes
    ? [external('node-0', givenNodes[0]), external('node-1', givenNodes[1])]
    : await Promise.all([
        startNode(serverKind, 'node-0', redis.url, {
          env: { ...DYNO_ENV, ...extras.env },
          inspect: extras.inspect === true,
          ...(extras.main ? { main: extras.main } : {}),
        }),
        startNode(serverKind, 'node-1', redis.url, {
          env: { ...DYNO_ENV, ...extras.env },
          inspect: extras.inspect === true,
          ...(extras.main ? { main: extras.main } : {}),
        }),
      ]);
  for (const n of nodes) live.add(n);
  return {
    kind,
    redis,
    nodes,
    urls: [nodes[0].url, nodes[1].url],
    watched: () => [...nodes, redis].filter((s) => s.pid !== undefined).map((s) => ({ role: s.role, pids: [s.pid as number] })),
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
      await redis.stop();
      for (const s of [...nodes, redis]) live.delete(s);
    },
  };
}
