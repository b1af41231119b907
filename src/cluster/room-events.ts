/**
 * Payloads on a room's events channel. Compact text rather than JSON: they are built and
 * read on every join and leave, and carry only a kind, a seq and a name.
 */

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
}

export function encodeRoomEvent(event: RoomEvent): string {
  if (event.previous !== undefined) return `R${event.seq}:${event.previous}:${event.name}`;
  return `${event.kind === 'joined' ? 'J' : 'L'}${event.seq}:${event.name}`;
}

export function decodeRoomEvent(payload: string): RoomEvent | null {
  const kind = payload[0] === 'J' || payload[0] === 'R' ? 'joined' : payload[0] === 'L' ? 'left' : null;
  const colon = payload.indexOf(':');
  if (kind === null || colon < 2) return null;
  const seq = Number(payload.slice(1, colon));
  if (!Number.isSafeInteger(seq)) return null;
  if (payload[0] !== 'R') return { kind, seq, name: payload.slice(colon + 1) };
  const second = payload.indexOf(':', colon + 1);
  const previous = Number(payload.slice(colon + 1, second));
  if (second === -1 || second === colon + 1 || !Number.isSafeInteger(previous)) return null;
  return { kind, seq, name: payload.slice(second + 1), previous };
}

/** Prefix of a payload on a member channel that carries a ready-to-send signal frame. */
export const SIGNAL_PREFIX = 'S';

/** A member-channel payload asking its dyno to hand over what is held for it (HOLD script). */
export const DRAIN_REQUEST = 'D';

/** Prefix of a member-channel payload telling the holder "<owner>" it was replaced. */
export const REPLACED_PREFIX = 'K';

/** Prefix of the held entry that records which peers a disconnected client knew. */
export const SNAPSHOT_PREFIX = 'V';
