import { describe, expect, it } from 'vitest';
import type { CatchUp } from '../../../src/cluster/backend.ts';
import { replayCatchUp } from '../../../src/cluster/catch-up.ts';
import { applyRoomEvent, type Membership } from '../../../src/cluster/membership.ts';
import type { SessionSink } from '../../../src/cluster/session-types.ts';

/** Only what the catch-up reads; the rest of a Membership does not take part. */
function membership(known: Array<[string, number]>): Membership {
  return { room: 'r', name: 'alice', seq: 1, known: new Map(known) } as unknown as Membership;
}

function recordingSink(): { sink: SessionSink; told: string[] } {
  const told: string[] = [];
  const sink: SessionSink = {
    joined: () => undefined,
    peerJoined: (name) => void told.push(`joined ${name}`),
    peerLeft: (name) => void told.push(`left ${name}`),
    deliver: (frame) => void told.push(frame),
  };
  return { sink, told };
}

describe('replayCatchUp', () => {
  it('tells the client about peers that left or came while its bus was down', () => {
    const m = membership([
      ['bob', 2],
      ['carol', 3],
    ]);
    const { sink, told } = recordingSink();
    const caught: CatchUp = {
      held: [],
      peers: [
        { name: 'carol', seq: 3 },
        { name: 'dave', seq: 4 },
      ],
    };
    expect(replayCatchUp(m, caught, [], sink)).toBeNull();
    expect(told).toEqual(['left bob', 'joined dave']);
  });

  // Found by CI (redis-cluster-failover, a shard restarted empty): the catch-up after the
  // subscriber loss read the room while the dynos were still putting its members back, and
  // told alice that bob left and joined again. A member put back, or on its way back, did not leave.
  it('tells nothing of peers being put back in a room the store lost', () => {
    const m = membership([
      ['bob', 2],
      ['carol', 3],
      ['erin', 5],
    ]);
    const { sink, told } = recordingSink();
    // carol is back under base + her seq; bob is not back yet and has no tombstone; erin ended.
    const caught: CatchUp = { held: [], peers: [{ name: 'carol', seq: 103 }], renumbering: { base: 100, pending: ['bob'] } };
    expect(replayCatchUp(m, caught, [], sink)).toBeNull();
    expect(told).toEqual(['left erin']);
    expect([...m.known]).toEqual([
      ['bob', 2],
      ['carol', 103],
    ]);
    // bob's dyno puts him back: his renumbered announcement is silent, and so is carol's late one.
    applyRoomEvent(m, { kind: 'joined', name: 'bob', seq: 102, previous: 2 }, sink);
    applyRoomEvent(m, { kind: 'joined', name: 'carol', seq: 103, previous: 3 }, sink);
    expect(told).toEqual(['left erin']);
    expect(m.known.get('bob')).toBe(102);
  });

  it('reports a peer back under a seq the reservation does not explain as having left and joined', () => {
    const m = membership([['bob', 2]]);
    const { sink, told } = recordingSink();
    const caught: CatchUp = { held: [], peers: [{ name: 'bob', seq: 150 }], renumbering: { base: 100, pending: [] } };
    replayCatchUp(m, caught, [], sink);
    expect(told).toEqual(['left bob', 'joined bob']);
  });
});
