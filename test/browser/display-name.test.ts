import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SignalingClient } from '../../client/src/index.ts';
import { type CallPage, openCallPage, requireBuiltPage } from '../fixtures/call-pages.ts';
import { launchChromium } from '../fixtures/chromium.ts';
import type { Dyno } from '../fixtures/dyno.ts';
import { startDyno } from '../fixtures/dyno.ts';

/**
 * The page shows a peer's `metadata.displayName` on its tile (issue 14): the built page in
 * Chromium, peers joining from Node with the client library, on one embedded dyno. A peer
 * without a display name keeps its member name.
 */
describe('display names on the call page', () => {
  let dyno: Dyno;
  let browser: Browser;
  const pages: CallPage[] = [];
  const clients: SignalingClient[] = [];
  const room = `names-${Date.now().toString(36)}`;

  beforeAll(async () => {
    requireBuiltPage();
    dyno = await startDyno();
    browser = await launchChromium();
  });

  afterAll(async () => {
    for (const c of clients) c.leave();
    await Promise.all(pages.map((p) => p.close()));
    await browser?.close();
    await dyno?.stop();
  });

  const member = async (name: string, metadata?: Record<string, unknown>): Promise<void> => {
    const client = new SignalingClient({ url: dyno.wsUrl(), room, name, WebSocket, ...(metadata ? { metadata } : {}) });
    clients.push(client);
    await new Promise<void>((resolve) => {
      client.once('joined', () => resolve());
      client.connect();
    });
  };

  const label = (p: CallPage, peer: string): Promise<string> =>
    p.page.locator(`[data-peer="${peer}"] .name`).innerText({ timeout: 15_000 });

  it('labels tiles with metadata.displayName, from peer-joined and from joined.members', async () => {
    const alice = await openCallPage(browser, dyno.httpUrl, room, 'alice');
    pages.push(alice);
    await member('bob', { displayName: 'Bob « B. »' });
    await member('carol');
    await member('eve', { displayName: '   ' });
    expect(await label(alice, 'bob')).toBe('Bob « B. »');
    expect(await label(alice, 'carol')).toBe('carol');
    expect(await label(alice, 'eve')).toBe('eve');
    // A page joining later learns the names from joined.members.
    const dave = await openCallPage(browser, dyno.httpUrl, room, 'dave');
    pages.push(dave);
    expect(await label(dave, 'bob')).toBe('Bob « B. »');
    expect(await label(dave, 'alice')).toBe('alice');
  }, 90_000);
});
