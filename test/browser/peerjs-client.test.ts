import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../fixtures/chromium.ts';
import type { Cluster, Dyno } from '../fixtures/dyno.ts';
import { startCluster, startDyno } from '../fixtures/dyno.ts';
import type { RedisFixture } from '../fixtures/redis.ts';
import { startRedis, uniquePrefix } from '../fixtures/redis.ts';
import type { RedisClusterFixture } from '../fixtures/redis-cluster.ts';
import { startRedisCluster } from '../fixtures/redis-cluster.ts';
import type { RouterFront } from '../fixtures/router-front.ts';
import { startRouterFront } from '../fixtures/router-front.ts';
import type { PagesServer } from '../fixtures/third-party-pages.ts';
import { hostCandidateArgs, startPages } from '../fixtures/third-party-pages.ts';

/**
 * The real PeerJS client (npm `peerjs` 1.5.5, dist/peerjs.min.js) in headless Chromium,
 * pages on their own origin, two peers on two dynos: at path `/` and `/peerjs`, on one Redis
 * and on a three-master Redis Cluster.
 */

/** Page helpers around the real client; `t` collects what the peer saw. */
const HELPERS = `
window.t = {
  errors: [], events: [], data: [],
  start(id, opts) {
    return new Promise((resolve) => {
      const p = id ? new Peer(id, opts) : new Peer(opts);
      window.peer = p;
      p.on('open', (got) => { t.events.push('open:' + got); resolve(got); });
      p.on('error', (e) => { t.errors.push(e.type); resolve('error:' + e.type); });
      p.on('disconnected', () => {
        t.events.push('disconnected');
        if (t.autoReconnect) setTimeout(() => { if (!p.destroyed) p.reconnect(); }, 200);
      });
      p.on('connection', (c) => c.on('data', (d) => { t.data.push(d); c.send('echo:' + d); }));
      p.on('call', async (call) => {
        const stream = await navigator.mediaDevices.getUserMedia({ video: true });
        call.answer(stream);
        t.watch(call);
      });
    });
  },
  connect(dst, text) {
    return new Promise((resolve) => {
      const c = peer.connect(dst);
      c.on('open', () => c.send(text));
      c.on('data', (d) => { t.data.push(d); resolve(d); });
    });
  },
  async call(dst) {
    const stream = await navigator.mediaDevices.getUserMedia({ video: true });
    t.watch(peer.call(dst, stream));
  },
  watch(call) {
    t.media = call;
    call.on('stream', (stream) => {
      const v = document.createElement('video');
      v.muted = true; v.autoplay = true; v.playsInline = true; v.srcObject = stream;
      document.body.append(v);
    });
  },
  async framesDecoded() {
    const pc = t.media && t.media.peerConnection;
    if (!pc) return 0;
    let n = 0;
    (await pc.getStats()).forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'video') n += r.framesDecoded || 0; });
    return n;
  },
};`;

/** What HELPERS sets on the page's window: `t`, and the live `peer` it started. */
interface PeerHelpers {
  errors: string[];
  events: string[];
  data: unknown[];
  autoReconnect?: boolean;
  /** Resolves with the id the server confirmed, or `error:<type>`. */
  start(id: string | null, opts: object): Promise<string>;
  /** Resolves with the first reply on the new DataConnection. */
  connect(dst: string, text: string): Promise<unknown>;
  call(dst: string): Promise<void>;
  framesDecoded(): Promise<number>;
}
/** The part of PeerJS's `Peer` the tests drive directly. */
interface PeerHandle {
  connect(dst: string): unknown;
  disconnect(): void;
  reconnect(): void;
}
type PeerWindow = Window & { t: PeerHelpers; peer: PeerHandle };

let browser: Browser;
let pages: PagesServer;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  [browser, pages] = await Promise.all([launchChromium({ args: hostCandidateArgs() }), startPages('peerjs')]);
});

afterAll(async () => {
  await browser?.close();
  await pages?.close();
});

afterEach(async () => {
  // Each case's peers go: an open page keeps its heartbeat and (in the call) two video streams running.
  await Promise.all(contexts.splice(0).map((c) => c.close()));
});

async function openPage(): Promise<Page> {
  const context = await browser.newContext();
  contexts.push(context);
  await context.addInitScript(HELPERS);
  const page = await context.newPage();
  await page.goto(pages.url);
  return page;
}

/** Starts a peer (`id` null: the server picks one through GET /id) on `port` at `path`. */
async function peer(port: number, path: string, id: string | null): Promise<{ page: Page; id: string }> {
  const page = await openPage();
  const opts = { host: '127.0.0.1', port, path, secure: false, debug: 0, config: { iceServers: [] } };
  const got = await page.evaluate(([i, o]) => (window as unknown as PeerWindow).t.start(i, o), [id, opts] as const);
  return { page, id: got };
}

const errors = (page: Page): Promise<string[]> => page.evaluate(() => (window as unknown as PeerWindow).t.errors);
const events = (page: Page): Promise<string[]> => page.evaluate(() => (window as unknown as PeerWindow).t.events);

