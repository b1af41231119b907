import { afterEach, describe, expect, it } from 'vitest';
import { MeshCall, type MeshCallOptions, type PeerConnectionConstructor, type PeerState } from '../../../client/src/index.ts';
import { FakeHub, type FakeMember } from './fake-hub.ts';
import { FakePeerConnection, FakeStream, FakeTrack, FirefoxLikePeerConnection } from './fake-webrtc.ts';
import { until } from './helpers.ts';

/**
 * Issue 12 and issue 18 item 9 against the strict fake RTCPeerConnection: the DTLS role kept
 * across renegotiations, links rebuilt when negotiation breaks, what the socket dropped sent
 * again, and signals for other connections (or earlier ICE rounds) dropped quietly.
 */

const calls: MeshCall[] = [];
afterEach(() => {
  for (const call of calls.splice(0)) call.close();
  FakePeerConnection.instances.length = 0;
});

interface Party {
  member: FakeMember;
  call: MeshCall;
  errors: string[];
  states: PeerState[];
  reconnecting: Array<{ reason: string; attempt: number }>;
}

function party(
  hub: FakeHub,
  name: string,
  options: Partial<MeshCallOptions> & { engine?: typeof FakePeerConnection } = {},
  join = true,
): Party {
  const member = hub.member(name);
  const { engine = FakePeerConnection, ...rest } = options;
  const call = new MeshCall({
    signaling: member,
    localStream: new FakeStream([new FakeTrack('audio'), new FakeTrack('video')]) as unknown as MediaStream,
    RTCPeerConnection: engine as unknown as PeerConnectionConstructor,
    rebuildPolicy: { nextRetryDelayInMs: () => 10 },
    ...rest,
  });
  calls.push(call);
  const p: Party = { member, call, errors: [], states: [], reconnecting: [] };
  call.on('error', ({ error }) => p.errors.push(error.message));
  call.on('connection-state', ({ state }) => p.states.push(state));
  call.on('peer-reconnecting', ({ reason, attempt }) => p.reconnecting.push({ reason, attempt }));
  if (join) hub.join(member);
  return p;
}

const connected = (a: Party, b: Party): boolean =>
  a.call.connectionState(b.member.name) === 'connected' && b.call.connectionState(a.member.name) === 'connected';
const live = (): FakePeerConnection[] => FakePeerConnection.instances.filter((pc) => pc.connectionState !== 'closed');
const settled = (): boolean =>
  live().length === 2 && live().every((pc) => pc.connectionState === 'connected' && pc.signalingState === 'stable');
const rejoin = (p: Party, peers: string[]): void =>
  p.member.fire('joined', {
    room: 'r',
    name: p.member.name,
    peers,
    members: peers.map((name) => ({ name, metadata: {} })),
    iceServers: [],
    resume: undefined,
    rejoin: true,
    resumed: true,
  });

/** alice (in the room first, so she offers) and bob, connected. */
async function pair(
  hub: FakeHub,
  alice: Partial<MeshCallOptions> & { engine?: typeof FakePeerConnection } = {},
  bob: typeof alice = {},
): Promise<[Party, Party, FakePeerConnection, FakePeerConnection]> {
  const a = party(hub, 'alice', alice);
  const b = party(hub, 'bob', bob);
  await until(() => connected(a, b) && settled(), 2000, 'alice and bob connected');
  const [pcA, pcB] = FakePeerConnection.instances as [FakePeerConnection, FakePeerConnection];
  return [a, b, pcA, pcB];
}

