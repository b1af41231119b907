import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { SignalingClient } from '../../client/src/index.ts';
import type { Cluster } from '../fixtures/dyno.ts';
import { startCluster, startDyno } from '../fixtures/dyno.ts';
import { OpenApiCheck } from '../fixtures/openapi-check.ts';
import type { RedisFixture } from '../fixtures/redis.ts';
import { startRedis, uniquePrefix } from '../fixtures/redis.ts';
import type { RedisClusterFixture } from '../fixtures/redis-cluster.ts';
import { startRedisCluster } from '../fixtures/redis-cluster.ts';
import type { Frame } from '../fixtures/test-client.ts';
import { TestClient } from '../fixtures/test-client.ts';
import { WebhookReceiver } from '../fixtures/webhook-receiver.ts';

/**
 * The server API (docs/api.md) with real dynos: on one Redis and on a three-master Redis
 * Cluster every call goes to dyno 1 about members connected to dyno 0 (and the other way),
 * and on the embedded backend to its one process. Every response is checked against
 * docs/openapi.yaml.
 */
const API_KEY = 'k'.repeat(24) + 'secret-api-key-123';
const openapi = new OpenApiCheck();

interface Reply {
  status: number;
  body: unknown;
}

async function until(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe.each(['embedded', 'redis', 'redis-cluster'] as const)('server API (%s)', (backend) => {
  let redis: RedisFixture | undefined;
  let redisCluster: RedisClusterFixture | undefined;
  let cluster: Cluster;
  const prefix = uniquePrefix('api');
  const receiver = new WebhookReceiver();
  let roomSeq = 0;
  const room = (label: string): string => `${label}-${backend}-${++roomSeq}`;
  const open: TestClient[] = [];
  const clients: SignalingClient[] = [];

  /** Calls dyno `i` and checks the answer against openapi.yaml (`template` names the route). */
  async function api(
    i: number,
    method: string,
    template: string,
    path: string,
    options: { body?: unknown; key?: string | null } = {},
  ): Promise<Reply> {
    const headers: Record<string, string> = {};
    if (options.key !== null) headers['authorization'] = `Bearer ${options.key ?? API_KEY}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${cluster.dyno(i).httpUrl}/api/v1${path}`, {
      method,
      headers,
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
    const text = await response.text();
    const body: unknown = text === '' ? '' : JSON.parse(text);
    openapi.check(method, template, response.status, body);
    return { status: response.status, body };
  }

  const join = async (i: number, r: string, name: string, metadata?: Record<string, unknown>): Promise<TestClient> => {
    const c = await TestClient.connect(cluster.dyno(i).wsUrl());
    open.push(c);
    c.send(metadata ? { type: 'join', room: r, name, metadata } : { type: 'join', room: r, name });
    // Generous: the 500-room test joins 25 at a time, and a loaded 2-core box is slow.
    await c.expect('joined', 15_000);
    return c;
  };

  beforeAll(async () => {
    await receiver.up();
    if (backend === 'redis') redis = await startRedis();
    if (backend === 'redis-cluster') redisCluster = await startRedisCluster();
    cluster = await startCluster(backend, {
      redisUrl: redis?.url,
      redisClusterNodes: redisCluster?.seeds,
      env: {
        API_KEY,
        REDIS_PREFIX: prefix,
        RESUME_GRACE_MS: '3000',
        MAX_SIGNAL_BYTES: '4096',
        MAX_ROOM_SIZE: '1000',
        WEBHOOK_URL: receiver.url,
        WEBHOOK_SECRET: receiver.secret,
        WEBHOOK_POLL_MS: '100',
      },
    });
  });

  afterAll(async () => {
    for (const c of clients) c.leave();
    for (const c of open) c.ws.terminate();
    await cluster?.stop();
    await redis?.stop();
    await redisCluster?.stop();
    await receiver.down();
  });

  it('answers 401 without the bearer key or with another one, in constant-time comparison', async () => {
    expect(await api(0, 'GET', '/rooms', '/rooms', { key: null })).toMatchObject({ status: 401, body: { error: 'unauthorized' } });
    expect(await api(1, 'GET', '/rooms/{room}', '/rooms/x', { key: `${API_KEY}x` })).toMatchObject({
      status: 401,
      body: { error: 'unauthorized' },
    });
    expect(await api(1, 'DELETE', '/rooms/{room}', '/rooms/x', { key: 'short' })).toMatchObject({ status: 401 });
    expect((await api(1, 'GET', '/rooms', '/rooms')).status).toBe(200);
    // The schema check itself can fail: a body the document does not allow is caught.
    expect(() => openapi.check('GET', '/rooms/{room}', 200, { room: 'x' })).toThrow(/does not match openapi.yaml/);
    expect(() => openapi.check('GET', '/rooms', 200, { rooms: [{ room: 'x', members: 0 }] })).toThrow(/does not match/);
  });

  it('GET a room from the other dyno: members in join order with metadata, joinedAt and state', async () => {
    const r = room('get');
    const before = Date.now();
    expect(await api(1, 'GET', '/rooms/{room}', `/rooms/${encodeURIComponent(r)}`)).toEqual({
      status: 200,
      body: { room: r, members: [] },
    });
    const a = await join(0, r, 'a', { displayName: 'Ana' });
    await join(0, r, 'b');
    await a.expect('peer-joined');
    const reply = await api(1, 'GET', '/rooms/{room}', `/rooms/${encodeURIComponent(r)}`);
    expect(reply.status).toBe(200);
    const members = (reply.body as { members: Array<{ name: string; metadata: unknown; joinedAt: string; state: string }> }).members;
    expect(members.map((m) => [m.name, m.metadata, m.state])).toEqual([
      ['a', { displayName: 'Ana' }, 'connected'],
      ['b', {}, 'connected'],
    ]);
    for (const m of members) expect(Date.parse(m.joinedAt)).toBeGreaterThanOrEqual(before - 1000);
    // A dropped socket keeps the member for its grace period: it shows as reconnecting.
    a.ws.terminate();
    let state = '';
    const deadline = Date.now() + 5000;
    while (state !== 'reconnecting' && Date.now() < deadline) {
      const now = await api(1, 'GET', '/rooms/{room}', `/rooms/${encodeURIComponent(r)}`);
      state = (now.body as { members: Array<{ name: string; state: string }> }).members.find((m) => m.name === 'a')?.state ?? '';
    }
    expect(state).toBe('reconnecting');
    expect(await api(1, 'GET', '/rooms/{room}', `/rooms/${encodeURIComponent('\u0007bell')}`)).toMatchObject({
      status: 400,
      body: { error: 'bad-request' },
    });
  });

  it('removes a member across dynos: removed then 4001, peer-left, webhook reason removed, no reconnect by the client library', async () => {
    const r = room('kick');
    const observer = await join(1, r, 'observer');
    const client = new SignalingClient({ url: cluster.dyno(0).wsUrl(), room: r, name: 'kicked', WebSocket });
    clients.push(client);
    const errors: Array<{ code?: string | undefined; closeCode?: number | undefined }> = [];
    client.on('error', (e) => errors.push({ code: e.code, closeCode: e.closeCode }));
    const states: string[] = [];
    client.on('state', ({ state }) => states.push(state));
    client.connect();
    await until('joined', () => client.state === 'open');
    expect(await observer.expect('peer-joined')).toMatchObject({ name: 'kicked' });
    const raw = await join(0, r, 'raw');
    expect(await observer.expect('peer-joined')).toMatchObject({ name: 'raw' });

    expect((await api(1, 'DELETE', '/rooms/{room}/members/{name}', `/rooms/${encodeURIComponent(r)}/members/raw`)).status).toBe(204);
    expect(await raw.expectError('removed')).toMatchObject({ type: 'error', code: 'removed' });
    expect((await raw.closed).code).toBe(4001);
    expect(await observer.expect('peer-left')).toEqual({ type: 'peer-left', name: 'raw' });

    expect((await api(1, 'DELETE', '/rooms/{room}/members/{name}', `/rooms/${encodeURIComponent(r)}/members/kicked`)).status).toBe(204);
    await until('closed', () => client.state === 'closed');
    expect(await observer.expect('peer-left')).toEqual({ type: 'peer-left', name: 'kicked' });
    expect(errors).toContainEqual({ code: 'removed', closeCode: undefined });
    expect(errors.some((e) => e.closeCode === 4001)).toBe(true);
    // It stays closed: no new attempt, no new membership.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(states).toEqual(['connecting', 'open', 'closed']);
    const now = await api(0, 'GET', '/rooms/{room}', `/rooms/${encodeURIComponent(r)}`);
    expect((now.body as { members: Array<{ name: string }> }).members.map((m) => m.name)).toEqual(['observer']);
    await observer.expectSilence(0);

    expect(await api(0, 'DELETE', '/rooms/{room}/members/{name}', `/rooms/${encodeURIComponent(r)}/members/kicked`)).toMatchObject({
      status: 404,
      body: { error: 'not-found' },
    });
    await until('webhooks', () => receiver.room(r).filter((e) => e.type === 'member.left').length >= 2);
    expect(
      receiver
        .room(r)
        .filter((e) => e.type === 'member.left')
        .map((e) => [e.data.name, e.data.reason]),
    ).toEqual([
      ['raw', 'removed'],
      ['kicked', 'removed'],
    ]);
    // A removed member may join again.
    await join(1, r, 'kicked');
    expect(await observer.expect('peer-joined')).toMatchObject({ name: 'kicked' });
  });

  it('DELETE a room removes every member, on every dyno', async () => {
    const r = room('close');
    const a = await join(0, r, 'a');
    const b = await join(1, r, 'b');
    await a.expect('peer-joined');
    expect((await api(1, 'DELETE', '/rooms/{room}', `/rooms/${encodeURIComponent(r)}`)).status).toBe(204);
    for (const c of [a, b]) {
      // b may hear a's peer-left before its own removal.
      let frame: Frame;
      do frame = await c.next(5000);
      while (frame['type'] === 'peer-left');
      expect(frame).toMatchObject({ type: 'error', code: 'removed' });
      expect((await c.closed).code).toBe(4001);
    }
    expect((await api(0, 'GET', '/rooms/{room}', `/rooms/${encodeURIComponent(r)}`)).body).toEqual({ room: r, members: [] });
    expect((await api(0, 'DELETE', '/rooms/{room}', `/rooms/${encodeURIComponent(r)}`)).status).toBe(204);
  });

  it('POST messages: to everyone (no from) or to one member, across dynos', async () => {
    const r = room('msg');
    const a = await join(0, r, 'a');
    const b = await join(1, r, 'b');
    await a.expect('peer-joined');
    const path = `/rooms/${encodeURIComponent(r)}/messages`;
    const template = '/rooms/{room}/messages';
    expect((await api(1, 'POST', template, path, { body: { data: { notice: 'ends in 5 min' } } })).status).toBe(202);
    for (const c of [a, b]) expect(await c.text()).toBe('{"type":"message","data":{"notice":"ends in 5 min"}}');
    expect((await api(1, 'POST', template, path, { body: { data: { only: 'a' }, to: 'a' } })).status).toBe(202);
    expect(await a.expect('message')).toEqual({ type: 'message', data: { only: 'a' } });
    await b.expectSilence(300);
    expect(await api(0, 'POST', template, path, { body: { data: {}, to: 'nobody' } })).toMatchObject({
      status: 404,
      body: { error: 'not-found' },
    });
    expect(await api(0, 'POST', template, `/rooms/${encodeURIComponent(room('empty'))}/messages`, { body: { data: {} } })).toMatchObject({
      status: 404,
    });
    expect(await api(0, 'POST', template, path, { body: { data: 'text' } })).toMatchObject({ status: 400, body: { error: 'bad-request' } });
    expect(await api(0, 'POST', template, path, { body: { data: { x: 'y'.repeat(5000) } } })).toMatchObject({
      status: 413,
      body: { error: 'too-large' },
    });
    await Promise.all([a.expectSilence(200), b.expectSilence(0)]);
  });

  it('lists 500 rooms over pages, each room once, while rooms come and go', async () => {
    const prefix = `page-${backend}-`;
    const names = Array.from({ length: 500 }, (_, i) => `${prefix}${String(i).padStart(3, '0')}`);
    for (let i = 0; i < names.length; i += 25) await Promise.all(names.slice(i, i + 25).map((n, k) => join(k % 2, n, 'm')));
    // Rooms from the other tests exist too; count only this test's.
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    const churn: TestClient[] = [];
    do {
      const query = cursor === undefined ? '?limit=37' : `?limit=37&cursor=${encodeURIComponent(cursor)}`;
      const reply = await api(pages % 2, 'GET', '/rooms', `/rooms${query}`);
      expect(reply.status).toBe(200);
      const body = reply.body as { rooms: Array<{ room: string; members: number }>; nextCursor?: string };
      expect(body.rooms.length).toBeLessThanOrEqual(37);
      for (const entry of body.rooms) {
        expect(entry.members).toBeGreaterThanOrEqual(1);
        if (entry.room.startsWith(prefix)) seen.push(entry.room);
      }
      cursor = body.nextCursor;
      pages++;
      // Joins and leaves between pages must not make a room show twice.
      if (pages === 3) churn.push(await join(0, `${prefix}churn-a`, 'm'), await join(1, `${prefix}000`, 'second'));
    } while (cursor !== undefined && pages < 100);
    expect(new Set(seen).size).toBe(seen.length);
    for (const n of names) expect(seen).toContain(n);
    expect(pages).toBeGreaterThanOrEqual(14);
    expect(await api(0, 'GET', '/rooms', '/rooms?limit=0')).toMatchObject({ status: 400, body: { error: 'bad-request' } });
    expect(await api(0, 'GET', '/rooms', '/rooms?cursor=%25%25')).toMatchObject({ status: 400, body: { error: 'bad-request' } });
  }, 120_000);

  it('does not list a room once its members left', async () => {
    const r = room('left');
    const c = await join(1, r, 'solo');
    const listed = async (): Promise<boolean> => {
      let cursor: string | undefined;
      do {
        const body = (await api(0, 'GET', '/rooms', `/rooms?limit=1000${cursor ? `&cursor=${cursor}` : ''}`)).body as {
          rooms: Array<{ room: string }>;
          nextCursor?: string;
        };
        if (body.rooms.some((e) => e.room === r)) return true;
        cursor = body.nextCursor;
      } while (cursor !== undefined);
      return false;
    };
    expect(await listed()).toBe(true);
    const indexed = async (): Promise<boolean> => {
      if (!redis) return false;
      const admin = new Redis(redis.url);
      try {
        return (await admin.zscore(`${prefix}rooms`, `${prefix}{v1.${r}}:members`)) !== null;
      } finally {
        admin.disconnect();
      }
    };
    if (redis) expect(await indexed()).toBe(true);
    c.send({ type: 'leave' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    // The leave itself took the emptied room out of the index (no listing needed for that).
    expect(await indexed()).toBe(false);
    expect(await listed()).toBe(false);
  });
});

describe('server API turned off, and API_KEY validated at start', () => {
  it('answers 404 with how to enable it on every /api/ path', async () => {
    const dyno = await startDyno();
    try {
      for (const path of ['/api/v1/rooms', '/api/v1/rooms/x', '/api/anything']) {
        const response = await fetch(`${dyno.httpUrl}${path}`, { headers: { authorization: `Bearer ${API_KEY}` } });
        const body = (await response.json()) as Frame;
        expect(response.status).toBe(404);
        expect(body).toMatchObject({ error: 'api-disabled' });
        expect(String(body['message'])).toMatch(/API_KEY/);
        openapi.check('GET', '/rooms', 404, body);
      }
    } finally {
      await dyno.stop();
    }
  });

  it('refuses to start with an API_KEY under 32 characters, naming it without echoing it', async () => {
    await expect(startDyno({ env: { API_KEY: 'too-short-key' }, timeoutMs: 8000 })).rejects.toThrow(
      /API_KEY=\(13 characters, not shown\) must be at least 32 characters/,
    );
  });
});
