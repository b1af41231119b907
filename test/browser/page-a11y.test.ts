import AxeBuilder from '@axe-core/playwright';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { en } from '../../client/page/i18n/en.ts';
import { ja } from '../../client/page/i18n/ja.ts';
import { type CallPage, inviteUrl, openCallPage, requireBuiltPage, sleep } from '../fixtures/call-pages.ts';
import { launchChromium } from '../fixtures/chromium.ts';
import { type Dyno, startDyno } from '../fixtures/dyno.ts';
import { screenshotDir } from '../fixtures/screenshots.ts';

/**
 * Issue 16: accessibility (axe-core finds no serious or critical violation on the pre-join,
 * call and error views), both languages render every string, and the README's screenshots
 * of the pre-join and call views (desktop and phone) are taken from the real page.
 */

const DOCS = screenshotDir();
const PHONE = { width: 390, height: 844 };

/** Serious and critical violations, as readable lines (empty when none). */
async function seriousViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
}

/** Every data-i18n hook has its string; no key or placeholder leaked onto the page. */
async function expectAllStrings(page: Page, strings: typeof en): Promise<void> {
  const seen = await page.evaluate(() => ({
    lang: document.documentElement.lang,
    hooks: [...document.querySelectorAll<HTMLElement>('[data-i18n]')].map((e) => [e.dataset['i18n'], e.textContent ?? '']),
    labels: [...document.querySelectorAll<HTMLElement>('[data-i18n-label]')].map((e) => [
      e.dataset['i18nLabel'],
      e.getAttribute('aria-label') ?? '',
    ]),
  }));
  expect(seen.lang).toBe(strings.lang);
  for (const [key, text] of [...seen.hooks, ...seen.labels]) {
    expect(text, `string for ${key}`).toBe((strings as Record<string, unknown>)[key as string]);
  }
  expect(seen.hooks.length).toBeGreaterThan(15);
}

