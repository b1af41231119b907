import { describe, expect, it } from 'vitest';
import { HandoverInbox } from '../../../src/cluster/handover.ts';
import type { LiveBuffer, LifecycleEvent, LifecycleState } from '../../../src/cluster/lifecycle.ts';
import { bufferOf, holdsMembership, IDLE, joiningKept, liveRule, next, takenOrEnded } from '../../../src/cluster/lifecycle.ts';

const buffered = (...items: string[]): LiveBuffer => ({ items, drainRequested: false, handover: null });
/** A resume's buffer: it holds the inbox its old dyno's hand-over lands in. */
const resuming = (...items: string[]): LiveBuffer => ({ items, drainRequested: false, handover: new HandoverInbox() });

const STATES: Record<string, LifecycleState> = {
  idle: IDLE,
  joining: { phase: 'joining', early: [], removedEarly: false, buffer: buffered() },
  resuming: { phase: 'joining', early: ['S1'], removedEarly: false, buffer: resuming('E1') },
  'joining-removed': { phase: 'joining', early: [], removedEarly: true, buffer: buffered() },
  joined: { phase: 'joined', buffer: null },
  'joined-buffering': { phase: 'joined', buffer: buffered('B1') },
  'joined-awaiting-handover': { phase: 'joined', buffer: resuming('A1') },
  closing: { phase: 'closing', buffer: buffered('C1') },
  'handing-over': { phase: 'handing-over', reason: 'replaced', buffer: buffered('H1'), handedOver: false },
  'handed-over': { phase: 'handing-over', reason: 'replaced', buffer: null, handedOver: true },
  ended: { phase: 'ended', reason: 'closed' },
};

const EVENTS: Record<string, LifecycleEvent> = {
  join: { type: 'join', resume: false },
  resume: { type: 'join', resume: true },
  'early-frame': { type: 'early-frame', frame: 'S2' },
  'removed-early': { type: 'removed-early' },
  registered: { type: 'registered' },
  'join-failed': { type: 'join-failed' },
  left: { type: 'left' },
  'socket-closed': { type: 'socket-closed' },
  buffer: { type: 'buffer' },
  refused: { type: 'refused', frame: 'R1' },
  'drained-rest': { type: 'drained', rest: ['X1'] },
  drained: { type: 'drained', rest: null },
  removed: { type: 'taken', reason: 'removed' },
  swept: { type: 'taken', reason: 'dyno-lost' },
  'handed-over': { type: 'handed-over' },
  closed: { type: 'closed' },
};

/**
 * Every state x every event: the state it leads to, '-' when the event is ignored there.
 * `[...]`: what a joining state kept (early frames, a removal notice); `<...>`: the buffer,
 * `!` when a drain was requested while it was held, `+inbox` when it holds a resume's
 * hand-over inbox (a joining state holding one is `resuming`); `(sent)`: the hand-over was published.
 */
