import type { EndReason } from './backend.ts';

/**
 * Where one connection's membership is. Every change goes through `next`, and what happens
 * to a frame or room event arriving live is decided by `liveRule`, both here and nowhere
 * else.
 *
 * - idle: no membership (a fresh connection, or after a leave or a failed join); may join.
 * - joining: subscribed, registering or resuming. Frames on the member channel are kept as
 *   its early frames (only a resume replays them: a fresh member's peers cannot have
 *   signalled it yet, so they are dropped at `registered`), a removal notice is remembered
 *   and enforced once the join is done, and room events wait for the `joined` reply.
 * - joined: the client gets what arrives, unless a replay or a bus recovery is running,
 *   in which case it waits behind what is replayed (the membership's buffer).
 * - closing: the socket is gone and the suspend (or leave) is queued: what arrives waits for
 *   it, and is stored with it for a resume.
 * - handing-over: another connection or the application took the membership (resumed
 *   elsewhere, removed, swept): nothing more reaches this client; what it never got is
 *   handed to the new holder, and the session ends.
 * - ended: for good; `closed` when the socket went, else why the membership was taken.
 */
export type LifecycleState =
  | { phase: 'idle' }
  | {
      phase: 'joining';
      resume: boolean;
      /** Frames published to this name before registration: replayed only by a resume. */
      early: readonly string[];
      /** A removal notice came while registering: enforced once the join is done. */
      removedEarly: boolean;
    }
  | { phase: 'joined' }
  | { phase: 'closing' }
  | { phase: 'handing-over'; reason: EndReason }
  | { phase: 'ended'; reason: EndReason | 'closed' };

export type LifecycleEvent =
  | { type: 'join'; resume: boolean }
  | { type: 'early-frame'; frame: string }
  | { type: 'removed-early' }
  | { type: 'registered' }
  | { type: 'join-failed' }
  | { type: 'left' }
  | { type: 'socket-closed' }
  | { type: 'taken'; reason: EndReason }
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
      return state.phase === 'idle' ? { phase: 'joining', resume: event.resume, early: [], removedEarly: false } : null;
    case 'early-frame':
      // Outside joining the frame is a live one (liveRule), or nobody here holds the name.
      return state.phase === 'joining' ? { ...state, early: [...state.early, event.frame] } : null;
    case 'removed-early':
      return state.phase === 'joining' && !state.removedEarly ? { ...state, removedEarly: true } : null;
    case 'registered':
      return state.phase === 'joining' ? { phase: 'joined' } : null;
    case 'join-failed':
      return state.phase === 'joining' ? IDLE : null;
    case 'left':
      return state.phase === 'joined' || state.phase === 'closing' ? IDLE : null;
    case 'socket-closed':
      return state.phase === 'joined' ? { phase: 'closing' } : null;
    case 'taken':
      return state.phase === 'handing-over' || state.phase === 'ended' ? null : { phase: 'handing-over', reason: event.reason };
    case 'closed':
      if (state.phase === 'ended') return null;
      return { phase: 'ended', reason: state.phase === 'handing-over' ? state.reason : 'closed' };
    default: {
      const unreachable: never = event;
      throw new Error(`unknown lifecycle event ${JSON.stringify(unreachable)}`);
    }
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
export function liveRule(state: LifecycleState, buffering: boolean): 'deliver' | 'buffer' | 'drop' {
  switch (state.phase) {
    case 'idle':
    case 'handing-over':
    case 'ended':
      return 'drop';
    case 'joining':
    case 'closing':
      return 'buffer';
    case 'joined':
      return buffering ? 'buffer' : 'deliver';
    default: {
      const unreachable: never = state;
      throw new Error(`unknown lifecycle state ${JSON.stringify(unreachable)}`);
    }
  }
}
