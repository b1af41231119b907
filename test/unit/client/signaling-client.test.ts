import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SignalingClient, SignalingError } from '../../../client/src/index.ts';
import { FakeSignalingServer } from './fake-signaling-server.ts';
import { makeClient, next, recordStates, sleep, until } from './helpers.ts';

let server: FakeSignalingServer;
const clients: SignalingClient[] = [];

function client(name: string, options: Parameters<typeof makeClient>[2] = {}): SignalingClient {
  const c = makeClient(server.url, name, options);
  clients.push(c);
  return c;
}

beforeEach(async () => {
  server = await FakeSignalingServer.start({ resume: true, iceServers: [{ urls: 'stun:stun.example.org' }] });
});

afterEach(async () => {
  for (const c of clients.splice(0)) {
    c.leave();
    c.removeAllListeners();
  }
  await server.stop();
});

describe('SignalingClient: joining and relaying', () => {
  it('joins, reports states and exposes iceServers and resume', async () => {
    const alice = client('alice');
    const states = recordStates(alice);
    const joined = next(alice, 'joined');
    alice.connect();
    const event = await joined;
    expect(event).toMatchObject({ room: 'room-1', name: 'alice', peers: [], rejoin: false, resumed: false });
    expect(event.iceServers).toEqual([{ urls: 'stun:stun.example.org' }]);
    expect(event.resume).toBe('secret-1');
    expect(alice.iceServers).toEqual(event.iceServers);
    expect(states).toEqual(['closed', 'connecting', 'open']);
    expect(server.messagesOfType('join')).toEqual([{ type: 'join', room: 'room-1', name: 'alice', lastSeq: 0 }]);
  });

  it('sends the token in join when given one', async () => {
    const alice = client('alice', { token: 't0k' });
    const joined = next(alice, 'joined');
    alice.connect();
    await joined;
    expect(server.messagesOfType('join')[0]).toMatchObject({ token: 't0k' });
  });

  it('relays peer-joined, signals both ways, and peer-left on leave', async () => {
    const alice = client('alice');
    const bob = client('ボブ');
    alice.connect();
    await next(alice, 'joined');
    const peerJoined = next(alice, 'peer-joined');
    const bobJoined = next(bob, 'joined');
    bob.connect();
    expect((await bobJoined).peers).toEqual(['alice']);
    expect(await peerJoined).toEqual({ name: 'ボブ', metadata: {} });

    const atBob = next(bob, 'signal');
    expect(alice.signal('ボブ', { description: { type: 'offer', sdp: 'x' } })).toBe(true);
    expect(await atBob).toEqual({ from: 'alice', data: { description: { type: 'offer', sdp: 'x' } } });
    const atAlice = next(alice, 'signal');
    bob.signal('alice', { candidate: { candidate: 'c' } });
    expect(await atAlice).toEqual({ from: 'ボブ', data: { candidate: { candidate: 'c' } } });
    expect(server.messagesOfType('signal')[0]).toEqual({ type: 'signal', to: 'ボブ', data: { description: { type: 'offer', sdp: 'x' } } });

    const left = next(alice, 'peer-left');
    const bobStates = recordStates(bob);
    bob.leave();
    expect(await left).toEqual({ name: 'ボブ' });
    expect(bobStates).toEqual(['open', 'closed']);
    expect(server.messagesOfType('leave')).toHaveLength(1);
    await until(() => server.openSockets === 1, 2000, "bob's socket to close");
    await sleep(50);
    expect(server.connections).toBe(2); // no reconnect after leave
  });

  it('refuses to signal when not open, and reports server errors without closing', async () => {
    const alice = client('alice');
    expect(alice.signal('bob', {})).toBe(false);
    alice.connect();
    await next(alice, 'joined');
    const error = next(alice, 'error');
    alice.signal('nobody', { x: 1 });
    const e = await error;
    expect(e).toBeInstanceOf(SignalingError);
    expect(e).toMatchObject({ reason: 'server-error', code: 'peer-not-found' });
    expect(alice.state).toBe('open');
  });

  it('rejects unusable options at construction', () => {
    expect(() => makeClient(server.url, '')).toThrow(SignalingError);
    expect(() => makeClient(server.url, 'a\u0007b')).toThrow(/control/);
    expect(() => makeClient(server.url, 'x'.repeat(65))).toThrow(SignalingError);
    expect(() => makeClient(server.url, 'lone\uD800')).toThrow(SignalingError);
    expect(() => makeClient('ftp://x', 'alice')).toThrow(/bad url/);
    expect(makeClient(server.url, '名'.repeat(64)).state).toBe('closed');
  });
});

