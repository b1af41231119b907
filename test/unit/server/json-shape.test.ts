import { describe, expect, it } from 'vitest';
import { encodeSignal } from '../../../src/protocol/encode-v1.ts';
import { MAX_JSON_DEPTH } from '../../../src/protocol/json-shape.ts';
import { parseArticle } from '../../../src/protocol/parse-article.ts';
import { parseV1 } from '../../../src/protocol/parse-v1.ts';

/** `{"d":{"d":...{}}}` with `levels` objects, as text (never built as a value: 9,000 levels would not stringify). */
const nested = (levels: number): string => '{"d":'.repeat(levels - 1) + '{}' + '}'.repeat(levels - 1);
const signal = (dataText: string): string => `{"type":"signal","to":"b","data":${dataText},"id":"s"}`;

describe('signal.data shape (v1)', () => {
  it('accepts data nested exactly MAX_JSON_DEPTH levels and relays it', () => {
    const parsed = parseV1(signal(nested(MAX_JSON_DEPTH)));
    expect(parsed.ok).toBe(true);
    const message = parsed.ok ? parsed.message : undefined;
    expect(message?.type).toBe('signal');
    if (message?.type === 'signal') expect(() => encodeSignal('"a"', message.data)).not.toThrow();
  });

  it('refuses one level more, and 9,000 levels, with bad-request naming the limit', () => {
    for (const levels of [MAX_JSON_DEPTH + 1, 9000]) {
      const parsed = parseV1(signal(nested(levels)));
      expect(parsed).toEqual({ ok: false, id: 's', message: expect.stringContaining(`more than ${MAX_JSON_DEPTH} levels`) });
    }
    // Arrays count as levels too.
    expect(parseV1(signal(`{"a":${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}}`)).ok).toBe(false);
    expect(parseV1(signal(`{"a":${'['.repeat(MAX_JSON_DEPTH - 1)}${']'.repeat(MAX_JSON_DEPTH - 1)}}`)).ok).toBe(true);
  });

  it('refuses numbers JSON.parse overflows to Infinity instead of relaying them as null', () => {
    expect(parseV1(signal('{"x":1e400}'))).toEqual({ ok: false, id: 's', message: expect.stringContaining('too large for JSON') });
    expect(parseV1(signal('{"x":[1,{"y":-1e999}]}')).ok).toBe(false);
    // Large but finite numbers are JSON numbers like any other.
    expect(parseV1(signal('{"x":1.7976931348623157e308,"y":12345678901234567890}')).ok).toBe(true);
  });

  it('carries __proto__ keys as plain data without touching any prototype', () => {
    const parsed = parseV1(signal('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}'));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok || parsed.message.type !== 'signal') return;
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(encodeSignal('"a"', parsed.message.data)).toBe(
      '{"type":"signal","from":"a","data":{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}}',
    );
    // A __proto__ at the top of the frame is a field like any other, never the type.
    expect(parseV1('{"__proto__":{"type":"ping"}}')).toMatchObject({ ok: false, message: 'type must be a string' });
  });

  it('takes the last of duplicate keys, as JSON.parse does', () => {
    expect(parseV1('{"type":"ping","type":"leave"}')).toEqual({ ok: true, message: { type: 'leave' } });
    expect(parseV1(signal('{"k":1,"k":{"deep":true}}'))).toMatchObject({ ok: true, message: { data: { k: { deep: true } } } });
  });
});

describe('rtc frame shape (article protocol)', () => {
  const rtc = (description: string): string => `{"method":"rtc","from":"a","to":"b","roomName":"r","description":${description}}`;

  it('accepts a real description and refuses a frame nested deeper than MAX_JSON_DEPTH', () => {
    expect(parseArticle(rtc('{"type":"offer","sdp":"v=0\\r\\n"}')).ok).toBe(true);
    // The frame is level 1 and the description level 2.
    expect(parseArticle(rtc(`{"type":"offer","x":${nested(MAX_JSON_DEPTH - 2)}}`)).ok).toBe(true);
    const deep = parseArticle(rtc(`{"type":"offer","x":${nested(9000)}}`));
    expect(deep).toEqual({ ok: false, message: expect.stringContaining(`more than ${MAX_JSON_DEPTH} levels`) });
  });

  it('forwards huge numbers untouched (the frame is relayed as written)', () => {
    expect(parseArticle(rtc('{"type":"answer","x":1e400}')).ok).toBe(true);
  });
});
