import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Front, startFront } from '../fixtures/article-front.ts';
import { launchChromium } from '../fixtures/chromium.ts';
import type { Cluster } from '../fixtures/dyno.ts';
import { startCluster } from '../fixtures/dyno.ts';
import type { RedisFixture } from '../fixtures/redis.ts';
import { startRedis, uniquePrefix } from '../fixtures/redis.ts';

/**
 * The original article's browser client, unmodified (article-page/article-client.js), in
 * three headless Chromium pages of one room spread over two dynos sharing Redis. Each page
 * must decode video from both others.
 *
 * The article's client connects to location.origin + '/video_chat/signaling', so a page must
 * come from the same origin as its dyno. Each dyno gets a small front server, as the Heroku
 * router is: it serves the page files and pipes WebSocket upgrades to that one dyno.
 */

interface PeerStats {
  /** MediaStream ids in the remote description (a=msid): which page this peer receives from. */
  remoteStreams: string[];
  connectionState: string;
  framesDecoded: number;
}

interface PageState {
  selfStreamId: string | null;
  error: string | null;
  peers: PeerStats[];
}

type ArticleWindow = Window & {
  articlePeers?: RTCPeerConnection[];
  articleSelfStreamId?: string;
  articleError?: string;
};

async function readState(page: Page): Promise<PageState> {
  return await page.evaluate(async () => {
    const w = window as ArticleWindow;
    const peers = await Promise.all(
      (w.articlePeers ?? []).map(async (pc) => {
        let framesDecoded = 0;
        (await pc.getStats()).forEach((s: { type?: string; kind?: string; framesDecoded?: number }) => {
          if (s.type === 'inbound-rtp' && s.kind === 'video') framesDecoded += s.framesDecoded ?? 0;
        });
        const sdp = pc.remoteDescription?.sdp ?? '';
        const remoteStreams = [...new Set([...sdp.matchAll(/^a=msid:(\S+)/gm)].map((m) => m[1] as string))];
        return { remoteStreams, connectionState: pc.connectionState, framesDecoded };
      }),
    );
    return { selfStreamId: w.articleSelfStreamId ?? null, error: w.articleError ?? null, peers };
  });
}

describe('the article client, unmodified, over two dynos', () => {
  let redis: RedisFixture;
  let cluster: Cluster;
  let fronts: Front[] = [];
  let browser: Browser;
  const pages: Page[] = [];
  const logs: string[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    cluster = await startCluster('redis', { redisUrl: redis.url, env: { REDIS_PREFIX: uniquePrefix('article-browser') } });
    fronts = await Promise.all(cluster.dynos.map((d) => startFront(d.port)));
    browser = await launchChromium();
  });

  afterAll(async () => {
    await Promise.all(pages.map((p) => p.close().catch(() => undefined)));
    await browser?.close();
    await Promise.all(fronts.map((f) => f.close()));
    await cluster?.stop();
    await redis?.stop();
  });

  it('three pages in one room, on two dynos, each decode video from the two others', async () => {
    const room = `article-room-${Date.now()}`;
    const members = [
      { name: 'alice', front: 0 },
      { name: 'bob', front: 1 },
      { name: 'carol', front: 0 },
    ];
    for (const m of members) {
      const page = await browser.newPage();
      page.on('console', (msg) => logs.push(`[${m.name}] ${msg.type()}: ${msg.text()}`));
      page.on('pageerror', (error) => logs.push(`[${m.name}] pageerror: ${error.message}`));
      pages.push(page);
      const front = fronts[m.front] as Front;
      await page.goto(`${front.origin}/?room=${encodeURIComponent(room)}&name=${encodeURIComponent(m.name)}`);
      // Wait for getUserMedia, so the pages open the room in this order.
      await page.waitForFunction(() => (window as ArticleWindow).articleSelfStreamId !== undefined, undefined, { timeout: 15_000 });
    }
    const selfIds = await Promise.all(pages.map(async (p) => (await readState(p)).selfStreamId));

    /** Each page: one peer per other page, every one decoding video. */
    const snapshot = async (): Promise<{ ok: boolean; decoded: number[][]; states: PageState[] }> => {
      const states = await Promise.all(pages.map(readState));
      let ok = true;
      const decoded = states.map((state, i) => {
        const others = selfIds.filter((_, j) => j !== i);
        return others.map((id) => {
          const peer = state.peers.find((p) => p.remoteStreams.includes(id as string));
          if (!peer || peer.framesDecoded === 0) ok = false;
          return peer?.framesDecoded ?? 0;
        });
      });
      if (states.some((s) => s.error !== null || s.peers.length !== 2)) ok = false;
      return { ok, decoded, states };
    };

    const deadline = Date.now() + 60_000;
    let first = await snapshot();
    while (!first.ok && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      first = await snapshot();
    }
    const explain = (what: string, s: unknown): string => `${what}\n${JSON.stringify(s, null, 1)}\npage logs:\n${logs.join('\n')}`;
    expect(first.ok, explain('not every page decodes video from both others', first.states)).toBe(true);

    // And the video keeps flowing: every counter rises.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const later = await snapshot();
    for (const [i, row] of later.decoded.entries()) {
      for (const [k, frames] of row.entries()) {
        expect(frames, explain(`page ${i} remote ${k} stopped decoding`, { first: first.decoded, later: later.decoded })).toBeGreaterThan(
          first.decoded[i]?.[k] ?? 0,
        );
      }
    }
    for (const state of later.states) {
      expect(state.peers.map((p) => p.connectionState)).toEqual(['connected', 'connected']);
    }
    // The signaling really was spread: each dyno logged the opens of its own pages.
    for (const m of members) {
      const joinedOn = cluster.dynos.map((d) =>
        d.output.some((line) => line.includes('"msg":"joined"') && line.includes(`"name":"${m.name}"`)),
      );
      expect(joinedOn, `${m.name} joined on`).toEqual(cluster.dynos.map((_, i) => i === m.front));
    }
  });
});
