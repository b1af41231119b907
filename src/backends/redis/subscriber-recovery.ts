import { createHash } from 'node:crypto';
import type { CatchUp, MemberRef } from '../../cluster/backend.ts';
import { runScript } from './connection.ts';
import type { RedisClient } from './redis-store.ts';
import { CATCH_UP, COUNTER_FIELD } from './scripts.ts';
import { peersFrom } from './member-record.ts';

/** CATCH_UP (scripts.ts): the signals held for a connected member while its channel had no subscriber, and the room. */
const SCRIPT = { source: CATCH_UP, sha: createHash('sha1').update(CATCH_UP).digest('hex') };

export async function catchUpMember(client: RedisClient, m: MemberRef, owner: string): Promise<CatchUp | null> {
  const reply = (await runScript(client, SCRIPT, [m.membersKey, m.holdKey], [m.name, owner, COUNTER_FIELD])) as unknown[];
  const count = Number(reply[0]);
  if (count < 0) return null;
  const held = reply.slice(1, 1 + count).map(String);
  return { held, peers: peersFrom(reply, 1 + count) };
}

/** Hash slots of a Redis Cluster. */
const CLUSTER_SLOTS = 16384;

/**
 * Redis Cluster key slot (CRC16/XMODEM of the hash tag, mod 16384), to tell which channels
 * lived on a shard whose subscriber connection dropped.
 */
export function keySlot(key: string): number {
  const open = key.indexOf('{');
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(key, 'utf8')) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % CLUSTER_SLOTS;
}