describe('DTLS role across renegotiations', () => {
  it("keeps it when the first offerer (Firefox-like) answers the other side's ICE restart", async () => {
    const hub = new FakeHub();
    const [alice, bob, pcA, pcB] = await pair(hub, { engine: FirefoxLikePeerConnection });
    expect([pcA.dtlsRole, pcB.dtlsRole]).toEqual(['passive', 'active']); // bob answered active
    const before = pcB.remoteDescription?.sdp;
    pcB.restartIce(); // bob offers; alice's engine would answer "active" too
    await until(() => pcB.remoteDescription?.sdp !== before && settled(), 2000, 'restart answered');
    expect([pcA.dtlsRole, pcB.dtlsRole]).toEqual(['passive', 'active']);
    expect(FakePeerConnection.instances).toHaveLength(2); // the same connections, not rebuilt ones
    expect([...alice.errors, ...bob.errors]).toEqual([]);
  });

  it('keeps it when the Firefox-like side is polite and loses an offer collision', async () => {
    const hub = new FakeHub();
    const [alice, bob, pcA, pcB] = await pair(hub, { engine: FirefoxLikePeerConnection });
    hub.hold = true;
    pcA.restartIce();
    pcB.restartIce();
    await until(() => hub.queue.filter((e) => 'description' in e.data).length === 2, 2000, 'two offers in flight');
    hub.hold = false;
    hub.release();
    await until(() => settled() && pcA.rollbacks === 1, 2000, 'collision resolved');
    expect([pcA.dtlsRole, pcB.dtlsRole]).toEqual(['passive', 'active']);
    expect(FakePeerConnection.instances).toHaveLength(2);
    expect([...alice.errors, ...bob.errors]).toEqual([]);
  });
});

describe('a link never wedges', () => {
  it('rebuilds both sides after a description that cannot be applied, showing reconnecting meanwhile', async () => {
    const hub = new FakeHub();
    const [alice, bob, pcA, pcB] = await pair(hub);
    hub.hold = true;
    pcB.restartIce();
    await until(() => hub.queue.some((e) => 'description' in e.data), 2000, "bob's offer");
    const offer = hub.queue.find((e) => 'description' in e.data)!;
    (offer.data['description'] as { sdp: string }).sdp = 'v=0 garbage';
    hub.hold = false;
    hub.release();
    await until(() => alice.reconnecting.length === 1, 2000, 'alice gives up on that connection');
    expect(alice.call.connectionState('bob')).toBe('reconnecting');
    await until(() => connected(alice, bob) && settled(), 2000, 'connected again');
    expect(alice.states).toContain('reconnecting');
    expect(alice.states.at(-1)).toBe('connected');
    expect(alice.reconnecting[0]!.reason).toMatch(/applying a signal failed/);
    // Fresh connections on BOTH sides: alice's new session made bob drop his old one.
    expect([pcA.connectionState, pcB.connectionState]).toEqual(['closed', 'closed']);
    expect(FakePeerConnection.instances).toHaveLength(4);
  });

  it('rebuilds a pair that stays unsettled past the deadline (a lost answer), with backoff that resets once connected', async () => {
    const hub = new FakeHub();
    const retries: number[] = [];
    const options = {
      settleTimeoutMs: 150,
      rebuildPolicy: { nextRetryDelayInMs: ({ retryCount }: { retryCount: number }) => (retries.push(retryCount), 5) },
    };
    let dropAnswers = 3;
    hub.drop = (e) => e.from === 'bob' && 'description' in e.data && dropAnswers-- > 0;
    const alice = party(hub, 'alice', options);
    const bob = party(hub, 'bob', options);
    await until(() => connected(alice, bob) && settled(), 3000, 'connected after three lost answers');
    expect(retries).toEqual([0, 1, 2]);
    expect(alice.reconnecting.map((r) => r.attempt)).toEqual([1, 2, 3]);
    expect(alice.reconnecting[0]!.reason).toMatch(/not connected within 150 ms/);
    // Connected again: the next break starts the backoff from the beginning.
    dropAnswers = 1;
    live()[0]!.restartIce(); // alice's current connection offers; bob's answer is lost
    await until(() => retries.length === 4, 3000, 'one more rebuild');
    expect(retries[3]).toBe(0);
    await until(() => connected(alice, bob) && settled(), 3000);
  });
});