describe('call page: accessibility, languages, screenshots', () => {
  let dyno: Dyno | undefined;
  let browser: Browser | undefined;
  const pages: CallPage[] = [];
  const room = `a11y-${Date.now().toString(36)}`;

  beforeAll(async () => {
    requireBuiltPage();
    dyno = await startDyno();
    browser = await launchChromium();
  });

  afterAll(async () => {
    await Promise.all(pages.map((p) => p.close()));
    await browser?.close();
    await dyno?.stop();
  });

  for (const [lang, strings] of [
    ['en', en],
    ['ja', ja],
  ] as const) {
    it(`pre-join in ${lang}: every string rendered, no serious axe violation`, async () => {
      const context = await (browser as Browser).newContext({
        viewport: { width: 1280, height: 800 },
        locale: lang === 'ja' ? 'en-US' : 'ja-JP',
      });
      try {
        const page = await context.newPage();
        const errors: string[] = [];
        page.on('console', (m) => m.type() === 'error' && !m.text().includes('Failed to load resource') && errors.push(m.text()));
        // ?lang wins over the browser's language (the context's locale is the other one).
        await page.goto(`${(dyno as Dyno).httpUrl}/?room=${room}&lang=${lang}`);
        await page.waitForFunction(() => (document.querySelector('#preview-video') as HTMLVideoElement).videoWidth > 0, undefined, {
          timeout: 15_000,
        });
        await page.waitForFunction(() => (document.querySelector('#mic-select') as HTMLSelectElement).options.length > 1, undefined, {
          timeout: 10_000,
        });
        await expectAllStrings(page, strings);
        expect(await page.textContent('#join-button')).toBe(strings.join);
        expect(errors).toEqual([]);
        expect(await seriousViolations(page)).toEqual([]);
        // Keyboard: Tab reaches the room field, the new-room button, the name, and Join.
        const reached: string[] = [];
        await page.focus('body');
        for (let i = 0; i < 10; i++) {
          await page.keyboard.press('Tab');
          reached.push(await page.evaluate(() => document.activeElement?.id ?? ''));
        }
        expect(reached).toEqual(
          expect.arrayContaining(['room-input', 'new-room', 'name-input', 'camera-select', 'mic-select', 'join-button']),
        );
        if (lang === 'en') {
          await page.fill('#name-input', 'Ada');
          await sleep(300);
          await page.screenshot({ path: `${DOCS}prejoin-desktop.png` });
          await page.setViewportSize(PHONE);
          await page.screenshot({ path: `${DOCS}prejoin-phone.png` });
          const scroll = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
          expect(scroll, 'horizontal scroll on a phone').toBeLessThanOrEqual(0);
        }
      } finally {
        await context.close();
      }
    });
  }

  it('call view (en and ja) and the error view: no serious axe violation; every string rendered', async () => {
    const origin = (dyno as Dyno).httpUrl;
    const ada = await openCallPage(browser as Browser, origin, room, 'ada');
    pages.push(ada);
    // bob's browser speaks Japanese (navigator.languages), with no ?lang in his link.
    const bobContext = await (browser as Browser).newContext({ viewport: { width: 1280, height: 800 }, locale: 'ja-JP' });
    const bob: CallPage = {
      name: 'bob',
      context: bobContext,
      page: await bobContext.newPage(),
      logs: [],
      close: () => bobContext.close().catch(() => undefined),
    };
    pages.push(bob);
    await bob.page.goto(inviteUrl(origin, room, 'bob'));
    await bob.page.waitForSelector('#app[data-signaling="open"]', { timeout: 30_000 });
    expect(await bob.page.getAttribute('#app', 'data-lang')).toBe('ja');
    await ada.page.waitForSelector('[data-peer="bob"][data-quality]', { timeout: 20_000 });
    await bob.page.waitForSelector('[data-peer="ada"][data-quality]', { timeout: 20_000 });
    await expectAllStrings(ada.page, en);
    await expectAllStrings(bob.page, ja);
    // Joins are announced to screen readers (aria-live), in each page's language.
    expect(await ada.page.textContent('#announcer')).toBe(en.peerJoined('bob'));
    expect(await ada.page.getAttribute('#announcer', 'aria-live')).toBe('polite');
    expect(await bob.page.textContent('#mic')).toBe(ja.mute);
    expect(await bob.page.textContent('[data-peer="ada"] .state')).toBe(ja.tileConnected);
    let t = Date.now();
    expect(await seriousViolations(ada.page)).toEqual([]);
    console.log(`axe on the call view: ${Date.now() - t} ms`);
    // With the chat and device panels open, and a message in the log.
    await bob.page.click('#chat-toggle');
    await bob.page.click('#devices');
    await bob.page.fill('#chat-input', 'こんにちは');
    await bob.page.press('#chat-input', 'Enter');
    await ada.page.waitForSelector('#chat-unread[data-unread="1"]', { timeout: 10_000 });
    expect(await seriousViolations(bob.page)).toEqual([]);
    await bob.page.click('#chat-toggle');
    await bob.page.click('#devices');

    await ada.page.waitForFunction(
      () => [...document.querySelectorAll('video')].filter((v) => !v.hidden && v.videoWidth > 0).length === 2,
      undefined,
      { timeout: 15_000 },
    );
    await ada.page.screenshot({ path: `${DOCS}call-desktop.png` });
    await ada.page.setViewportSize(PHONE);
    await sleep(300);
    await ada.page.screenshot({ path: `${DOCS}call-phone.png` });
    await ada.page.setViewportSize({ width: 1280, height: 800 });

    // Error view: the name is taken, the pre-join screen says so.
    const context = await (browser as Browser).newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const page = await context.newPage();
      t = Date.now();
      await page.goto(`${origin}/?room=${room}&name=ada`);
      await page.waitForSelector('#join-error:not([hidden])', { timeout: 20_000 });
      console.log(`name-taken shown after ${Date.now() - t} ms`);
      expect(await page.textContent('#join-error')).toBe(en.nameTaken(room, 'ada'));
      expect(await page.getAttribute('#app', 'data-view')).toBe('join');
      expect(await seriousViolations(page)).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
