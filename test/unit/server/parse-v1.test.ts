import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nameProblem } from '../../../src/protocol/names.ts';
import { parseV1 } from '../../../src/protocol/parse-v1.ts';

describe('parseV1', () => {
  it('accepts the four client messages', () => {
    expect(parseV1('{"type":"join","room":"r","name":"n"}')).toEqual({ ok: true, message: { type: 'join', room: 'r', name: 'n' } });
    expect(parseV1('{"type":"signal","to":"b","data":{"x":1},"id":3}')).toEqual({
      ok: true,
      message: { type: 'signal', to: 'b', data: { x: 1 }, id: 3 },
    });
    expect(parseV1('{"type":"leave"}')).toEqual({ ok: true, message: { type: 'leave' } });
    expect(parseV1('{"type":"ping","id":"p"}')).toEqual({ ok: true, message: { type: 'ping', id: 'p' } });
  });

  it('ignores a client-supplied from', () => {
    const parsed = parseV1('{"type":"signal","to":"b","data":{},"from":"mallory"}');
    expect(parsed.ok && parsed.message).toEqual({ type: 'signal', to: 'b', data: {} });
  });

  it('echoes a usable id on failures', () => {
    expect(parseV1('{"type":"signal","to":"b","data":1,"id":"x"}')).toMatchObject({ ok: false, id: 'x' });
  });

  it('never throws, whatever the text', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify(v)),
        ),
        (text) => {
          const result = parseV1(text);
          expect(typeof result.ok).toBe('boolean');
          if (!result.ok) expect(result.message.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('nameProblem', () => {
  it('counts code points, not UTF-16 units', () => {
    expect(nameProblem('😀'.repeat(64))).toBeNull();
    expect(nameProblem('😀'.repeat(65))).toMatch(/at most 64/);
    expect(nameProblem('山'.repeat(64))).toBeNull();
  });

  it('refuses empty, control characters, lone surrogates and non-strings', () => {
    expect(nameProblem('')).toMatch(/empty/);
    expect(nameProblem('a\u0000b')).toMatch(/control/);
    expect(nameProblem('a\u007fb')).toMatch(/control/);
    expect(nameProblem('a\u0085b')).toMatch(/control/);
    expect(nameProblem('\udc00')).toMatch(/well-formed/);
    expect(nameProblem(5)).toMatch(/string/);
  });
});
