import { describe, expect, it } from 'vitest';
import { fallbackDevice, loadChoice, saveChoice, trackConstraint } from '../../../client/src/device-choice.ts';
import { classify, readLinkSample } from '../../../client/src/link-quality.ts';
import { parseMediaState } from '../../../client/src/media-state.ts';
import { newRoomName, ROOM_ALPHABET, ROOM_NAME_BITS } from '../../../client/src/room-name.ts';
import { videoSendSettings } from '../../../client/src/send-quality.ts';
import { en } from '../../../client/page/i18n/en.ts';
import { ja } from '../../../client/page/i18n/ja.ts';
import { pickLanguage } from '../../../client/page/i18n/index.ts';

const report = (stats: object[]) => ({ forEach: (fn: (s: never) => void) => stats.forEach((s) => fn(s as never)) });

describe('room names (issue 16: new room)', () => {
  it('are 16 symbols of a 32-symbol alphabet in groups of four: 80 bits', () => {
    expect(new Set(ROOM_ALPHABET).size).toBe(32);
    expect(16 * Math.log2(ROOM_ALPHABET.length)).toBe(ROOM_NAME_BITS);
    const names = Array.from({ length: 200 }, () => newRoomName());
    for (const name of names) expect(name).toMatch(/^[a-km-np-z2-9]{4}(-[a-km-np-z2-9]{4}){3}$/);
    expect(new Set(names).size).toBe(names.length);
  });

  it('use every symbol, without bias, from the random bytes', () => {
    let next = 0;
    const name = newRoomName((bytes) => bytes.forEach((_, i) => (bytes[i] = (next++ * 2 + 32 * i) & 255)));
    expect(name.replaceAll('-', '')).toBe([...Array(16).keys()].map((i) => ROOM_ALPHABET[(i * 2) & 31]).join(''));
  });
});

describe('link quality from getStats', () => {
  it('classifies round-trip time and loss', () => {
    expect(classify(40, 0)).toBe('good');
    expect(classify(null, 0)).toBe('good');
    expect(classify(400, 0)).toBe('weak');
    expect(classify(40, 5)).toBe('weak');
    expect(classify(900, 0)).toBe('bad');
    expect(classify(40, 20)).toBe('bad');
  });

  it('reads RTT from the selected pair and loss over the interval, and a stalled link is bad', () => {
    const first = readLinkSample(
      report([
        { type: 'candidate-pair', nominated: true, state: 'succeeded', currentRoundTripTime: 0.012 },
        { type: 'inbound-rtp', kind: 'video', packetsReceived: 1000, packetsLost: 0, framesDecoded: 100 },
        { type: 'inbound-rtp', kind: 'audio', packetsReceived: 500, packetsLost: 0, totalAudioEnergy: 1, totalSamplesDuration: 10 },
      ]),
      undefined,
    );
    expect(first.rttMs).toBe(12);
    expect(first.quality).toBe('good');
    const lossy = readLinkSample(
      report([
        { type: 'remote-inbound-rtp', roundTripTime: 0.5 },
        { type: 'inbound-rtp', kind: 'video', packetsReceived: 1080, packetsLost: 20, framesDecoded: 130 },
        { type: 'inbound-rtp', kind: 'audio', packetsReceived: 500, packetsLost: 0, totalAudioEnergy: 1.09, totalSamplesDuration: 11 },
      ]),
      first.counters,
    );
    expect(lossy.rttMs).toBe(500);
    expect(lossy.lossPercent).toBe(20);
    expect(lossy.quality).toBe('bad');
    expect(lossy.audioLevel).toBeCloseTo(0.3, 5);
    const stalled = readLinkSample(
      report([{ type: 'inbound-rtp', kind: 'video', packetsReceived: 1580, packetsLost: 20 }]),
      lossy.counters,
    );
    expect(stalled.quality).toBe('bad');
  });
});

describe('video send settings by room size', () => {
  it('get lighter as the room grows', () => {
    let previous = videoSendSettings(2);
    for (const people of [3, 4, 6, 7, 16]) {
      const next = videoSendSettings(people);
      expect(next.maxBitrate).toBeLessThanOrEqual(previous.maxBitrate);
      expect(next.scaleResolutionDownBy).toBeGreaterThanOrEqual(previous.scaleResolutionDownBy);
      previous = next;
    }
    expect(videoSendSettings(4).maxBitrate).toBeLessThan(videoSendSettings(2).maxBitrate);
  });
});

describe('media state signals', () => {
  it('parses only the documented shape', () => {
    expect(parseMediaState({ media: { audio: false, video: true } })).toEqual({ audio: false, video: true, screen: false });
    expect(parseMediaState({ media: { audio: true, video: true, screen: true } })).toEqual({ audio: true, video: true, screen: true });
    expect(parseMediaState({ media: { audio: 'no', video: true } })).toBeNull();
    expect(parseMediaState({ session: 'x', description: {} })).toBeNull();
    expect(parseMediaState({ media: [] })).toBeNull();
  });
});

describe('device choices', () => {
  it('are remembered, and garbage in storage is ignored', () => {
    const map = new Map<string, string>();
    const store = { getItem: (k: string) => map.get(k) ?? null, setItem: (k: string, v: string) => void map.set(k, v) };
    expect(loadChoice(store)).toEqual({});
    saveChoice(store, { cameraId: 'c1', micId: 'm2', name: 'Ada' });
    expect(loadChoice(store)).toEqual({ cameraId: 'c1', micId: 'm2', name: 'Ada' });
    map.set('video-chat:choices', '{"cameraId": 5, "micId": "m"}');
    expect(loadChoice(store)).toEqual({ micId: 'm' });
    map.set('video-chat:choices', 'not json');
    expect(loadChoice(store)).toEqual({});
    expect(loadChoice(undefined)).toEqual({});
  });

  it('fall back to the default, else the first device left', () => {
    const devices = [
      { kind: 'audioinput', deviceId: 'a' },
      { kind: 'audioinput', deviceId: 'default' },
      { kind: 'videoinput', deviceId: 'v1' },
      { kind: 'videoinput', deviceId: 'v2' },
    ] as const;
    expect(fallbackDevice(devices, 'audioinput', 'a')).toBe('default');
    expect(fallbackDevice(devices, 'videoinput', 'v1')).toBe('v2');
    expect(fallbackDevice(devices, 'videoinput', 'v2')).toBe('v1');
    expect(fallbackDevice(devices.slice(0, 2), 'videoinput', 'v1')).toBeUndefined();
    expect(trackConstraint(undefined)).toBe(true);
    expect(trackConstraint('x')).toEqual({ deviceId: { exact: 'x' } });
  });
});

describe('page strings', () => {
  it('Japanese has every English key, each a non-empty string or a function of the same arity', () => {
    expect(Object.keys(ja).sort()).toEqual(Object.keys(en).sort());
    for (const [key, value] of Object.entries(en)) {
      const other = (ja as Record<string, unknown>)[key];
      expect(typeof other, key).toBe(typeof value);
      if (typeof value === 'string') expect((other as string).length, key).toBeGreaterThan(0);
      else expect((other as (...a: unknown[]) => string).length, key).toBe((value as (...a: unknown[]) => string).length);
    }
  });

  it('language: ?lang forces, else the first of navigator.languages we have, else English', () => {
    expect(pickLanguage('ja', ['en-US'])).toBe('ja');
    expect(pickLanguage('en', ['ja-JP'])).toBe('en');
    expect(pickLanguage(null, ['fr-FR', 'ja-JP', 'en'])).toBe('ja');
    expect(pickLanguage('xx', ['de'])).toBe('en');
  });
});
