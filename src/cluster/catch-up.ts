import type { CatchUp } from './backend.ts';
import type { Membership } from './membership.ts';
import { applyRoomEvent, reconcileKnown } from './membership.ts';
import type { RoomEvent } from './bus-codec.ts';
import { decodeSignal } from './bus-codec.ts';
import type { SessionSink } from './session-types.ts';

/**
 * Hands a connected member what it missed while its dyno's bus connection was down: first
 * the room changes (peer-left / peer-joined against `peers`, the room as it is now, as a
 * resume does), then the signals held for it while nobody subscribed its channel, in order,
 * then what arrived live since the re-subscription and waited in `pending` (the lifecycle
 * state's buffer). So one sender's signals keep their order: every held one was published
 * before any that arrived live. `caught` null: nothing could be read; only `pending` is
 * handed over.
 *
 * Returns what is left to wait, or null: if the socket is closing (a delivery is refused),
 * the rest, which the grace period that follows picks up, as for frames that reach a closing
 * socket.
 */
export function replayCatchUp(
  m: Membership,
  caught: CatchUp | null,
  pending: readonly (RoomEvent | string)[],
  sink: SessionSink,
): Array<RoomEvent | string> | null {
  if (caught) reconcileKnown(m, caught.peers, sink, caught.renumbering);
  const items: Array<RoomEvent | string> = [];
  for (const entry of caught?.held ?? []) {
    const frame = decodeSignal(entry);
    if (frame !== null) items.push(frame);
  }
  for (const item of pending) items.push(item);
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as RoomEvent | string;
    if (typeof item !== 'string') {
      applyRoomEvent(m, item, sink);
    } else if (sink.deliver(item) === false) {
      return items.slice(i);
    }
  }
  return null;
}
