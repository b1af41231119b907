import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeSegment, RoomKeys } from '../../../src/cluster/keys.ts';

describe('key encoding', () => {
  it('never maps two different names to the same segment', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 64 }), fc.string({ unit: 'grapheme', maxLength: 64 }), (a, b) => {
        fc.pre(a !== b);
        expect(encodeSegment(a)).not.toBe(encodeSegment(b));
      }),
      { numRuns: 500 },
    );
  });

  it('is reversible (so it is injective) and keeps glob and hash-tag characters out', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 64 }).filter((s) => s.isWellFormed()),
        (s) => {
          const encoded = encodeSegment(s);
          expect(decodeURIComponent(encoded)).toBe(s);
          expect(encoded).toMatch(/^[A-Za-z0-9_.~%-]*$/);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('puts exactly one hash tag, the room, in every key and channel', () => {
    const keys = new RoomKeys('sig:', 'v1', 'a}{b*');
    for (const key of [keys.members, keys.events, keys.memberChannel('x{y}')]) {
      expect(key.match(/[{}]/g)).toEqual(['{', '}']);
      expect(key).toContain('{v1.a%7D%7Bb%2A}');
    }
    expect(new RoomKeys('sig:', 'article', 'r').members).not.toBe(new RoomKeys('sig:', 'v1', 'r').members);
  });

  it('leaves plain ASCII names readable', () => {
    expect(encodeSegment('room-1_a.b~c')).toBe('room-1_a.b~c');
    expect(encodeSegment('会')).toBe('%E4%BC%9A');
  });
});
