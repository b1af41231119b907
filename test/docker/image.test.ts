import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniquePrefix } from '../fixtures/redis.ts';
import { TestClient } from '../fixtures/test-client.ts';
import { buildAppImage, docker, IMAGES, requireEngine, TEST_LABEL } from './docker-cli.ts';

/**
 * The Dockerfile, built and run by a real engine: on the local Node stand-in in CI
 * (NODE_IMAGE), on node:24-bookworm-slim for a user with Docker Hub in reach.
 */
describe('the Dockerfile, built and run', () => {
  let image: string;
  let id: string;
  let base: string;

  beforeAll(async () => {
    await requireEngine();
    image = await buildAppImage();
    id = await docker(['run', '-d', '--label', TEST_LABEL, '-p', '127.0.0.1::3000', image]);
    // "127.0.0.1:49153" (one line per address family at most; we asked for loopback only).
    const published = (await docker(['port', id, '3000/tcp'])).split('\n')[0] as string;
    base = `http://${published}`;
  });

  afterAll(async () => {
    if (id) await docker(['rm', '-f', id]);
  });

  it('builds FROM the NODE_IMAGE build argument', async () => {
    const layers = async (ref: string): Promise<string[]> =>
      JSON.parse(await docker(['image', 'inspect', '-f', '{{json .RootFS.Layers}}', ref])) as string[];
    const [base, app] = await Promise.all([layers(IMAGES.node), layers(image)]);
    // The runtime stage starts from the base image: its layers are the app image's first ones
    // (true for the legacy builder and BuildKit alike).
    expect(app.slice(0, base.length)).toEqual(base);
    expect(app.length).toBeGreaterThan(base.length);
  });

  it('answers /healthz with 200 through a port published on 127.0.0.1 only', async () => {
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const deadline = Date.now() + 20_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = await fetch(`${base}/healthz`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe(200);
    const bindings = JSON.parse(await docker(['inspect', '-f', '{{json .HostConfig.PortBindings}}', id])) as Record<
      string,
      Array<{ HostIp: string }>
    >;
    expect(bindings['3000/tcp']?.map((b) => b.HostIp)).toEqual(['127.0.0.1']);
  });

  it("reports healthy through the image's own HEALTHCHECK", async () => {
    const deadline = Date.now() + 45_000;
    let health = '';
    while (Date.now() < deadline) {
      health = await docker(['inspect', '-f', '{{.State.Health.Status}}', id]);
      if (health === 'healthy' || health === 'unhealthy') break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(health).toBe('healthy');
  });

  it('runs the server as a user other than root', async () => {
    expect(await docker(['inspect', '-f', '{{.Config.User}}', image])).toBe('node');
    // PID 1 is node itself (no npm, no shell in between), and its real and effective uid are not 0.
    const status = await docker(['exec', id, 'cat', '/proc/1/status']);
    const uids = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status);
    expect(uids?.[1]).not.toBe('0');
    expect(uids?.[2]).not.toBe('0');
    expect(await docker(['exec', id, 'cat', '/proc/1/cmdline'])).toMatch(/^node\0dist\/server\/main\.js/);
  });

  it('drains on docker stop: clients get 1012, the container exits 0 within 10 s', async () => {
    const ws = base.replace('http://', 'ws://');
    const clients = [await TestClient.connect(`${ws}/signaling`), await TestClient.connect(`${ws}/signaling`)];
    const room = uniquePrefix('drain');
    clients[0]?.send({ type: 'join', room, name: 'a' });
    await clients[0]?.expect('joined');
    clients[1]?.send({ type: 'join', room, name: 'b' });
    await clients[1]?.expect('joined');

    const started = Date.now();
    await docker(['stop', '--time', '10', id]);
    const elapsed = Date.now() - started;
    const closes = await Promise.all(clients.map((c) => c.closed));
    expect(closes.map((c) => c.code)).toEqual([1012, 1012]);
    // Exit 0 means node drained and exited itself; a SIGKILL after the timeout would be 137.
    expect(await docker(['inspect', '-f', '{{.State.ExitCode}}', id])).toBe('0');
    expect(elapsed).toBeLessThan(10_000);
  });
});
