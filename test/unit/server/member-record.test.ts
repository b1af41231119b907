import { describe, expect, it } from 'vitest';
import { infoTail, parseRecord, peersFrom } from '../../../src/backends/redis/member-record.ts';
import { decodeRoomEvent, decodeRoomFrame, encodeRoomEvent, encodeRoomFrame, metadataSuffix } from '../../../src/cluster/bus-codec.ts';

describe('member records and room payloads with metadata', () => {
  it('reads the info tail after the fourth bar, whatever the metadata holds', () => {
    const info = { joinedAt: 1_700_000_000_123, metadata: { displayName: 'A | B', nested: { pipe: '|||' } } };
    const record = `7|node-1/abc|${'f'.repeat(64)}|0${infoTail(info)}`;
    expect(parseRecord(record)).toEqual({ seq: 7, graceUntil: 0, joinedAt: info.joinedAt, metadata: info.metadata });
    expect(parseRecord(`7|node-1/abc|hash|1700000009999${infoTail(info)}`).graceUntil).toBe(1_700_000_009_999);
    // Records written before the tail existed.
    expect(parseRecord('3|n/c|hash|0')).toEqual({ seq: 3, graceUntil: 0, joinedAt: undefined, metadata: undefined });
    expect(parseRecord('3|n/c|hash|123|456|not json')).toMatchObject({ joinedAt: 456, metadata: {} });
    expect(peersFrom(['b', `2|o|h|0${infoTail(info)}`, 'a', '1|o|h|0'], 0)).toEqual([
      { name: 'a', seq: 1 },
      { name: 'b', seq: 2, metadata: info.metadata },
    ]);
  });

  it('round-trips joined events with metadata and room frames', () => {
    const metadata = { displayName: 'Zoë\nnot a name' };
    expect(decodeRoomEvent(encodeRoomEvent({ kind: 'joined', seq: 4, name: 'z', metadata }))).toEqual({
      kind: 'joined',
      seq: 4,
      name: 'z',
      metadata,
    });
    expect(decodeRoomEvent(encodeRoomEvent({ kind: 'joined', seq: 5, name: 'r', previous: 2, metadata }))).toEqual({
      kind: 'joined',
      seq: 5,
      name: 'r',
      previous: 2,
      metadata,
    });
    expect(decodeRoomEvent(`J6:n${metadataSuffix(metadata)}`)).toEqual({ kind: 'joined', seq: 6, name: 'n', metadata });
    expect(decodeRoomEvent('L3:gone')).toEqual({ kind: 'left', seq: 3, name: 'gone' });
    expect(decodeRoomFrame(encodeRoomFrame('ann', '{"type":"broadcast"}'))).toEqual({ from: 'ann', frame: '{"type":"broadcast"}' });
    expect(decodeRoomFrame(encodeRoomFrame('', '{"a":"\\n"}'))).toEqual({ from: '', frame: '{"a":"\\n"}' });
  });
});
