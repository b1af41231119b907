import type { EndReason } from './backend.ts';
import type { RoomEvent } from './bus-codec.ts';
import { HandoverInbox } from './handover.ts';

/**
 * What waits instead of reaching the client, in arrival order: during a join (for the
 * `joined` reply), behind a replay or a bus recovery, or for a closing socket's suspend.
 * The items array grows in place; which states hold one is the state's business.
 */
export interface LiveBuffer {
  readonly items: Array<RoomEvent | string>;
  /** A drain request (bus recovery) came while a resume's replay was pending: keep buffering for its catch-up. */
  readonly drainRequested: boolean;
  /**
   * A resume's: where the old dyno's hand-over lands (handover.ts), which its replay waits
   * for. It goes wherever the buffer goes (joined, closing or handing-over when the socket
   * closes or the membership is taken during the wait) and ends with it at `drained`.
   */
  readonly handover: HandoverInbox | null;
}

const buffer = (items: Array<RoomEvent | string> = [], handover: HandoverInbox | null = null): LiveBuffer => ({
  items,
  drainRequested: false,
  handover,
});

/**
 * Where one connection's membership is. Every change goes through `next`, and what happens
 * to a frame or room event arriving live is decided by `liveRule`, both here and nowhere
 * else.
 *
 * - idle: no membership (a fresh connection, or after a leave or a failed join); may join.
 * - joining: subscribed, registering or resuming. Frames on the member channel are kept as
 *   its early frames (only a resume replays them: a fresh member's peers cannot have
 *   signalled it yet, so they are dropped at `registered`), a removal notice is remembered
 *   and enforced once the join is done, and room events wait for the `joined` reply. A
 *   resume's buffer also holds the inbox its old dyno's hand-over lands in.
 * - joined: the client gets what arrives, unless a replay or a bus recovery is running (or
 *   the socket refused a frame before its close ran), in which case it waits in the buffer.
 * - closing: the socket is gone and the suspend (or leave) is queued: what arrives waits in
 *   the buffer for it, and is stored with it for a resume.
 * - handing-over: another connection or the application took the membership (resumed
 *   elsewhere, removed, swept): nothing more reaches this client; what it never got (the
 *   buffer it was taken with) is handed to the new holder, and the session ends.
 * - ended: for good; `closed` when the socket went, else why the membership was taken.
 */
export type LifecycleState =
  | { phase: 'idle' }
  | {
      phase: 'joining';
      /** Frames published to this name before registration: replayed only by a resume. */
      early: readonly string[];
      /** A removal notice came while registering: enforced once the join is done. */
      removedEarly: boolean;
      /** Room events and frames waiting for the `joined` reply (or a resume's replay, with its hand-over inbox). */
      buffer: LiveBuffer;
    }
  | { phase: 'joined'; buffer: LiveBuffer | null }
  | { phase: 'closing'; buffer: LiveBuffer }
  | {
      phase: 'handing-over';
      reason: EndReason;
      buffer: LiveBuffer | null;
      /** Its hand-over was published to the new holder: at most one per membership. */
      handedOver: boolean;
    }
  | { phase: 'ended'; reason: EndReason | 'closed' };

export type LifecycleEvent =
  | { type: 'join'; resume: boolean }
  | { type: 'early-frame'; frame: string }
  | { type: 'removed-early' }
  | { type: 'registered' }
  | { type: 'join-failed' }
  | { type: 'left' }
  | { type: 'socket-closed' }
  /** Buffer what arrives live (a bus recovery starts); when buffering already, note a drain request. */
  | { type: 'buffer' }
  /** A frame the socket refused (it is closing): it and what follows wait for the close. */
  | { type: 'refused'; frame: string }
  /** The buffer was replayed; `rest` is what is still to wait (null: nothing, deliver live again). */
  | { type: 'drained'; rest: Array<RoomEvent | string> | null }
  | { type: 'taken'; reason: EndReason }
  /** What the client never got was published to the new holder (handover.ts). */
  | { type: 'handed-over' }
  | { type: 'closed' };

export const IDLE: LifecycleState = { phase: 'idle' };

/** What a join kept while registering, read as it becomes `joined`. */
export interface JoiningKept {
  early: readonly string[];
  removedEarly: boolean;
}

