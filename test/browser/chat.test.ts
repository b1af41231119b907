import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CallPage, inviteUrl, loggedOn, openCallPage, requireBuiltPage, waitForSignaling } from '../fixtures/call-pages.ts';
import { launchChromium } from '../fixtures/chromium.ts';
import { type Cluster, startCluster } from '../fixtures/dyno.ts';
import { type RedisFixture, startRedis, uniquePrefix } from '../fixtures/redis.ts';

/**
 * Issue 16, chat: the call page's text chat over the room broadcast, in real Chromium
 * across two dynos sharing Redis. In order, with names and times, an unread badge; a
 * message typed while the sender's socket is down arrives once after its resume; a late
 * joiner sees only what is sent after it joined, and the page says so.
 */

/** Records the page's WebSockets, so a test can drop one as a network would. */
const RECORD_SOCKETS = `(() => {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.WebSocket = class extends Native {
    constructor(...args) { super(...args); window.__sockets.push(this); }
  };
})();`;

interface ShownMessage {
  from: string;
  own: string;
  name: string;
  time: string;
  text: string;
}

async function chatLog(page: Page): Promise<ShownMessage[]> {
  return await page.$$eval('#chat-log .chat-item', (items) =>
    items.map((li) => ({
      from: (li as HTMLElement).dataset['from'] ?? '',
      own: (li as HTMLElement).dataset['own'] ?? '',
      name: li.querySelector('.chat-name')?.textContent ?? '',
      time: li.querySelector('time')?.getAttribute('datetime') ?? '',
      text: li.querySelector('.chat-text')?.textContent ?? '',
    })),
  );
}

const texts = async (page: Page): Promise<string[]> => (await chatLog(page)).map((m) => m.text);

async function say(page: Page, text: string): Promise<void> {
  await page.fill('#chat-input', text);
  await page.press('#chat-input', 'Enter');
}

describe('call page chat over room broadcast, two dynos', () => {
  let redis: RedisFixture | undefined;
  let cluster: Cluster | undefined;
  let browser: Browser | undefined;
  const pages: CallPage[] = [];
  const room = `chat-${Date.now().toString(36)}`;
  const logs = (): string => pages.flatMap((p) => p.logs).join('\n');

  beforeAll(async () => {
    requireBuiltPage();
    redis = await startRedis();
    cluster = await startCluster('redis', { redisUrl: redis.url, env: { REDIS_PREFIX: uniquePrefix('chat') } });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await Promise.all(pages.map((p) => p.close()));
    await browser?.close();
    await cluster?.stop();
    await redis?.stop();
  });

  it('messages arrive in order with names and times; the unread badge counts them until the panel opens', async () => {
    const c = cluster as Cluster;
    const adaContext = await (browser as Browser).newContext({ viewport: { width: 1280, height: 800 } });
    await adaContext.addInitScript({ content: RECORD_SOCKETS });
    const adaPage = await adaContext.newPage();
    const ada: CallPage = {
      name: 'ada',
      page: adaPage,
      context: adaContext,
      logs: [],
      close: () => adaContext.close().catch(() => undefined),
    };
    adaPage.on('console', (m) => ada.logs.push(`[ada] ${m.type()}: ${m.text()}`));
    pages.push(ada);
    await adaPage.goto(inviteUrl(c.dyno(0).httpUrl, room, 'ada'));
    await waitForSignaling(ada, 'open', 30_000);
    const bob = await openCallPage(browser as Browser, c.dyno(1).httpUrl, room, 'bob');
    pages.push(bob);
    await adaPage.waitForSelector('[data-peer="bob"]', { timeout: 10_000 });

    await adaPage.click('#chat-toggle');
    expect(await adaPage.getAttribute('#chat-toggle', 'aria-expanded')).toBe('true');
    for (const text of ['one', 'two', 'three']) await say(adaPage, text);
    await bob.page.waitForSelector('#chat-unread[data-unread="3"]:not([hidden])', { timeout: 10_000 });
    expect(await bob.page.getAttribute('#chat-unread', 'aria-label')).toBe('3 unread');
    await bob.page.click('#chat-toggle');
    expect(await bob.page.isHidden('#chat-unread')).toBe(true);
    const seen = await chatLog(bob.page);
    expect(seen.map((m) => [m.from, m.name, m.own, m.text])).toEqual([
      ['ada', 'ada', 'false', 'one'],
      ['ada', 'ada', 'false', 'two'],
      ['ada', 'ada', 'false', 'three'],
    ]);
    for (const m of seen) expect(Math.abs(Date.parse(m.time) - Date.now())).toBeLessThan(60_000);
    expect(await bob.page.getAttribute('#chat-log', 'aria-live')).toBe('polite');
    expect((await chatLog(adaPage)).map((m) => [m.name, m.own])).toEqual([
      ['You', 'true'],
      ['You', 'true'],
      ['You', 'true'],
    ]);

    await say(bob.page, 'hi ada');
    await expect.poll(() => texts(adaPage), { timeout: 10_000 }).toEqual(['one', 'two', 'three', 'hi ada']);
    expect((await chatLog(adaPage))[3]?.name).toBe('bob');
  });

  it("a message typed while the sender's socket is down arrives once, in order, after the resume", async () => {
    const [ada, bob] = pages as [CallPage, CallPage];
    await ada.page.evaluate(() => {
      const sockets = (window as unknown as { __sockets: WebSocket[] }).__sockets;
      const input = document.querySelector('#chat-input') as HTMLInputElement;
      const form = document.querySelector('#chat-form') as HTMLFormElement;
      const send = (text: string): void => {
        input.value = text;
        form.requestSubmit();
      };
      send('just before the drop');
      // 4500: an application close the client retries (a dropped link, not a leave).
      sockets[sockets.length - 1]?.close(4500);
      send('while reconnecting');
    });
    await ada.page.waitForSelector('#app[data-signaling="reconnecting"]', { state: 'attached', timeout: 5_000 }).catch(() => undefined);
    await waitForSignaling(ada, 'open', 20_000);
    await say(ada.page, 'after the resume');
    const expected = ['one', 'two', 'three', 'hi ada', 'just before the drop', 'while reconnecting', 'after the resume'];
    try {
      await expect.poll(() => texts(bob.page), { timeout: 10_000 }).toEqual(expected);
    } catch (error) {
      throw new Error(`${JSON.stringify(await texts(bob.page))}\n${logs()}`, { cause: error });
    }
    expect(loggedOn((cluster as Cluster).dynos, 'ada', 'resumed').length, 'ada resumed her membership').toBe(1);
    expect(await texts(ada.page)).toEqual(expected);
  });

  it('a late joiner sees no earlier message (the page says they are not kept) and gets the next ones', async () => {
    const bob = pages[1] as CallPage;
    const carol = await openCallPage(browser as Browser, (cluster as Cluster).dyno(0).httpUrl, room, 'carol');
    pages.push(carol);
    await carol.page.click('#chat-toggle');
    expect(await texts(carol.page)).toEqual([]);
    expect(await carol.page.textContent('#chat .hint')).toMatch(/not saved: people who join later do not see earlier ones/);
    await bob.page.waitForSelector('[data-peer="carol"]', { timeout: 10_000 });
    await say(bob.page, 'welcome carol');
    await expect.poll(() => texts(carol.page), { timeout: 10_000 }).toEqual(['welcome carol']);
    expect((await chatLog(carol.page))[0]?.name).toBe('bob');
  });
});