describe.each(['redis', 'redis-cluster'] as const)('PeerJS client through two dynos (%s)', (backend) => {
  let redis: RedisFixture | undefined;
  let redisCluster: RedisClusterFixture | undefined;
  let cluster: Cluster;
  const prefix = uniquePrefix('pjb');
  const env = (): Record<string, string> => ({
    REDIS_PREFIX: prefix,
    ...(redis ? { REDIS_URL: redis.url } : { REDIS_CLUSTER_NODES: redisCluster?.seeds ?? '' }),
  });
  let seq = 0;
  const fresh = (label: string): string => `${label}${backend === 'redis' ? 'R' : 'C'}${++seq}x${Math.random().toString(36).slice(2, 7)}`;
  const port = (i: number): number => cluster.dyno(i).port;

  beforeAll(async () => {
    if (backend === 'redis') redis = await startRedis();
    else redisCluster = await startRedisCluster();
    cluster = await startCluster(backend, { redisUrl: redis?.url, redisClusterNodes: redisCluster?.seeds, env: env() });
  });

  afterAll(async () => {
    await cluster?.stop();
    await redis?.stop();
    await redisCluster?.stop();
  });

  it.each(['/', '/peerjs'])('opens a DataConnection both ways at path %s, one id from /id and one chosen', async (path) => {
    const a = await peer(port(0), path, null);
    expect(a.id).toMatch(/^[0-9a-f-]{36}$/);
    const b = await peer(port(1), path, fresh('b'));
    expect(await a.page.evaluate((dst) => (window as unknown as PeerWindow).t.connect(dst, 'from a'), b.id)).toBe('echo:from a');
    expect(await b.page.evaluate((dst) => (window as unknown as PeerWindow).t.connect(dst, 'from b'), a.id)).toBe('echo:from b');
    expect(await b.page.evaluate(() => (window as unknown as PeerWindow).t.data)).toContain('from a');
  });

  it('carries a MediaConnection: video decodes on both sides', async () => {
    const a = await peer(port(0), '/peerjs', fresh('ma'));
    const b = await peer(port(1), '/peerjs', fresh('mb'));
    await a.page.evaluate((dst) => (window as unknown as PeerWindow).t.call(dst), b.id);
    for (const side of [a.page, b.page]) {
      await side.waitForFunction(async () => (await (window as unknown as PeerWindow).t.framesDecoded()) > 0, undefined, {
        timeout: 20_000,
      });
      const first = await side.evaluate(() => (window as unknown as PeerWindow).t.framesDecoded());
      await side.waitForFunction(async (n) => (await (window as unknown as PeerWindow).t.framesDecoded()) > n + 10, first, {
        timeout: 10_000,
      });
    }
  });

  it('says peer-unavailable for an id nobody has within about 6 s, and unavailable-id for an id taken on the other dyno', async () => {
    const a = await peer(port(0), '/', fresh('ua'));
    const started = Date.now();
    await a.page.evaluate((dst) => void (window as unknown as PeerWindow).peer.connect(dst), fresh('nobody'));
    await a.page.waitForFunction(() => (window as unknown as PeerWindow).t.errors.includes('peer-unavailable'), undefined, {
      timeout: 9000,
    });
    expect(Date.now() - started).toBeLessThan(7500);
    const taken = await peer(port(1), '/', a.id);
    expect(taken.id).toBe('error:unavailable-id');
    expect(await errors(taken.page)).toEqual(['unavailable-id']);
  });

  it('emits open again after disconnect() then reconnect()', async () => {
    const a = await peer(port(1), '/peerjs', fresh('rc'));
    await a.page.evaluate(() => (window as unknown as PeerWindow).peer.disconnect());
    await a.page.evaluate(() => (window as unknown as PeerWindow).peer.reconnect());
    await a.page.waitForFunction(
      () => (window as unknown as PeerWindow).t.events.filter((e: string) => e.startsWith('open:')).length === 2,
      undefined,
      { timeout: 5000 },
    );
    expect(await events(a.page)).toEqual([`open:${a.id}`, 'disconnected', `open:${a.id}`]);
    // Still reachable under its id after the reconnect.
    const b = await peer(port(0), '/peerjs', fresh('rb'));
    expect(await b.page.evaluate((dst) => (window as unknown as PeerWindow).t.connect(dst, 'after'), a.id)).toBe('echo:after');
  });

  it('delivers a connection to an id that registers on the other dyno 2 s later (the queue)', async () => {
    const a = await peer(port(0), '/', fresh('qa'));
    const late = fresh('late');
    const reply = a.page.evaluate((dst) => (window as unknown as PeerWindow).t.connect(dst, 'early bird'), late);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const b = await peer(port(1), '/', late);
    expect(b.id).toBe(late);
    expect(await reply).toBe('echo:early bird');
    expect(await errors(a.page)).toEqual([]);
  });

  it('survives a SIGKILL of the dyno holding a peer: it reconnects to the survivor with its id and token', async () => {
    let doomed: Dyno | undefined;
    let front: RouterFront | undefined;
    try {
      doomed = await startDyno({ env: env() });
      // One public address, as the Heroku router: the first upgrade lands on the doomed dyno.
      front = await startRouterFront([doomed.port, port(0)]);
      const frontPort = Number(new URL(front.origin).port);
      const p = await peer(frontPort, '/', fresh('k'));
      expect(front.upgrades[0]).toBe(1);
      await p.page.evaluate(() => {
        (window as unknown as PeerWindow).t.autoReconnect = true;
      });
      const q = await peer(port(1), '/', fresh('kq'));
      expect(await q.page.evaluate((dst) => (window as unknown as PeerWindow).t.connect(dst, 'before'), p.id)).toBe('echo:before');
      await doomed.stop('SIGKILL');
      await p.page.waitForFunction(
        () => (window as unknown as PeerWindow).t.events.filter((e: string) => e.startsWith('open:')).length === 2,
        undefined,
        { timeout: 15_000 },
      );
      expect(await events(p.page)).toEqual([`open:${p.id}`, 'disconnected', `open:${p.id}`]);
      expect(await errors(p.page)).toEqual(['network']);
      const r = await peer(port(0), '/', fresh('kr'));
      expect(await r.page.evaluate((dst) => (window as unknown as PeerWindow).t.connect(dst, 'after'), p.id)).toBe('echo:after');
    } finally {
      await front?.close();
      await doomed?.stop('SIGKILL');
    }
  });
});
