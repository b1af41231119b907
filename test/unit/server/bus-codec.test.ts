import { describe, expect, it } from 'vitest';
import { applyRoomEvent } from '../../../src/cluster/membership.ts';
import type { Membership } from '../../../src/cluster/membership.ts';
import { RoomKeys } from '../../../src/cluster/keys.ts';
import { decodeRoomEvent, encodeRoomEvent } from '../../../src/cluster/bus-codec.ts';

describe('room events', () => {
  it('round-trips joined, left and renumbered events, names with colons included', () => {
    for (const event of [
      { kind: 'joined', seq: 7, name: 'a:b' },
      { kind: 'left', seq: 3, name: ':' },
      { kind: 'joined', seq: 12, name: 'x:1:y', previous: 4 },
    ] as const) {
      expect(decodeRoomEvent(encodeRoomEvent(event))).toEqual(event);
    }
    for (const bad of ['R5::x', 'R5:x', 'Rx:1:y', 'R:1:y']) expect(decodeRoomEvent(bad)).toBeNull();
  });

  it('keeps a renumbered peer it knew by the old seq, and announces it to a member that did not', () => {
    const keys = new RoomKeys('t:', 'v1', 'r');
    const member = (known: Array<[string, number]>, seq: number): Membership => ({
      room: 'r', name: 'me', keys, ref: { membersKey: keys.members, holdKey: keys.holdKey('me'), name: 'me' },
      memberChannel: keys.memberChannel('me'), seq, known: new Map(known), pending: null, early: [], info: { metadata: {}, joinedAt: 0 },
    });
    const told: string[] = [];
    const sink = { joined: () => undefined, peerJoined: (n: string) => void told.push(`+${n}`), peerLeft: (n: string) => void told.push(`-${n}`), deliver: () => undefined };
    const renumbered = { kind: 'joined', seq: 9, name: 'alice', previous: 2 } as const;
    const knew = member([['alice', 2]], 3);
    applyRoomEvent(knew, renumbered, sink);
    expect(told).toEqual([]);
    expect(knew.known.get('alice')).toBe(9);
    // A newcomer of the emptied room, whose seq is above alice's old one, still hears her.
    applyRoomEvent(member([], 5), renumbered, sink);
    expect(told).toEqual(['+alice']);
  });
});
