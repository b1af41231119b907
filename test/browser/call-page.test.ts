import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CallPage, openCallPage, requireBuiltPage, sleep, waitForSignaling } from '../fixtures/call-pages.ts';
import { launchChromium } from '../fixtures/chromium.ts';
import { type Dyno, startDyno } from '../fixtures/dyno.ts';
import { TestClient } from '../fixtures/test-client.ts';
import { HEAVY_ROOM_SIZE } from '../../client/src/send-quality.ts';

/**
 * Issue 16 in real Chromium (fake camera, a beeping fake microphone, a fake screen): the
 * pre-join screen, the layout, link quality, who is speaking, the muted mark, and screen
 * sharing as the other page decodes it. The tests run in order and share one call.
 */

const PROBES = new URL('../fixtures/call-page-probes.js', import.meta.url).pathname;
/** Headless Chromium picks a screen for getDisplayMedia by itself (a fake wide one, not the 4:3 fake camera). */
const SCREEN_ARGS = ['--auto-select-desktop-capture-source=Entire screen'];

interface InboundVideo {
  framesDecoded: number;
  width: number;
  height: number;
}

/** Inbound video from `peer` on `p`: read from the connection feeding that peer's tile. */
async function inboundVideo(p: Page, peer: string): Promise<InboundVideo | null> {
  return await p.evaluate(async (name) => {
    const probe = (window as unknown as { __callProbe: { connectionFor(n: string): RTCPeerConnection | null } }).__callProbe;
    const pc = probe.connectionFor(name);
    if (pc === null) return null;
    const stats = await pc.getStats();
    let found: { framesDecoded: number; width: number; height: number } | null = null;
    stats.forEach((s: { type: string; kind?: string; framesDecoded?: number; frameWidth?: number; frameHeight?: number }) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video' && (s.framesDecoded ?? 0) > (found?.framesDecoded ?? -1)) {
        found = { framesDecoded: s.framesDecoded ?? 0, width: s.frameWidth ?? 0, height: s.frameHeight ?? 0 };
      }
    });
    return found;
  }, peer);
}

/** Polls until `check` holds for the inbound video, then checks frames keep rising. */
async function expectVideo(
  p: Page,
  peer: string,
  what: string,
  check: (v: InboundVideo) => boolean,
  timeoutMs = 20_000,
): Promise<InboundVideo> {
  const deadline = Date.now() + timeoutMs;
  let last: InboundVideo | null = null;
  while (Date.now() < deadline) {
    last = await inboundVideo(p, peer);
    if (last !== null && last.framesDecoded > 0 && check(last)) {
      await sleep(1000);
      const later = await inboundVideo(p, peer);
      expect(later?.framesDecoded ?? 0, `${what}: frames from ${peer} rising`).toBeGreaterThan(last.framesDecoded);
      return later as InboundVideo;
    }
    await sleep(300);
  }
  throw new Error(`${what}: not reached within ${timeoutMs} ms; last inbound video from ${peer}: ${JSON.stringify(last)}`);
}

