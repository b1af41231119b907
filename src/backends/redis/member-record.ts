import type { MemberEntry, MemberInfo } from '../../cluster/backend.ts';
import type { Metadata } from '../../protocol/messages.ts';
import { readMetadata } from '../../protocol/metadata.ts';

/**
 * A member's record in the room hash (scripts.ts): "<seq>|<owner>|<secret hash>|<grace>"
 * then the info tail "|<joined at ms>|<metadata JSON>". The tail is last so the metadata may
 * hold any character, '|' included; a record without the tail has no join time or metadata.
 */
export interface MemberRecord {
  seq: number;
  /** Grace deadline (ms, Redis clock) while reconnecting, 0 while connected. */
  graceUntil: number;
  joinedAt: number | undefined;
  metadata: Metadata | undefined;
}

/** The tail a script appends to a record it writes; '' when there is no info. */
export function infoTail(info: MemberInfo | undefined): string {
  return info === undefined ? '' : `|${Math.floor(info.joinedAt)}|${JSON.stringify(info.metadata)}`;
}

export function parseRecord(value: string): MemberRecord {
  let at = -1;
  const bars: number[] = [];
  while (bars.length < 5 && (at = value.indexOf('|', at + 1)) !== -1) bars.push(at);
  const seq = Number.parseInt(value, 10);
  const [, , third, fourth, fifth] = bars;
  const graceUntil = third === undefined ? 0 : Number(value.slice(third + 1, fourth));
  if (fourth === undefined || fifth === undefined) return { seq, graceUntil, joinedAt: undefined, metadata: undefined };
  return { seq, graceUntil, joinedAt: Number(value.slice(fourth + 1, fifth)), metadata: readMetadata(value.slice(fifth + 1)) };
}

/** Parses "name, value, name, value..." into peers in join order. */
export function peersFrom(reply: ReadonlyArray<unknown>, start: number): MemberEntry[] {
  const peers: MemberEntry[] = [];
  for (let i = start; i + 1 < reply.length; i += 2) {
    const record = parseRecord(String(reply[i + 1]));
    const entry: MemberEntry = { name: String(reply[i]), seq: record.seq };
    if (record.metadata !== undefined) entry.metadata = record.metadata;
    peers.push(entry);
  }
  return peers.sort((a, b) => a.seq - b.seq);
}
