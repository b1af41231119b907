import { describe, expect, it } from 'vitest';
import type { LifecycleEvent, LifecycleState } from '../../../src/cluster/lifecycle.ts';
import { holdsMembership, IDLE, joiningKept, liveRule, next, takenOrEnded } from '../../../src/cluster/lifecycle.ts';

const STATES: Record<string, LifecycleState> = {
  idle: IDLE,
  joining: { phase: 'joining', resume: false, early: [], removedEarly: false },
  resuming: { phase: 'joining', resume: true, early: ['S1'], removedEarly: false },
  'joining-removed': { phase: 'joining', resume: false, early: [], removedEarly: true },
  joined: { phase: 'joined' },
  closing: { phase: 'closing' },
  'handing-over': { phase: 'handing-over', reason: 'replaced' },
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
  removed: { type: 'taken', reason: 'removed' },
  swept: { type: 'taken', reason: 'dyno-lost' },
  closed: { type: 'closed' },
};

/** Every state x every event: the state it leads to, '-' when the event is ignored there. */
const TABLE: Record<string, Record<string, string>> = {
  idle: {
    join: 'joining',
    resume: 'resuming',
    'early-frame': '-',
    'removed-early': '-',
    registered: '-',
    'join-failed': '-',
    left: '-',
    'socket-closed': '-',
    removed: 'handing-over:removed',
    swept: 'handing-over:dyno-lost',
    closed: 'ended:closed',
  },
  joining: {
    join: '-',
    resume: '-',
    'early-frame': 'joining[S2]',
    'removed-early': 'joining[removed]',
    registered: 'joined',
    'join-failed': 'idle',
    left: '-',
    'socket-closed': '-',
    removed: 'handing-over:removed',
    swept: 'handing-over:dyno-lost',
    closed: 'ended:closed',
  },
  resuming: {
    join: '-',
    resume: '-',
    'early-frame': 'resuming[S1,S2]',
    'removed-early': 'resuming[S1,removed]',
    registered: 'joined',
    'join-failed': 'idle',
    left: '-',
    'socket-closed': '-',
    removed: 'handing-over:removed',
    swept: 'handing-over:dyno-lost',
    closed: 'ended:closed',
  },
  'joining-removed': {
    join: '-',
    resume: '-',
    'early-frame': 'joining[S2,removed]',
    'removed-early': '-',
    registered: 'joined',
    'join-failed': 'idle',
    left: '-',
    'socket-closed': '-',
    removed: 'handing-over:removed',
    swept: 'handing-over:dyno-lost',
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
    'socket-closed': 'closing',
    removed: 'handing-over:removed',
    swept: 'handing-over:dyno-lost',
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
    removed: 'handing-over:removed',
    swept: 'handing-over:dyno-lost',
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
    removed: '-',
    swept: '-',
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
    removed: '-',
    swept: '-',
    closed: '-',
  },
};

function label(state: LifecycleState | null): string {
  if (state === null) return '-';
  switch (state.phase) {
    case 'joining': {
      const kept = [...state.early, ...(state.removedEarly ? ['removed'] : [])];
      const base = state.resume ? 'resuming' : 'joining';
      return kept.length > 0 ? `${base}[${kept.join(',')}]` : base;
    }
    case 'handing-over':
    case 'ended':
      return `${state.phase}:${state.reason}`;
    default:
      return state.phase;
  }
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
      [{ type: 'join', resume: false }, 'joining'],
      [{ type: 'registered' }, 'joined'],
      [{ type: 'socket-closed' }, 'closing'],
      [{ type: 'taken', reason: 'replaced' }, 'handing-over:replaced'],
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
    expect(seen.map(label)).toEqual(['idle', 'resuming', 'resuming[S1]', 'resuming[S1,removed]', 'resuming[S1,S2,removed]']);
    expect(joiningKept(state)).toEqual({ early: ['S1', 'S2'], removedEarly: true });
    const joined = next(state, { type: 'registered' });
    expect(joined).toEqual({ phase: 'joined' });
    expect(joiningKept(joined ?? IDLE)).toEqual({ early: [], removedEarly: false });
  });

  it('keeps nothing outside joining', () => {
    const kept = Object.entries(STATES)
      .filter(([, s]) => s.phase !== 'joining')
      .map(([, s]) => joiningKept(s));
    expect(kept).toEqual(Array.from({ length: 5 }, () => ({ early: [], removedEarly: false })));
  });

  it('decides in one place what happens to a live frame in each state', () => {
    const rules = Object.fromEntries(
      Object.entries(STATES).map(([name, state]) => [name, [liveRule(state, false), liveRule(state, true)]]),
    );
    expect(rules).toEqual({
      idle: ['drop', 'drop'],
      joining: ['buffer', 'buffer'],
      resuming: ['buffer', 'buffer'],
      'joining-removed': ['buffer', 'buffer'],
      joined: ['deliver', 'buffer'],
      closing: ['buffer', 'buffer'],
      'handing-over': ['drop', 'drop'],
      ended: ['drop', 'drop'],
    });
  });

  it('says which states hold a membership and which were taken or ended', () => {
    const held = Object.entries(STATES)
      .filter(([, s]) => holdsMembership(s))
      .map(([n]) => n);
    const gone = Object.entries(STATES)
      .filter(([, s]) => takenOrEnded(s))
      .map(([n]) => n);
    expect({ held, gone }).toEqual({ held: ['joined', 'closing'], gone: ['handing-over', 'ended'] });
  });
});
