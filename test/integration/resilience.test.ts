import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Dyno } from '../fixtures/dyno.ts';
import { startDyno } from '../fixtures/dyno.ts';
import type { ControllableRedisFixture } from '../fixtures/redis.ts';
import { startRedis, uniquePrefix } from '../fixtures/redis.ts';
import type { Frame } from '../fixtures/test-client.ts';
import { TestClient } from '../fixtures/test-client.ts';

/**
 * Dynos and Redis as real processes that the tests kill, drain and restart. Timings are
 * shortened through the environment so each scenario takes seconds.
 */
const GRACE_MS = 1500;
const LEASE_MS = 1000;

let redis: ControllableRedisFixture;
const open: TestClient[] = [];
const dynos: Dyno[] = [];

async function dyno(extra: Record<string, string> = {}, prefix = uniquePrefix('res')): Promise<Dyno> {
  const d = await startDyno({
    env: { REDIS_URL: redis.url, REDIS_PREFIX: prefix, RESUME_GRACE_MS: String(GRACE_MS), NODE_LEASE_MS: String(LEASE_MS), ...extra },
  });
  dynos.push(d);
  return d;
}

async function pair(prefix = uniquePrefix('res'), extra: Record<string, string> = {}): Promise<[Dyno, Dyno]> {
  return [await dyno(extra, prefix), await dyno(extra, prefix)];
}

async function member(d: Dyno, room: string, name: string, resume?: string): Promise<{ client: TestClient; joined: Frame }> {
  const client = await TestClient.connect(d.wsUrl());
  open.push(client);
  client.send(resume ? { type: 'join', room, name, resume } : { type: 'join', room, name });
  const joined = await client.expect('joined');
  return { client, joined };
}

beforeAll(async () => {
  redis = await startRedis({ controllable: true });
});

