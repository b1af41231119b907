import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Dyno } from '../fixtures/dyno.ts';
import { startDyno } from '../fixtures/dyno.ts';
import { ArticleClient, TestClient } from '../fixtures/test-client.ts';

/**
 * Issue 17, admission control, against real dyno processes: MAX_CONNECTIONS and the opt-in
 * per-address limits refuse the upgrade with 503 and Retry-After; MAX_JOINS_PER_SEC answers
 * joins over the cap with `unavailable` and closes them with 1013 (the client library backs
 * off with jitter and reconnects).
 */

type Upgrade = { open: WebSocket } | { status: number; retryAfter: string | undefined; body: string };

/** Opens an upgrade as the router would forward it (X-Forwarded-For naming `address`). */
function upgrade(url: string, forwardedFor?: string): Promise<Upgrade> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, forwardedFor === undefined ? {} : { headers: { 'X-Forwarded-For': forwardedFor } });
    ws.once('open', () => resolve({ open: ws }));
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        const retry = res.headers['retry-after'];
        resolve({ status: res.statusCode ?? 0, retryAfter: typeof retry === 'object' ? retry[0] : retry, body });
        req.destroy();
      });
    });
    ws.on('error', reject);
  });
}

const opened: WebSocket[] = [];
async function mustOpen(url: string, forwardedFor?: string): Promise<WebSocket> {
  const result = await upgrade(url, forwardedFor);
  if (!('open' in result)) throw new Error(`expected the upgrade to open, got ${result.status} ${result.body}`);
  opened.push(result.open);
  return result.open;
}
async function mustRefuse(url: string, forwardedFor?: string): Promise<{ retryAfter: number; body: string }> {
  const result = await upgrade(url, forwardedFor);
  if ('open' in result) {
    opened.push(result.open);
    throw new Error('expected a 503, the upgrade opened');
  }
  expect(result.status).toBe(503);
  expect(result.retryAfter).toMatch(/^[1-9]\d*$/);
  return { retryAfter: Number(result.retryAfter), body: result.body };
}
function closeAndWait(ws: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    ws.once('close', () => resolve());
    ws.close();
  });
}
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Retries `attempt` until it resolves (the dyno handles a close after the client sees it). */
async function eventually<T>(attempt: () => Promise<T>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(50);
    }
  }
}

async function metric(dyno: Dyno, line: RegExp): Promise<number> {
  const text = await (await fetch(`${dyno.httpUrl}/metrics`)).text();
  const found = text.split('\n').find((l) => line.test(l));
  return Number(found?.split(' ').pop() ?? NaN);
}

let capped: Dyno;
let perAddress: Dyno;
let rate: Dyno;
let defaults: Dyno;
let joins: Dyno;

beforeAll(async () => {
  // Five at once on a shared 2-core box: give each more than the default start-up time.
  const start = (env: Record<string, string> = {}): Promise<Dyno> => startDyno({ env, timeoutMs: 40_000 });
  [capped, perAddress, rate, defaults, joins] = await Promise.all([
    start({ MAX_CONNECTIONS: '3' }),
    start({ MAX_CONNECTIONS_PER_IP: '2' }),
    start({ CONNECTIONS_PER_IP_PER_MIN: '3' }),
    start(),
    start({ MAX_JOINS_PER_SEC: '5' }),
  ]);
});

afterAll(async () => {
  for (const ws of opened) ws.terminate();
  await Promise.all([capped, perAddress, rate, defaults, joins].map((d) => d?.stop()));
});

