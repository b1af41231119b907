import { afterEach, describe, expect, it, vi } from 'vitest';
import { preferredVideoCodecs, preferVp8 } from '../../../client/src/codec-preference.ts';
import { CallStats } from '../../../client/src/call-stats.ts';
import { LINK_STATS_TYPES } from '../../../client/src/link-quality.ts';
import { MediaStallMonitor } from '../../../client/src/media-stall.ts';
import { SLOW_SAMPLE_MS, STEADY_SAMPLES, StatsSampler } from '../../../client/src/stats-sampler.ts';
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
    sampler.add(() => void a.push(Date.now()));
    sampler.add(
      () => void b.push(Date.now()),
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

describe('StatsSampler: a steady link is sampled less often', () => {
  it('slows to slowMs after STEADY_SAMPLES steady samples, back to the interval on the first change', async () => {
    vi.useFakeTimers();
    const pc = statsPc();
    const sampled: number[] = [];
    let steady = true;
    const sampler = new StatsSampler(pc as unknown as RTCPeerConnection, { intervalMs: 1000, slowMs: 3000 });
    const start = Date.now();
    sampler.add(() => (sampled.push(Date.now() - start), steady));
    await vi.advanceTimersByTimeAsync(3000 + 2 * 3000);
    expect(sampled).toEqual([1000, 2000, 3000, 6000, 9000].slice(0, STEADY_SAMPLES + 2));
    steady = false; // something changed: the next samples come at the interval again
    await vi.advanceTimersByTimeAsync(3000 + 2000);
    expect(sampled.slice(STEADY_SAMPLES + 2)).toEqual([12000, 13000, 14000]);
    sampler.hurry(); // not slowed down: nothing to hurry
    steady = true;
    await vi.advanceTimersByTimeAsync(3000);
    expect(sampled.at(-1)).toBe(17000);
    await vi.advanceTimersByTimeAsync(3000);
    expect(sampled.at(-1)).toBe(20000);
    sampler.hurry(); // slowed down: sample at the interval from now
    await vi.advanceTimersByTimeAsync(1000);
    expect(sampled.at(-1)).toBe(21000);
    sampler.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('never slows while a reader returns anything but true, and hands on only the types its readers name', async () => {
    vi.useFakeTimers();
    const pc = {
      async getStats() {
        return new Map<string, { type: string }>([
          ['in', { type: 'inbound-rtp' }],
          ['cert', { type: 'certificate' }],
          ['codec', { type: 'codec' }],
          ['ms', { type: 'media-source' }],
        ]);
      },
    };
    const sampler = new StatsSampler(pc as unknown as RTCPeerConnection, { intervalMs: 1000, slowMs: 3000 });
    const seen: string[][] = [];
    let count = 0;
    sampler.add((report) => void seen.push([...report.values()].map((s: { type: string }) => s.type)), undefined, ['inbound-rtp']);
    sampler.add(() => void count++, undefined, ['media-source']);
    await vi.advanceTimersByTimeAsync(6000);
    expect(count).toBe(6); // a reader returning nothing never lets the link count as steady
    expect(seen[0]).toEqual(['inbound-rtp', 'media-source']);
    const all = sampler.add(() => true); // names no type: every entry
    await vi.advanceTimersByTimeAsync(1000);
    expect(seen.at(-1)).toEqual(['inbound-rtp', 'certificate', 'codec', 'media-source']);
    all();
    sampler.stop();
  });

  it('still notices a stall on a shared sampler that has slowed down, within stallMs plus the slow period', async () => {
    vi.useFakeTimers();
    const pc = statsPc();
    const sampler = new StatsSampler(pc as unknown as RTCPeerConnection, { intervalMs: 1000, slowMs: SLOW_SAMPLE_MS });
    const stalls: number[] = [];
    const monitor = new MediaStallMonitor({
      pc: pc as unknown as RTCPeerConnection,
      sampler,
      stallMs: 3000,
      active: () => true,
      onStall: () => stalls.push(Date.now()),
    });
    let getStatsCalls = 0;
    const getStats = pc.getStats.bind(pc);
    pc.getStats = async () => (getStatsCalls++, await getStats());
    for (let i = 0; i < 20; i++) {
      pc.packets += 50;
      await vi.advanceTimersByTimeAsync(500);
    }
    expect(stalls).toEqual([]);
    expect(getStatsCalls).toBeLessThan(10 / (SLOW_SAMPLE_MS / 1000) + STEADY_SAMPLES + 1); // slowed down while packets flow
    const frozeAt = Date.now();
    await vi.advanceTimersByTimeAsync(3000 + SLOW_SAMPLE_MS + 1000);
    expect(stalls).toHaveLength(1);
    expect(stalls[0]! - frozeAt).toBeLessThanOrEqual(3000 + SLOW_SAMPLE_MS);
    monitor.stop();
    sampler.stop();
  });
});

describe('CallStats: tells its source when what it shows is steady', () => {
  it('reads only the link types, returns true while quality and speaking stay, false when either changes', () => {
    let listener: ((peer: string, report: RTCStatsReport) => boolean) | undefined;
    let types: readonly string[] | undefined;
    const source = {
      peers: ['bob'],
      stats: async () => null,
      onStats(l: (peer: string, report: RTCStatsReport) => boolean, t?: readonly string[]) {
        listener = l;
        types = t;
        return () => (listener = undefined);
      },
    };
    vi.useFakeTimers();
    const stats = new CallStats(source, { holdMs: 500 });
    expect(types).toEqual(LINK_STATS_TYPES);
    let received = 0;
    let energy = 0;
    let duration = 0;
    const sample = (): boolean => {
      vi.advanceTimersByTime(1000);
      duration += 1;
      const report = new Map([
        [
          'in',
          {
            type: 'inbound-rtp',
            kind: 'audio',
            packetsReceived: received,
            packetsLost: 0,
            totalAudioEnergy: energy,
            totalSamplesDuration: duration,
          },
        ],
      ]);
      return listener!('bob', report);
    };
    const shown: string[] = [];
    stats.on('sample', ({ quality, speaking }) => shown.push(`${quality}:${speaking}`));
    received += 50;
    expect(sample()).toBe(false); // the first sample shows nothing yet
    received += 50;
    expect(sample()).toBe(false); // the first shown
    received += 50;
    expect(sample()).toBe(true);
    received += 50;
    energy += 0.01; // loud: level 0.1 over the second
    expect(sample()).toBe(false);
    received += 50;
    expect(sample()).toBe(false); // quiet again
    expect(sample()).toBe(false); // nothing received: bad
    expect(shown).toEqual(['good:false', 'good:false', 'good:true', 'good:false', 'bad:false']);
    stats.stop();
    expect(listener).toBeUndefined();
  });
});
