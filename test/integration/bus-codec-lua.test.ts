import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { infoTail, parseRecord } from '../../src/backends/redis/member-record.ts';
import { script } from '../../src/backends/redis/scripts.ts';
import { decodeBus, encodeBus, metadataSuffix, Tag } from '../../src/cluster/bus-codec.ts';
import type { RedisFixture } from '../fixtures/redis.ts';
import { startRedis } from '../fixtures/redis.ts';

/**
 * The Lua half of the bus codec, run by a real Redis: what the scripts publish decodes in
 * TypeScript to what TypeScript would have encoded, and the member record the scripts write
 * parses in TypeScript (and the other way round).
 */
let redis: RedisFixture;
let client: Redis;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
});

afterAll(async () => {
  client.disconnect();
  await redis.stop();
});

const evalLua = async (body: string, ...args: string[]): Promise<unknown> => client.eval(script(body), 0, ...args);

describe('bus codec in Lua', () => {
  it('has the TypeScript table', async () => {
    const pairs = (await evalLua(`
local out = {}
for name, tag in pairs(TAG) do out[#out + 1] = name .. '=' .. tag end
return out
`)) as string[];
    expect(Object.fromEntries(pairs.map((pair) => pair.split('=')))).toEqual({ ...Tag });
  });

  it('publishes payloads that decode to what TypeScript encodes', async () => {
    const metadata = { displayName: 'Zoë | "x"\nnot a name' };
    const suffix = metadataSuffix(metadata);
    const [joined, renumbered, left, removed, drain] = (await evalLua(
      `return {bus_joined(7, ARGV[1], ARGV[2]), bus_renumbered(12, 4, ARGV[1], ARGV[2]), bus_left(3, ARGV[1]), bus_removed(ARGV[3]), TAG.DrainRequest}`,
      'a:b',
      suffix,
      'node-1/c9',
    )) as string[];
    expect(joined).toBe(encodeBus({ tag: Tag.Joined, seq: 7, name: 'a:b', metadata }));
    expect(renumbered).toBe(encodeBus({ tag: Tag.Renumbered, seq: 12, previous: 4, name: 'a:b', metadata }));
    expect(left).toBe(encodeBus({ tag: Tag.Left, seq: 3, name: 'a:b' }));
    expect(decodeBus(removed as string)).toEqual({ tag: Tag.Removed, owner: 'node-1/c9' });
    expect(decodeBus(drain as string)).toEqual({ tag: Tag.DrainRequest });
  });

  it('writes and parses the member record as TypeScript does', async () => {
    const info = { joinedAt: 1_700_000_000_123, metadata: { role: 'a|b' } };
    const [written, seq, owner, secret, grace, tail] = (await evalLua(
      `local v = record(5, ARGV[1], ARGV[2], 1700000009999, ARGV[3])
local seq, owner, secret, grace, tail = parse(v)
return {v, seq, owner, secret, tostring(grace), tail}`,
      'node-1/c9',
      'hash',
      infoTail(info),
    )) as [string, number, string, string, string, string];
    expect(parseRecord(written)).toEqual({ seq: 5, graceUntil: 1_700_000_009_999, joinedAt: info.joinedAt, metadata: info.metadata });
    expect([seq, owner, secret, Number(grace), tail]).toEqual([5, 'node-1/c9', 'hash', 1_700_000_009_999, infoTail(info)]);
  });
});
