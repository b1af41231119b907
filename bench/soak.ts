/**
 * `node bench/soak.ts [--minutes 10]`: churn of joins, signals, leaves, closes, drops (grace
 * expiry), resumes and takeovers over two dynos on their own Redis, plus a dyno crash swept
 * by the survivors every minute. At the end of every minute and of the run it prints Redis
 * DBSIZE against the start, member/room channels still subscribed (PUBSUB CHANNELS) and each
 * dyno's heap after a full GC. test/integration/no-leaks.test.ts is the short version.
 */
import { parseArgs } from 'node:util';
import { Inspector } from './lib/inspector.ts';
import { churnRound, emptyCounts, ENDINGS, inspectorUrl } from '../test/fixtures/churn.ts';
import type { Ending } from '../test/fixtures/churn.ts';
import { startDyno } from '../test/fixtures/dyno.ts';
import type { Dyno } from '../test/fixtures/dyno.ts';
import { startRedis, uniquePrefix } from '../test/fixtures/redis.ts';
import { redisCli } from '../test/fixtures/redis-cli.ts';
import { TestClient } from '../test/fixtures/test-client.ts';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '10' } } });
const minutes = Number(values.minutes);
const GRACE_MS = 1000;
const LEASE_MS = 1500;
const say = (line: string): void => void process.stdout.write(`${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const redis = await startRedis({ controllable: true });
  const port = Number(new URL(redis.url).port);
  const prefix = uniquePrefix('soak');
  const env = {
    REDIS_URL: redis.url,
    REDIS_PREFIX: prefix,
    RESUME_GRACE_MS: String(GRACE_MS),
    NODE_LEASE_MS: String(LEASE_MS),
    RATE_LIMIT_PER_SEC: '1000',
    RATE_LIMIT_BURST: '1000',
    LOG_LEVEL: 'info',
  };
  const dynos: Dyno[] = [
    await startDyno({ env: { ...env, NODE_OPTIONS: '--inspect=127.0.0.1:0' } }),
    await startDyno({ env: { ...env, NODE_OPTIONS: '--inspect=127.0.0.1:0' } }),
  ];
  const counts = emptyCounts();
  const dbsize = async (): Promise<number> => Number(await redisCli(port, 'DBSIZE'));
  const tombstones = async (): Promise<number> => (await redisCli(port, 'KEYS', `${prefix}*:swept`)).split('\n').filter(Boolean).length;
  const channels = async (): Promise<number> =>
    (await redisCli(port, 'PUBSUB', 'CHANNELS', `${prefix}{*`)).split('\n').filter(Boolean).length;
  const heaps = async (): Promise<number[]> =>
    Promise.all(
      dynos.map(async (d) => {
        const inspector = await Inspector.connect(inspectorUrl(d));
        await inspector.collectGarbage();
        const used = (await inspector.memoryUsage()).heapUsed;
        inspector.close();
        return used;
      }),
    );
  const settle = async (): Promise<void> => sleep(GRACE_MS + 3 * LEASE_MS + 1000);
  try {
    for (const ending of ENDINGS) await churnRound(dynos, `warm-${ending}`, 3, ending, counts);
    await settle();
    const keys0 = await dbsize();
    const heap0 = await heaps();
    say(`start: DBSIZE ${keys0}, heap MB ${heap0.map((h) => (h / 1e6).toFixed(1)).join(' / ')}`);
    say(
      '| minute | rounds | joins | signals | crash sweeps | DBSIZE (start) | tombstones (expire in a day) | member/room channels subscribed | heap MB after GC node-0 / node-1 |',
    );
    say('|--:|--:|--:|--:|--:|--:|--:|--:|--|');
    const started = Date.now();
    let crashes = 0;
    for (let minute = 1; minute <= minutes; minute++) {
      // A dyno that crashes with members on it, swept by the survivors.
      const doomed = await startDyno({ env });
      const victim = await TestClient.connect(doomed.wsUrl());
      await victim.join(`crash-${minute}`, 'victim');
      await doomed.stop('SIGKILL');
      crashes++;
      for (let round = 0; Date.now() - started < minute * 60_000 - 8000; round++) {
        await churnRound(dynos, `room-${round % 11}`, 3, ENDINGS[round % ENDINGS.length] as Ending, counts);
      }
      await settle();
      const heap = await heaps();
      say(
        `| ${minute} | ${counts.rounds} | ${counts.joins} | ${counts.signals} | ${crashes} | ${await dbsize()} (${keys0}) | ${await tombstones()} | ${await channels()} | ${heap.map((h) => (h / 1e6).toFixed(1)).join(' / ')} |`,
      );
    }
  } finally {
    await Promise.all(dynos.map((d) => d.stop()));
    await redis.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
