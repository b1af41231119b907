import { createHash } from 'node:crypto';
import type { CatchUp, EndReason, Gone, MemberRef, MemberStatus } from '../../cluster/backend.ts';
import { runScript } from './connection.ts';
import type { Cluster, Redis } from 'ioredis';
import { COUNTER_FIELD } from './scripts.ts';
import { peersFrom } from './member-record.ts';

/**
 * After a dyno's subscriber connection dropped and came back, signals published to its
 * members in between reached nobody, so their senders' dynos held them (HOLD) as if the
 * member were reconnecting. Nobody would ever hand them over: the member's socket never
 * dropped, so it never resumes. This script hands them over: it takes the hold list of a
 * member that `owner` holds and that is connected (no grace deadline), and returns the room's
 * members too, so the core can also replay the peer-joined / peer-left it missed.
 *
 * KEYS members, hold, ended; ARGV name, owner, counter field
 * -> {-1, reason} the membership ended (its tombstone), {-1} not ours or reconnecting (or the
 * store lost it: re-registration puts it back), or {#held, held..., name, value, name, value...}.
 * The record is split on '|' field by field (owner second, grace fourth), so fields appended
 * to it later do not break this script.
 */
export const CATCH_UP = `
local v = redis.call('HGET', KEYS[1], ARGV[1])
local ended = redis.call('HGET', KEYS[3], ARGV[2])
if ended then return {-1, string.sub(ended, string.find(ended, '|', 1, true) + 1)} end
if not v then return {-1} end
local parts, start = {}, 1
while true do
  local bar = string.find(v, '|', start, true)
  if not bar then
    parts[#parts + 1] = string.sub(v, start)
    break
  end
  parts[#parts + 1] = string.sub(v, start, bar - 1)
  start = bar + 1
end
if parts[2] ~= ARGV[2] or tonumber(parts[4]) ~= 0 then return {-1} end
local held = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
local out = {#held}
for i = 1, #held do out[#out + 1] = held[i] end
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if all[i] ~= ARGV[3] and all[i] ~= ARGV[1] then
    out[#out + 1] = all[i]
    out[#out + 1] = all[i + 1]
  end
end
return out
`;

/**
 * KEYS members, ended; ARGV name, owner -> {1} ours, {0} not there (the store lost it), or
 * {-1, reason}: the membership ended. Read-only: checked while the bus cannot tell us.
 */
export const MEMBER_STATUS = `
local ended = redis.call('HGET', KEYS[2], ARGV[2])
if ended then return {-1, string.sub(ended, string.find(ended, '|', 1, true) + 1)} end
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return {0} end
local owner = string.sub(v, string.find(v, '|', 1, true) + 1)
owner = string.sub(owner, 1, string.find(owner, '|', 1, true) - 1)
if owner == ARGV[2] then return {1} end
return {-1, 'replaced'}
`;

const SCRIPT = { source: CATCH_UP, sha: createHash('sha1').update(CATCH_UP).digest('hex') };
const STATUS_SCRIPT = { source: MEMBER_STATUS, sha: createHash('sha1').update(MEMBER_STATUS).digest('hex') };

/** Where the tombstones of a member's ended memberships live (same hash tag as the room). */
export function endedKey(m: MemberRef): string {
  return `${m.holdKey}:ended`;
}

export async function memberStatus(client: Redis | Cluster, m: MemberRef, owner: string): Promise<MemberStatus> {
  const reply = (await runScript(client, STATUS_SCRIPT, [m.membersKey, endedKey(m)], [m.name, owner])) as unknown[];
  const code = Number(reply[0]);
  if (code === 1) return 'ours';
  if (code === 0) return 'missing';
  return { ended: String(reply[1]) as EndReason };
}

export async function catchUpMember(client: Redis | Cluster, m: MemberRef, owner: string): Promise<CatchUp | Gone> {
  const reply = (await runScript(client, SCRIPT, [m.membersKey, m.holdKey, endedKey(m)], [m.name, owner, COUNTER_FIELD])) as unknown[];
  const count = Number(reply[0]);
  if (count < 0) return reply.length > 1 ? { ended: String(reply[1]) as EndReason } : { ended: null };
  const held = reply.slice(1, 1 + count).map(String);
  return { held, peers: peersFrom(reply, 1 + count) };
}

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
  return crc % 16384;
}
