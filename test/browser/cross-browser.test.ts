import type { Browser as ChromiumBrowser } from 'playwright-core';
import type { Browser as FirefoxBrowser } from 'puppeteer-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireBuiltPage, sleep } from '../fixtures/call-pages.ts';
import {
  type CallTab,
  type Engine,
  connectionCount,
  corruptNextDescription,
  expectMeshHealthy,
  forceCollision,
  openCallTab,
  restartIce,
  tabTiles,
  tileStatesSince,
  waitFor,
} from '../fixtures/call-tabs.ts';
import { launchChromium } from '../fixtures/chromium.ts';
import { type Cluster, startCluster } from '../fixtures/dyno.ts';
import { launchFirefox } from '../fixtures/firefox.ts';
import { type RedisFixture, startRedis, uniquePrefix } from '../fixtures/redis.ts';

/**
 * Issue 12: calls across browsers. The built page in Debian's Firefox ESR (puppeteer-core,
 * WebDriver BiDi) and Chromium (playwright-core), fake camera and microphone, over two dynos
 * sharing a real Redis: the first member of each pair loads from dyno 0, the second from
 * dyno 1. One Firefox and one Chromium serve every case; each page has its own window.
 *
 * Roles: the name that sorts first is polite (mesh-call.ts). The pairs are named so both
 * polite/impolite assignments occur with Firefox in the room first, the case where Firefox's
 * answers used to flip the DTLS role and wedge the pair.
 *
 * After every disturbance: both sides stable and connected, video decoding again (getStats
 * framesDecoded rising), within 10 s.
 */

const RECOVER_MS = 10_000;

