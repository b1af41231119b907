import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../fixtures/chromium.ts';
import type { Coturn } from '../fixtures/coturn.ts';
import { startCoturn } from '../fixtures/coturn.ts';
import type { Cluster } from '../fixtures/dyno.ts';
import { startCluster } from '../fixtures/dyno.ts';
import type { RedisFixture } from '../fixtures/redis.ts';
import { startRedis, uniquePrefix } from '../fixtures/redis.ts';

/**
 * A relay-only call through a real coturn, with credentials minted by the cluster: two
 * Chromium pages on two dynos (sharing Redis), opened with `relay=1`, so the only way media can
 * flow is through TURN relays allocated with the credentials from `joined`. Then the dynos get
 * a secret coturn does not know: no relay, no call, and the page says why.
 *
 * The names hold ':' and '☕' on purpose: coturn splits the username at the first ':' and
 * refuses some UTF-8 bytes, which the credential format must survive.
 */
const PUBLIC = fileURLToPath(new URL('../../dist/public/', import.meta.url));
const RELAY_MESSAGE = 'through the TURN relay: check the TURN settings';
const SECRET = randomBytes(24).toString('hex');
const ADA = 'Ada: ☕';
const BOB = 'Bob:1';

let redis: RedisFixture;
let coturn: Coturn;
let browser: Browser;
let cluster: Cluster | undefined;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  let page = '';
  try {
    page = readFileSync(`${PUBLIC}main.js`, 'utf8');
  } catch {
    throw new Error(`dist/public/main.js is missing: run \`npm run build\` before the browser tests (${PUBLIC})`);
  }
  if (!page.includes(RELAY_MESSAGE)) throw new Error('dist/public/main.js predates the TURN relay message: run `npm run build` again');
  [redis, coturn, browser] = await Promise.all([startRedis(), startCoturn({ secret: SECRET }), launchChromium()]);
});

afterEach(async () => {
  for (const context of contexts.splice(0)) await context.close();
  await cluster?.stop();
  cluster = undefined;
});

afterAll(async () => {
  await browser?.close();
  await coturn?.stop();
  await redis?.stop();
});

async function startDynos(turnSecret: string): Promise<Cluster> {
  cluster = await startCluster('redis', {
    redisUrl: redis.url,
    env: { REDIS_PREFIX: uniquePrefix('turn'), TURN_URLS: coturn.url, TURN_SECRET: turnSecret, TURN_TTL: '600' },
  });
  return cluster;
}

