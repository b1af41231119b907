import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dyno } from '../fixtures/dyno.ts';
import { startDyno } from '../fixtures/dyno.ts';
import { joined } from '../fixtures/test-client.ts';

const DIST = fileURLToPath(new URL('../../dist/', import.meta.url));

/**
 * What `npm install && npm start` gives on a fresh clone: the compiled server
 * (dist/server/main.js, built by `prepare`), embedded backend, serving the page and
 * protocol v1 on one port.
 */
describe('npm start (compiled, embedded)', () => {
  let dyno: Dyno;

  beforeAll(async () => {
    for (const file of ['server/main.js', 'public/index.html', 'public/main.js']) {
      if (!existsSync(DIST + file)) throw new Error(`dist/${file} is missing: run \`npm run build\` (npm test does it first)`);
    }
    dyno = await startDyno({ compiled: true, env: { REDIS_URL: undefined } });
  });

  afterAll(async () => {
    await dyno?.stop();
  });

  it('serves the page at /', async () => {
    const res = await fetch(`${dyno.httpUrl}/`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('data-signaling');
    expect((await fetch(`${dyno.httpUrl}/main.js`)).status).toBe(200);
  });

  it('lets two ws clients join one room and signal each other', async () => {
    const a = await joined(dyno.wsUrl(), 'lobby', 'a');
    const b = await joined(dyno.wsUrl(), 'lobby', 'b');
    expect(await a.expect('peer-joined')).toEqual({ type: 'peer-joined', name: 'b' });
    a.send({ type: 'signal', to: 'b', data: { description: { type: 'offer', sdp: 'v=0' } } });
    expect(await b.expect('signal')).toEqual({ type: 'signal', from: 'a', data: { description: { type: 'offer', sdp: 'v=0' } } });
    b.send({ type: 'signal', to: 'a', data: { description: { type: 'answer', sdp: 'v=0' } } });
    expect((await a.expect('signal'))['from']).toBe('b');
    await Promise.all([a.close(), b.close()]);
  });

  it('reports the embedded backend as ready and alive', async () => {
    expect((await fetch(`${dyno.httpUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${dyno.httpUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', backend: 'embedded' });
  });
});