describe('connection limits at the upgrade', () => {
  it('MAX_CONNECTIONS: the connection over the limit gets 503 with Retry-After; a freed slot opens again', async () => {
    const url = capped.wsUrl();
    const first = await mustOpen(url);
    await mustOpen(url);
    await mustOpen(capped.wsUrl('/video_chat/signaling'));
    const refused = await mustRefuse(url);
    expect(refused.retryAfter).toBeGreaterThanOrEqual(2);
    expect(refused.retryAfter).toBeLessThanOrEqual(10);
    expect(refused.body).toContain('MAX_CONNECTIONS=3');
    await mustRefuse(capped.wsUrl('/video_chat/signaling'));
    expect(await metric(capped, /^signaling_upgrades_refused_total\{.*reason="max-connections"/)).toBe(2);

    await closeAndWait(first);
    await eventually(() => mustOpen(url));
  });

  it('MAX_CONNECTIONS_PER_IP counts the address the router appended, and an IPv6 /64 as one address', async () => {
    const url = perAddress.wsUrl();
    const a1 = await mustOpen(url, '203.0.113.5');
    // Earlier entries are the client's own claims: only the last hop counts.
    await mustOpen(url, '198.51.100.77, 203.0.113.5');
    const refused = await mustRefuse(url, '10.9.9.9, 203.0.113.5');
    expect(refused.body).toContain('MAX_CONNECTIONS_PER_IP=2');
    // Another address is not affected.
    await mustOpen(url, '203.0.113.6');

    await mustOpen(url, '2001:db8:1:2::1');
    await mustOpen(url, '2001:db8:1:2:ffff::9');
    await mustRefuse(url, '2001:db8:1:2:aaaa:bbbb:cccc:dddd');
    await mustOpen(url, '2001:db8:1:3::1');

    await closeAndWait(a1);
    await eventually(() => mustOpen(url, '203.0.113.5'));
  });

  it('CONNECTIONS_PER_IP_PER_MIN refuses the fourth connection of a minute, with the wait in Retry-After', async () => {
    const url = rate.wsUrl();
    for (let i = 0; i < 3; i++) await closeAndWait(await mustOpen(url, '192.0.2.10'));
    const refused = await mustRefuse(url, '192.0.2.10');
    // One connection every 20 s comes back (3 per minute).
    expect(refused.retryAfter).toBeGreaterThanOrEqual(5);
    expect(refused.retryAfter).toBeLessThanOrEqual(20);
    expect(refused.body).toContain('CONNECTIONS_PER_IP_PER_MIN=3');
    await mustOpen(url, '192.0.2.11');
    expect(await metric(rate, /^signaling_upgrades_refused_total\{.*reason="per-ip-rate"/)).toBe(1);
  });

  it('per-address limits are off unless set: 30 connections from one address all open', async () => {
    const all = await Promise.all(Array.from({ length: 30 }, () => mustOpen(defaults.wsUrl(), '203.0.113.99')));
    expect(all.every((ws) => ws.readyState === WebSocket.OPEN)).toBe(true);
    for (const ws of all) ws.terminate();
  });
});

describe('MAX_JOINS_PER_SEC', () => {
  it('answers joins over the cap with unavailable and closes them with 1013; joins pass again a second later', async () => {
    const clients = await Promise.all(Array.from({ length: 20 }, () => TestClient.connect(joins.wsUrl())));
    for (const c of clients) opened.push(c.ws);
    // All at once: a bucket of one second's worth (5) passes, the rest is refused.
    for (const [i, c] of clients.entries()) c.send({ type: 'join', room: `storm-${i % 4}`, name: `m${i}`, id: `j${i}` });
    const outcomes = await Promise.all(
      clients.map(async (c, i) => {
        const frame = await c.next(5000);
        if (frame.type === 'joined') return 'joined';
        expect(frame).toEqual({ type: 'error', code: 'unavailable', id: `j${i}`, message: expect.stringContaining('MAX_JOINS_PER_SEC') });
        expect((await c.closed).code).toBe(1013);
        return 'refused';
      }),
    );
    const joinedCount = outcomes.filter((o) => o === 'joined').length;
    expect(joinedCount).toBeGreaterThanOrEqual(5);
    // A few more may pass if the joins trickle in (the bucket refills at 5/s): a busy box.
    expect(joinedCount).toBeLessThanOrEqual(10);
    expect(await metric(joins, /^signaling_joins_total\{.*outcome="throttled"/)).toBe(20 - joinedCount);

    await sleep(1100);
    const late = await TestClient.connect(joins.wsUrl());
    opened.push(late.ws);
    expect(await late.join('storm-0', 'late')).toMatchObject({ type: 'joined', name: 'late' });
    // A member's extra joins start nothing: answered already-joined, never counted against
    // the cap, never closing the member's socket (more than the bucket holds, at once).
    for (let i = 0; i < 8; i++) late.send({ type: 'join', room: 'storm-0', name: 'late', id: `again${i}` });
    for (let i = 0; i < 8; i++) expect(await late.next()).toMatchObject({ type: 'error', code: 'already-joined', id: `again${i}` });
    expect(late.ws.readyState).toBe(WebSocket.OPEN);

    // The article protocol shares the dyno's budget and answers the same way.
    await sleep(1100);
    const articles = await Promise.all(Array.from({ length: 10 }, () => ArticleClient.connect(joins.wsUrl('/video_chat/signaling'))));
    for (const c of articles) opened.push(c.ws);
    for (const [i, c] of articles.entries()) c.send({ method: 'open', roomName: `a-${i}`, name: 'k' });
    const articleOutcomes = await Promise.all(
      articles.map(async (c) => {
        const frame = await c.next(5000);
        if (frame.method === 'opened') return 'opened';
        expect(frame).toEqual({ method: 'error', code: 'unavailable', message: expect.stringContaining('MAX_JOINS_PER_SEC') });
        expect((await c.closed).code).toBe(1013);
        return 'refused';
      }),
    );
    expect(articleOutcomes.filter((o) => o === 'refused').length).toBeGreaterThanOrEqual(3);
    // One summary line per second, not one per refusal.
    await sleep(1200);
    const summaries = joins.output.filter((l) => l.includes('admission control refused'));
    expect(summaries.length).toBeGreaterThanOrEqual(1);
    expect(summaries.length).toBeLessThanOrEqual(3);
  });
});