describe('signals the socket dropped (issue 18, item 9)', () => {
  it('re-sends an offer that was dropped while the socket reconnected', async () => {
    const hub = new FakeHub();
    const [alice, bob, pcA, pcB] = await pair(hub);
    const before = pcB.remoteDescription?.sdp;
    alice.member.down = true;
    pcA.restartIce();
    await until(() => pcA.signalingState === 'have-local-offer', 2000);
    await new Promise((r) => setTimeout(r, 20));
    alice.member.down = false;
    rejoin(alice, ['bob']); // back: the connection is kept, the offer goes out again
    await until(() => pcB.remoteDescription?.sdp !== before && settled(), 2000, 'the restart completes');
    expect(FakePeerConnection.instances).toHaveLength(2);
    expect([...alice.errors, ...bob.errors]).toEqual([]);
  });

  it('re-sends an answer that was dropped while the socket reconnected', async () => {
    const hub = new FakeHub();
    const [alice, bob, pcA] = await pair(hub);
    bob.member.down = true;
    pcA.restartIce();
    await until(() => hub.log.filter((e) => e.from === 'alice' && 'description' in e.data).length === 2, 2000);
    await new Promise((r) => setTimeout(r, 20));
    expect(pcA.signalingState).toBe('have-local-offer');
    bob.member.down = false;
    rejoin(bob, ['alice']);
    await until(settled, 2000, 'alice gets the answer');
    expect(FakePeerConnection.instances).toHaveLength(2);
    expect([...alice.errors, ...bob.errors]).toEqual([]);
  });
});

describe('which connection a signal is for (issue 18, item 9)', () => {
  it('gives two offers from two sessions of one peer, back to back, two links: the second wins', async () => {
    const hub = new FakeHub();
    const bob = party(hub, 'bob');
    hub.hold = true;
    // Alice comes back twice in a row (a page reloaded twice): two connections offer to bob.
    const alice1 = party(hub, 'alice', {}, false);
    hub.replace(alice1.member);
    rejoin(alice1, ['bob']);
    await until(() => hub.queue.some((e) => 'description' in e.data), 2000);
    alice1.call.close();
    const alice2 = party(hub, 'alice', {}, false);
    hub.replace(alice2.member);
    rejoin(alice2, ['bob']);
    await until(() => hub.queue.filter((e) => 'description' in e.data).length === 2, 2000);
    hub.hold = false;
    hub.release(); // both offers reach bob before he applied either
    await until(() => connected(alice2, bob), 2000, 'bob connected to the second alice');
    await new Promise((r) => setTimeout(r, 30));
    // The first offer's link was dropped before it answered; the one answer names alice2's session.
    const secondSession = hub.log.filter((e) => e.from === 'alice' && 'description' in e.data).at(-1)!.data['session'];
    const answers = hub.log.filter((e) => e.from === 'bob' && 'description' in e.data);
    expect(answers.map((e) => e.data['to'])).toEqual([secondSession]);
    expect([...bob.errors, ...alice2.errors]).toEqual([]);
  });

  it('drops candidates of an earlier ICE round, and candidates for a connection it replaced, quietly', async () => {
    const hub = new FakeHub();
    const [alice, bob, pcA, pcB] = await pair(hub);
    const oldCandidate = hub.log.find((e) => e.from === 'bob' && 'candidate' in e.data)!;
    const before = pcA.remoteDescription?.sdp;
    pcB.restartIce();
    await until(() => pcA.remoteDescription?.sdp !== before && settled(), 2000);
    await new Promise((r) => setTimeout(r, 30)); // the restart's own candidates are in
    const applied = pcA.remoteCandidates;
    alice.member.fire('signal', { from: 'bob', data: oldCandidate.data }); // a straggler of the first round
    const current = hub.log.filter((e) => e.from === 'bob' && 'candidate' in e.data).at(-1)!;
    alice.member.fire('signal', { from: 'bob', data: { ...current.data, to: '0123456789abcdef' } }); // for another connection
    await new Promise((r) => setTimeout(r, 30));
    expect(pcA.remoteCandidates).toBe(applied);
    expect([...alice.errors, ...bob.errors]).toEqual([]);
    // Answers, and candidates from a side that knows the other's session, carry it.
    const tagged = hub.log.filter(
      (x) => (x.from === 'bob' && 'candidate' in x.data) || (x.data['description'] as { type?: string } | undefined)?.type === 'answer',
    );
    expect(tagged.length).toBeGreaterThan(2);
    const sessionOf = (name: string): unknown => hub.log.find((x) => x.from === name)!.data['session'];
    for (const e of tagged) expect(e.data['to']).toBe(sessionOf(e.to));
  });
});
