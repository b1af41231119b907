import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dyno } from '../fixtures/dyno.ts';
import { startDyno } from '../fixtures/dyno.ts';
import { freePort } from '../fixtures/free-port.ts';
import { uniquePrefix } from '../fixtures/redis.ts';
import type { TlsRedis } from '../fixtures/redis-tls.ts';
import { startTlsRedis } from '../fixtures/redis-tls.ts';
import { joined } from '../fixtures/test-client.ts';
import type { TestClient } from '../fixtures/test-client.ts';

/**
 * What a Heroku dyno meets at run time: a PORT to bind on every interface, and Heroku Redis
 * over rediss:// with a self-signed certificate. The Redis here is redis-server with TLS on a
 * certificate made by openssl for this run.
 */
describe('Heroku runtime contract', () => {
  let redis: TlsRedis;
  const dynos: Dyno[] = [];
  const clients: TestClient[] = [];
  const prefix = uniquePrefix('heroku');

  beforeAll(async () => {
    redis = await startTlsRedis();
  });

  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    await Promise.all(dynos.map((d) => d.stop()));
    await redis?.stop();
  });

  it('binds $PORT on 0.0.0.0 when HOST is not set', async () => {
    const port = await freePort();
    const dyno = await startDyno({ env: { PORT: String(port), HOST: undefined } });
    dynos.push(dyno);
    const listening = dyno.output.find((l) => l.includes('"listening"'));
    expect(listening).toBeDefined();
    expect(JSON.parse(listening as string)).toMatchObject({ host: '0.0.0.0', port });
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  });

  it('connects to rediss:// with a self-signed certificate and signals across two dynos', async () => {
    const env = { REDIS_URL: redis.url, REDIS_PREFIX: prefix };
    const [a, b] = await Promise.all([startDyno({ env }), startDyno({ env })]);
    dynos.push(a, b);
    for (const dyno of [a, b] as Dyno[]) {
      const ready = await fetch(`${dyno.httpUrl}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: 'ready', backend: 'redis' });
    }
    const alice = await joined(a.wsUrl(), 'tls-room', 'alice');
    clients.push(alice);
    const bob = await joined(b.wsUrl(), 'tls-room', 'bob');
    clients.push(bob);
    await alice.expect('peer-joined');
    alice.send({ type: 'signal', to: 'bob', data: { description: { type: 'offer', sdp: 'v=0' } } });
    expect(await bob.expect('signal')).toEqual({ type: 'signal', from: 'alice', data: { description: { type: 'offer', sdp: 'v=0' } } });
    bob.send({ type: 'signal', to: 'alice', data: { description: { type: 'answer', sdp: 'v=0' } } });
    expect(await alice.expect('signal')).toMatchObject({ from: 'bob' });
  });

  it('refuses the self-signed certificate when REDIS_TLS_VERIFY=true, and says so on /readyz', async () => {
    const dyno = await startDyno({ env: { REDIS_URL: redis.url, REDIS_PREFIX: prefix, REDIS_TLS_VERIFY: 'true' } });
    dynos.push(dyno);
    const ready = await fetch(`${dyno.httpUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(dyno.output.join('\n')).toMatch(/self[- ]signed certificate/i);
  });
});
