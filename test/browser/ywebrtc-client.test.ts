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
 * The real y-webrtc 10.3.0 client with yjs (bundled by esbuild) in headless Chromium, each
 * peer in its own browser context (so BroadcastChannel cannot bypass the server), pointed at
 * different dynos: a Y.Text edit must cross dynos through our signaling to reach the others.
 */

const HELPERS = `
window.yt = {
  start(room, signaling, password) {
    const doc = new Y.Doc();
    const opts = { signaling: [signaling], peerOpts: { config: { iceServers: [] } } };
    if (password) opts.password = password;
    window.provider = new WebrtcProvider(room, doc, opts);
    window.doc = doc;
  },
  text() { return window.doc.getText('t').toString(); },
  insert(s) { const t = window.doc.getText('t'); t.insert(t.length, s); },
  connected() { return window.provider.signalingConns.every((c) => c.connected); },
  stop() { window.provider.destroy(); },
};`;

/** What HELPERS sets on the page's window. */
interface YHelpers {
  start(room: string, signaling: string, password?: string): void;
  text(): string;
  insert(s: string): void;
  connected(): boolean;
  stop(): void;
}
type YWindow = Window & { yt: YHelpers };

let browser: Browser;
let pages: PagesServer;
let contexts: BrowserContext[] = [];

beforeAll(async () => {
  [browser, pages] = await Promise.all([launchChromium({ args: hostCandidateArgs() }), startPages('y-webrtc')]);
});

afterAll(async () => {
  await browser?.close();
  await pages?.close();
});

afterEach(async () => {
  // Each case's peers go: a y-webrtc page keeps working (and costing CPU) until closed.
  await Promise.all(contexts.map((c) => c.close()));
  contexts = [];
});

async function peer(signaling: string, room: string, password?: string): Promise<Page> {
  const context = await browser.newContext();
  contexts.push(context);
  await context.addInitScript(HELPERS);
  const page = await context.newPage();
  await page.goto(pages.url);
  await page.evaluate(([s, r, p]) => (window as unknown as YWindow).yt.start(r, s, p), [signaling, room, password] as const);
  return page;
}

const insert = (page: Page, text: string): Promise<void> => page.evaluate((s) => (window as unknown as YWindow).yt.insert(s), text);
const text = (page: Page): Promise<string> => page.evaluate(() => (window as unknown as YWindow).yt.text());

/** Waits until `page`'s document contains every one of `parts`. */
async function sees(page: Page, parts: string[], timeout = 30_000): Promise<void> {
  await page.waitForFunction((want) => want.every((p: string) => (window as unknown as YWindow).yt.text().includes(p)), parts, { timeout });
}

describe.each(['redis', 'redis-cluster'] as const)('y-webrtc through two dynos (%s)', (backend) => {
  let redis: RedisFixture | undefined;
  let redisCluster: RedisClusterFixture | undefined;
  let cluster: Cluster;
  const prefix = uniquePrefix('ywb');
  const env = (): Record<string, string> => ({
    REDIS_PREFIX: prefix,
    ...(redis ? { REDIS_URL: redis.url } : { REDIS_CLUSTER_NODES: redisCluster?.seeds ?? '' }),
  });
  const url = (i: number): string => cluster.dyno(i).wsUrl('/y-webrtc');
  let seq = 0;
  const room = (label: string): string => `${label}-${backend}-${++seq}-${Math.random().toString(36).slice(2, 7)}`;

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

  it('carries a Y.Text edit from a page on dyno A to a page on dyno B, and back', async () => {
    const r = room('edit');
    const a = await peer(url(0), r);
    const b = await peer(url(1), r);
    await insert(a, 'hello from A;');
    await sees(b, ['hello from A;']);
    await insert(b, 'hi from B;');
    await sees(a, ['hi from B;']);
  });

  it('syncs with a room password (encrypted signaling data)', async () => {
    const r = room('secret');
    const a = await peer(url(0), r, 'correct horse');
    const b = await peer(url(1), r, 'correct horse');
    await insert(b, 'sealed;');
    await sees(a, ['sealed;']);
  });

  it('syncs three peers over both dynos, and keeps two rooms apart', async () => {
    const r = room('three');
    const other = room('apart');
    // One after another, as users arrive: each newcomer's announce reaches those already there.
    const a = await peer(url(0), r);
    const b = await peer(url(1), r);
    const c = await peer(url(0), r);
    const d = await peer(url(1), other);
    await Promise.all([insert(a, 'a;'), insert(b, 'b;'), insert(c, 'c;'), insert(d, 'elsewhere;')]);
    for (const page of [a, b, c]) await sees(page, ['a;', 'b;', 'c;']);
    for (const page of [a, b, c]) expect(await text(page)).not.toContain('elsewhere');
    expect(await text(d)).toBe('elsewhere;');
  });

  it('keeps syncing after the dyno a page signals through is SIGTERMed: it reconnects to the other', async () => {
    let doomed: Dyno | undefined;
    let front: RouterFront | undefined;
    try {
      doomed = await startDyno({ env: env() });
      // One public address, as the Heroku router: the page's first upgrade lands on the doomed dyno.
      front = await startRouterFront([doomed.port, cluster.dyno(0).port]);
      const viaFront = `${front.origin.replace('http', 'ws')}/y-webrtc`;
      const r = room('failover');
      const p = await peer(viaFront, r);
      await p.waitForFunction(() => (window as unknown as YWindow).yt.connected(), undefined, { timeout: 10_000 });
      expect(front.upgrades).toEqual([1, 0]);
      const q = await peer(url(1), r);
      await insert(p, 'before;');
      await sees(q, ['before;']);
      await doomed.stop('SIGTERM');
      await p.waitForFunction(() => (window as unknown as YWindow).yt.connected(), undefined, { timeout: 15_000 });
      expect(front.upgrades[1]).toBeGreaterThanOrEqual(1);
      // Q leaves, so a newcomer can only learn P's text through P's new signaling connection.
      await q.evaluate(() => (window as unknown as YWindow).yt.stop());
      await insert(p, 'after;');
      const newcomer = await peer(url(1), r);
      await sees(newcomer, ['before;', 'after;']);
    } finally {
      await front?.close();
      await doomed?.stop('SIGKILL');
    }
  });
});