/** The call page of `name` in `room` on `httpUrl`, relay only, with its peer connections kept for inspection. */
async function openPage(httpUrl: string, room: string, name: string): Promise<Page> {
  const context = await browser.newContext();
  contexts.push(context);
  const page = await context.newPage();
  await page.addInitScript(() => {
    const Native = window.RTCPeerConnection;
    const all: RTCPeerConnection[] = [];
    (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs = all;
    window.RTCPeerConnection = class extends Native {
      constructor(configuration?: RTCConfiguration) {
        super(configuration);
        all.push(this);
      }
    };
  });
  const query = new URLSearchParams({ room, name, relay: '1' });
  await page.goto(`${httpUrl}/?${query.toString()}`);
  return page;
}

interface MediaFacts {
  framesDecoded: number;
  localType: string | undefined;
  remoteType: string | undefined;
  iceTransportPolicy: string | undefined;
  turnUsername: string | undefined;
}

/** What the page's live peer connection reports: decoded video frames and the selected pair. */
function mediaFacts(page: Page): Promise<MediaFacts | null> {
  return page.evaluate(async () => {
    const pcs = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs.filter((pc) => pc.connectionState === 'connected');
    const pc = pcs[pcs.length - 1];
    if (pc === undefined) return null;
    const stats = [...(await pc.getStats()).values()] as Array<Record<string, unknown>>;
    const byId = new Map(stats.map((s) => [s['id'], s]));
    const video = stats.find((s) => s['type'] === 'inbound-rtp' && s['kind'] === 'video');
    const transport = stats.find((s) => s['type'] === 'transport');
    const pair = byId.get(transport?.['selectedCandidatePairId']);
    const configuration = pc.getConfiguration();
    return {
      framesDecoded: Number(video?.['framesDecoded'] ?? 0),
      localType: byId.get(pair?.['localCandidateId'])?.['candidateType'] as string | undefined,
      remoteType: byId.get(pair?.['remoteCandidateId'])?.['candidateType'] as string | undefined,
      iceTransportPolicy: configuration.iceTransportPolicy,
      turnUsername: configuration.iceServers?.[0]?.username,
    };
  });
}

const tile = (peer: string): string => `[data-peer="${peer.replace(/["\\]/g, '\\$&')}"]`;

describe('TURN relay with credentials minted by the cluster', () => {
  it('connects two relay-only pages on two dynos through coturn and decodes video both ways', async () => {
    const dynos = await startDynos(SECRET);
    const room = `relay-${randomBytes(4).toString('hex')}`;
    const [ada, bob] = await Promise.all([openPage(dynos.dyno(0).httpUrl, room, ADA), openPage(dynos.dyno(1).httpUrl, room, BOB)]);
    await ada.locator(`${tile(BOB)}[data-connection="connected"]`).waitFor({ timeout: 30_000 });
    await bob.locator(`${tile(ADA)}[data-connection="connected"]`).waitFor({ timeout: 30_000 });

    const first = await Promise.all([mediaFacts(ada), mediaFacts(bob)]);
    await ada.waitForTimeout(1500);
    const later = await Promise.all([mediaFacts(ada), mediaFacts(bob)]);
    for (const [i, name] of [ADA, BOB].entries()) {
      const before = first[i]!;
      const after = later[i]!;
      expect(after, name).toMatchObject({ localType: 'relay', remoteType: 'relay', iceTransportPolicy: 'relay' });
      expect(after.turnUsername, name).toMatch(/^\d+:[A-Za-z0-9_-]+$/);
      expect(Buffer.from(after.turnUsername!.split(':')[1]!, 'base64url').toString('utf8')).toBe(name);
      expect(before.framesDecoded, `${name} decodes video`).toBeGreaterThan(0);
      expect(after.framesDecoded, `${name} keeps decoding`).toBeGreaterThan(before.framesDecoded);
    }
    expect(await ada.locator('#call-problems').isHidden()).toBe(true);
  });

  it('does not connect when the dynos mint with a secret coturn does not know, and the page says why', async () => {
    const dynos = await startDynos(randomBytes(24).toString('hex'));
    const room = `wrong-${randomBytes(4).toString('hex')}`;
    const [ada, bob] = await Promise.all([openPage(dynos.dyno(0).httpUrl, room, ADA), openPage(dynos.dyno(1).httpUrl, room, BOB)]);
    const problem = (page: Page) => page.locator('#call-problems');
    await expect.poll(() => problem(ada).textContent(), { timeout: 30_000 }).toContain(`Could not connect to ${BOB} ${RELAY_MESSAGE}`);
    await expect.poll(() => problem(bob).textContent(), { timeout: 30_000 }).toContain(`Could not connect to ${ADA} ${RELAY_MESSAGE}`);
    expect(await problem(ada).isVisible()).toBe(true);
    expect(await problem(ada).getAttribute('role')).toBe('alert');
    // Signaling worked (each sees the other's tile); only the relay refused them.
    for (const [page, peer] of [
      [ada, BOB],
      [bob, ADA],
    ] as const) {
      expect(await page.locator('#app').getAttribute('data-signaling')).toBe('open');
      expect(await page.locator(tile(peer)).getAttribute('data-connection')).not.toBe('connected');
      expect(await mediaFacts(page)).toBeNull();
    }
    expect(coturn.output.join('\n')).toMatch(/check_stun_auth|401|credentials/i);
  });
});
