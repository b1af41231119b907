import { afterEach, describe, expect, it } from 'vitest';
import { describeIceFailure } from '../../../client/page/call-problems.ts';
import { en } from '../../../client/page/i18n/en.ts';
import { iceRefreshDelayMs, MeshCall, type PeerConnectionConstructor, SignalingClient } from '../../../client/src/index.ts';
import { FakeHub } from './fake-hub.ts';
import { FakeSignalingServer } from './fake-signaling-server.ts';
import { FakePeerConnection, FakeStream, FakeTrack } from './fake-webrtc.ts';
import { makeClient, next, sleep, until } from './helpers.ts';

let server: FakeSignalingServer | undefined;
const clients: SignalingClient[] = [];
const calls: MeshCall[] = [];

afterEach(async () => {
  for (const call of calls.splice(0)) call.close();
  for (const c of clients.splice(0)) {
    c.leave();
    c.removeAllListeners();
  }
  await server?.stop();
  server = undefined;
  FakePeerConnection.instances.length = 0;
  FakePeerConnection.relayRefused = false;
});

/** A server whose TURN credentials carry a counter, so every mint is recognisable. */
async function startServer(iceServersTtl: number | undefined): Promise<FakeSignalingServer> {
  let minted = 0;
  const options = iceServersTtl === undefined ? {} : { iceServersTtl };
  server = await FakeSignalingServer.start({
    ...options,
    iceServers: (name: string) => [{ urls: 'turn:turn.example.org', username: `${++minted}:${name}`, credential: `c${minted}` }],
  });
  return server;
}

function client(url: string, name: string): SignalingClient {
  const c = makeClient(url, name);
  clients.push(c);
  return c;
}

describe('ICE server refresh', () => {
  it('waits 80 % of the TTL, at least a second, at most what setTimeout can take', () => {
    expect(iceRefreshDelayMs(86_400)).toBe(69_120_000);
    expect(iceRefreshDelayMs(0.5)).toBe(1000);
    expect(iceRefreshDelayMs(10 ** 9)).toBe(2 ** 31 - 1);
  });

  it('asks for fresh servers before the TTL runs out, again and again, and updates lastJoined', async () => {
    const s = await startServer(1.25); // refresh after 1000 ms
    const alice = client(s.url, 'alice');
    const joined = next(alice, 'joined');
    alice.connect();
    const event = await joined;
    const joinedAt = Date.now();
    expect(event.iceServersTtl).toBe(1.25);
    expect(event.iceServers).toEqual([{ urls: 'turn:turn.example.org', username: '1:alice', credential: 'c1' }]);

    const refreshed = await next(alice, 'ice-servers', 3000);
    expect(Date.now() - joinedAt).toBeGreaterThanOrEqual(950);
    expect(refreshed).toEqual({
      iceServers: [{ urls: 'turn:turn.example.org', username: '2:alice', credential: 'c2' }],
      iceServersTtl: 1.25,
    });
    expect(s.messagesOfType('ice-servers')).toEqual([{ type: 'ice-servers' }]);
    expect(alice.iceServers).toEqual(refreshed.iceServers);
    expect(alice.lastJoined).toMatchObject({ name: 'alice', iceServers: refreshed.iceServers, iceServersTtl: 1.25 });

    // The answer restarts the countdown.
    expect((await next(alice, 'ice-servers', 3000)).iceServers[0]).toMatchObject({ username: '3:alice' });
  });

  it('does not ask without a TTL, nor after leave', async () => {
    const s = await startServer(undefined);
    const plain = client(s.url, 'plain');
    plain.connect();
    expect((await next(plain, 'joined')).iceServersTtl).toBeUndefined();
    const other = await FakeSignalingServer.start({ iceServers: [], iceServersTtl: 1 });
    try {
      const leaver = client(other.url, 'leaver');
      leaver.connect();
      await next(leaver, 'joined');
      leaver.leave();
      await sleep(1300);
      expect(other.messagesOfType('ice-servers')).toEqual([]);
      expect(s.messagesOfType('ice-servers')).toEqual([]);
    } finally {
      await other.stop();
    }
  });

  it('gets fresh servers with every re-join and restarts the countdown from there', async () => {
    const s = await startServer(1.5);
    const alice = client(s.url, 'alice');
    alice.connect();
    await next(alice, 'joined');
    await sleep(700);
    const rejoined = next(alice, 'joined', 2000, (e) => e.rejoin);
    s.closeAll(1012);
    const event = await rejoined;
    const at = Date.now();
    expect(event.iceServers[0]).toMatchObject({ username: '2:alice' });
    await next(alice, 'ice-servers', 3000);
    // Counted from the re-join, not from the first join (which would have fired 700 ms earlier).
    expect(Date.now() - at).toBeGreaterThanOrEqual(1100);
  });

  it('MeshCall applies refreshed servers to its open connections', async () => {
    const s = await startServer(1.5);
    const make = (name: string) => {
      const c = client(s.url, name);
      const call = new MeshCall({
        signaling: c,
        RTCPeerConnection: FakePeerConnection as unknown as PeerConnectionConstructor,
        rtcConfiguration: { iceTransportPolicy: 'relay' },
      });
      calls.push(call);
      return { c, call };
    };
    const alice = make('alice');
    alice.c.connect();
    await next(alice.c, 'joined');
    const bob = make('bob');
    bob.c.connect();
    await until(
      () => alice.call.connectionState('bob') === 'connected' && bob.call.connectionState('alice') === 'connected',
      2000,
      'connected',
    );
    const [atAlice, atBob] = ['alice', 'bob'].map((n) =>
      FakePeerConnection.instances.find((pc) => JSON.stringify(pc.getConfiguration()).includes(`:${n}"`))!,
    );
    expect(atAlice!.getConfiguration()).toEqual({
      iceTransportPolicy: 'relay',
      iceServers: [expect.objectContaining({ username: '1:alice' })],
    });
    await next(alice.c, 'ice-servers', 3000);
    await until(
      () =>
        JSON.stringify(atAlice!.getConfiguration()).includes('"3:alice"') ||
        JSON.stringify(atAlice!.getConfiguration()).includes('"4:alice"'),
      1000,
      'fresh servers applied',
    );
    // The rest of the configuration is kept.
    expect(atAlice!.getConfiguration().iceTransportPolicy).toBe('relay');
    expect(atBob!.getConfiguration().iceServers![0]!.username).toMatch(/:bob$/);
  });
});

