import { describe, expect, it } from 'vitest';
import type { LifecycleEvent, LifecycleState } from '../../../src/cluster/lifecycle.ts';
import { holdsMembership, IDLE, liveRule, next, takenOrEnded } from '../../../src/cluster/lifecycle.ts';

const STATES: Record<string, LifecycleState> = {
  idle: IDLE,
  joining: { phase: 'joining', resume: false },
  resuming: { phase: 'joining', resume: true },
  joined: { phase: 'joined' },
  closing: { phase: 'closing' },
  'handing-over': { phase: 'handing-over', reason: 'replaced' },
  ended: { phase: 'ended', reason: 'closed' },
};

const EVENTS: Record<string, LifecycleEvent> = {
  join: { type: 'join', resume: false },
  resume: { type: 'join', resume: true },
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
    case 'joining':
      return state.resume ? 'resuming' : 'joining';
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

  it('decides in one place what happens to a live frame in each state', () => {
    const rules = Object.fromEntries(
      Object.entries(STATES).map(([name, state]) => [name, [liveRule(state, false), liveRule(state, true)]]),
    );
    expect(rules).toEqual({
      idle: ['drop', 'drop'],
      joining: ['buffer', 'buffer'],
      resuming: ['buffer', 'buffer'],
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
