import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Cluster } from '../fixtures/dyno.ts';
import { startCluster } from '../fixtures/dyno.ts';
import type { RedisFixture } from '../fixtures/redis.ts';
import { startRedis, uniquePrefix } from '../fixtures/redis.ts';
import { ArticleClient, joined } from '../fixtures/test-client.ts';

/**
 * The original article's protocol at /video_chat/signaling (docs/protocol.md, "Article
 * protocol"), over two dyno processes sharing Redis: dyno(0) and dyno(1) are different
 * processes, so every "a on dyno 0, b on dyno 1" case crosses Redis.
 */

/** An SDP-like blob with characters that would change under re-serialization. */
const sdp = (tag: string): string => `v=0\r\no=- 4611 2 IN IP4 127.0.0.1\r\ns=${tag} «é» \u2028 "q" \\ /\r\nt=0 0\r\n`;

/** What the article's client sends (makePeer): description, roomName, from, to. */
const rtcText = (type: 'offer' | 'answer', roomName: string, from: string, to: string, tag: string = type): string =>
  JSON.stringify({ method: 'rtc', description: { type, sdp: sdp(tag) }, roomName, from, to });

const request = (roomName: string, to: string, from: string): string =>
  JSON.stringify({ method: 'rtc', type: 'request', roomName, to, from });