function rssKb(d: Dyno): number {
  const status = readFileSync(`/proc/${d.process.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
}

afterEach(async () => {
  for (const c of open.splice(0)) c.ws.terminate();
  await Promise.all(dynos.splice(0).map((d) => d.stop('SIGKILL')));
});

afterAll(async () => {
  await redis?.stop();
});

describe('resume without a flap', () => {
  it('holds signals for a dropped member and replays them in order when it resumes on another dyno', async () => {
    const [d0, d1] = await pair();
    const a = await member(d0, 'r', 'alice');
    const b = await member(d1, 'r', 'bob');
    await a.client.expect('peer-joined');
    a.client.ws.terminate();
    // Sent while alice's dyno is still noticing the drop: none may be lost.
    for (let i = 1; i <= 5; i++) b.client.send({ type: 'signal', to: 'alice', data: { i } });
    const back = await member(d1, 'r', 'alice', String(a.joined['resume']));
    expect(back.joined).toMatchObject({ type: 'joined', resumed: true, peers: ['bob'] });
    expect(back.joined['resume']).not.toBe(a.joined['resume']);
    for (let i = 1; i <= 5; i++) expect(await back.client.expect('signal')).toEqual({ type: 'signal', from: 'bob', data: { i } });
    // Live signals flow again, and bob never saw alice leave or come back.
    b.client.send({ type: 'signal', to: 'alice', data: { live: true } });
    expect((await back.client.expect('signal'))['data']).toEqual({ live: true });
    await b.client.expectSilence(GRACE_MS + 300);
  });

  it('tells a resumed member what changed while it was away', async () => {
    const [d0, d1] = await pair();
    const a = await member(d0, 'r', 'alice');
    const b = await member(d1, 'r', 'bob');
    await a.client.expect('peer-joined');
    a.client.ws.terminate();
    await new Promise((resolve) => setTimeout(resolve, 100));
    b.client.send({ type: 'leave' });
    await member(d1, 'r', 'carol');
    const back = await member(d0, 'r', 'alice', String(a.joined['resume']));
    expect(back.joined).toMatchObject({ resumed: true, peers: ['bob'] });
    expect(await back.client.next()).toEqual({ type: 'peer-left', name: 'bob' });
    expect(await back.client.next()).toEqual({ type: 'peer-joined', name: 'carol' });
  });

  it('sends peer-left after the grace, refuses the name meanwhile, and never accepts a wrong secret', async () => {
    const [d0, d1] = await pair();
    const a = await member(d0, 'r', 'alice');
    const b = await member(d1, 'r', 'bob');
    await a.client.expect('peer-joined');
    const left = Date.now();
    a.client.ws.terminate();
    const thief = await TestClient.connect(d1.wsUrl());
    open.push(thief);
    thief.send({ type: 'join', room: 'r', name: 'alice', resume: 'not-the-secret' });
    expect(await thief.expect('error')).toMatchObject({ code: 'name-taken' });
    thief.send({ type: 'join', room: 'r', name: 'alice' });
    expect(await thief.expect('error')).toMatchObject({ code: 'name-taken' });
    expect(await b.client.expect('peer-left', GRACE_MS + 3000)).toEqual({ type: 'peer-left', name: 'alice' });
    expect(Date.now() - left).toBeGreaterThanOrEqual(GRACE_MS - 100);
    // After the grace the old secret starts a new membership: peers hear peer-joined.
    const late = await member(d0, 'r', 'alice', String(a.joined['resume']));
    expect(late.joined).toMatchObject({ resumed: false, peers: ['bob'] });
    expect(await b.client.expect('peer-joined')).toEqual({ type: 'peer-joined', name: 'alice' });
  });

  it('closes a half-open connection with 4000 when its membership is resumed elsewhere', async () => {
    const [d0, d1] = await pair();
    const a = await member(d0, 'r', 'alice');
    const back = await member(d1, 'r', 'alice', String(a.joined['resume']));
    expect(back.joined).toMatchObject({ resumed: true });
    expect((await a.client.closed).code).toBe(4000);
  });
});

describe('dyno loss', () => {
  it('drains on SIGTERM: sockets close with 1012, members resume elsewhere, the dyno exits quickly', async () => {
    const [d0, d1] = await pair();
    const a = await member(d0, 'r', 'alice');
    const b = await member(d1, 'r', 'bob');
    await a.client.expect('peer-joined');
    const started = Date.now();
    d0.process.kill('SIGTERM');
    expect((await a.client.closed).code).toBe(1012);
    expect(await d0.exited).toBe(0);
    const drainMs = Date.now() - started;
    expect(drainMs).toBeLessThan(10_000);
    b.client.send({ type: 'signal', to: 'alice', data: { during: 'drain' } });
    const back = await member(d1, 'r', 'alice', String(a.joined['resume']));
    expect(back.joined).toMatchObject({ resumed: true, peers: ['bob'] });
    expect(await back.client.expect('signal')).toEqual({ type: 'signal', from: 'bob', data: { during: 'drain' } });
    // The drained dyno's lease is gone, yet the sweep leaves the resumed member alone.
    await b.client.expectSilence(GRACE_MS + LEASE_MS + 500);
  });

  it('sweeps the members of a SIGKILLed dyno: peers hear peer-left within lease plus grace', async () => {
    const [d0, d1] = await pair();
    await member(d0, 'r', 'alice');
    const b = await member(d1, 'r', 'bob');
    const killed = Date.now();
    await d0.stop('SIGKILL');
    expect(await b.client.expect('peer-left', LEASE_MS + GRACE_MS + 4000)).toEqual({ type: 'peer-left', name: 'alice' });
    const elapsed = Date.now() - killed;
    // Lease + grace, plus at most one renewal and one sweep period of slack.
    expect(elapsed).toBeLessThan(LEASE_MS + GRACE_MS + LEASE_MS + 1000);
    expect(elapsed).toBeGreaterThanOrEqual(GRACE_MS);
  });
});

describe('Redis trouble', () => {
  it('keeps sockets open and answers unavailable while Redis is down, then restores rooms after an empty restart', async () => {
    // 150 signals of 8 KB at once: far over the default byte burst, which is not what is tested here.
    const [d0, d1] = await pair(uniquePrefix('res'), { RATE_LIMIT_BYTES_BURST: '4000000' });
    const a = await member(d0, 'r', 'alice');
    const b = await member(d1, 'r', 'bob');
    await a.client.expect('peer-joined');
    await redis.kill();
    await new Promise((resolve) => setTimeout(resolve, 300));
    b.client.send({ type: 'signal', to: 'alice', data: { x: 1 }, id: 'down' });
    expect(await b.client.expect('error')).toMatchObject({ code: 'unavailable', id: 'down' });
    // No offline queue: every signal is answered at once and nothing piles up in memory.
    const rssBefore = rssKb(d1);
    const payload = 'x'.repeat(8000);
    for (let i = 0; i < 150; i++) b.client.send({ type: 'signal', to: 'alice', data: { payload }, id: i });
    for (let i = 0; i < 150; i++) expect(await b.client.expect('error')).toMatchObject({ code: 'unavailable', id: i });
    expect(rssKb(d1) - rssBefore).toBeLessThan(30_000);
    const c = await TestClient.connect(d0.wsUrl());
    open.push(c);
    expect(await c.join('r', 'carol')).toMatchObject({ type: 'error', code: 'unavailable' });
    expect((await fetch(`${d0.httpUrl}/readyz`)).status).toBe(503);
    expect((await fetch(`${d0.httpUrl}/healthz`)).status).toBe(200);

    const restarted = Date.now();
    await redis.restart();
    // Within 5 s rooms are whole again: signals flow both ways and a newcomer sees both.
    let delivered = false;
    // After the restart both dynos' subscribers come back and tell their members that
    // signals in flight may have been lost (signals-lost): expected, and not what is counted.
    const skipLost = async (client: TestClient, ms: number): Promise<Frame | null> => {
      for (;;) {
        const frame = await client.next(ms).catch(() => null);
        if (frame?.type !== 'signals-lost') return frame;
      }
    };
    while (!delivered && Date.now() - restarted < 5000) {
      b.client.send({ type: 'signal', to: 'alice', data: { back: true } });
      const reply = await skipLost(b.client, 1000);
      if (reply === null) {
        const got = await skipLost(a.client, 200);
        delivered = got?.type === 'signal';
      } else {
        expect(reply).toMatchObject({ type: 'error' });
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    expect(delivered).toBe(true);
    expect(Date.now() - restarted).toBeLessThan(5000);
    a.client.send({ type: 'signal', to: 'bob', data: { also: 'back' } });
    expect(await skipLost(b.client, 3000)).toMatchObject({ type: 'signal', from: 'alice', data: { also: 'back' } });
    expect(await c.join('r', 'carol')).toMatchObject({ type: 'joined', peers: ['alice', 'bob'] });
    expect(a.client.ws.readyState).toBe(WebSocket.OPEN);
    expect(b.client.ws.readyState).toBe(WebSocket.OPEN);
    expect((await fetch(`${d0.httpUrl}/readyz`)).status).toBe(200);
  });
});

describe('liveness', () => {
  it('terminates a socket that stops answering pings', async () => {
    const d = await dyno({ HEARTBEAT_MS: '200' });
    const silent = new WebSocket(d.wsUrl(), { autoPong: false });
    const lively = await TestClient.connect(d.wsUrl());
    open.push(lively);
    const closed = new Promise<number>((resolve) => silent.once('close', (code) => resolve(code)));
    expect(await closed).toBe(1006);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(lively.ws.readyState).toBe(WebSocket.OPEN);
  });
});