describe('SignalingClient: liveness and reconnects', () => {
  it('detects a silent server with the ping watchdog and re-joins with resume', async () => {
    const alice = client('alice', { pingIntervalMs: 40, pongTimeoutMs: 40 });
    alice.connect();
    const first = await next(alice, 'joined');
    server.silentConnections.add(0);
    const states = recordStates(alice);
    const error = next(alice, 'error');
    const rejoined = next(alice, 'joined');
    expect(await error).toMatchObject({ reason: 'ping-timeout' });
    const second = await rejoined;
    expect(second).toMatchObject({ rejoin: true, resumed: true, peers: [] });
    expect(states).toEqual(['open', 'reconnecting', 'open']);
    expect(server.messagesOfType('ping').length).toBeGreaterThan(0);
    const joins = server.messagesOfType('join');
    expect(joins[1]).toEqual({ type: 'join', room: 'room-1', name: 'alice', resume: first.resume, lastSeq: 0 });
    expect(second.resume).not.toBe(first.resume);
    // The dead socket was dropped, not left half-open.
    await until(() => server.openSockets === 1, 2000, 'dead socket to be dropped');
  });

  it('reports resumed as the server answered: false when the membership was gone', async () => {
    const alice = client('alice');
    alice.connect();
    const first = await next(alice, 'joined');
    server.graceOver = true;
    const rejoined = next(alice, 'joined');
    server.closeAll(1012, 'restart');
    const second = await rejoined;
    expect(server.messagesOfType('join')[1]).toMatchObject({ resume: first.resume });
    expect(second).toMatchObject({ rejoin: true, resumed: false });
  });

  it('keeps a link alive while pongs arrive', async () => {
    // 15 pings take at least 300 ms, twice the pong timeout: only the pongs keep it open.
    const alice = client('alice', { pingIntervalMs: 20, pongTimeoutMs: 150 });
    alice.connect();
    await next(alice, 'joined');
    const errors: string[] = [];
    alice.on('error', (e) => errors.push(e.reason));
    await until(() => server.messagesOfType('ping').length >= 15, 3000, '15 pings');
    expect(errors).toEqual([]);
    expect(alice.state).toBe('open');
    expect(server.connections).toBe(1);
  });

  it.each([1001, 1006, 1011, 1012, 1013, 4500])('reconnects and resumes after close code %i', async (code) => {
    const alice = client('alice');
    alice.connect();
    const first = await next(alice, 'joined');
    const rejoined = next(alice, 'joined');
    server.closeAll(code, 'bye');
    const second = await rejoined;
    expect(second.rejoin).toBe(true);
    expect(server.messagesOfType('join')[1]).toMatchObject({ resume: first.resume });
  });

  it.each([1000, 1008, 1009, 4001, 4403])('stops for good on close code %i', async (code) => {
    const alice = client('alice');
    alice.connect();
    await next(alice, 'joined');
    const closed = next(alice, 'state', 2000, ({ state }) => state === 'closed');
    server.closeAll(code, 'go away');
    const event = await closed;
    expect(event.error).toMatchObject({ reason: 'closed-by-server', closeCode: code });
    await sleep(60);
    expect(server.connections).toBe(1);
  });

  it('gives a fatal join refusal back as closed, and retries a transient one', async () => {
    server.joinErrors.push('unavailable', 'name-taken');
    const alice = client('alice');
    const errors: string[] = [];
    alice.on('error', (e) => errors.push(`${e.reason}:${e.code ?? ''}`));
    const closed = next(alice, 'state', 2000, ({ state }) => state === 'closed');
    alice.connect();
    const event = await closed;
    expect(errors).toEqual(['server-error:unavailable', 'server-error:name-taken']);
    expect(event.error).toMatchObject({ reason: 'server-error', code: 'name-taken' });
    expect(server.connections).toBe(2);
  });

  it('retries name-taken on a re-join (the server may still hold our old socket)', async () => {
    const alice = client('alice');
    alice.connect();
    await next(alice, 'joined');
    server.joinErrors.push('name-taken');
    const rejoined = next(alice, 'joined');
    server.closeAll(1012);
    expect((await rejoined).rejoin).toBe(true);
    expect(server.connections).toBe(3);
  });

  it('times out an attempt that never gets joined, then succeeds', async () => {
    server.ignoreJoins = true;
    const alice = client('alice', { connectTimeoutMs: 50 });
    const error = next(alice, 'error');
    alice.connect();
    expect(await error).toMatchObject({ reason: 'connect-timeout' });
    server.ignoreJoins = false;
    await next(alice, 'joined');
    expect(server.connections).toBeGreaterThanOrEqual(2);
  });

  it('asks the policy with growing retry counts and stops when it returns null', async () => {
    const url = server.url;
    await server.stop(); // nothing listens any more: every attempt fails
    const contexts: Array<{ retryCount: number; elapsedMs: number }> = [];
    const alice = makeClient(url, 'alice', {
      reconnectPolicy: {
        nextRetryDelayInMs: (context) => {
          contexts.push(context);
          return context.retryCount < 3 ? 5 : null;
        },
      },
    });
    clients.push(alice);
    const states = recordStates(alice);
    const closed = next(alice, 'state', 3000, ({ state }) => state === 'closed');
    alice.connect();
    const event = await closed;
    expect(contexts.map((c) => c.retryCount)).toEqual([0, 1, 2, 3]);
    expect(contexts.every((c, i) => i === 0 || c.elapsedMs >= contexts[i - 1]!.elapsedMs)).toBe(true);
    expect(event.error).toMatchObject({ reason: 'reconnect-exhausted' });
    expect(states).toEqual(['closed', 'connecting', 'reconnecting', 'closed']);
    server = await FakeSignalingServer.start(); // for afterEach
  });

  it('reports a malformed server frame, ignores unknown types, and stays open', async () => {
    const alice = client('alice');
    alice.connect();
    await next(alice, 'joined');
    const errors: SignalingError[] = [];
    alice.on('error', (e) => errors.push(e));
    server.sendRaw('{"type":"from-the-future","x":1}');
    server.sendRaw('not json');
    server.sendRaw('{"type":"signal","from":"x"}');
    await until(() => errors.length === 2);
    expect(errors.map((e) => e.reason)).toEqual(['bad-message', 'bad-message']);
    expect(alice.state).toBe('open');
  });
});