describe('call page: pre-join, layout, quality, speaking, screen sharing', () => {
  let dyno: Dyno | undefined;
  let browser: Browser | undefined;
  let adaContext: BrowserContext | undefined;
  let ada: Page | undefined;
  let bob: CallPage | undefined;
  const room = `ux-${Date.now().toString(36)}`;
  const logs: string[] = [];
  const tile = (name: string): string => `[data-peer="${name}"]`;

  beforeAll(async () => {
    requireBuiltPage();
    dyno = await startDyno();
    browser = await launchChromium({ args: SCREEN_ARGS });
  });

  afterAll(async () => {
    await adaContext?.close().catch(() => undefined);
    await bob?.close();
    await browser?.close();
    await dyno?.stop();
  });

  it('pre-join: /?room=R previews the camera, lists the fake devices, meters the mic, joins with the chosen mic and remembers it', async () => {
    const origin = (dyno as Dyno).httpUrl;
    adaContext = await (browser as Browser).newContext({ viewport: { width: 1280, height: 800 } });
    await adaContext.addInitScript({ path: PROBES });
    ada = await adaContext.newPage();
    ada.on('console', (m) => logs.push(`[ada] ${m.type()}: ${m.text()}`));
    ada.on('pageerror', (e) => logs.push(`[ada] pageerror: ${e.message}`));
    await ada.goto(`${origin}/?room=${room}`);
    expect(await ada.getAttribute('#app', 'data-view')).toBe('join');
    await ada.waitForFunction(() => (document.querySelector('#preview-video') as HTMLVideoElement).videoWidth > 0, undefined, {
      timeout: 15_000,
    });
    const options = (select: string): Promise<string[]> =>
      (ada as Page).$$eval(`${select} option`, (o) => o.map((e) => e.textContent ?? ''));
    expect(await options('#camera-select')).toContain('fake_device_0');
    expect(await options('#mic-select')).toEqual(expect.arrayContaining(['Fake Audio Input 1', 'Fake Audio Input 2']));
    // The fake microphone beeps: the meter moves.
    await ada.waitForFunction(() => Number(document.querySelector('#mic-level')?.getAttribute('data-level')) > 0, undefined, {
      timeout: 10_000,
      polling: 20,
    });

    await ada.selectOption('#mic-select', { label: 'Fake Audio Input 2' });
    const previewMic = (): Promise<string | undefined> =>
      (ada as Page).evaluate(
        () => ((document.querySelector('#preview-video') as HTMLVideoElement).srcObject as MediaStream | null)?.getAudioTracks()[0]?.label,
      );
    await expect.poll(previewMic, { timeout: 10_000 }).toBe('Fake Audio Input 2');
    await ada.fill('#name-input', 'ada');
    await ada.click('#join-button');
    await ada.waitForSelector('#app[data-signaling="open"][data-view="call"]', { timeout: 20_000 });
    expect(new URL(ada.url()).searchParams.get('name')).toBeNull();

    bob = await openCallPage(browser as Browser, origin, room, 'bob');
    bob.page.on('console', (m) => logs.push(`[bob] ${m.type()}: ${m.text()}`));
    await expectVideo(bob.page, 'ada', 'bob sees ada', () => true);
    await expectVideo(ada, 'bob', 'ada sees bob', () => true);
    // What ada sends is the microphone she chose.
    const sentAudio = await ada.evaluate(() =>
      (window as unknown as { __callProbe: { connections: RTCPeerConnection[] } }).__callProbe.connections
        .filter((pc) => pc.connectionState === 'connected')
        .flatMap((pc) => pc.getSenders().map((s) => s.track?.label))
        .filter((l) => l?.startsWith('Fake Audio')),
    );
    expect(sentAudio).toEqual(['Fake Audio Input 2']);

    // The next visit starts with the same name and microphone.
    const again = await adaContext.newPage();
    await again.goto(`${origin}/?room=${room}`);
    await again.waitForFunction(() => (document.querySelector('#mic-select') as HTMLSelectElement).options.length > 1, undefined, {
      timeout: 15_000,
    });
    expect(await again.inputValue('#name-input')).toBe('ada');
    await expect
      .poll(() => again.$eval('#mic-select', (s) => (s as HTMLSelectElement).selectedOptions[0]?.textContent), { timeout: 10_000 })
      .toBe('Fake Audio Input 2');
    await again.close();
  });

  it('new room: a readable name of 80 random bits, and a plain warning that anyone with the link can join', async () => {
    const page = await (adaContext as BrowserContext).newPage();
    await page.goto(`${(dyno as Dyno).httpUrl}/`);
    expect(await page.isHidden('#room-note')).toBe(true);
    await page.click('#new-room');
    const name = await page.inputValue('#room-input');
    expect(name).toMatch(/^[a-km-np-z2-9]{4}(-[a-km-np-z2-9]{4}){3}$/);
    expect(await page.isVisible('#room-note')).toBe(true);
    expect(await page.textContent('#room-note')).toMatch(/Anyone with the link/);
    expect(new URL(page.url()).searchParams.get('room')).toBe(name);
    await page.click('#new-room');
    expect(await page.inputValue('#room-input')).not.toBe(name);
    await page.close();
  });

  it('layout: two people side by side and large; a click spotlights a tile, a second click goes back', async () => {
    const page = ada as Page;
    const box = await page.locator(tile('bob')).boundingBox();
    const local = await page.locator('#local-tile').boundingBox();
    expect(box?.width ?? 0, 'remote tile width on a 1280 px window').toBeGreaterThan(550);
    expect(box?.height ?? 0, 'remote tile height on an 800 px window').toBeGreaterThan(500);
    expect(Math.abs((local?.y ?? 0) - (box?.y ?? 0)), 'side by side').toBeLessThan(5);
    await page.click(tile('bob'));
    expect(await page.getAttribute(tile('bob'), 'data-spotlight')).toBe('true');
    expect(await page.getAttribute('#tiles', 'data-spotlight')).toBe('true');
    const spot = await page.locator(tile('bob')).boundingBox();
    expect(spot?.width ?? 0).toBeGreaterThan(1100);
    await page.click(tile('bob'));
    expect(await page.getAttribute(tile('bob'), 'data-spotlight')).toBeNull();
  });

  it('layout: a double-click puts a tile in full screen, another one leaves it', async () => {
    const page = ada as Page;
    const fullscreen = (): Promise<string | null> => page.evaluate(() => document.fullscreenElement?.getAttribute('data-peer') ?? null);
    await page.dblclick(tile('bob'));
    await expect.poll(fullscreen, { timeout: 5_000 }).toBe('bob');
    await page.dblclick(tile('bob'));
    await expect.poll(fullscreen, { timeout: 5_000 }).toBeNull();
    // The double-click's two clicks toggled the spotlight on and off again.
    expect(await page.getAttribute(tile('bob'), 'data-spotlight')).toBeNull();
  });

  it("quality shows on the tile with the numbers in its tooltip; the tone lights the speaker's tile; mute shows a mark to the other", async () => {
    const page = ada as Page;
    await page.waitForSelector(`${tile('bob')}[data-quality="good"]`, { timeout: 10_000 });
    expect(await page.getAttribute(`${tile('bob')} .quality`, 'title')).toMatch(/Round trip \d+ ms, packet loss [\d.]+ %/);
    await page.waitForSelector(`${tile('bob')}[data-speaking="true"]`, { timeout: 15_000 });
    await (bob as CallPage).page.waitForSelector(`${tile('ada')}[data-speaking="true"]`, { timeout: 15_000 });

    await (bob as CallPage).page.click('#mic');
    await page.waitForSelector(`${tile('bob')}[data-muted="true"]`, { timeout: 5_000 });
    expect(await page.isVisible(`${tile('bob')} .muted-mark`)).toBe(true);
    // Muted: silence, so the highlight goes (and stays off).
    await sleep(2500);
    expect(await page.getAttribute(tile('bob'), 'data-speaking')).toBe('false');
    await (bob as CallPage).page.click('#mic');
    await page.waitForSelector(`${tile('bob')}[data-muted="false"]`, { timeout: 5_000 });
  });

  it("screen sharing: the other page decodes the screen in the sharer's tile; the browser's stop and the button both restore the camera", async () => {
    const page = ada as Page;
    const other = (bob as CallPage).page;
    const aspect = (v: InboundVideo): number => v.width / Math.max(1, v.height);
    const camera = await expectVideo(other, 'ada', 'camera before sharing', () => true);
    expect(aspect(camera)).toBeCloseTo(4 / 3, 1);
    expect(await page.isVisible('#share')).toBe(true);

    await page.click('#share');
    await page.waitForSelector('#app[data-sharing="true"]', { timeout: 10_000 });
    expect(await page.textContent('#share')).toBe('Stop sharing');
    await expectVideo(other, 'ada', 'screen (wide: 16:9 or 16:10) decoded by bob', (v) => aspect(v) > 1.5);
    await other.waitForSelector(`${tile('ada')}[data-screen="true"]`, { timeout: 5_000 });

    // The browser's own "stop sharing" ends the track.
    await page.evaluate(() => {
      const track = (
        (document.querySelector('#local-video') as HTMLVideoElement).srcObject as MediaStream
      ).getVideoTracks()[0] as MediaStreamTrack;
      track.stop();
      track.dispatchEvent(new Event('ended'));
    });
    await page.waitForSelector('#app[data-sharing="false"]', { timeout: 10_000 });
    await expectVideo(other, 'ada', 'camera (4:3) back after the browser stopped sharing', (v) => Math.abs(aspect(v) - 4 / 3) < 0.05);

    await page.click('#share');
    await expectVideo(other, 'ada', 'screen again', (v) => aspect(v) > 1.5);
    await page.click('#share');
    await page.waitForSelector('#app[data-sharing="false"]', { timeout: 10_000 });
    await expectVideo(other, 'ada', 'camera (4:3) back after the stop button', (v) => Math.abs(aspect(v) - 4 / 3) < 0.05);
    await other.waitForSelector(`${tile('ada')}[data-screen="false"]`, { timeout: 5_000 });
  });

  it('devices during the call: switching the microphone replaces the sent track without renegotiating', async () => {
    const page = ada as Page;
    const offers = (): Promise<number> =>
      page.evaluate(() => (window as unknown as { __callProbe: { connections: RTCPeerConnection[] } }).__callProbe.connections.length);
    const before = await offers();
    const localDescription = (): Promise<string | undefined> =>
      page.evaluate(
        () =>
          (window as unknown as { __callProbe: { connectionFor(n: string): RTCPeerConnection | null } }).__callProbe.connectionFor('bob')
            ?.localDescription?.sdp,
      );
    const sdpBefore = await localDescription();
    await page.click('#devices');
    expect(await page.isVisible('#call-devices')).toBe(true);
    await page.selectOption('#call-mic-select', { label: 'Fake Audio Input 1' });
    const sent = (): Promise<string[]> =>
      page.evaluate(() =>
        (window as unknown as { __callProbe: { connections: RTCPeerConnection[] } }).__callProbe.connections
          .filter((pc) => pc.connectionState === 'connected')
          .flatMap((pc) => pc.getSenders().map((s) => s.track?.label ?? ''))
          .filter((l) => l.startsWith('Fake Audio')),
      );
    await expect.poll(sent, { timeout: 10_000 }).toEqual(['Fake Audio Input 1']);
    expect(await offers()).toBe(before);
    expect(await localDescription(), 'no renegotiation').toBe(sdpBefore);
    await page.waitForSelector(`${tile('bob')}[data-speaking="true"]`, { timeout: 15_000 });
    await (bob as CallPage).page.waitForSelector(`${tile('ada')}[data-speaking="true"]`, { timeout: 15_000 });
  });

  it('devices during the call: the speaker choice reaches every remote video; an unplugged microphone falls back and the page says so', async () => {
    const page = ada as Page;
    await page.selectOption('#call-speaker-select', { label: 'Fake Audio Output 1' });
    const chosen = await page.inputValue('#call-speaker-select');
    await expect
      .poll(() => page.$eval(`${tile('bob')} video`, (v) => (v as HTMLVideoElement & { sinkId: string }).sinkId), { timeout: 5_000 })
      .toBe(chosen);
    // Unplugging ends the track (the fake device cannot be unplugged, so the track is ended as the browser would).
    await page.evaluate(() => {
      const stream = (document.querySelector('#local-video') as HTMLVideoElement).srcObject as MediaStream;
      const track = stream.getAudioTracks()[0] as MediaStreamTrack;
      track.stop();
      track.dispatchEvent(new Event('ended'));
    });
    await page.waitForSelector('#call-notice:not([hidden])', { timeout: 10_000 });
    expect(await page.textContent('#call-notice')).toMatch(/^Your microphone was disconnected: now using “[^”]*Fake[^”]*”\.$/);
    const sent = (): Promise<string[]> =>
      page.evaluate(() =>
        (window as unknown as { __callProbe: { connections: RTCPeerConnection[] } }).__callProbe.connections
          .filter((pc) => pc.connectionState === 'connected')
          .flatMap((pc) => pc.getSenders().map((s) => `${s.track?.label ?? ''}:${s.track?.readyState ?? ''}`))
          .filter((l) => l.includes('Audio Input')),
      );
    await expect.poll(sent, { timeout: 10_000 }).toEqual([expect.stringMatching(/^Fake (Default Audio Input|Audio Input 2):live$/)]);
    await (bob as CallPage).page.waitForSelector(`${tile('ada')}[data-speaking="true"]`, { timeout: 15_000 });
  });

  it('quality turns bad on the other page when a peer stops sending', async () => {
    await (bob as CallPage).page.evaluate(() => {
      for (const pc of (window as unknown as { __callProbe: { connections: RTCPeerConnection[] } }).__callProbe.connections) {
        for (const sender of pc.getSenders()) sender.track?.stop();
      }
    });
    await (ada as Page).waitForSelector(`${tile('bob')}[data-quality="bad"]`, { timeout: 10_000 });
    await waitForSignaling(bob as CallPage, 'open', 1000);
  });

  it(`past ${HEAVY_ROOM_SIZE} people the page says a mesh call gets heavy, and stops saying it when they leave`, async () => {
    const page = ada as Page;
    expect(await page.isHidden('#heavy-notice')).toBe(true);
    // Signaling-only members (no browser: seven pages are too heavy for a 2-core CI box) fill the room.
    const extras: TestClient[] = [];
    try {
      for (let i = 1; extras.length + 2 <= HEAVY_ROOM_SIZE; i++) {
        const client = await TestClient.connect((dyno as Dyno).wsUrl());
        extras.push(client);
        expect(await client.join(room, `extra-${i}`)).toMatchObject({ type: 'joined' });
      }
      await page.waitForSelector('#heavy-notice:not([hidden])', { timeout: 10_000 });
      expect(await page.textContent('#heavy-notice')).toContain(String(HEAVY_ROOM_SIZE + 1));
    } finally {
      for (const client of extras) client.send({ type: 'leave' });
    }
    await page.waitForSelector('#heavy-notice', { state: 'hidden', timeout: 10_000 });
    for (const client of extras) client.ws.close();
  });

  it('after leaving, Join on the pre-join screen opens the camera again and the other sees it', async () => {
    const page = ada as Page;
    await page.click('#leave');
    await page.waitForSelector('#app[data-view="join"][data-signaling="closed"]', { timeout: 5_000 });
    expect(await page.inputValue('#name-input')).toBe('ada');
    await page.click('#join-button');
    await page.waitForSelector('#app[data-signaling="open"][data-view="call"]', { timeout: 20_000 });
    await expectVideo((bob as CallPage).page, 'ada', 'bob sees ada after her second join', () => true);
  });
});
