import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster } from '../fixtures/dyno.ts';
import { startCluster } from '../fixtures/dyno.ts';
import type { RedisFixture } from '../fixtures/redis.ts';
import { startRedis, uniquePrefix } from '../fixtures/redis.ts';
import { RawSocket, sleep } from '../fixtures/raw-socket.ts';

/**
 * y-webrtc's signaling protocol (docs/protocol.md, y-webrtc) with raw frames against two
 * dynos sharing a Redis: delivery to every subscriber on every dyno with the sender, the
 * receiving dyno's `clients` count, one PUBLISH per publish, a topic's channel subscribed
 * only while the dyno has local subscribers, and bad frames answered without harm.
 */

const prefix = uniquePrefix('ywp');
let redis: RedisFixture;
let cluster: Cluster;
let admin: Redis;
const sockets: RawSocket[] = [];
let seq = 0;
const topic = (label: string): string => `${label}-${++seq}`;
const channel = (t: string): string => `${prefix}{ywebrtc.${t}}:topic`;

async function open(i: number, origin?: string): Promise<RawSocket> {
  const socket = await RawSocket.open(cluster.dyno(i).wsUrl('/y-webrtc'), origin);
  sockets.push(socket);
  return socket;
}

/** Sends a ping and waits for its pong: every frame sent before it has been handled. */
async function settle(socket: RawSocket): Promise<void> {
  const count = socket.frames.filter((f) => f === '{"type":"pong"}').length;
  socket.send({ type: 'ping' });
  await socket.waitFrames(socket.frames.length + 1);
  await expect.poll(() => socket.frames.filter((f) => f === '{"type":"pong"}').length).toBe(count + 1);
}

async function subscribers(t: string): Promise<number> {
  const reply = (await admin.call('PUBSUB', 'NUMSUB', channel(t))) as [string, number];
  return Number(reply[1]);
}

beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
  cluster = await startCluster('redis', { redisUrl: redis.url, env: { REDIS_PREFIX: prefix } });
});

afterAll(async () => {
  for (const s of sockets) s.close();
  await cluster?.stop();
  admin?.disconnect();
  await redis?.stop();
});

describe('y-webrtc signaling across two dynos', () => {
  it('delivers a publish to every subscriber on both dynos, the sender included, with the local clients count', async () => {
    const t = topic('room');
    const [a, b, c] = await Promise.all([open(0), open(1), open(0)]);
    for (const s of [a, b, c]) {
      s.send({ type: 'subscribe', topics: [t, 42] });
      await settle(s);
    }
    a.send({ type: 'publish', topic: t, data: { type: 'announce', from: 'x' }, clients: 99 });
    const frame = (clients: number): string =>
      `{"type":"publish","topic":"${t}","data":{"type":"announce","from":"x"},"clients":${clients}}`;
    await Promise.all([a.waitFrames(2), b.waitFrames(2), c.waitFrames(2)]);
    // `clients` counts the receiving dyno's subscribers: two on dyno 0, one on dyno 1.
    expect(a.frames[1]).toBe(frame(2));
    expect(c.frames[1]).toBe(frame(2));
    expect(b.frames[1]).toBe(frame(1));
    // A publisher need not subscribe; a subscriber that left hears nothing more.
    b.send({ type: 'unsubscribe', topics: [t] });
    await settle(b);
    const outsider = await open(1);
    outsider.send({ type: 'publish', topic: t, data: 'opaque string' });
    await a.waitFrames(3);
    expect(a.frames[2]).toBe(`{"type":"publish","topic":"${t}","data":"opaque string","clients":2}`);
    await sleep(200);
    expect(b.frames).toHaveLength(3);
    expect(outsider.frames).toEqual([]);
  });

  it('subscribes a topic channel only while the dyno has local subscribers, and PUBLISHes once per publish', async () => {
    const t = topic('sub');
    expect(await subscribers(t)).toBe(0);
    const [a, a2, b] = await Promise.all([open(0), open(0), open(1)]);
    for (const s of [a, a2, b]) {
      s.send({ type: 'subscribe', topics: [t] });
      await settle(s);
    }
    expect(await subscribers(t)).toBe(2);
    const monitor = await admin.duplicate().monitor();
    let publishes = 0;
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args[0]?.toLowerCase() === 'publish' && args[1] === channel(t)) publishes++;
    });
    for (let i = 0; i < 5; i++) a.send({ type: 'publish', topic: t, data: i });
    await b.waitFrames(6);
    await sleep(100);
    monitor.disconnect();
    expect(publishes).toBe(5);
    a.send({ type: 'unsubscribe', topics: [t] });
    await settle(a);
    expect(await subscribers(t)).toBe(2);
    a2.close();
    await expect.poll(() => subscribers(t)).toBe(1);
    b.close();
    await expect.poll(() => subscribers(t)).toBe(0);
  });

  it('answers bad frames with an error frame and keeps serving, and accepts any Origin', async () => {
    const s = await open(0, 'http://elsewhere.example');
    const errors = async (frame: unknown): Promise<string> => {
      const before = s.frames.length;
      s.send(frame);
      await s.waitFrames(before + 1);
      return (JSON.parse(s.frames[before] as string) as { message: string }).message;
    };
    expect(await errors('not json')).toMatch(/JSON/);
    expect(await errors('[1,2]')).toMatch(/JSON objects/);
    expect(await errors({ type: 'subscribe', topics: 'x' })).toMatch(/array/);
    expect(await errors({ type: 'subscribe', topics: ['x'.repeat(257)] })).toMatch(/256 characters/);
    expect(await errors({ type: 'publish', topic: 7, data: 1 })).toMatch(/string/);
    const many = Array.from({ length: 65 }, (_, i) => `many-${seq}-${i}`);
    expect(await errors({ type: 'subscribe', topics: many })).toMatch(/at most 64 topics/);
    s.ws.send(Buffer.from('{"type":"ping"}'), { binary: true });
    await s.waitFrames(s.frames.length + 1);
    expect(s.messages.at(-1)?.['type']).toBe('error');
    // Unknown types and a missing type are ignored, as the reference does.
    s.send({ type: 'what' });
    s.send({ topics: [] });
    await settle(s);
    expect(s.closeCode).toBeUndefined();
    const metrics = await (await fetch(`${cluster.dyno(0).httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/signaling_bad_frames_total\{[^}]*protocol="ywebrtc"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/signaling_signals_total\{[^}]*protocol="ywebrtc"[^}]*outcome="sent"[^}]*\} [1-9]/);
  });
});
