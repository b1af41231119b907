import type { Server } from 'node:http';
import { PeerServer } from 'peer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster } from '../fixtures/dyno.ts';
import { startCluster } from '../fixtures/dyno.ts';
import { freePort } from '../fixtures/free-port.ts';
import type { RedisFixture } from '../fixtures/redis.ts';
import { startRedis, uniquePrefix } from '../fixtures/redis.ts';
import { RawSocket, sleep } from '../fixtures/raw-socket.ts';

/**
 * The same raw frames sent to the reference PeerJS server (npm `peer` 1.0.2, started here,
 * once at `/` and once at `/peerjs`) and to two of our dynos sharing a Redis, with what comes
 * back compared. Ids differ per server and are replaced by their role before comparing.
 * Deliberate differences (docs/protocol.md, PeerJS) are asserted as such: OPEN on a takeover
 * and the old socket closed; `GET /` is our page; cluster-wide queue and discovery.
 */

interface Target {
  name: string;
  /** WebSocket URL of base `base` with `query`, through dyno `i` (the reference has one process). */
  ws(base: string, query: string, i?: number): string;
  http(base: string, i?: number): string;
}

const BASES = ['/', '/peerjs/'] as const;
let references: Server[] = [];
let refPorts: Record<string, number> = {};
let redis: RedisFixture;
let cluster: Cluster;
let seq = 0;
const sockets: RawSocket[] = [];

async function open(url: string): Promise<RawSocket> {
  const socket = await RawSocket.open(url);
  sockets.push(socket);
  return socket;
}

const reference: Target = {
  name: 'reference',
  ws: (base, query) => `ws://127.0.0.1:${refPorts[base]}${base}peerjs?${query}`,
  http: (base) => `http://127.0.0.1:${refPorts[base]}${base}`,
};
const ours: Target = {
  name: 'ours',
  ws: (base, query, i = 0) => `${cluster.dyno(i).wsUrl(`${base}peerjs`)}?${query}`,
  http: (base, i = 0) => `${cluster.dyno(i).httpUrl}${base}`,
};

/** Fresh ids per run, and a function turning them back into their roles for comparison. */
function roles(...names: string[]): { id: Record<string, string>; norm: (frames: string[]) => string[] } {
  const run = ++seq;
  const id = Object.fromEntries(names.map((n) => [n, `${n}${run}x${Math.random().toString(36).slice(2, 8)}`]));
  const norm = (frames: string[]): string[] =>
    frames.map((f) => Object.entries(id).reduce((text, [role, real]) => text.split(real).join(`<${role}>`), f));
  return { id, norm };
}

beforeAll(async () => {
  for (const base of BASES) {
    const port = await freePort();
    const server = await new Promise<Server>((resolve) => {
      const app = PeerServer({ port, host: '127.0.0.1', path: base, allow_discovery: true, expire_timeout: 5000 }, (s) => resolve(s));
      // Without a listener the reference throws on malformed JSON (an 'error' event) and the process dies.
      app.on('error', () => undefined);
    });
    references.push(server);
    refPorts[base] = port;
  }
  redis = await startRedis();
  cluster = await startCluster('redis', { redisUrl: redis.url, env: { REDIS_PREFIX: uniquePrefix('pjc'), PEERJS_DISCOVERY: 'true' } });
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await cluster?.stop();
  await redis?.stop();
  for (const server of references) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  references = [];
  refPorts = {};
});

