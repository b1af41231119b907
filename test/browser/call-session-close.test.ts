import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CallPage, inviteUrl, openCallPage, peerVideo, requireBuiltPage, sleep, waitForSignaling } from '../fixtures/call-pages.ts';
import { launchChromium } from '../fixtures/chromium.ts';
import { type Dyno, startDyno } from '../fixtures/dyno.ts';

/**
 * The call as one object: leaving a call (CallSession.close()) leaves nothing behind that the
 * call built. An init script counts, from the page's own calls, timers (setInterval and
 * pending setTimeout), event listeners (addEventListener minus removeEventListener), media
 * tracks (getUserMedia), peer connections and audio contexts; the page is measured when it
 * first asks for the camera (everything the page itself keeps is set up by then) and again
 * after Leave, in a real two-person call that ran long enough for statistics to flow.
 */
const COUNT = `(() => {
  const intervals = new Set();
  const timeouts = new Set();
  const listeners = [];
  const connections = [];
  const tracks = [];
  const audioContexts = [];
  const { setInterval: si, clearInterval: ci, setTimeout: st, clearTimeout: ct } = window;
  window.setInterval = function (fn, ms, ...rest) { const id = si.call(window, fn, ms, ...rest); intervals.add(id); return id; };
  window.setTimeout = function (fn, ms, ...rest) {
    const id = st.call(window, (...args) => { timeouts.delete(id); if (typeof fn === 'function') fn(...args); }, ms, ...rest);
    timeouts.add(id);
    return id;
  };
  window.clearInterval = window.clearTimeout = function (id) { intervals.delete(id); timeouts.delete(id); ci.call(window, id); ct.call(window, id); };
  const add = EventTarget.prototype.addEventListener;
  const remove = EventTarget.prototype.removeEventListener;
  const capture = (o) => (typeof o === 'boolean' ? o : !!(o && o.capture));
  // Only listeners the page's own code (its bundle, main.js) adds: the test's probes and
  // Playwright's helpers add some of their own. Frames: Error, fromPage, addEventListener, caller.
  const fromPage = () => ((new Error().stack || '').split('\\n')[3] || '').includes('/main.js:');
  EventTarget.prototype.addEventListener = function (type, fn, options) {
    if (fn && fromPage() && !listeners.some((l) => l.target === this && l.type === type && l.fn === fn && l.capture === capture(options))) {
      listeners.push({ target: this, type, fn, capture: capture(options), what: (this.constructor && this.constructor.name) + ':' + type });
    }
    return add.call(this, type, fn, options);
  };
  EventTarget.prototype.removeEventListener = function (type, fn, options) {
    const i = listeners.findIndex((l) => l.target === this && l.type === type && l.fn === fn && l.capture === capture(options));
    if (i >= 0) listeners.splice(i, 1);
    return remove.call(this, type, fn, options);
  };
  const NativePc = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends NativePc { constructor(...a) { super(...a); connections.push(this); } };
  const NativeAudio = window.AudioContext;
  window.AudioContext = class extends NativeAudio { constructor(...a) { super(...a); audioContexts.push(this); } };
  let baseline = null;
  const snapshot = () => ({
    intervals: intervals.size,
    timeouts: timeouts.size,
    listeners: listeners.map((l) => l.what).sort(),
    openConnections: connections.filter((pc) => pc.signalingState !== 'closed').length,
    connections: connections.length,
    liveTracks: tracks.filter((t) => t.readyState === 'live').length,
    tracks: tracks.length,
    openAudioContexts: audioContexts.filter((c) => c.state !== 'closed').length,
  });
  const gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    baseline ??= snapshot();
    const stream = await gum(constraints);
    tracks.push(...stream.getTracks());
    return stream;
  };
  window.__count = { snapshot, baseline: () => baseline };
})();`;