const TABLE: Record<string, Record<string, string>> = {
  idle: {
    join: 'joining<>',
    resume: 'resuming<>',
    'early-frame': '-',
    'removed-early': '-',
    registered: '-',
    'join-failed': '-',
    left: '-',
    'socket-closed': '-',
    buffer: '-',
    refused: '-',
    'drained-rest': '-',
    drained: '-',
    removed: 'handing-over:removed',
    swept: 'handing-over:dyno-lost',
    'handed-over': '-',
    closed: 'ended:closed',
  },
  joining: {
    join: '-',
    resume: '-',
    'early-frame': 'joining[S2]<>',
    'removed-early': 'joining[removed]<>',
    registered: 'joined<>',
    'join-failed': 'idle',
    left: '-',
    'socket-closed': '-',
    buffer: '-',
    refused: '-',
    'drained-rest': '-',
    drained: '-',
    removed: 'handing-over:removed<>',
    swept: 'handing-over:dyno-lost<>',
    'handed-over': '-',
    closed: 'ended:closed',
  },
  resuming: {
    join: '-',
    resume: '-',
    'early-frame': 'resuming[S1,S2]<E1>',
    'removed-early': 'resuming[S1,removed]<E1>',
    registered: 'joined<E1>+inbox',
    'join-failed': 'idle',
    left: '-',
    'socket-closed': '-',
    buffer: '-',
    refused: '-',
    'drained-rest': '-',
    drained: '-',
    removed: 'handing-over:removed<E1>+inbox',
    swept: 'handing-over:dyno-lost<E1>+inbox',
    'handed-over': '-',
    closed: 'ended:closed',
  },
  'joining-removed': {
    join: '-',
    resume: '-',
    'early-frame': 'joining[S2,removed]<>',
    'removed-early': '-',
    registered: 'joined<>',
    'join-failed': 'idle',
    left: '-',
    'socket-closed': '-',
    buffer: '-',
    refused: '-',
    'drained-rest': '-',
    drained: '-',
    removed: 'handing-over:removed<>',
    swept: 'handing-over:dyno-lost<>',
    'handed-over': '-',
    closed: 'ended:closed',
  },
  joined: {
    join: '-',
    resume: '-',
    'early-frame': '-',
    'removed-early': '-',
    registered: '-',
    'join-failed': '-',
    left: 'idle',
    'socket-closed': 'closing<>',
    buffer: 'joined<>',
    refused: 'joined<R1>',
    'drained-rest': 'joined<X1>',
    drained: 'joined',
    removed: 'handing-over:removed',
    swept: 'handing-over:dyno-lost',
    'handed-over': '-',
    closed: 'ended:closed',
  },
  'joined-buffering': {
    join: '-',
    resume: '-',
    'early-frame': '-',
    'removed-early': '-',
    registered: '-',
    'join-failed': '-',
    left: 'idle',
    'socket-closed': 'closing<B1>',
    buffer: 'joined<B1>!',
    refused: '-',
    'drained-rest': 'joined<X1>',
    drained: 'joined',
    removed: 'handing-over:removed<B1>',
    swept: 'handing-over:dyno-lost<B1>',
    'handed-over': '-',
    closed: 'ended:closed',
  },
  'joined-awaiting-handover': {
    join: '-',
    resume: '-',
    'early-frame': '-',
    'removed-early': '-',
    registered: '-',
    'join-failed': '-',
    left: 'idle',
    'socket-closed': 'closing<A1>+inbox',
    buffer: 'joined<A1>!+inbox',
    refused: '-',
    'drained-rest': 'joined<X1>',
    drained: 'joined',
    removed: 'handing-over:removed<A1>+inbox',
    swept: 'handing-over:dyno-lost<A1>+inbox',
    'handed-over': '-',
    closed: 'ended:closed',
  },
  closing: {
    join: '-',
    resume: '-',
    'early-frame': '-',
    'removed-early': '-',
    registered: '-',
    'join-failed': '-',
    left: 'idle',
    'socket-closed': '-',
    buffer: 'closing<C1>!',
    refused: '-',
    'drained-rest': 'closing<X1>',
    drained: 'closing<>',
    removed: 'handing-over:removed<C1>',
    swept: 'handing-over:dyno-lost<C1>',
    'handed-over': '-',
    closed: 'ended:closed',
  },
  'handing-over': {
    join: '-',
    resume: '-',
    'early-frame': '-',
    'removed-early': '-',
    registered: '-',
    'join-failed': '-',
    left: '-',
    'socket-closed': '-',
    buffer: '-',
    refused: '-',
    'drained-rest': 'handing-over:replaced<X1>',
    drained: 'handing-over:replaced',
    removed: '-',
    swept: '-',
    'handed-over': 'handing-over:replaced(sent)<H1>',
    closed: 'ended:replaced',
  },
  'handed-over': {
    join: '-',
    resume: '-',
    'early-frame': '-',
    'removed-early': '-',
    registered: '-',
    'join-failed': '-',
    left: '-',
    'socket-closed': '-',
    buffer: '-',
    refused: '-',
    'drained-rest': 'handing-over:replaced(sent)<X1>',
    drained: 'handing-over:replaced(sent)',
    removed: '-',
    swept: '-',
    'handed-over': '-',
    closed: 'ended:replaced',
  },
  ended: {
    join: '-',
    resume: '-',
    'early-frame': '-',
    'removed-early': '-',
    registered: '-',
    'join-failed': '-',
    left: '-',
    'socket-closed': '-',
    buffer: '-',
    refused: '-',
    'drained-rest': '-',
    drained: '-',
    removed: '-',
    swept: '-',
    'handed-over': '-',
    closed: '-',
  },
};

function label(state: LifecycleState | null): string {
  if (state === null) return '-';
  let base: string = state.phase;
  if (state.phase === 'joining') {
    const kept = [...state.early, ...(state.removedEarly ? ['removed'] : [])];
    base = (state.buffer.handover ? 'resuming' : 'joining') + (kept.length > 0 ? `[${kept.join(',')}]` : '');
  } else if (state.phase === 'handing-over') {
    base = `${state.phase}:${state.reason}${state.handedOver ? '(sent)' : ''}`;
  } else if (state.phase === 'ended') {
    base = `${state.phase}:${state.reason}`;
  }
  const buffer = bufferOf(state);
  if (!buffer) return base;
  const items = buffer.items.map((item) => (typeof item === 'string' ? item : item.name)).join(',');
  const inbox = buffer.handover && state.phase !== 'joining' ? '+inbox' : '';
  return `${base}<${items}>${buffer.drainRequested ? '!' : ''}${inbox}`;
}

