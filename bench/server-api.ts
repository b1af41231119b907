/**
 * The server API and room broadcast (issue 14), on real dynos: how long a page of
 * GET /api/v1/rooms takes over N rooms (from the rooms index, one HLEN per room listed),
 * how long GET /api/v1/rooms/{room} takes, and how long one broadcast takes to reach every
 * other member of a full room spread over two dynos. Prints numbers; asserts nothing.
 * Usage: node bench/server-api.ts [embedded|redis|redis-cluster, default redis] [rooms, default 2000]
 */
import WebSocket from 'ws';
import { startCluster } from '../test/fixtures/dyno.ts';
import { startRedis, uniquePrefix } from '../test/fixtures/redis.ts';
import { startRedisCluster } from '../test/fixtures/redis-cluster.ts';

const kind = (process.argv[2] ?? 'redis') as 'embedded' | 'redis' | 'redis-cluster';
const roomCount = Number(process.argv[3] ?? 2000);
const KEY = 'b'.repeat(40);
const redis = kind === 'redis' ? await startRedis() : undefined;
const redisCluster = kind === 'redis-cluster' ? await startRedisCluster() : undefined;
const cluster = await startCluster(kind, {
  redisUrl: redis?.url,
  redisClusterNodes: redisCluster?.seeds,
  env: { API_KEY: KEY, REDIS_PREFIX: uniquePrefix('bench-api') },
});
const sockets: WebSocket[] = [];

function open(i: number, room: string, name: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(cluster.dyno(i).wsUrl());
    sockets.push(ws);
    ws.once('error', reject);
    ws.once('open', () => ws.send(JSON.stringify({ type: 'join', room, name, metadata: { displayName: `${name} in ${room}` } })));
    ws.once('message', () => resolve(ws));
  });
}

const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};
const ms = (v: number): string => `${v.toFixed(1)} ms`;

async function api(path: string): Promise<unknown> {
  const res = await fetch(`${cluster.dyno(1).httpUrl}/api/v1${path}`, { headers: { authorization: `Bearer ${KEY}` } });
  return res.json();
}

try {
  const names = Array.from({ length: roomCount }, (_, i) => `bench-${String(i).padStart(5, '0')}`);
  for (let i = 0; i < names.length; i += 100) await Promise.all(names.slice(i, i + 100).map((r, k) => open(k % 2, r, 'm')));

  const pageTimes: number[] = [];
  let listed = 0;
  let cursor: string | undefined;
  const walkStart = performance.now();
  do {
    const t = performance.now();
    const body = (await api(`/rooms?limit=100${cursor ? `&cursor=${cursor}` : ''}`)) as { rooms: unknown[]; nextCursor?: string };
    pageTimes.push(performance.now() - t);
    listed += body.rooms.length;
    cursor = body.nextCursor;
  } while (cursor !== undefined);
  const walk = performance.now() - walkStart;

  const roomTimes: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    await api(`/rooms/${names[i % names.length]}`);
    roomTimes.push(performance.now() - t);
  }

  // A full room (16 members) over both dynos; one member broadcasts, 15 receive.
  const members = await Promise.all(Array.from({ length: 16 }, (_, i) => open(i % 2, 'bench-broadcast', `p${i}`)));
  const [sender, ...receivers] = members as [WebSocket, ...WebSocket[]];
  await new Promise((resolve) => setTimeout(resolve, 500));
  const fanout: number[] = [];
  for (let n = 0; n < 200; n++) {
    const t = performance.now();
    const arrivals = receivers.map(
      (ws) =>
        new Promise<void>((resolve) => {
          const on = (data: WebSocket.RawData): void => {
            if ((data as Buffer).toString('utf8').includes(`"n":${n}}`)) {
              ws.off('message', on);
              resolve();
            }
          };
          ws.on('message', on);
        }),
    );
    sender.send(JSON.stringify({ type: 'broadcast', data: { n } }));
    await Promise.all(arrivals);
    fanout.push(performance.now() - t);
    await new Promise((resolve) => setTimeout(resolve, 20)); // stay under the 50/s rate limit
  }

  console.log(`backend ${kind}, ${roomCount} rooms, two dynos (API calls to dyno 1)`);
  console.log(
    `GET /api/v1/rooms?limit=100: ${pageTimes.length} pages, ${listed} rooms listed, walk ${ms(walk)}; page p50 ${ms(percentile(pageTimes, 50))}, p95 ${ms(percentile(pageTimes, 95))}`,
  );
  console.log(`GET /api/v1/rooms/{room}: p50 ${ms(percentile(roomTimes, 50))}, p95 ${ms(percentile(roomTimes, 95))} (200 calls)`);
  console.log(
    `broadcast to 15 members over 2 dynos, until the last got it: p50 ${ms(percentile(fanout, 50))}, p95 ${ms(percentile(fanout, 95))} (200 broadcasts)`,
  );
} finally {
  for (const ws of sockets) ws.terminate();
  await cluster.stop();
  await redis?.stop();
  await redisCluster?.stop();
}