interface Counts {
  intervals: number;
  timeouts: number;
  listeners: string[];
  openConnections: number;
  connections: number;
  liveTracks: number;
  tracks: number;
  openAudioContexts: number;
}

type CountWindow = Window & { __count: { snapshot(): Counts; baseline(): Counts | null } };

describe('leaving a call undoes everything the call built', () => {
  let dyno: Dyno | undefined;
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  let bob: CallPage | undefined;
  const logs: string[] = [];

  beforeAll(async () => {
    requireBuiltPage();
    dyno = await startDyno();
    browser = await launchChromium();
  });

  afterAll(async () => {
    await context?.close().catch(() => undefined);
    await bob?.close();
    await browser?.close();
    await dyno?.stop();
  });

  it('after Leave: no timer, listener, track, peer connection or audio context of the call is left', async () => {
    const room = `close-${Date.now().toString(36)}`;
    context = await browser!.newContext();
    await context.addInitScript({ content: COUNT });
    await context.addInitScript({ path: new URL('../fixtures/call-page-probes.js', import.meta.url).pathname });
    const page: Page = await context.newPage();
    page.on('console', (msg) => logs.push(`[ada] ${msg.type()}: ${msg.text()}`));
    page.on('pageerror', (error) => logs.push(`[ada] pageerror: ${error.message}`));
    await page.goto(inviteUrl(dyno!.httpUrl, room, 'ada'));
    const ada: CallPage = { name: 'ada', page, context, logs, close: async () => undefined };
    await waitForSignaling(ada, 'open', 30_000);
    bob = await openCallPage(browser!, dyno!.httpUrl, room, 'bob');
    const deadline = Date.now() + 30_000;
    while (((await peerVideo(ada, ['bob']))['bob']?.framesDecoded ?? 0) === 0) {
      if (Date.now() > deadline) throw new Error(`ada never decoded bob's video\n${logs.join('\n')}`);
      await sleep(200);
    }
    // Statistics flow (quality badge on bob's tile): the sampler and its timers are running;
    // our own tile lights up with the fake microphone's tone, from the same samples.
    await page.waitForSelector('[data-peer="bob"][data-quality]', { timeout: 15_000 });
    await page.waitForSelector('#local-tile[data-speaking="true"]', { timeout: 15_000 });
    const during = await page.evaluate(() => (window as unknown as CountWindow).__count.snapshot());
    const baseline = await page.evaluate(() => (window as unknown as CountWindow).__count.baseline());
    expect(baseline).not.toBeNull();
    // The call had something to undo.
    expect(during.openConnections).toBe(1);
    expect(during.liveTracks).toBe(2);
    expect(during.listeners.length).toBeGreaterThan(baseline!.listeners.length);
    expect(during.intervals).toBeGreaterThan(baseline!.intervals);

    // A click from the page itself: Playwright's own click would add listeners of its own.
    await page.evaluate(() => (document.getElementById('leave') as HTMLButtonElement).click());
    await page.waitForSelector('#app[data-view="join"]');
    // Timeouts already running may still fire (a getStats given up after 2 s): let them.
    await sleep(2_500);
    const after = await page.evaluate(() => (window as unknown as CountWindow).__count.snapshot());
    expect(after.intervals, 'intervals').toBe(baseline!.intervals);
    expect(after.timeouts, 'pending timeouts').toBeLessThanOrEqual(baseline!.timeouts);
    expect(after.listeners, 'listeners').toEqual(baseline!.listeners);
    expect(after.openConnections, 'open peer connections').toBe(0);
    expect(after.connections).toBeGreaterThanOrEqual(1);
    expect(after.liveTracks, 'live tracks').toBe(0);
    expect(after.openAudioContexts, 'open audio contexts').toBe(0);
    expect(await page.getAttribute('#local-tile', 'data-speaking')).toBe('false');
    // And bob saw ada go.
    await bob.page.waitForSelector('[data-peer="ada"]', { state: 'detached', timeout: 10_000 });
  });
});
