import { afterEach, describe, expect, it, vi } from 'vitest';
import { preferredVideoCodecs, preferVp8 } from '../../../client/src/codec-preference.ts';
import { MediaStallMonitor } from '../../../client/src/media-stall.ts';
import { StatsSampler } from '../../../client/src/stats-sampler.ts';
import { answerRole, readSetup, readUfrag, withSetup } from '../../../client/src/sdp-lines.ts';

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

/** A peer connection that only has what the monitor reads: inbound packet counts and directions. */
function statsPc(direction: RTCRtpTransceiverDirection = 'sendrecv') {
  const pc = {
    packets: 0,
    async getStats() {
      return new Map([['in', { type: 'inbound-rtp', packetsReceived: pc.packets }]]);
    },
    getTransceivers: () => [{ currentDirection: direction }],
  };
  return pc;
}

describe('MediaStallMonitor', () => {
  it('asks for a restart once inbound packets stop counting for stallMs, and not while they flow', async () => {
    vi.useFakeTimers();
    const pc = statsPc();
    const stalls: number[] = [];
    const monitor = new MediaStallMonitor({
      pc: pc as unknown as RTCPeerConnection,
      stallMs: 3000,
      active: () => true,
      onStall: () => stalls.push(Date.now()),
    });
    for (let i = 0; i < 10; i++) {
      pc.packets += 50;
      await vi.advanceTimersByTimeAsync(1000);
    }
    expect(stalls).toEqual([]);
    const frozeAt = Date.now();
    await vi.advanceTimersByTimeAsync(4500);
    expect(stalls).toHaveLength(1);
    expect(stalls[0]! - frozeAt).toBeGreaterThanOrEqual(3000);
    expect(stalls[0]! - frozeAt).toBeLessThanOrEqual(4000);
    monitor.stop();
  });

  it('ignores silence while inactive (negotiating, not connected) or when nothing is received', async () => {
    vi.useFakeTimers();
    let active = false;
    const calls: string[] = [];
    const a = new MediaStallMonitor({
      pc: statsPc() as unknown as RTCPeerConnection,
      stallMs: 2000,
      active: () => active,
      onStall: () => calls.push('a'),
    });
    const b = new MediaStallMonitor({
      pc: statsPc('sendonly') as unknown as RTCPeerConnection,
      stallMs: 2000,
      active: () => true,
      onStall: () => calls.push('b'),
    });
    await vi.advanceTimersByTimeAsync(6000);
    expect(calls).toEqual([]);
    active = true; // becomes active: the full stallMs counts from now
    await vi.advanceTimersByTimeAsync(1500);
    expect(calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(2000);
    expect(calls).toEqual(['a']);
    a.stop();
    b.stop();
  });
});

describe('VP8 first', () => {
  const h264First = [
    { mimeType: 'video/H264', clockRate: 90000, sdpFmtpLine: 'profile-level-id=42e01f' },
    { mimeType: 'video/rtx', clockRate: 90000 },
    { mimeType: 'video/VP8', clockRate: 90000 },
    { mimeType: 'video/VP9', clockRate: 90000 },
  ];

  it("moves VP8 ahead of the engine's list (Safari puts H.264 first) and keeps the rest in order", () => {
    const order = preferredVideoCodecs({ getCapabilities: () => ({ codecs: h264First, headerExtensions: [] }) });
    expect(order?.map((c) => c.mimeType)).toEqual(['video/VP8', 'video/H264', 'video/rtx', 'video/VP9']);
  });

  it('leaves engines alone that lead with VP8 already, lack it, or cannot tell', () => {
    const vp8First = [
      { mimeType: 'video/rtx', clockRate: 90000 },
      { mimeType: 'video/VP8', clockRate: 90000 },
      { mimeType: 'video/H264', clockRate: 90000 },
    ];
    expect(preferredVideoCodecs({ getCapabilities: () => ({ codecs: vp8First, headerExtensions: [] }) })).toBeNull();
    expect(preferredVideoCodecs({ getCapabilities: () => ({ codecs: [h264First[0]!], headerExtensions: [] }) })).toBeNull();
    expect(preferredVideoCodecs({ getCapabilities: () => null })).toBeNull();
    expect(preferredVideoCodecs(undefined)).toBeNull();
  });

  it('sets the order on video transceivers only, and survives an engine that refuses it', () => {
    vi.stubGlobal('RTCRtpReceiver', { getCapabilities: () => ({ codecs: h264First, headerExtensions: [] }) });
    const set: string[][] = [];
    const transceiver = (kind: string, refuse = false) => ({
      receiver: { track: { kind } },
      currentDirection: null,
      setCodecPreferences(codecs: Array<{ mimeType: string }>) {
        if (refuse) throw new Error('InvalidModificationError');
        set.push(codecs.map((c) => c.mimeType));
      },
    });
    const pc = { getTransceivers: () => [transceiver('audio'), transceiver('video'), transceiver('video', true)] };
    preferVp8(pc as unknown as RTCPeerConnection);
    expect(set).toEqual([['video/VP8', 'video/H264', 'video/rtx', 'video/VP9']]);
  });
});

describe('SDP lines', () => {
  const answer =
    'v=0\r\na=group:BUNDLE 0 1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ice-ufrag:Ab12\r\na=setup:active\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=ice-ufrag:Ab12\r\na=setup:active\r\n';

  it('reads the role and ufrag and rewrites every a=setup line, keeping CRLF and everything else', () => {
    expect(readSetup(answer)).toBe('active');
    expect(answerRole(answer)).toBe('active');
    expect(answerRole(answer.replaceAll('active', 'actpass'))).toBeUndefined();
    expect(readUfrag(answer)).toBe('Ab12');
    const passive = withSetup(answer, 'passive');
    expect(passive).toBe(answer.replaceAll('a=setup:active', 'a=setup:passive'));
  });
});

describe('StatsSampler: one getStats per connection for every reader', () => {
  it('feeds every reader from one call per interval, only while one wants it, and keeps no timer while paused', async () => {
    vi.useFakeTimers();
    const pc = statsPc();
    let calls = 0;
    const getStats = pc.getStats.bind(pc);
    pc.getStats = async () => (calls++, await getStats());
    const sampler = new StatsSampler(pc as unknown as RTCPeerConnection);
    const a: number[] = [];
    const b: number[] = [];
    let bWants = false;
    sampler.add(() => a.push(Date.now()));
    sampler.add(
      () => b.push(Date.now()),
      () => bWants,
    );
    await vi.advanceTimersByTimeAsync(3000);
    expect(calls).toBe(3);
    expect([a.length, b.length]).toEqual([3, 0]);
    bWants = true;
    await vi.advanceTimersByTimeAsync(2000);
    expect(calls).toBe(5); // still one call per interval for both readers
    expect([a.length, b.length]).toEqual([5, 2]);
    sampler.setPaused(true);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(5000);
    expect(calls).toBe(5);
    sampler.setPaused(false);
    await vi.advanceTimersByTimeAsync(1000);
    expect(calls).toBe(6);
    sampler.stop();
    expect(vi.getTimerCount()).toBe(0);
  });
});
