import type { Browser as ChromiumBrowser } from 'playwright-core';
import type { Browser as FirefoxBrowser } from 'puppeteer-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireBuiltPage } from '../fixtures/call-pages.ts';
import { type CallTab, expectMeshHealthy, openCallTab, waitFor } from '../fixtures/call-tabs.ts';
import { launchChromium } from '../fixtures/chromium.ts';
import { startDyno, type Dyno } from '../fixtures/dyno.ts';
import { launchFirefox } from '../fixtures/firefox.ts';

/**
 * Issue 16 between Firefox ESR and Chromium: the per-tile readings come from getStats, whose
 * fields differ between engines, and the mute mark and chat from messages both pages must
 * read. Each side sees the other's link quality and speaking tone, the mute mark, and a chat
 * message.
 */

type Attr = { peer: string; name: string; value: string };
const tileHas = ({ peer, name, value }: Attr): boolean => document.querySelector(`[data-peer="${peer}"]`)?.getAttribute(name) === value;
const qualityKnown = (peer: string): boolean =>
  /^(good|weak|bad)$/.test(document.querySelector(`[data-peer="${peer}"]`)?.getAttribute('data-quality') ?? '');

describe('call page features across Firefox and Chromium', () => {
  let dyno: Dyno | undefined;
  let chromium: ChromiumBrowser | undefined;
  let firefox: FirefoxBrowser | undefined;
  const tabs: CallTab[] = [];

  beforeAll(async () => {
    requireBuiltPage();
    dyno = await startDyno();
    [chromium, firefox] = await Promise.all([launchChromium(), launchFirefox()]);
  });

  afterEach((context) => {
    if (context.task.result?.state === 'fail') console.log(tabs.flatMap((t) => t.logs.slice(-40)).join('\n'));
  });

  afterAll(async () => {
    await Promise.all(tabs.map((t) => t.close()));
    await Promise.all([chromium?.close(), firefox?.close()]);
    await dyno?.stop();
  });

  it('quality and speaking from getStats, the mute mark and chat, in both directions', async () => {
    const browsers = { chromium: chromium as ChromiumBrowser, firefox: firefox as FirefoxBrowser };
    const room = `ff-ux-${Date.now().toString(36)}`;
    const fox = await openCallTab(browsers, 'firefox', (dyno as Dyno).httpUrl, room, 'fox');
    tabs.push(fox);
    const chro = await openCallTab(browsers, 'chromium', (dyno as Dyno).httpUrl, room, 'chro');
    tabs.push(chro);
    await expectMeshHealthy([fox, chro], 45_000);

    await waitFor(fox, qualityKnown, 'chro', 15_000, 'a quality reading for chro');
    await waitFor(chro, qualityKnown, 'fox', 15_000, 'a quality reading for fox');
    const title = (peer: string): string => document.querySelector(`[data-peer="${peer}"] .quality`)?.getAttribute('title') ?? '';
    expect(await fox.evaluate(title, 'chro')).toMatch(/packet loss [\d.]+ %/);
    // Both fake microphones make a tone.
    await waitFor(fox, tileHas, { peer: 'chro', name: 'data-speaking', value: 'true' }, 20_000, 'chro speaking');
    await waitFor(chro, tileHas, { peer: 'fox', name: 'data-speaking', value: 'true' }, 20_000, 'fox speaking');

    await fox.click('#mic');
    await waitFor(chro, tileHas, { peer: 'fox', name: 'data-muted', value: 'true' }, 10_000, 'fox muted');
    await chro.click('#mic');
    await waitFor(fox, tileHas, { peer: 'chro', name: 'data-muted', value: 'true' }, 10_000, 'chro muted');

    const send = (text: string): void => {
      (document.querySelector('#chat-input') as HTMLInputElement).value = text;
      (document.querySelector('#chat-form') as HTMLFormElement).requestSubmit();
    };
    const logged = (text: string): boolean => [...document.querySelectorAll('#chat-log .chat-text')].some((e) => e.textContent === text);
    await fox.evaluate(send, 'from firefox');
    await chro.evaluate(send, 'from chromium');
    await waitFor(chro, logged, 'from firefox', 10_000, 'the message from firefox');
    await waitFor(fox, logged, 'from chromium', 10_000, 'the message from chromium');
  });
});
