/**
 * Payloads on a room's events channel. Compact text rather than JSON: they are built and
 * read on every join and leave, and carry only a kind, a seq and a name.
 */

import type { Metadata } from '../protocol/messages.ts';
import { readMetadata } from '../protocol/metadata.ts';

export interface RoomEvent {
  kind: 'joined' | 'left';
  seq: number;
  name: string;
  /**
   * Only on `joined` events of a member put back after Redis lost the room ("R" payloads,
   * written by the re-register script): the seq it had before. Peers that know it by that
   * seq keep it (nobody told them it left); to the others it is a newcomer.
   */
  previous?: number;
  /**
   * Only on `joined` events: the member's metadata, after a newline (names hold no control
   * characters), so peers get it with peer-joined without reading the room.
   */
  metadata?: Metadata;
}

/**
 * What a `joined` event appends to the member's name: "\n<metadata JSON>", or nothing when
 * there is none (most joins, every article join). Also used by the re-registration script.
 */
export function metadataSuffix(metadata: Metadata | undefined): string {
  return metadata === undefined || Object.keys(metadata).length === 0 ? '' : `\n${JSON.stringify(metadata)}`;
}

export function encodeRoomEvent(event: RoomEvent): string {
  const suffix = metadataSuffix(event.metadata);
  if (event.previous !== undefined) return `R${event.seq}:${event.previous}:${event.name}${suffix}`;
  return `${event.kind === 'joined' ? 'J' : 'L'}${event.seq}:${event.name}${suffix}`;
}

/** Splits "<name>\n<metadata JSON>" into the event's name and metadata. */
function withName(event: Omit<RoomEvent, 'name'>, rest: string): RoomEvent {
  const newline = rest.indexOf('\n');
  if (newline === -1) return { ...event, name: rest };
  return { ...event, name: rest.slice(0, newline), metadata: readMetadata(rest.slice(newline + 1)) };
}

export function decodeRoomEvent(payload: string): RoomEvent | null {
  const kind = payload[0] === 'J' || payload[0] === 'R' ? 'joined' : payload[0] === 'L' ? 'left' : null;
  const colon = payload.indexOf(':');
  if (kind === null || colon < 2) return null;
  const seq = Number(payload.slice(1, colon));
  if (!Number.isSafeInteger(seq)) return null;
  if (payload[0] !== 'R') return withName({ kind, seq }, payload.slice(colon + 1));
  const second = payload.indexOf(':', colon + 1);
  const previous = Number(payload.slice(colon + 1, second));
  if (second === -1 || second === colon + 1 || !Number.isSafeInteger(previous)) return null;
  return withName({ kind, seq, previous }, payload.slice(second + 1));
}

/**
 * Prefix of a room-channel payload carrying a frame for every member but its sender:
 * "B<sender name>\n<frame>" (the sender is '' for the server API's messages). One publish
 * reaches the whole room, whichever dynos hold its members.
 */
export const ROOM_FRAME_PREFIX = 'B';

export function encodeRoomFrame(from: string, frame: string): string {
  return `${ROOM_FRAME_PREFIX}${from}\n${frame}`;
}

export function decodeRoomFrame(payload: string): { from: string; frame: string } | null {
  const newline = payload.indexOf('\n');
  return newline === -1 ? null : { from: payload.slice(1, newline), frame: payload.slice(newline + 1) };
}

/** Prefix of a payload on a member channel that carries a ready-to-send signal frame. */
export const SIGNAL_PREFIX = 'S';

/** A member-channel payload asking its dyno to hand over what is held for it (HOLD script). */
export const DRAIN_REQUEST = 'D';

/** Prefix of a member-channel payload telling the holder "<owner>" it was replaced. */
export const REPLACED_PREFIX = 'K';

/** Prefix of a member-channel payload telling the holder "<owner>" the application removed it (server API). */
export const REMOVED_PREFIX = 'X';

/** Prefix of the held entry that records which peers a disconnected client knew. */
export const SNAPSHOT_PREFIX = 'V';
