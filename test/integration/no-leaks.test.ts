import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Inspector } from '../../bench/lib/inspector.ts';
import type { ChurnCounts, Ending } from '../fixtures/churn.ts';
import { churnRound, emptyCounts, ENDINGS, inspectorUrl } from '../fixtures/churn.ts';
import type { Dyno } from '../fixtures/dyno.ts';
import { startDyno } from '../fixtures/dyno.ts';
import type { ControllableRedisFixture } from '../fixtures/redis.ts';
import { startRedis, uniquePrefix } from '../fixtures/redis.ts';
import { redisCli } from '../fixtures/redis-cli.ts';
import { TestClient } from '../fixtures/test-client.ts';

/**
 * The short soak (bench/soak.ts runs the same churn for ten minutes): joins, signals and
 * every way a membership ends (leave, close, drop and grace expiry, resume then leave,
 * replaced by a resume elsewhere, and a dyno crash swept by the survivors) over real dynos
 * on their own Redis. Afterwards Redis holds nothing of those members (DBSIZE is back to
 * where it started, no member or room channel has a subscriber) and each surviving dyno's
 * heap after a full GC is within a few MB of where it started.
 */
const GRACE_MS = 400;
const LEASE_MS = 900;
const CHURN_MS = 12_000;
const HEAP_SLACK_BYTES = 3 * 1024 * 1024;

let redis: ControllableRedisFixture;
let port: number;
const prefix = uniquePrefix('soak');
const survivors: Dyno[] = [];
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const env = {
  REDIS_PREFIX: prefix,
  RESUME_GRACE_MS: String(GRACE_MS),
  NODE_LEASE_MS: String(LEASE_MS),
  RATE_LIMIT_PER_SEC: '1000',
  RATE_LIMIT_BURST: '1000',
};

async function dbsize(): Promise<number> {
  return Number(await redisCli(port, 'DBSIZE'));
}

/**
 * Keys that expire on their own and are no member's state: the tombstone every ended
 * membership leaves (`<hold key>:ended`, kept a day so a dyno that was only stalled, or a
 * restore, never brings it back). Everything else must be gone.
 */
async function expiringTombstones(): Promise<string[]> {
  const keys = (await redisCli(port, 'KEYS', `${prefix}*:ended`)).split('\n').filter(Boolean);
  const bounded: string[] = [];
  for (const key of keys) if (Number(await redisCli(port, 'PTTL', key)) > 0) bounded.push(key);
  return bounded;
}

/** Member and room channels (under `{`) with a subscriber; the dynos' own channels are theirs. */
async function memberChannels(): Promise<string[]> {
  return (await redisCli(port, 'PUBSUB', 'CHANNELS', `${prefix}{*`)).split('\n').filter(Boolean);
}

async function heapsAfterGc(): Promise<number[]> {
  return Promise.all(
    survivors.map(async (d) => {
      const inspector = await Inspector.connect(inspectorUrl(d));
      try {
        await inspector.collectGarbage();
        return (await inspector.memoryUsage()).heapUsed;
      } finally {
        inspector.close();
      }
    }),
  );
}

beforeAll(async () => {
  redis = await startRedis({ controllable: true });
  port = Number(new URL(redis.url).port);
  for (let i = 0; i < 2; i++) {
    survivors.push(await startDyno({ env: { ...env, REDIS_URL: redis.url, NODE_OPTIONS: '--inspect=127.0.0.1:0' } }));
  }
});

afterAll(async () => {
  await Promise.all(survivors.map((d) => d.stop()));
  await redis?.stop();
});

async function untilSettled(expected: number): Promise<void> {
  const deadline = Date.now() + GRACE_MS + 4 * LEASE_MS + 5000;
  const left = async (): Promise<number> => (await dbsize()) - (await expiringTombstones()).length;
  while (Date.now() < deadline && ((await left()) !== expected || (await memberChannels()).length > 0)) await sleep(100);
}

describe('no leaks after churn (short soak)', () => {
  it('leaves no key, no subscription and no heap behind once every member has gone', async () => {
    const counts: ChurnCounts = emptyCounts();
    // Warm-up: every code path once, so lazily built state is in the baseline, not the growth.
    for (const ending of ENDINGS) await churnRound(survivors, `warm-${ending}`, 3, ending, counts);
    await untilSettled(1);
    // Keys other than tombstones: every ended membership leaves one that expires on its own.
    const keysBefore = (await dbsize()) - (await expiringTombstones()).length;
    const heapBefore = await heapsAfterGc();

    // A dyno that crashes with members on it: the survivors sweep them after lease + grace.
    const doomed = await startDyno({ env: { ...env, REDIS_URL: redis.url } });
    const onDoomed = await TestClient.connect(doomed.wsUrl());
    expect((await onDoomed.join('crash', 'victim')).type).toBe('joined');
    const witness = await TestClient.connect(survivors[0]!.wsUrl());
    expect((await witness.join('crash', 'witness')).type).toBe('joined');
    await doomed.stop('SIGKILL');
    expect(await witness.expect('peer-left', GRACE_MS + 4 * LEASE_MS + 3000)).toEqual({ type: 'peer-left', name: 'victim' });
    await witness.close();

    const started = Date.now();
    for (let round = 0; Date.now() - started < CHURN_MS; round++) {
      const ending = ENDINGS[round % ENDINGS.length] as Ending;
      await churnRound(survivors, `room-${round % 7}`, 3, ending, counts);
    }
    await untilSettled(keysBefore);
    const keys = await redisCli(port, 'KEYS', '*');
    const tombstones = await expiringTombstones();
    // One tombstone per ended (room, name) at most, and every one of them expires on its own.
    const allTombstones = (await redisCli(port, 'KEYS', `${prefix}*:ended`)).split('\n').filter(Boolean);
    expect(tombstones.length, 'tombstones without an expiry').toBe(allTombstones.length);
    expect((await dbsize()) - tombstones.length, `keys left: ${keys}`).toBe(keysBefore);
    expect(await memberChannels()).toEqual([]);
    const heapAfter = await heapsAfterGc();
    console.log(
      `short soak: ${JSON.stringify(counts)}; keys ${keysBefore} -> ${await dbsize()}; heap MB ${heapBefore.map((h) => (h / 1e6).toFixed(1)).join(',')} -> ${heapAfter.map((h) => (h / 1e6).toFixed(1)).join(',')}`,
    );
    for (const [i, after] of heapAfter.entries()) expect(after - (heapBefore[i] as number)).toBeLessThan(HEAP_SLACK_BYTES);
    expect(counts.rounds).toBeGreaterThan(ENDINGS.length * 2);
  }, 90_000);
});