describe('calls across Firefox and Chromium over two dynos', () => {
  let redis: RedisFixture | undefined;
  let cluster: Cluster | undefined;
  let chromium: ChromiumBrowser | undefined;
  let firefox: FirefoxBrowser | undefined;
  const open: CallTab[] = [];
  const run = Date.now().toString(36);

  async function join(engine: Engine, dyno: number, room: string, name: string): Promise<CallTab> {
    const browsers = { chromium: chromium as ChromiumBrowser, firefox: firefox as FirefoxBrowser };
    const tab = await openCallTab(browsers, engine, (cluster as Cluster).dyno(dyno).httpUrl, `${room}-${run}`, name);
    open.push(tab);
    return tab;
  }
  async function close(...tabs: CallTab[]): Promise<void> {
    await Promise.all(tabs.map((t) => t.close()));
    for (const t of tabs) open.splice(open.indexOf(t), 1);
  }
  /** Both sides recover on the SAME connections (the fix, not the rebuild, kept the pair). */
  async function expectSameConnections(tabs: CallTab[], before: number[]): Promise<void> {
    expect(await Promise.all(tabs.map(connectionCount)), 'no connection was rebuilt').toEqual(before);
  }

  beforeAll(async () => {
    requireBuiltPage();
    redis = await startRedis();
    // The dynos first, alone: on a loaded machine their start competes badly with two browsers'.
    cluster = await startCluster('redis', { redisUrl: redis.url, env: { REDIS_PREFIX: uniquePrefix('cross-browser') } });
    [chromium, firefox] = await Promise.all([launchChromium(), launchFirefox()]);
  });

  afterEach((context) => {
    // A failure shows what the pages logged (errors of the client library included).
    if (context.task.result?.state === 'fail') console.log(open.flatMap((t) => t.logs.slice(-40)).join('\n'));
  });

  afterAll(async () => {
    await Promise.all(open.map((t) => t.close()));
    await Promise.all([chromium?.close(), firefox?.close()]);
    await cluster?.stop();
    await redis?.stop();
  });

  it('Firefox <-> Firefox: connects, and survives an ICE restart by the second joiner', async () => {
    const amy = await join('firefox', 0, 'ff', 'amy');
    const ben = await join('firefox', 1, 'ff', 'ben');
    console.log(`firefox<->firefox decoding after ${await expectMeshHealthy([amy, ben], 30_000)} ms`);
    const before = await Promise.all([amy, ben].map(connectionCount));
    await restartIce(ben, 'amy');
    console.log(`firefox<->firefox ICE restart recovered in ${await expectMeshHealthy([amy, ben], RECOVER_MS)} ms`);
    await expectSameConnections([amy, ben], before);
    await close(amy, ben);
  });

  describe('Firefox in the room first, Chromium second (ann is polite towards bob)', () => {
    let ann: CallTab;
    let bob: CallTab;

    it('connects and each decodes the other', async () => {
      ann = await join('firefox', 0, 'fc', 'ann');
      bob = await join('chromium', 1, 'fc', 'bob');
      console.log(`firefox-first pair decoding after ${await expectMeshHealthy([ann, bob], 30_000)} ms`);
      expect(await tabTiles(ann)).toEqual(['bob']);
      expect(await tabTiles(bob)).toEqual(['ann']);
    });

    it('survives an ICE restart by Chromium (Firefox answers: the DTLS role flip)', async () => {
      const before = await Promise.all([ann, bob].map(connectionCount));
      await restartIce(bob, 'ann');
      console.log(`chromium restart after firefox offered: recovered in ${await expectMeshHealthy([ann, bob], RECOVER_MS)} ms`);
      await expectSameConnections([ann, bob], before);
    });

    it('survives an ICE restart by Firefox', async () => {
      const before = await Promise.all([ann, bob].map(connectionCount));
      await restartIce(ann, 'bob');
      console.log(`firefox restart: recovered in ${await expectMeshHealthy([ann, bob], RECOVER_MS)} ms`);
      await expectSameConnections([ann, bob], before);
    });

    it('resolves an offer collision won by Chromium (impolite), Firefox rolling back and answering', async () => {
      const before = await Promise.all([ann, bob].map(connectionCount));
      await forceCollision(ann, bob);
      console.log(`collision (firefox polite): resolved in ${await expectMeshHealthy([ann, bob], RECOVER_MS)} ms`);
      await expectSameConnections([ann, bob], before);
    });

    it('heals by itself when Firefox receives a corrupted description', async () => {
      const since = await ann.evaluate(() => Date.now(), undefined);
      const before = await connectionCount(ann);
      await corruptNextDescription(ann, 'bob');
      await restartIce(bob, 'ann'); // its offer reaches ann corrupted: setRemoteDescription fails
      console.log(`corrupted offer at firefox: healed in ${await expectMeshHealthy([ann, bob], RECOVER_MS)} ms`);
      expect(await connectionCount(ann), 'ann rebuilt her connection').toBeGreaterThan(before);
      expect(await tileStatesSince(ann, 'bob', since), 'the tile said so meanwhile').toContain('reconnecting');
    });

    it('heals by itself when Chromium receives a corrupted description', async () => {
      const since = await bob.evaluate(() => Date.now(), undefined);
      const before = await connectionCount(bob);
      await corruptNextDescription(bob, 'ann');
      await restartIce(ann, 'bob');
      console.log(`corrupted offer at chromium: healed in ${await expectMeshHealthy([ann, bob], RECOVER_MS)} ms`);
      expect(await connectionCount(bob), 'bob rebuilt his connection').toBeGreaterThan(before);
      expect(await tileStatesSince(bob, 'ann', since)).toContain('reconnecting');
    });

    it('grows into a mixed three-person mesh; a leaver disappears from both pages within 2 s', async () => {
      const eve = await join('firefox', 1, 'fc', 'eve');
      console.log(`three-person mixed mesh decoding after ${await expectMeshHealthy([ann, bob, eve], 30_000)} ms`);
      type Stamps = Window & { tileGoneAt?: number | null };
      for (const t of [ann, bob]) {
        await t.evaluate(() => {
          const w = window as Stamps;
          w.tileGoneAt = null;
          const observer = new MutationObserver(() => {
            if (document.querySelector('[data-peer="eve"]') !== null) return;
            w.tileGoneAt = Date.now();
            observer.disconnect();
          });
          observer.observe(document.body, { childList: true, subtree: true });
        }, undefined);
      }
      // The click (before the page handles it) and the removals are stamped in the pages:
      // one machine, one clock, no test-runner round trip inside the measured interval.
      const leftAt = await eve.evaluate(() => {
        let at = 0;
        const leave = document.querySelector('#leave') as HTMLButtonElement;
        leave.addEventListener('click', () => (at = Date.now()), { capture: true, once: true });
        leave.click();
        return at;
      }, undefined);
      const delays: number[] = [];
      for (const t of [ann, bob]) {
        await waitFor(t, () => typeof (window as Stamps).tileGoneAt === 'number', undefined, 10_000, "eve's tile gone");
        delays.push((await t.evaluate(() => (window as Stamps).tileGoneAt as number, undefined)) - leftAt);
      }
      console.log(`tile removal after leave: ${delays.join(' ms, ')} ms`);
      for (const d of delays) expect(d).toBeLessThan(2000);
      await close(eve);
      await close(ann, bob);
    });
  });

  describe('Chromium in the room first, Firefox second (cal is polite towards dan)', () => {
    let cal: CallTab;
    let dan: CallTab;

    it('connects and each decodes the other', async () => {
      cal = await join('chromium', 0, 'cf', 'cal');
      dan = await join('firefox', 1, 'cf', 'dan');
      console.log(`chromium-first pair decoding after ${await expectMeshHealthy([cal, dan], 30_000)} ms`);
    });

    it('survives an ICE restart by Chromium', async () => {
      const before = await Promise.all([cal, dan].map(connectionCount));
      await restartIce(cal, 'dan');
      console.log(`chromium restart (chromium first): recovered in ${await expectMeshHealthy([cal, dan], RECOVER_MS)} ms`);
      await expectSameConnections([cal, dan], before);
    });

    it('survives an ICE restart by Firefox', async () => {
      const before = await Promise.all([cal, dan].map(connectionCount));
      await restartIce(dan, 'cal');
      console.log(`firefox restart (chromium first): recovered in ${await expectMeshHealthy([cal, dan], RECOVER_MS)} ms`);
      await expectSameConnections([cal, dan], before);
    });

    it('resolves an offer collision won by Firefox (impolite), Chromium rolling back and answering', async () => {
      const before = await Promise.all([cal, dan].map(connectionCount));
      await forceCollision(cal, dan);
      console.log(`collision (firefox impolite): resolved in ${await expectMeshHealthy([cal, dan], RECOVER_MS)} ms`);
      await expectSameConnections([cal, dan], before);
      await sleep(0);
    });
  });
});
