import { describe, expect, it } from 'vitest';
import type { MemberEntry } from '../../../src/cluster/backend.ts';
import { type Membership, replayResume } from '../../../src/cluster/membership.ts';
import { Tag } from '../../../src/cluster/bus-codec.ts';
import type { SessionSink } from '../../../src/cluster/session-types.ts';

/** Only what replayResume reads; the rest of a Membership does not take part. */
function membership(): Membership {
  return { room: 'r', name: 'alice', seq: 5, known: new Map() } as unknown as Membership;
}

function recordingSink(): { sink: SessionSink; delivered: string[] } {
  const delivered: string[] = [];
  const sink: SessionSink = {
    joined: () => undefined,
    peerJoined: () => undefined,
    peerLeft: () => undefined,
    deliver: (frame) => void delivered.push(frame),
  };
  return { sink, delivered };
}

const peers: MemberEntry[] = [{ name: 'bob', seq: 2 }];
const signal = (i: number): string => JSON.stringify({ type: 'signal', from: 'bob', data: { i } });

describe('replayResume', () => {
  // Found by the resilience suite (1 run in 4): a signal published while the old dyno (socket
  // already dead) and the resuming dyno both subscribed the channel reached both; the old
  // dyno handed it over into the held list and the new one kept it as early: delivered twice.
  it('delivers a frame that is both held (handed over by the old dyno) and early once, in order', () => {
    const held = [signal(1), signal(2), signal(3)].map((f) => Tag.Signal + f);
    const early = [signal(2), signal(3), signal(4), signal(5)];
    const { sink, delivered } = recordingSink();
    replayResume(membership(), held, early, peers, sink, { resume: 'secret' });
    expect(delivered).toEqual([1, 2, 3, 4, 5].map(signal));
  });

  it('keeps early frames that were not held, and repeats beyond the held copies', () => {
    const held = [signal(1), signal(1)].map((f) => Tag.Signal + f);
    const early = [signal(1), signal(2), signal(1), signal(1)];
    const { sink, delivered } = recordingSink();
    replayResume(membership(), held, early, peers, sink, { resume: 'secret' });
    // Two copies held, three early: two of the early ones are the held ones, one is new.
    expect(delivered).toEqual([signal(1), signal(1), signal(2), signal(1)]);
  });
});
