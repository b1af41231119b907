import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { findRedisServer } from '../../test/fixtures/redis-binary.ts';

function cli(redisUrl: string, ...args: string[]): string {
  const { hostname, port } = new URL(redisUrl);
  const server = findRedisServer();
  if (!server) throw new Error('redis-cli not found (it ships with redis-server)');
  return execFileSync(join(dirname(server), 'redis-cli'), ['-h', hostname, '-p', port, ...args], { encoding: 'utf8' });
}

/** Ids of the subscriber connections Redis has now: a changed id is a subscriber Redis dropped. */
export function pubsubClientIds(redisUrl: string): Set<string> {
  const ids = new Set<string>();
  for (const line of cli(redisUrl, 'CLIENT', 'LIST', 'TYPE', 'pubsub').split('\n')) {
    const id = /(?:^|\s)id=(\d+)/.exec(line)?.[1];
    if (id) ids.add(id);
  }
  return ids;
}

/** Redis's own count of clients it cut at their output-buffer limit (INFO stats, Redis 7+), or null. */
export function outputBufferDisconnections(redisUrl: string): number | null {
  const match = /client_output_buffer_limit_disconnections:(\d+)/.exec(cli(redisUrl, 'INFO', 'stats'));
  return match ? Number(match[1]) : null;
}