describe.each(BASES)('PeerJS at base %s: ours answers as npm peer 1.0.2', (base) => {
  it('refuses missing parameters and a wrong key with the same ERROR frames and close', async () => {
    const queries = ['', 'key=peerjs&id=x', 'key=peerjs&token=t', 'id=x&token=t', 'key=wrong&id=x&token=t'];
    const transcript = async (t: Target): Promise<Array<[string[], number]>> =>
      Promise.all(
        queries.map(async (q) => {
          const s = await open(t.ws(base, q));
          const code = await s.waitClose();
          return [s.frames, code] as [string[], number];
        }),
      );
    const [want, got] = await Promise.all([transcript(reference), transcript(ours)]);
    expect(want[0]?.[0]).toEqual(['{"type":"ERROR","payload":{"msg":"No id, token, or key supplied to websocket server"}}']);
    expect(want[4]?.[0]).toEqual(['{"type":"ERROR","payload":{"msg":"Invalid key provided"}}']);
    expect(got).toEqual(want);
  });

  it('relays OFFER, ANSWER, CANDIDATE and LEAVE with src stamped, ignores the rest, and answers ID-TAKEN', async () => {
    const transcript = async (t: Target): Promise<Record<string, unknown>> => {
      const { id, norm } = roles('a', 'b');
      const a = await open(t.ws(base, `key=peerjs&id=${id.a}&token=ta&version=1.5.5`, 0));
      const b = await open(t.ws(base, `key=peerjs&id=${id.b}&token=tb`, 1));
      await Promise.all([a.waitFrames(1), b.waitFrames(1)]);
      a.send({
        type: 'OFFER',
        src: 'forged',
        dst: id.b,
        payload: { sdp: { type: 'offer', sdp: 'v=0' }, type: 'data', connectionId: 'dc_1' },
        extra: true,
      });
      a.send('not json');
      a.send({ type: 'FOO', dst: id.b, payload: 1 });
      a.send({ type: 'OFFER', payload: 1 });
      a.send({ type: 'HEARTBEAT' });
      await b.waitFrames(2);
      b.send({ type: 'ANSWER', dst: id.a, payload: { sdp: 'answer', connectionId: 'dc_1' } });
      b.send({ type: 'CANDIDATE', dst: id.a, payload: { candidate: { candidate: 'c', sdpMLineIndex: 0 }, connectionId: 'dc_1' } });
      await a.waitFrames(3);
      a.send({ type: 'CANDIDATE', dst: id.b });
      a.send({ type: 'LEAVE', dst: id.b });
      await b.waitFrames(4);
      // Another token for a connected id, through the other dyno.
      const thief = await open(t.ws(base, `key=peerjs&id=${id.a}&token=other`, 1));
      const thiefClose = await thief.waitClose();
      await sleep(300);
      return { a: norm(a.frames), b: norm(b.frames), thief: thief.frames, thiefClose, aOpen: a.closeCode === undefined };
    };
    const [want, got] = await Promise.all([transcript(reference), transcript(ours)]);
    expect(want['b']).toEqual([
      '{"type":"OPEN"}',
      '{"type":"OFFER","src":"<a>","dst":"<b>","payload":{"sdp":{"type":"offer","sdp":"v=0"},"type":"data","connectionId":"dc_1"}}',
      '{"type":"CANDIDATE","src":"<a>","dst":"<b>"}',
      '{"type":"LEAVE","src":"<a>","dst":"<b>"}',
    ]);
    expect(want['thief']).toEqual(['{"type":"ID-TAKEN","payload":{"msg":"ID is taken"}}']);
    expect(got).toEqual(want);
  });

  it('queues a message for an id that registers later, and EXPIREs one that never does, once per pair', async () => {
    const transcript = async (t: Target): Promise<Record<string, unknown>> => {
      const { id, norm } = roles('a', 'late', 'ghost', 'ghost2');
      const a = await open(t.ws(base, `key=peerjs&id=${id.a}&token=ta`, 0));
      await a.waitFrames(1);
      const sent = Date.now();
      a.send({ type: 'OFFER', dst: id.late, payload: { n: 1 } });
      a.send({ type: 'CANDIDATE', dst: id.late, payload: { n: 2 } });
      a.send({ type: 'OFFER', dst: id.ghost, payload: { n: 3 } });
      a.send({ type: 'CANDIDATE', dst: id.ghost, payload: { n: 4 } });
      // Never queued: LEAVE (and EXPIRE) for an id not connected are dropped.
      a.send({ type: 'LEAVE', dst: id.ghost2 });
      await sleep(1000);
      const late = await open(t.ws(base, `key=peerjs&id=${id.late}&token=tl`, 1));
      await late.waitFrames(3);
      await a.waitType('EXPIRE', 9000);
      const expiredAfter = Date.now() - sent;
      await sleep(1500);
      return { a: norm(a.frames), late: norm(late.frames), expiredAfter };
    };
    const [want, got] = await Promise.all([transcript(reference), transcript(ours)]);
    expect(want['late']).toEqual([
      '{"type":"OPEN"}',
      '{"type":"OFFER","src":"<a>","dst":"<late>","payload":{"n":1}}',
      '{"type":"CANDIDATE","src":"<a>","dst":"<late>","payload":{"n":2}}',
    ]);
    expect(want['a']).toEqual(['{"type":"OPEN"}', '{"type":"EXPIRE","src":"<ghost>","dst":"<a>"}']);
    expect(got['late']).toEqual(want['late']);
    expect(got['a']).toEqual(want['a']);
    expect(Math.abs((got['expiredAfter'] as number) - (want['expiredAfter'] as number))).toBeLessThan(1000);
  });

  it('lets the same id and token take over; ours also sends OPEN and closes the old socket (deliberate)', async () => {
    const transcript = async (t: Target): Promise<Record<string, unknown>> => {
      const { id, norm } = roles('a', 'b');
      const first = await open(t.ws(base, `key=peerjs&id=${id.a}&token=same`, 0));
      const b = await open(t.ws(base, `key=peerjs&id=${id.b}&token=tb`, 0));
      await Promise.all([first.waitFrames(1), b.waitFrames(1)]);
      const second = await open(t.ws(base, `key=peerjs&id=${id.a}&token=same`, 1));
      await sleep(500);
      const secondAtTakeover = [...second.frames];
      b.send({ type: 'OFFER', dst: id.a, payload: { n: 1 } });
      await second.waitType('OFFER');
      await sleep(200);
      return {
        first: norm(first.frames),
        firstClose: first.closeCode,
        secondAtTakeover,
        second: norm(second.frames).filter((f) => f !== '{"type":"OPEN"}'),
      };
    };
    const [want, got] = await Promise.all([transcript(reference), transcript(ours)]);
    // The reference: no OPEN for the new socket (peers/peerjs#1289), the old one left open.
    expect(want['secondAtTakeover']).toEqual([]);
    expect(want['firstClose']).toBeUndefined();
    expect(got['secondAtTakeover']).toEqual(['{"type":"OPEN"}']);
    expect(got['firstClose']).toBe(4000);
    // What reaches the id after the takeover is the same: the new socket gets it.
    expect(got['second']).toEqual(want['second']);
    expect(got['first']).toEqual(want['first']);
  });

  it('answers the HTTP endpoints alike: server info, /id with CORS, /peers cluster-wide, preflight', async () => {
    const { id } = roles('a', 'b');
    const origin = 'http://app.example';
    const a = await open(ours.ws(base, `key=peerjs&id=${id.a}&token=t`, 0));
    const b = await open(ours.ws(base, `key=peerjs&id=${id.b}&token=t`, 1));
    await Promise.all([a.waitFrames(1), b.waitFrames(1)]);
    const describe = async (t: Target, path: string, init: RequestInit = {}): Promise<Record<string, unknown>> => {
      const res = await fetch(t.http(base, 1) + path, { ...init, headers: { Origin: origin, ...(init.headers ?? {}) } });
      const body = await res.text();
      return {
        status: res.status,
        type: res.headers.get('content-type'),
        acao: res.headers.get('access-control-allow-origin'),
        vary: res.headers.get('vary'),
        methods: res.headers.get('access-control-allow-methods'),
        body: /^[0-9a-f-]{36}$/.test(body) ? '<uuid>' : path.endsWith('peers') ? (JSON.parse(body) as string[]).sort() : body,
      };
    };
    for (const path of ['peerjs/id', 'anykey/id']) expect(await describe(ours, path)).toEqual(await describe(reference, path));
    const preflight = { method: 'OPTIONS', headers: { 'Access-Control-Request-Method': 'GET' } };
    expect(await describe(ours, 'peerjs/id', preflight)).toEqual(await describe(reference, 'peerjs/id', preflight));
    if (base !== '/') expect(await describe(ours, '')).toEqual(await describe(reference, ''));
    else expect((await fetch(ours.http('/'))).headers.get('content-type')).toMatch(/text\/html/);
    // Discovery: ids registered through either dyno, listed by dyno 1.
    const listed = (await describe(ours, 'peerjs/peers'))['body'] as string[];
    expect(listed).toEqual(expect.arrayContaining([id.a, id.b]));
    const refListed = (await describe(reference, 'peerjs/peers'))['body'] as string[];
    expect(Array.isArray(refListed)).toBe(true);
  });
});