const NOTHING_KEPT: JoiningKept = { early: [], removedEarly: false };

/** The early frames and removal notice a joining state kept; none in any other state. */
export function joiningKept(state: LifecycleState): JoiningKept {
  return state.phase === 'joining' ? { early: state.early, removedEarly: state.removedEarly } : NOTHING_KEPT;
}

/** The state after `event`, or null when the event means nothing in this state (ignored). */
export function next(state: LifecycleState, event: LifecycleEvent): LifecycleState | null {
  switch (event.type) {
    case 'join':
      if (state.phase !== 'idle') return null;
      return { phase: 'joining', early: [], removedEarly: false, buffer: buffer([], event.resume ? new HandoverInbox() : null) };
    case 'early-frame':
      // Outside joining the frame is a live one (liveRule), or nobody here holds the name.
      return state.phase === 'joining' ? { ...state, early: [...state.early, event.frame] } : null;
    case 'removed-early':
      return state.phase === 'joining' && !state.removedEarly ? { ...state, removedEarly: true } : null;
    case 'registered':
      // What waited is replayed by the join, which then moves on with `drained`.
      return state.phase === 'joining' ? { phase: 'joined', buffer: state.buffer } : null;
    case 'join-failed':
      return state.phase === 'joining' ? IDLE : null;
    case 'left':
      return state.phase === 'joined' || state.phase === 'closing' ? IDLE : null;
    case 'socket-closed':
      return state.phase === 'joined' ? { phase: 'closing', buffer: state.buffer ?? buffer() } : null;
    case 'buffer':
      if (state.phase !== 'joined' && state.phase !== 'closing') return null;
      return { ...state, buffer: state.buffer ? { ...state.buffer, drainRequested: true } : buffer() };
    case 'refused':
      return state.phase === 'joined' && !state.buffer ? { phase: 'joined', buffer: buffer([event.frame]) } : null;
    case 'drained':
      if (state.phase === 'joined' || state.phase === 'handing-over') return { ...state, buffer: event.rest && buffer(event.rest) };
      // A closing socket keeps buffering for its suspend.
      return state.phase === 'closing' ? { phase: 'closing', buffer: buffer(event.rest ?? []) } : null;
    case 'taken':
      if (state.phase === 'handing-over' || state.phase === 'ended') return null;
      return { phase: 'handing-over', reason: event.reason, buffer: bufferOf(state), handedOver: false };
    case 'handed-over':
      return state.phase === 'handing-over' && !state.handedOver ? { ...state, handedOver: true } : null;
    case 'closed':
      if (state.phase === 'ended') return null;
      return { phase: 'ended', reason: state.phase === 'handing-over' ? state.reason : 'closed' };
    default: {
      const unreachable: never = event;
      throw new Error(`unknown lifecycle event ${JSON.stringify(unreachable)}`);
    }
  }
}

/** What waits in this state instead of reaching the client; null when nothing is buffered. */
export function bufferOf(state: LifecycleState): LiveBuffer | null {
  switch (state.phase) {
    case 'joining':
    case 'joined':
    case 'closing':
    case 'handing-over':
      return state.buffer;
    default:
      return null;
  }
}

/** True while the connection holds a live membership (joined, or closing with its suspend queued). */
export function holdsMembership(state: LifecycleState): boolean {
  return state.phase === 'joined' || state.phase === 'closing';
}

/** True once the membership was taken from this connection, or the connection ended. */
export function takenOrEnded(state: LifecycleState): boolean {
  return state.phase === 'handing-over' || state.phase === 'ended';
}

/**
 * What happens to a frame or room event that arrives live for this membership:
 * `deliver` to the client, `buffer` behind what is being replayed or for the suspend, or
 * `drop` (nobody here holds the membership: the new holder, or nobody, gets it).
 */
export function liveRule(state: LifecycleState): 'deliver' | 'buffer' | 'drop' {
  switch (state.phase) {
    case 'idle':
    case 'handing-over':
    case 'ended':
      return 'drop';
    case 'joining':
    case 'closing':
      return 'buffer';
    case 'joined':
      return state.buffer ? 'buffer' : 'deliver';
    default: {
      const unreachable: never = state;
      throw new Error(`unknown lifecycle state ${JSON.stringify(unreachable)}`);
    }
  }
}
