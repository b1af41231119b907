import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dyno } from '../fixtures/dyno.ts';
import { startDyno } from '../fixtures/dyno.ts';
import type { TestClient } from '../fixtures/test-client.ts';
import { joined, TestClient as Client } from '../fixtures/test-client.ts';

const SECRET = 'integration-turn-secret-0123456789abcdef';
const TURN_URLS = 'turn:turn.example.org:3478?transport=udp,turns:turn.example.org:5349?transport=tcp';

/** joined.iceServers and the ice-servers request, over a real dyno process (embedded backend). */
describe('ICE servers in protocol v1', () => {
  let dyno: Dyno;
  const open: TestClient[] = [];

  beforeAll(async () => {
    dyno = await startDyno({
      env: { STUN_URLS: 'stun:stun.example.org', TURN_URLS, TURN_SECRET: SECRET, TURN_TTL: '600', RESUME_GRACE_MS: '5000' },
    });
  });

  afterAll(async () => {
    for (const c of open) c.ws.terminate();
    await dyno?.stop();
  });

  function checkTurn(server: Record<string, unknown>, name: string, before: number): number {
    const username = String(server['username']);
    const [expiry, encoded] = username.split(':');
    expect(Buffer.from(String(encoded), 'base64url').toString('utf8')).toBe(name);
    expect(Number(expiry)).toBeGreaterThanOrEqual(before + 600);
    expect(Number(expiry)).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 600);
    expect(server['credential']).toBe(createHmac('sha1', SECRET).update(username).digest('base64'));
    return Number(expiry);
  }

  it('sends STUN and minted TURN servers with their TTL in joined, and fresh ones on ice-servers', async () => {
    const before = Math.floor(Date.now() / 1000);
    const client = await Client.connect(dyno.wsUrl());
    open.push(client);
    const reply = await client.join('ice-room', 'Ada: ☕');
    expect(reply).toMatchObject({ type: 'joined', iceServersTtl: 600 });
    const servers = reply['iceServers'] as Array<Record<string, unknown>>;
    expect(servers).toHaveLength(2);
    expect(servers[0]).toEqual({ urls: ['stun:stun.example.org'] });
    expect(servers[1]!['urls']).toEqual(TURN_URLS.split(','));
    const first = checkTurn(servers[1]!, 'Ada: ☕', before);

    await new Promise((resolve) => setTimeout(resolve, 1100)); // a new second: a new username
    client.send({ type: 'ice-servers', id: 'r1' });
    const fresh = await client.expect('ice-servers');
    expect(Object.keys(fresh).sort()).toEqual(['iceServers', 'iceServersTtl', 'type']);
    expect(fresh['iceServersTtl']).toBe(600);
    const again = checkTurn((fresh['iceServers'] as Array<Record<string, unknown>>)[1]!, 'Ada: ☕', before);
    expect(again).toBeGreaterThan(first);
  });

  it('mints fresh credentials on a resume', async () => {
    const client = await Client.connect(dyno.wsUrl());
    const reply = await client.join('ice-resume', 'bob');
    const firstUser = (reply['iceServers'] as Array<Record<string, unknown>>)[1]!['username'];
    client.ws.terminate();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const back = await Client.connect(dyno.wsUrl());
    open.push(back);
    back.send({ type: 'join', room: 'ice-resume', name: 'bob', resume: reply['resume'] });
    const resumed = await back.expect('joined');
    expect(resumed['resumed']).toBe(true);
    const server = (resumed['iceServers'] as Array<Record<string, unknown>>)[1]!;
    expect(server['username']).not.toBe(firstUser);
    checkTurn(server, 'bob', Math.floor(Date.now() / 1000) - 5);
  });

  it('answers ice-servers before join with not-joined, echoing the id', async () => {
    const client = await Client.connect(dyno.wsUrl());
    open.push(client);
    client.send({ type: 'ice-servers', id: 9 });
    const error = await client.expectError('not-joined');
    expect(error['id']).toBe(9);
    const member = await joined(dyno.wsUrl(), 'ice-other', 'carol');
    open.push(member);
    member.send({ type: 'leave' });
    member.send({ type: 'ice-servers' });
    await member.expectError('not-joined');
  });
});
