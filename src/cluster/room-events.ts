/**
 * Payloads on a room's events channel. Compact text rather than JSON: they are built and
 * read on every join and leave, and carry only a kind, a seq and a name.
 */

export interface RoomEvent {
  kind: 'joined' | 'left';
  seq: number;
  name: string;
}

export function encodeRoomEvent(event: RoomEvent): string {
  return `${event.kind === 'joined' ? 'J' : 'L'}${event.seq}:${event.name}`;
}

export function decodeRoomEvent(payload: string): RoomEvent | null {
  const kind = payload[0] === 'J' ? 'joined' : payload[0] === 'L' ? 'left' : null;
  const colon = payload.indexOf(':');
  if (kind === null || colon < 2) return null;
  const seq = Number(payload.slice(1, colon));
  if (!Number.isSafeInteger(seq)) return null;
  return { kind, seq, name: payload.slice(colon + 1) };
}

/** Prefix of a payload on a member channel that carries a ready-to-send signal frame. */
export const SIGNAL_PREFIX = 'S';

/** A member-channel payload asking its dyno to hand over what is held for it (HOLD script). */
export const DRAIN_REQUEST = 'D';

/** Prefix of a member-channel payload telling the holder "<owner>" it was replaced. */
export const REPLACED_PREFIX = 'K';

/** Prefix of the held entry that records which peers a disconnected client knew. */
export const SNAPSHOT_PREFIX = 'V';
