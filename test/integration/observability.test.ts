import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Dyno } from '../fixtures/dyno.ts';
import { startDyno } from '../fixtures/dyno.ts';
import type { RedisFixture } from '../fixtures/redis.ts';
import { startRedis, uniquePrefix } from '../fixtures/redis.ts';
import { joined } from '../fixtures/test-client.ts';
import type { TestClient } from '../fixtures/test-client.ts';

/** The value of one sample line of a Prometheus text exposition, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

async function waitForLine(dyno: Dyno, pattern: RegExp, timeoutMs = 3000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = dyno.output.find((l) => pattern.test(l));
    if (line) return line;
    if (Date.now() > deadline) throw new Error(`no log line matching ${pattern}:\n${dyno.output.join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('see inside a dyno: /healthz, /readyz, /metrics, logs', () => {
  let redis: RedisFixture;
  let dyno: Dyno;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    // Its own server: one test pauses Redis, which must not disturb other test files.
    redis = await startRedis({ controllable: true });
    dyno = await startDyno({ env: { REDIS_URL: redis.url, REDIS_PREFIX: uniquePrefix('observe') } });
  });

  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    await dyno?.stop();
    await redis?.stop();
  });

  it('/healthz names the dyno; /readyz proves the Redis round trip', async () => {
    const health = (await (await fetch(`${dyno.httpUrl}/healthz`)).json()) as { status: string; node: string };
    expect(health.status).toBe('ok');
    expect(health.node).toMatch(/.+/);
    const ready = await fetch(`${dyno.httpUrl}/readyz`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { status: string; node: string; busLatencyMs: number };
    expect(body).toMatchObject({ status: 'ready', node: health.node });
    expect(body.busLatencyMs).toBeGreaterThan(0);
  });

  it('/readyz is 503 while Redis accepts connections but delivers nothing', async () => {
    const admin = new Redis(redis.url);
    try {
      // WRITE pause: connections stay up and PING answers, but PUBLISH waits.
      await admin.call('CLIENT', 'PAUSE', '4000', 'WRITE');
      const started = Date.now();
      const ready = await fetch(`${dyno.httpUrl}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { reason: string }).reason).toMatch(/no answer within/);
      expect(Date.now() - started).toBeLessThan(3500);
    } finally {
      await admin.call('CLIENT', 'UNPAUSE');
      admin.disconnect();
    }
    expect((await fetch(`${dyno.httpUrl}/readyz`)).status).toBe(200);
  });

  it('/metrics counts connections, rooms, joins and signals by outcome, bus latency and loop lag', async () => {
    const a = await joined(dyno.wsUrl(), 'metrics-room', 'a');
    const b = await joined(dyno.wsUrl(), 'metrics-room', 'b');
    clients.push(a, b);
    const c = await joined(dyno.wsUrl(), 'metrics-room-2', 'c');
    clients.push(c);
    const again = await c.join('metrics-room', 'b');
    expect(again.type).toBe('error');
    a.send({ type: 'signal', to: 'b', data: { x: 1 } });
    a.send({ type: 'signal', to: 'nobody', data: { x: 2 } });
    await b.expect('signal');
    await a.expect('peer-joined');
    await a.expect('error');

    const res = await fetch(`${dyno.httpUrl}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(sample(text, 'signaling_open_connections')).toBe(3);
    expect(sample(text, 'signaling_local_rooms')).toBe(2);
    expect(sample(text, 'signaling_joins_total', { outcome: 'joined' })).toBe(3);
    expect(sample(text, 'signaling_joins_total', { outcome: 'already-joined' })).toBe(1);
    expect(sample(text, 'signaling_signals_total', { outcome: 'sent' })).toBe(1);
    expect(sample(text, 'signaling_signals_total', { outcome: 'peer-not-found' })).toBe(1);
    expect(sample(text, 'signaling_bus_delivery_seconds_count')).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'signaling_redis_reconnects_total')).toBe(0);
    expect(sample(text, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
  });

  it('logs the browser address given by the proxy, for HTTP requests and WebSockets', async () => {
    await fetch(`${dyno.httpUrl}/no-such-page`, { headers: { 'x-forwarded-for': '203.0.113.7' } });
    const request = JSON.parse(await waitForLine(dyno, /no-such-page/)) as Record<string, unknown>;
    expect(request).toMatchObject({ ip: '203.0.113.7', req: { method: 'GET', path: '/no-such-page' }, res: { status: 404 } });

    const ws = new WebSocket(dyno.wsUrl(), { headers: { 'x-forwarded-for': '198.51.100.1, 203.0.113.9' } });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.terminate();
    // The last hop is the one the trusted proxy added; the first is whatever the client claimed.
    await waitForLine(dyno, /"connection open".*203\.0\.113\.9|203\.0\.113\.9.*"connection open"/);
  });

  it('keeps load balancer probes out of the info log', async () => {
    await fetch(`${dyno.httpUrl}/healthz`);
    await fetch(`${dyno.httpUrl}/metrics`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(dyno.output.filter((l) => /"path":"\/(healthz|readyz|metrics)"/.test(l))).toEqual([]);
  });
});
