import { SignJWT } from 'jose';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RoomKeys } from '../../src/cluster/keys.ts';
import type { Dyno } from '../fixtures/dyno.ts';
import { startDyno } from '../fixtures/dyno.ts';
import type { ControllableRedisFixture } from '../fixtures/redis.ts';
import { startRedis, uniquePrefix } from '../fixtures/redis.ts';
import { ArticleClient, TestClient } from '../fixtures/test-client.ts';

/**
 * Membership faults that show on the wire (issue 18), with real dyno processes and a Redis
 * this file owns (it pauses clients and kills connections).
 */
const SECRET = 'k'.repeat(40);

let redis: ControllableRedisFixture;
let admin: Redis;
const dynos: Dyno[] = [];
const sockets: Array<{ ws: { terminate(): void } }> = [];

beforeAll(async () => {
  redis = await startRedis({ controllable: true });
  admin = new Redis(redis.url);
});

afterEach(async () => {
  for (const s of sockets.splice(0)) s.ws.terminate();
  await Promise.all(dynos.splice(0).map((d) => d.stop('SIGKILL')));
});

afterAll(async () => {
  admin?.disconnect();
  await redis?.stop();
});

async function dyno(env: Record<string, string>): Promise<Dyno> {
  const d = await startDyno({ env: { REDIS_URL: redis.url, NODE_LEASE_MS: '1000', ...env } });
  dynos.push(d);
  return d;
}

async function client(d: Dyno): Promise<TestClient> {
  const c = await TestClient.connect(d.wsUrl());
  sockets.push(c);
  return c;
}

function token(room: string, name: string, expiresAt: number): Promise<string> {
  return new SignJWT({ room, name })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime(expiresAt)
    .sign(new TextEncoder().encode(SECRET));
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('join tokens and resume', () => {
  it('resumes with an expired token, and asks for a valid one only when a new membership starts', async () => {
    // A long grace: on a busy machine the wait for the token to expire must stay inside it.
    const d = await dyno({ TOKEN_SECRET: SECRET, RESUME_GRACE_MS: '20000', REDIS_PREFIX: uniquePrefix('token') });
    const soon = Math.floor(Date.now() / 1000) + 2;
    const short = await token('r', 'alice', soon);
    const bob = await client(d);
    bob.send({ type: 'join', room: 'r', name: 'bob', token: await token('r', 'bob', soon + 600) });
    await bob.expect('joined');
    const alice = await client(d);
    alice.send({ type: 'join', room: 'r', name: 'alice', token: short });
    const first = await alice.expect('joined');
    await bob.expect('peer-joined');
    alice.ws.terminate();
    // The token runs out while alice reconnects: her resume secret is all she needs.
    while (Date.now() / 1000 < soon + 0.2) await pause(100);
    const back = await client(d);
    back.send({ type: 'join', room: 'r', name: 'alice', resume: first['resume'], token: short });
    const resumed = await back.expect('joined');
    expect(resumed).toMatchObject({ resumed: true, peers: ['bob'] });
    // Once the membership is gone (here: she left), a resume starts a new one, which needs a valid token.
    back.send({ type: 'leave' });
    await bob.expect('peer-left', 6000);
    const late = await client(d);
    late.send({ type: 'join', room: 'r', name: 'alice', resume: resumed['resume'], token: short });
    expect(await late.expectError('unauthorized')).toMatchObject({ code: 'unauthorized' });
    late.send({ type: 'join', room: 'r', name: 'alice', resume: resumed['resume'], token: await token('r', 'alice', soon + 600) });
    expect(await late.expect('joined')).toMatchObject({ resumed: false, peers: ['bob'] });
    // A wrong secret with no token is still refused without taking anything over.
    const thief = await client(d);
    thief.send({ type: 'join', room: 'r', name: 'alice', resume: 'not-the-secret' });
    expect(await thief.expectError('name-taken')).toMatchObject({ code: 'name-taken' });
  });
});

describe('a Redis that stops answering', () => {
  it('answers unavailable after REDIS_COMMAND_TIMEOUT_MS instead of stalling, and recovers', async () => {
    const d = await dyno({ REDIS_COMMAND_TIMEOUT_MS: '300', REDIS_PREFIX: uniquePrefix('timeout') });
    const alice = await client(d);
    expect(await alice.join('r', 'alice')).toMatchObject({ type: 'joined' });
    const bob = await client(d);
    expect(await bob.join('r', 'bob')).toMatchObject({ type: 'joined' });
    await alice.expect('peer-joined');
    // Redis keeps the connections open but answers nobody for 4 s.
    await admin.client('PAUSE', 4000, 'ALL');
    const paused = Date.now();
    bob.send({ type: 'signal', to: 'alice', data: { n: 1 }, id: 'stalled' });
    expect(await bob.expectError('unavailable', 3500)).toMatchObject({ id: 'stalled' });
    expect(Date.now() - paused).toBeLessThan(3500);
    await admin.client('UNPAUSE');
    bob.send({ type: 'signal', to: 'alice', data: { n: 2 } });
    // The timed-out PUBLISH may still have run once Redis answered again (docs: unavailable).
    let got = await alice.expect('signal');
    if ((got['data'] as { n: number }).n === 1) got = await alice.expect('signal');
    expect(got).toMatchObject({ from: 'bob', data: { n: 2 } });
  });
});

describe('article protocol', () => {
  it('closes the socket of a member whose name another connection took while Redis had lost it', async () => {
    const prefix = uniquePrefix('article-clash');
    const d0 = await dyno({ REDIS_PREFIX: prefix });
    const d1 = await dyno({ REDIS_PREFIX: prefix });
    const first = await ArticleClient.connect(d0.wsUrl('/video_chat/signaling'));
    sockets.push(first);
    expect(await first.open('r', 'alice')).toMatchObject({ method: 'opened' });
    await admin.del(new RoomKeys(prefix, 'article', 'r').members);
    const second = await ArticleClient.connect(d1.wsUrl('/video_chat/signaling'));
    sockets.push(second);
    expect(await second.open('r', 'alice')).toMatchObject({ method: 'opened', peers: [] });
    // Both dynos' command connections drop and come back: d0 finds its member's name taken.
    await admin.call('CLIENT', 'KILL', 'TYPE', 'normal');
    const closed = await Promise.race([first.closed, pause(5000).then(() => null)]);
    expect(closed?.code).toBe(4000);
  });
});
