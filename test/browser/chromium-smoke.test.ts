import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../fixtures/chromium.ts';

// Proves the browser toolchain the WebRTC tests rely on: system Chromium starts
// under Playwright, loads a loopback page, runs its JS, and gets fake media.

const PAGE = `<!doctype html><meta charset="utf-8"><title>smoke</title>
<script type="module">
  const reply = await fetch("/echo?word=" + encodeURIComponent("こんにちは")).then((r) => r.json());
  document.title = "echo:" + reply.word;
</script>`;

let server: Server;
let baseUrl: string;
let browser: Browser;

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/echo') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ word: url.searchParams.get('word') }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(PAGE);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

describe('chromium smoke', () => {
  it('loads a loopback page whose script round-trips through the server', async () => {
    const page = await browser.newPage();
    await page.goto(`${baseUrl}/`);
    await page.waitForFunction(() => document.title.startsWith('echo:'));
    expect(await page.title()).toBe('echo:こんにちは');
    await page.close();
  });

  it('has WebRTC and a fake camera without a permission prompt', async () => {
    const page = await browser.newPage();
    // 127.0.0.1 is a secure context, so getUserMedia is available over plain http.
    await page.goto(`${baseUrl}/`);
    const result = await page.evaluate(async () => {
      const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
      const kinds = stream
        .getTracks()
        .map((t) => t.kind)
        .sort();
      stream.getTracks().forEach((t) => t.stop());
      const pc = new RTCPeerConnection();
      pc.createDataChannel('probe');
      const offer = await pc.createOffer();
      pc.close();
      return { kinds, offerType: offer.type, hasSdp: (offer.sdp ?? '').startsWith('v=0') };
    });
    expect(result).toEqual({ kinds: ['audio', 'video'], offerType: 'offer', hasSdp: true });
    await page.close();
  });
});
