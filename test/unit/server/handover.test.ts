import { describe, expect, it } from 'vitest';
import { HandoverInbox } from '../../../src/cluster/handover.ts';
import { type Membership, replayResume } from '../../../src/cluster/membership.ts';
import { decodeHandover, encodeHandover, Tag } from '../../../src/cluster/bus-codec.ts';

describe('hand-over payload', () => {
  it('round-trips the owner and the entries, newlines and all', () => {
    const entries = [`${Tag.Snapshot}[["bob",2]]`, `${Tag.Signal}{"a":"x\\ny"}`];
    expect(decodeHandover(encodeHandover('n1/c7', entries))).toEqual({ owner: 'n1/c7', frames: entries });
    expect(decodeHandover(encodeHandover('n1/c7', []))).toEqual({ owner: 'n1/c7', frames: [] });
  });

  it('refuses what is not one', () => {
    for (const bad of ['H', 'H\n[]', 'Hn1\n{}', 'Hn1\n[1]', 'Hn1\nnot json', 'Sn1\n[]']) expect(decodeHandover(bad)).toBeNull();
  });
});

describe('HandoverInbox', () => {
  it('keeps a hand-over that arrives before the wait, and only the awaited owner resolves it', async () => {
    const inbox = new HandoverInbox();
    inbox.offer('old', ['S1']);
    expect(await inbox.wait('old', 1000)).toEqual(['S1']);
    const waiting = inbox.wait('old', 1000);
    inbox.offer('someone-else', ['S9']);
    inbox.offer('old', ['S2']);
    expect(await waiting).toEqual(['S2']);
  });

  it('gives up at the deadline', async () => {
    const started = Date.now();
    expect(await new HandoverInbox().wait('old', 60)).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
  });
});

describe('replayResume with a hand-over', () => {
  it('takes the snapshot from the hand-over and replays handed, held, then early frames once', () => {
    const signal = (i: number): string => `{"i":${i}}`;
    const m = { room: 'r', name: 'alice', seq: 5, known: new Map() } as unknown as Membership;
    const early = [signal(2), signal(4)];
    const delivered: string[] = [];
    const joined: string[][] = [];
    const sink = {
      joined: (_r: string, _n: string, peers: string[]) => void joined.push(peers),
      peerJoined: () => undefined,
      peerLeft: () => undefined,
      deliver: (frame: string) => void delivered.push(frame),
    };
    // The old dyno had 1 and 2 (2 also reached the resuming dyno); 3 was held after its unsubscribe.
    const handed = [`${Tag.Snapshot}[["bob",2]]`, Tag.Signal + signal(1), Tag.Signal + signal(2)];
    replayResume(
      m,
      [...handed, Tag.Signal + signal(3)],
      early,
      [
        { name: 'bob', seq: 2 },
        { name: 'carol', seq: 3 },
      ],
      sink,
      { resume: 's' },
    );
    expect(joined).toEqual([['bob']]);
    expect(delivered).toEqual([1, 2, 3, 4].map(signal));
  });
});
