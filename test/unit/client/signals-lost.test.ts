import { describe, expect, it } from 'vitest';
import { parseServerMessage } from '../../../client/src/protocol.ts';

describe('signals-lost (the server lost signals in flight when Redis dropped its subscriber)', () => {
  it('is parsed with its peers, and refused when malformed', () => {
    expect(parseServerMessage('{"type":"signals-lost","peers":["bob","carol"]}')).toEqual({
      type: 'signals-lost',
      peers: ['bob', 'carol'],
    });
    expect(parseServerMessage('{"type":"signals-lost","peers":"bob"}')).toBeNull();
    expect(parseServerMessage('{"type":"signals-lost","peers":[1]}')).toBeNull();
  });
});