describe('article protocol (redis, two dynos)', () => {
  let redis: RedisFixture;
  let cluster: Cluster;
  let roomSeq = 0;
  const room = (label: string): string => `${label}-${++roomSeq}`;
  const url = (i: number): string => cluster.dyno(i).wsUrl('/video_chat/signaling');
  const clients: Array<{ ws: WebSocket }> = [];
  const connect = async (i: number): Promise<ArticleClient> => {
    const c = await ArticleClient.connect(url(i));
    clients.push(c);
    return c;
  };
  const open = async (i: number, r: string, n: string): Promise<ArticleClient> => {
    const c = await connect(i);
    const reply = await c.open(r, n);
    if (reply.method !== 'opened') throw new Error(`open ${r}/${n} failed: ${JSON.stringify(reply)}`);
    return c;
  };

  beforeAll(async () => {
    redis = await startRedis();
    cluster = await startCluster('redis', {
      redisUrl: redis.url,
      env: { REDIS_PREFIX: uniquePrefix('article'), MAX_ROOM_SIZE: '4', MAX_MESSAGE_BYTES: '4096' },
    });
    expect(cluster.dynos).toHaveLength(2);
  });

  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    await cluster?.stop();
    await redis?.stop();
  });

  it('acknowledges open and sends every existing member a request naming itself as from', async () => {
    const r = room('fanout');
    const a = await connect(0);
    expect(await a.open(r, 'a')).toEqual({ method: 'opened', roomName: r, name: 'a', peers: [] });
    const b = await connect(1);
    expect(await b.open(r, 'b')).toEqual({ method: 'opened', roomName: r, name: 'b', peers: ['a'] });
    expect(await a.text()).toBe(request(r, 'b', 'a'));
    const c = await connect(0);
    expect(await c.open(r, 'c')).toEqual({ method: 'opened', roomName: r, name: 'c', peers: ['a', 'b'] });
    expect(await a.text()).toBe(request(r, 'c', 'a'));
    expect(await b.text()).toBe(request(r, 'c', 'b'));
    const d = await connect(1);
    expect((await d.open(r, 'd')).peers).toEqual(['a', 'b', 'c']);
    expect(await a.text()).toBe(request(r, 'd', 'a'));
    expect(await b.text()).toBe(request(r, 'd', 'b'));
    expect(await c.text()).toBe(request(r, 'd', 'c'));
    // The newcomer waits for offers: it gets no request of its own.
    await Promise.all([a, b, c, d].map((x) => x.expectSilence(150)));
  });

  it('routes offers to `to` and answers to `from` across dynos, byte for byte', async () => {
    const r = room('route');
    const a = await open(0, r, 'a');
    const b = await open(1, r, 'b');
    await a.expect('rtc');
    const c = await open(1, r, 'c');
    await a.expect('rtc');
    await b.expect('rtc');
    // Key order, spacing, escapes and extra fields must survive: the target gets the text as sent.
    const offer = `{ "method":"rtc",  "description":{"sdp":${JSON.stringify(sdp('a→c'))},"type":"offer"},"roomName":"${r}","from":"a","to":"c","extra":[1,2.50,"\\u00e9"] }`;
    a.send(offer);
    expect(await c.text()).toBe(offer);
    const answer = rtcText('answer', r, 'a', 'c', 'c→a');
    c.send(answer);
    expect(await a.text()).toBe(answer);
    // Same dyno (b and c are both on dyno 1) and the other direction of fan-out.
    const offerBC = rtcText('offer', r, 'b', 'c');
    b.send(offerBC);
    expect(await c.text()).toBe(offerBC);
    const answerCB = rtcText('answer', r, 'b', 'c');
    c.send(answerCB);
    expect(await b.text()).toBe(answerCB);
    await Promise.all([a, b, c].map((x) => x.expectSilence(150)));
  });

  it('refuses descriptions whose sender is not the party it claims to be, delivering nothing', async () => {
    const r = room('forged');
    const a = await open(0, r, 'a');
    const b = await open(1, r, 'b');
    await a.expect('rtc');
    const m = await open(0, r, 'mallory');
    await a.expect('rtc');
    await b.expect('rtc');
    // An offer must come from its `from`.
    m.send(rtcText('offer', r, 'a', 'b'));
    await m.expectError('forbidden');
    // An answer must come from its `to`: mallory cannot answer a's offer on b's behalf...
    m.send(rtcText('answer', r, 'a', 'b'));
    await m.expectError('forbidden');
    // ...nor pass itself off as a by calling its frame an answer (answers route to `from`).
    m.send(rtcText('answer', r, 'b', 'a'));
    await m.expectError('forbidden');
    // The offerer cannot send an answer in the offer's direction either.
    a.send(rtcText('answer', r, 'a', 'b'));
    await a.expectError('forbidden');
    await Promise.all([a.expectSilence(200), b.expectSilence(200)]);
    // A description to oneself is refused too.
    m.send(rtcText('offer', r, 'mallory', 'mallory'));
    await m.expectError('bad-request');
    await m.expectSilence(100);
  });

  it('routes by the sender session, never by the roomName in the message', async () => {
    const r1 = room('by-session-1');
    const r2 = room('by-session-2');
    const a = await open(0, r1, 'a');
    const b = await open(1, r1, 'b');
    await a.expect('rtc');
    const b2 = await open(1, r2, 'b');
    const x = await open(0, r2, 'x');
    await b2.expect('rtc');
    // roomName says r2, but a is in r1: its offer reaches r1's b, not r2's b.
    const offer = rtcText('offer', r2, 'a', 'b');
    a.send(offer);
    expect(await b.text()).toBe(offer);
    // x is only in r2: no roomName gets a's offer there.
    a.send(rtcText('offer', r2, 'a', 'x'));
    await a.expectError('peer-not-found');
    a.send(rtcText('offer', 'made-up', 'a', 'x'));
    await a.expectError('peer-not-found');
    // And the roomName field may be missing or anything at all.
    const bare = JSON.stringify({ method: 'rtc', description: { type: 'answer', sdp: 'v=0' }, from: 'a', to: 'b' });
    b.send(bare);
    expect(await a.text()).toBe(bare);
    await Promise.all([b2.expectSilence(200), x.expectSilence(200), b.expectSilence(0)]);
  });

  it('keeps rooms apart, including article and v1 rooms of the same name', async () => {
    const r = room('shared-name');
    const v1a = await joined(cluster.dyno(0).wsUrl(), r, 'a');
    const v1z = await joined(cluster.dyno(1).wsUrl(), r, 'z');
    clients.push(v1a, v1z);
    await v1a.expect('peer-joined');
    // "a" is taken in the v1 room r, not in the article room r.
    const a = await connect(1);
    expect(await a.open(r, 'a')).toEqual({ method: 'opened', roomName: r, name: 'a', peers: [] });
    const b = await open(0, r, 'b');
    expect(await a.text()).toBe(request(r, 'b', 'a'));
    // Neither protocol reaches the other's members.
    a.send(rtcText('offer', r, 'a', 'z'));
    await a.expectError('peer-not-found');
    v1z.send({ type: 'signal', to: 'b', data: { description: { type: 'offer', sdp: 'v=0' } }, id: 'x' });
    expect(await v1z.expect('error')).toMatchObject({ code: 'peer-not-found', id: 'x' });
    // Another article room with the same member names hears nothing either.
    const other = room('shared-name-other');
    const oa = await open(0, other, 'a');
    const ob = await open(1, other, 'b');
    await oa.expect('rtc');
    const offer = rtcText('offer', r, 'a', 'b');
    a.send(offer);
    expect(await b.text()).toBe(offer);
    await Promise.all([v1a.expectSilence(200), v1z.expectSilence(0), oa.expectSilence(0), ob.expectSilence(0), a.expectSilence(0)]);
  });

  it('answers bad input with error frames and keeps the socket open', async () => {
    const c = await connect(0);
    const bad: Array<[unknown, string]> = [
      ['{not json', 'not valid JSON'],
      ['', 'not valid JSON'],
      ['[1,2]', 'JSON object'],
      ['"text"', 'JSON object'],
      ['null', 'JSON object'],
      ['42', 'JSON object'],
      [{}, 'method'],
      [{ method: 5 }, 'method'],
      [{ type: 'open', roomName: 'r', name: 'n' }, 'method'],
      [{ method: 'dance' }, 'unknown method'],
      [{ method: 'open', roomName: 'r' }, 'open.name'],
      [{ method: 'open', name: 'n' }, 'open.roomName'],
      [{ method: 'open', roomName: '', name: 'n' }, 'open.roomName'],
      [{ method: 'open', roomName: 'r', name: 'x'.repeat(65) }, 'open.name'],
      [{ method: 'open', roomName: 'r', name: 'tab\there' }, 'control'],
      [{ method: 'open', roomName: 'r', name: '\ud800' }, 'well-formed'],
      [{ method: 'open', roomName: 7, name: 'n' }, 'open.roomName'],
      [{ method: 'rtc', roomName: 'r', from: 'a', to: 'b' }, 'rtc.description'],
      [{ method: 'rtc', description: 'v=0', from: 'a', to: 'b' }, 'rtc.description'],
      [{ method: 'rtc', description: null, from: 'a', to: 'b' }, 'rtc.description'],
      [{ method: 'rtc', description: { type: 'pranswer', sdp: '' }, from: 'a', to: 'b' }, 'rtc.description.type'],
      [{ method: 'rtc', description: { sdp: '' }, from: 'a', to: 'b' }, 'rtc.description.type'],
      [{ method: 'rtc', description: { type: 'offer' }, to: 'b' }, 'rtc.from'],
      [{ method: 'rtc', description: { type: 'offer' }, from: 'a', to: ['b'] }, 'rtc.to'],
      // A request is something the server sends, never accepts.
      [{ method: 'rtc', type: 'request', roomName: 'r', from: 'a', to: 'b' }, 'rtc.description'],
    ];
    for (const [frame, hint] of bad) {
      c.send(frame);
      const reply = await c.expectError('bad-request');
      expect(String(reply['message'])).toContain(hint);
    }
    c.ws.send(Buffer.from([0, 1, 2]), { binary: true });
    expect(String((await c.expectError('bad-request'))['message'])).toContain('binary');
    // Well-formed, but before open.
    c.send(rtcText('offer', 'r', 'a', 'b'));
    await c.expectError('not-joined');
    // The socket still works.
    const r = room('after-bad');
    expect(await c.open(r, 'c')).toMatchObject({ method: 'opened', name: 'c' });
    c.send({ method: 'open', roomName: r, name: 'again' });
    await c.expectError('already-joined');
    c.send(rtcText('offer', r, 'c', 'ghost'));
    await c.expectError('peer-not-found');
  });

  it('refuses taken names across dynos and full rooms, with the codes of v1', async () => {
    const r = room('taken');
    await open(0, r, 'a');
    const d = await connect(1);
    expect(await d.open(r, 'a')).toMatchObject({ method: 'error', code: 'name-taken' });
    for (const n of ['b', 'c', 'd']) await open(1, r, n);
    expect(await d.open(r, 'e')).toMatchObject({ method: 'error', code: 'room-full' });
    // A refused open leaves the socket free to open elsewhere.
    expect(await d.open(room('taken-elsewhere'), 'a')).toMatchObject({ method: 'opened', name: 'a' });
  });

  it('queues an rtc sent right behind its open instead of refusing it', async () => {
    const r = room('pipelined');
    const a = await open(0, r, 'a');
    const b = await connect(1);
    const offer = rtcText('offer', r, 'b', 'a');
    // Back to back: the dyno usually reads both frames from one TCP read.
    b.send({ method: 'open', roomName: r, name: 'b' });
    b.send(offer);
    expect((await b.next()).method).toBe('opened');
    const got = [await a.text(), await a.text()].sort();
    expect(got).toEqual([offer, request(r, 'b', 'a')].sort());
    await b.expectSilence(100);
  });

  it('checks a pipelined rtc against the open that succeeded, not one that failed', async () => {
    const r = room('forge-pipelined');
    const victim = await open(0, r, 'victim');
    const target = await open(1, r, 'target');
    await victim.text();
    const mallory = await connect(1);
    // Back to back: an open that will fail (name taken), one that succeeds, then an offer
    // claiming the first name. It must be refused, because mallory is not the victim.
    mallory.send({ method: 'open', roomName: r, name: 'victim' });
    mallory.send({ method: 'open', roomName: r, name: 'mallory' });
    mallory.send(rtcText('offer', r, 'victim', 'target'));
    await mallory.expectError('name-taken');
    expect((await mallory.next()).method).toBe('opened');
    await mallory.expectError('forbidden');
    expect(await target.text()).toBe(request(r, 'mallory', 'target'));
    await target.expectSilence(200);
  });

  it('tells the rest of the room with peer-left when a member goes', async () => {
    const r = room('left');
    const a = await open(0, r, 'a');
    const b = await open(1, r, 'b');
    await a.expect('rtc');
    b.ws.terminate();
    expect(await a.next()).toEqual({ method: 'peer-left', roomName: r, name: 'b' });
    // The name is free again, and the newcomer is offered to as usual.
    const b2 = await connect(0);
    expect(await b2.open(r, 'b')).toMatchObject({ method: 'opened', peers: ['a'] });
    expect(await a.text()).toBe(request(r, 'b', 'a'));
  });

  it('closes the socket with 1009 on a frame over MAX_MESSAGE_BYTES, leaving others alone', async () => {
    const r = room('big');
    const a = await open(0, r, 'a');
    const big = await open(1, r, 'big');
    await a.expect('rtc');
    big.send(rtcText('offer', r, 'big', 'a', 'x'.repeat(5000)));
    expect((await big.closed).code).toBe(1009);
    expect(await a.next()).toEqual({ method: 'peer-left', roomName: r, name: 'big' });
  });

  it('accepts non-ASCII rooms and names', async () => {
    const r = `会議室-${++roomSeq}-🎥`;
    const long = '山'.repeat(64);
    const a = await open(0, r, 'たろう');
    const b = await open(1, r, long);
    expect(await a.text()).toBe(request(r, long, 'たろう'));
    const offer = rtcText('offer', r, 'たろう', long);
    a.send(offer);
    expect(await b.text()).toBe(offer);
  });

  it('survived all of the above: both dynos alive, no SDP in the info log', async () => {
    for (const dyno of cluster.dynos) {
      expect(dyno.process.exitCode).toBeNull();
      expect(dyno.process.signalCode).toBeNull();
      expect(dyno.output.filter((line) => line.includes('IN IP4'))).toEqual([]);
      expect(dyno.output.some((line) => line.includes('"protocol":"article"'))).toBe(true);
    }
    const c = await connect(1);
    expect(await c.open(room('alive'), 'n')).toMatchObject({ method: 'opened' });
  });
});