describe('membership lifecycle', () => {
  for (const [from, state] of Object.entries(STATES)) {
    for (const [name, event] of Object.entries(EVENTS)) {
      it(`${from} --${name}--> ${TABLE[from]?.[name]}`, () => {
        expect(label(next(state, event))).toBe(TABLE[from]?.[name]);
      });
    }
  }

  it('walks a membership from join to a resume elsewhere', () => {
    const path: Array<[LifecycleEvent, string]> = [
      [{ type: 'join', resume: false }, 'joining<>'],
      [{ type: 'registered' }, 'joined<>'],
      [{ type: 'drained', rest: null }, 'joined'],
      [{ type: 'refused', frame: 'F1' }, 'joined<F1>'],
      [{ type: 'socket-closed' }, 'closing<F1>'],
      [{ type: 'taken', reason: 'replaced' }, 'handing-over:replaced<F1>'],
      [{ type: 'handed-over' }, 'handing-over:replaced(sent)<F1>'],
      [{ type: 'closed' }, 'ended:replaced'],
    ];
    let state: LifecycleState = IDLE;
    for (const [event, expected] of path) {
      state = next(state, event) ?? state;
      expect(label(state)).toBe(expected);
    }
  });

  it('keeps early frames and a removal notice only while joining, and hands them over at registered', () => {
    let state: LifecycleState = IDLE;
    const path: LifecycleEvent[] = [
      { type: 'early-frame', frame: 'S0' },
      { type: 'join', resume: true },
      { type: 'early-frame', frame: 'S1' },
      { type: 'removed-early' },
      { type: 'early-frame', frame: 'S2' },
    ];
    const seen: LifecycleState[] = [];
    for (const event of path) {
      state = next(state, event) ?? state;
      seen.push(state);
    }
    // A transition never changes the state it starts from.
    expect(seen.map(label)).toEqual(['idle', 'resuming<>', 'resuming[S1]<>', 'resuming[S1,removed]<>', 'resuming[S1,S2,removed]<>']);
    expect(joiningKept(state)).toEqual({ early: ['S1', 'S2'], removedEarly: true });
    const joined = next(state, { type: 'registered' });
    expect(joined).toEqual({ phase: 'joined', buffer: { items: [], drainRequested: false, handover: new HandoverInbox() } });
    expect(joiningKept(joined ?? IDLE)).toEqual({ early: [], removedEarly: false });
  });

  it('keeps nothing outside joining', () => {
    const kept = Object.entries(STATES)
      .filter(([, s]) => s.phase !== 'joining')
      .map(([, s]) => joiningKept(s));
    expect(kept).toEqual(Array.from({ length: 8 }, () => ({ early: [], removedEarly: false })));
  });

  it('keeps what a resume buffered during its replay, and a drain request made meanwhile', () => {
    const path: Array<[LifecycleEvent, string]> = [
      [{ type: 'join', resume: true }, 'resuming<>'],
      [{ type: 'registered' }, 'joined<>+inbox'],
      // A bus recovery starts while the replay waits for the hand-over.
      [{ type: 'buffer' }, 'joined<>!+inbox'],
      // The replay flushed the buffer and keeps buffering for the queued catch-up.
      [{ type: 'drained', rest: [] }, 'joined<>'],
      [{ type: 'buffer' }, 'joined<>!'],
      [{ type: 'drained', rest: null }, 'joined'],
    ];
    let state: LifecycleState = IDLE;
    for (const [event, expected] of path) {
      state = next(state, event) ?? state;
      expect(label(state)).toBe(expected);
    }
  });

  it('decides in one place what happens to a live frame in each state', () => {
    const rules = Object.fromEntries(Object.entries(STATES).map(([name, state]) => [name, liveRule(state)]));
    expect(rules).toEqual({
      idle: 'drop',
      joining: 'buffer',
      resuming: 'buffer',
      'joining-removed': 'buffer',
      joined: 'deliver',
      'joined-buffering': 'buffer',
      'joined-awaiting-handover': 'buffer',
      closing: 'buffer',
      'handing-over': 'drop',
      'handed-over': 'drop',
      ended: 'drop',
    });
  });

  it('says which states hold a membership and which were taken or ended', () => {
    const held = Object.entries(STATES)
      .filter(([, s]) => holdsMembership(s))
      .map(([n]) => n);
    const gone = Object.entries(STATES)
      .filter(([, s]) => takenOrEnded(s))
      .map(([n]) => n);
    expect({ held, gone }).toEqual({
      held: ['joined', 'joined-buffering', 'joined-awaiting-handover', 'closing'],
      gone: ['handing-over', 'handed-over', 'ended'],
    });
  });
});