describe('ICE failure', () => {
  it("reports a relay-only connection that gathers nothing, with the 401, and the page's sentence", async () => {
    FakePeerConnection.relayRefused = true;
    const hub = new FakeHub();
    const failures: Array<{ peer: string; reason: string; codes: number[] }> = [];
    for (const name of ['alice', 'bob']) {
      const member = hub.member(name);
      const call = new MeshCall({
        signaling: member,
        localStream: new FakeStream([new FakeTrack('video')]) as unknown as MediaStream,
        RTCPeerConnection: FakePeerConnection as unknown as PeerConnectionConstructor,
        rtcConfiguration: { iceTransportPolicy: 'relay' },
      });
      calls.push(call);
      call.on('ice-failed', ({ peer, reason, candidateErrors }) =>
        failures.push({ peer, reason, codes: candidateErrors.map((e) => e.errorCode) }),
      );
      hub.join(member);
    }
    await until(() => failures.length === 2, 2000, 'both sides report');
    expect(failures.sort((a, b) => a.peer.localeCompare(b.peer))).toEqual([
      { peer: 'alice', reason: 'no-candidates', codes: [401] },
      { peer: 'bob', reason: 'no-candidates', codes: [401] },
    ]);
    const failure = { reason: 'no-candidates' as const, candidateErrors: [{ url: 'turn:t', errorCode: 401, errorText: 'Unauthorized' }] };
    expect(describeIceFailure(en, 'bob', failure, true)).toBe(
      'Could not connect to bob through the TURN relay: check the TURN settings (the relay refused the credentials).',
    );
    expect(describeIceFailure(en, 'bob', { reason: 'failed', candidateErrors: [] }, false)).toMatch(/^Could not connect to bob: /);
  });

  it('says nothing when candidates were gathered', async () => {
    const hub = new FakeHub();
    const failures: string[] = [];
    const calls2 = ['alice', 'bob'].map((name) => {
      const member = hub.member(name);
      const call = new MeshCall({
        signaling: member,
        RTCPeerConnection: FakePeerConnection as unknown as PeerConnectionConstructor,
        rtcConfiguration: { iceTransportPolicy: 'relay' },
      });
      calls.push(call);
      call.on('ice-failed', ({ peer }) => failures.push(peer));
      hub.join(member);
      return call;
    });
    await until(
      () => calls2[0]!.connectionState('bob') === 'connected' && calls2[1]!.connectionState('alice') === 'connected',
      2000,
      'connected',
    );
    await sleep(20);
    expect(failures).toEqual([]);
  });
});