describe('SignalingClient: cleanup', () => {
  it('leaves no timers or sockets behind after leave()', async () => {
    const count = (kind: string) => process.getActiveResourcesInfo().filter((r) => r === kind).length;
    // Sockets of earlier tests may still be closing; start from none.
    await until(() => count('TCPSocketWrap') === 0, 2000, 'earlier sockets to close');
    const alice = makeClient(server.url, 'alice', { pingIntervalMs: 30, pongTimeoutMs: 30 });
    alice.connect();
    await next(alice, 'joined');
    server.closeAll(1012); // through one reconnect too
    await next(alice, 'joined');
    expect(count('TCPSocketWrap')).toBe(2); // both ends of one connection: the dropped one is gone
    // Measured right before and after, so timers of earlier tests cannot blur it:
    // the watchdog's timer must go, and ws's close-handshake timer must be cleared too.
    const timersWhileOpen = count('Timeout');
    alice.leave();
    await until(() => server.openSockets === 0, 2000, 'server side to close');
    await until(() => count('TCPSocketWrap') === 0, 2000, 'client socket to close');
    expect(count('Timeout')).toBeLessThanOrEqual(timersWhileOpen - 1);
    alice.leave(); // idempotent
    expect(alice.state).toBe('closed');
  });

  it('stops retrying when leave() is called while reconnecting', async () => {
    const alice = makeClient(server.url, 'alice', { reconnectPolicy: { nextRetryDelayInMs: () => 100 } });
    clients.push(alice);
    alice.connect();
    await next(alice, 'joined');
    const reconnecting = next(alice, 'state', 2000, ({ state }) => state === 'reconnecting');
    server.closeAll(1006);
    await reconnecting;
    alice.leave();
    await sleep(200);
    expect(server.connections).toBe(1);
    expect(alice.state).toBe('closed');
  });
});
