import { describe, expect, it } from 'vitest';
import { parseServerMessage } from '../../../client/src/protocol.ts';

describe('client parsing of metadata and broadcast frames', () => {
  it('reads joined.members in the order of peers, and fills it in for servers that send none', () => {
    const sent = {
      type: 'joined',
      room: 'r',
      name: 'c',
      peers: ['a', 'b'],
      members: [
        { name: 'b', metadata: { displayName: 'Bo' } },
        { name: 'a', metadata: {} },
      ],
    };
    expect(parseServerMessage(JSON.stringify(sent))).toMatchObject({
      members: [
        { name: 'a', metadata: {} },
        { name: 'b', metadata: { displayName: 'Bo' } },
      ],
    });
    const old = { type: 'joined', room: 'r', name: 'c', peers: ['a'] };
    expect(parseServerMessage(JSON.stringify(old))).toMatchObject({ peers: ['a'], members: [{ name: 'a', metadata: {} }] });
  });

  it('gives peer-joined a metadata object even when the server omits it', () => {
    expect(parseServerMessage('{"type":"peer-joined","name":"a"}')).toEqual({ type: 'peer-joined', name: 'a', metadata: {} });
    expect(parseServerMessage('{"type":"peer-joined","name":"a","metadata":{"displayName":"Ana"}}')).toEqual({
      type: 'peer-joined',
      name: 'a',
      metadata: { displayName: 'Ana' },
    });
  });

  it('parses broadcast and message frames, refusing malformed ones', () => {
    expect(parseServerMessage('{"type":"broadcast","from":"a","data":{"t":1}}')).toEqual({ type: 'broadcast', from: 'a', data: { t: 1 } });
    expect(parseServerMessage('{"type":"broadcast","data":{"t":1}}')).toBeNull();
    expect(parseServerMessage('{"type":"message","data":{"t":1}}')).toEqual({ type: 'message', data: { t: 1 } });
    expect(parseServerMessage('{"type":"message","data":"x"}')).toBeNull();
  });
});
