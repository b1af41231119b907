import { describe, expect, it } from 'vitest';
import { applyRoomEvent } from '../../../src/cluster/membership.ts';
import type { Membership } from '../../../src/cluster/membership.ts';
import { RoomKeys } from '../../../src/cluster/keys.ts';
import { Delivery } from '../../../src/cluster/delivery.ts';
import { SubscriptionSet } from '../../../src/cluster/subscription-set.ts';
import { MemoryBackend } from '../../../src/backends/memory/memory-backend.ts';
import type { BusMessage } from '../../../src/cluster/bus-codec.ts';
import { decodeBus, decodeRoomEvent, encodeBus, encodeRoomEvent, Tag } from '../../../src/cluster/bus-codec.ts';
import * as lua from '../../../src/backends/redis/scripts.ts';

/** One message of every tag, with the awkward characters each body may hold. */
const EVERY_TAG: Record<keyof typeof Tag, BusMessage[]> = {
  Signal: [
    { tag: Tag.Signal, frame: '{"type":"signal","data":"a\\nb|c:d"}' },
    { tag: Tag.Signal, frame: '' },
  ],
  DrainRequest: [{ tag: Tag.DrainRequest }],
  Replaced: [{ tag: Tag.Replaced, owner: 'node-1/c7' }],
  Removed: [{ tag: Tag.Removed, owner: 'node-2/c9' }],
  Handover: [
    { tag: Tag.Handover, owner: 'n1/c7', entries: ['V[["bob",2]]', 'S{"a":"x\\ny"}'] },
    { tag: Tag.Handover, owner: 'n1/c7', entries: [] },
  ],
  RoomFrame: [
    { tag: Tag.RoomFrame, from: 'ann', frame: '{"type":"broadcast"}' },
    { tag: Tag.RoomFrame, from: '', frame: 'line\nbreak' },
  ],
  Joined: [
    { tag: Tag.Joined, seq: 7, name: 'a:b' },
    { tag: Tag.Joined, seq: 8, name: 'z', metadata: { displayName: 'Zoë\nnot a name' } },
  ],
  Left: [{ tag: Tag.Left, seq: 3, name: ':' }],
  Renumbered: [
    { tag: Tag.Renumbered, seq: 12, previous: 4, name: 'x:1:y' },
    { tag: Tag.Renumbered, seq: 13, previous: 5, name: 'm', metadata: { role: 'host' } },
  ],
  Snapshot: [
    {
      tag: Tag.Snapshot,
      known: [
        ['bob', 2],
        ['carol', 5],
      ],
    },
    { tag: Tag.Snapshot, known: [] },
  ],
};

describe('bus codec', () => {
  it('has one character per tag, none shared', () => {
    const tags = Object.values(Tag);
    expect(new Set(tags).size).toBe(tags.length);
    for (const tag of tags) expect(tag).toMatch(/^[A-Z]$/);
  });

  it('round-trips a message of every tag, and each encoding starts with its tag', () => {
    for (const [name, messages] of Object.entries(EVERY_TAG)) {
      expect(messages.length, name).toBeGreaterThan(0);
      for (const message of messages) {
        const payload = encodeBus(message);
        expect(payload[0]).toBe(message.tag);
        expect(decodeBus(payload)).toEqual(message);
      }
    }
  });

  it('refuses what is not one of its payloads', () => {
    for (const bad of [
      '',
      'Q1:x',
      'Dx',
      'H',
      'H\n[]',
      'Hn1\n{}',
      'Hn1\n[1]',
      'Hn1\nnot json',
      'Bno-newline',
      'J:x',
      'Jx:y',
      'L:z',
      'R5::x',
      'R5:x',
      'Vnot json',
      'V{}',
    ]) {
      expect(decodeBus(bad), JSON.stringify(bad)).toBeNull();
    }
  });

  it('gives the Lua scripts the same table, and leaves no tag spelled in Lua', () => {
    const table = /^local TAG = \{ (.*) \}$/.exec(lua.LUA_TAGS)?.[1];
    const entries = Object.fromEntries(
      (table ?? '').split(', ').map((pair): [string, string] => {
        const [, name = '', tag = ''] = /^(\w+) = '(.)'$/.exec(pair) ?? [];
        return [name, tag];
      }),
    );
    expect(entries).toEqual({ ...Tag });
    const scripts = Object.values(lua).flatMap((value) => {
      if (typeof value === 'string') return [value];
      if (typeof value === 'function') return [(value as (p: string) => string)('PUBLISH'), (value as (p: string) => string)('SPUBLISH')];
      return [];
    });
    expect(scripts.length).toBeGreaterThan(10);
    for (const source of scripts) {
      if (!source.includes('redis.call')) continue;
      const body = source.replace(lua.LUA_TAGS, '');
      // A tag is one capital letter in quotes; the table above is the only place one may be.
      expect(body, source.slice(0, 200)).not.toMatch(/'[A-Z]'|"[A-Z]"/);
      for (const [, name] of body.matchAll(/TAG\.(\w+)/g)) expect(Object.keys(Tag)).toContain(name);
    }
  });
});

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
      room: 'r',
      name: 'me',
      keys,
      ref: { membersKey: keys.members, holdKey: keys.holdKey('me'), name: 'me' },
      memberChannel: keys.memberChannel('me'),
      seq,
      known: new Map(known),
      info: { metadata: {}, joinedAt: 0 },
      subscriptions: new SubscriptionSet(new MemoryBackend(), () => undefined).lease([]),
      delivery: new Delivery(
        { joined: () => undefined, peerJoined: () => undefined, peerLeft: () => undefined, deliver: () => undefined },
        false,
      ),
    });
    const told: string[] = [];
    const sink = {
      joined: () => undefined,
      peerJoined: (n: string) => void told.push(`+${n}`),
      peerLeft: (n: string) => void told.push(`-${n}`),
      deliver: () => undefined,
    };
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
