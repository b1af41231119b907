import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { CatchUp, EndReason, Gone, MemberRef, MemberStatus } from '../../cluster/backend.ts';
import { runScript } from './connection.ts';
import { CATCH_UP, COUNTER_FIELD, MEMBER_STATUS } from './scripts.ts';
import { peersFrom } from './member-record.ts';
import { RoomKeys } from '../../cluster/keys.ts';

/** CATCH_UP (scripts.ts): the signals held for a connected member while its channel had no subscriber, and the room. */
const SCRIPT = { source: CATCH_UP, sha: createHash('sha1').update(CATCH_UP).digest('hex') };
const STATUS_SCRIPT = { source: MEMBER_STATUS, sha: createHash('sha1').update(MEMBER_STATUS).digest('hex') };

/** Where the tombstones of a member's ended memberships live (same hash tag as the room). */
export function endedKey(m: Pick<MemberRef, 'holdKey'>): string {
  return `${m.holdKey}:ended`;
}

/** The seqs reserved for members put back in a lost room (see reregisterScript). */
export function renumberingKey(membersKey: string): string {
  return `${membersKey}:renumbering`;
}

export async function memberStatus(client: Redis | Cluster, m: MemberRef, owner: string): Promise<MemberStatus> {
  const reply = (await runScript(client, STATUS_SCRIPT, [m.membersKey, endedKey(m)], [m.name, owner])) as unknown[];
  const code = Number(reply[0]);
  if (code === 1) return 'ours';
  if (code === 0) return 'missing';
  return { ended: String(reply[1]) as EndReason };
}

/** `known`: the peers the client knows, asked about in case the room is being put back (CatchUp.renumbering). */
export async function catchUpMember(
  client: Redis | Cluster,
  m: MemberRef,
  owner: string,
  known: readonly string[],
): Promise<CatchUp | Gone> {
  const keys = [m.membersKey, m.holdKey, endedKey(m), renumberingKey(m.membersKey)];
  for (const peer of known) keys.push(endedKey({ holdKey: RoomKeys.holdKeyOf(m.membersKey, peer) }));
  const reply = (await runScript(client, SCRIPT, keys, [m.name, owner, COUNTER_FIELD, ...known])) as unknown[];
  const count = Number(reply[0]);
  if (count < 0) return reply.length > 1 ? { ended: String(reply[1]) as EndReason } : { ended: null };
  const held = reply.slice(1, 1 + count).map(String);
  const base = Number(reply[1 + count]);
  const pendingCount = Number(reply[2 + count]);
  const pending = reply.slice(3 + count, 3 + count + pendingCount).map(String);
  const peers = peersFrom(reply, 3 + count + pendingCount);
  return base < 0 ? { held, peers } : { held, peers, renumbering: { base, pending } };
}

/** Hash slots of a Redis Cluster. */
const CLUSTER_SLOTS = 16384;

/**
 * The part of a key that Redis Cluster hashes: the text between the first `{` and the next
 * `}` when not empty, else the whole name. Equal tags mean one slot.
 */
export function hashTag(name: string): string {
  const open = name.indexOf('{');
  if (open === -1) return name;
  const close = name.indexOf('}', open + 1);
  return close > open + 1 ? name.slice(open + 1, close) : name;
}

/**
 * Redis Cluster key slot (CRC16/XMODEM of the hash tag, mod 16384), to tell which channels
 * lived on a shard whose subscriber connection dropped.
 */
export function keySlot(key: string): number {
  let crc = 0;
  for (const byte of Buffer.from(hashTag(key), 'utf8')) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % CLUSTER_SLOTS;
}
