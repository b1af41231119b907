import { afterEach, describe, expect, it, vi } from 'vitest';
import { MeshCall, type PeerConnectionConstructor, parseMeshSignal } from '../../../client/src/index.ts';
import { FakeHub, type FakeMember } from './fake-hub.ts';
import { FakePeerConnection, FakeStream, FakeTrack } from './fake-webrtc.ts';
import { until } from './helpers.ts';

const calls: MeshCall[] = [];
afterEach(() => {
  vi.unstubAllGlobals();
  for (const call of calls.splice(0)) call.close();
  FakePeerConnection.instances.length = 0;
});

interface Party {
  member: FakeMember;
  call: MeshCall;
  stream: FakeStream | null;
  streams: Map<string, FakeStream[]>;
  errors: string[];
  removed: string[];
}

function camera(): FakeStream {
  return new FakeStream([new FakeTrack('audio'), new FakeTrack('video')]);
}

/** A member with a MeshCall listening before it joins. */
function party(hub: FakeHub, name: string, stream: FakeStream | null = camera(), join = true): Party {
  const member = hub.member(name);
  const call = new MeshCall({
    signaling: member,
    localStream: stream as unknown as MediaStream | null,
    RTCPeerConnection: FakePeerConnection as unknown as PeerConnectionConstructor,
  });
  calls.push(call);
  const p: Party = { member, call, stream, streams: new Map(), errors: [], removed: [] };
  call.on('stream', ({ peer, stream: s }) => p.streams.set(peer, [...(p.streams.get(peer) ?? []), s as unknown as FakeStream]));
  call.on('error', ({ error }) => p.errors.push(error.message));
  call.on('peer-removed', ({ peer }) => p.removed.push(peer));
  if (join) hub.join(member);
  return p;
}

function connected(a: Party, b: Party): boolean {
  return a.call.connectionState(b.member.name) === 'connected' && b.call.connectionState(a.member.name) === 'connected';
}

const descriptions = (hub: FakeHub, from: string) =>
  hub.log.filter((e) => e.from === from && 'description' in e.data).map((e) => (e.data['description'] as { type: string }).type);

describe('MeshCall', () => {
  it('has the member present offer to the newcomer, who only answers', async () => {
    const hub = new FakeHub();
    const alice = party(hub, 'alice');
    const bob = party(hub, 'bob');
    await until(() => connected(alice, bob), 2000, 'alice and bob connected');
    expect(descriptions(hub, 'alice')[0]).toBe('offer');
    expect(descriptions(hub, 'bob')).toEqual(['answer']);
    // Each sees the other's camera stream, with both kinds.
    await until(() => alice.streams.has('bob') && bob.streams.has('alice'));
    const atAlice = alice.streams.get('bob')![0]!;
    expect(atAlice.id).toBe(bob.stream!.id);
    expect(
      atAlice
        .getTracks()
        .map((t) => t.kind)
        .sort(),
    ).toEqual(['audio', 'video']);
    expect(bob.streams.get('alice')![0]!.id).toBe(alice.stream!.id);
    // Trickle ICE: candidates travelled both ways, tagged with the sender's session.
    const candidate = hub.log.find((e) => e.from === 'bob' && 'candidate' in e.data)!;
    expect(parseMeshSignal(candidate.data)).not.toBeNull();
    expect(alice.errors).toEqual([]);
    expect(bob.errors).toEqual([]);
  });

  it('connects three people in a full mesh', async () => {
    const hub = new FakeHub();
    const [a, b, c] = [party(hub, 'alice'), party(hub, 'bob'), party(hub, 'carol')];
    await until(() => connected(a, b) && connected(a, c) && connected(b, c), 3000, 'full mesh');
    expect(FakePeerConnection.instances).toHaveLength(6);
    expect(descriptions(hub, 'carol')).toEqual(['answer', 'answer']);
  });

  it('resolves glare: both offer at once, the polite side rolls back, both connect', async () => {
    const hub = new FakeHub();
    const alice = party(hub, 'alice');
    const bob = party(hub, 'bob', camera(), false);
    hub.members.set('bob', bob.member); // in the room, but nobody was told
    hub.hold = true;
    // Both come back from a reconnect and offer to each other at the same moment.
    alice.member.fire('joined', {
      room: 'r',
      name: 'alice',
      peers: ['bob'],
      members: [{ name: 'bob', metadata: {} }],
      iceServers: [],
      resume: undefined,
      rejoin: true,
      resumed: true,
    });
    bob.member.fire('joined', {
      room: 'r',
      name: 'bob',
      peers: ['alice'],
      members: [{ name: 'alice', metadata: {} }],
      iceServers: [],
      resume: undefined,
      rejoin: true,
      resumed: true,
    });
    await until(() => hub.queue.filter((e) => 'description' in e.data).length === 2, 2000, 'two offers');
    hub.hold = false;
    hub.release();
    await until(() => connected(alice, bob), 2000, 'connected after glare');
    const [pcAlice, pcBob] = FakePeerConnection.instances;
    // "alice" < "bob": alice is polite and rolled back; bob ignored alice's offer.
    expect(pcAlice!.rollbacks).toBe(1);
    expect(pcBob!.rollbacks).toBe(0);
    expect(alice.errors).toEqual([]);
    expect(bob.errors).toEqual([]);
  });

  it('holds candidates that arrive before their description and applies them after', async () => {
    const hub = new FakeHub();
    const alice = party(hub, 'alice');
    hub.hold = true;
    const bob = party(hub, 'bob');
    await until(() => hub.queue.some((e) => 'description' in e.data) && hub.queue.filter((e) => 'candidate' in e.data).length === 2);
    // Deliver alice's candidates first: addIceCandidate would throw without a remote description.
    hub.queue.sort((x, y) => Number('description' in x.data) - Number('description' in y.data));
    expect('candidate' in hub.queue[0]!.data).toBe(true);
    hub.hold = false;
    hub.release();
    await until(() => connected(alice, bob), 2000, 'connected');
    expect(FakePeerConnection.instances[1]!.remoteCandidates).toBe(2);
    expect(bob.errors).toEqual([]);
  });

  it('tears a peer down on peer-left, and everyone on leave', async () => {
    const hub = new FakeHub();
    const [a, b, c] = [party(hub, 'alice'), party(hub, 'bob'), party(hub, 'carol')];
    await until(() => connected(a, b) && connected(a, c) && connected(b, c), 3000);
    hub.leave('carol');
    expect(a.removed).toEqual(['carol']);
    expect(b.removed).toEqual(['carol']);
    expect(c.removed.sort()).toEqual(['alice', 'bob']);
    expect(a.call.peers).toEqual(['bob']);
    expect(FakePeerConnection.instances.filter((pc) => pc.connectionState === 'closed')).toHaveLength(4);
    a.call.close();
    expect(a.removed).toEqual(['carol', 'bob']);
  });

  it('lets a receive-only member see others, then send a camera it gets later', async () => {
    // Alice has no local stream, so her new track goes out without a stream id and
    // bob's side gathers it into a MediaStream of its own (browsers have the class).
    vi.stubGlobal('MediaStream', FakeStream);
    const hub = new FakeHub();
    const bob = party(hub, 'bob');
    const alice = party(hub, 'alice', null); // no camera, no microphone
    await until(() => connected(alice, bob) && alice.streams.has('bob'), 2000);
    expect(bob.streams.has('alice')).toBe(false);
    const track = new FakeTrack('video');
    await alice.call.replaceTrack('video', track as unknown as MediaStreamTrack);
    await until(() => bob.streams.has('alice'), 2000, "bob to receive alice's new camera");
    expect(bob.streams.get('alice')![0]!.getVideoTracks()).toHaveLength(1);
    expect(bob.errors).toEqual([]);
    expect(alice.errors).toEqual([]);
  });

  it('mutes and blanks local tracks without renegotiating', async () => {
    const hub = new FakeHub();
    const alice = party(hub, 'alice');
    const bob = party(hub, 'bob');
    await until(() => connected(alice, bob));
    const before = hub.log.length;
    expect(alice.call.setTrackEnabled('audio', false)).toBe(true);
    expect(alice.call.setTrackEnabled('video', false)).toBe(true);
    expect(alice.stream!.getTracks().map((t) => t.enabled)).toEqual([false, false]);
    expect(party(hub, 'carol', null, false).call.setTrackEnabled('audio', true)).toBe(false);
    await new Promise((r) => setTimeout(r, 20));
    expect(hub.log.length).toBe(before);
  });

  it('starts over when the peer comes back with a new connection', async () => {
    const hub = new FakeHub();
    const alice = party(hub, 'alice');
    const bob = party(hub, 'bob');
    await until(() => connected(alice, bob));
    const oldPc = FakePeerConnection.instances[0]!;
    // Bob's page reloads without alice hearing peer-left (he came back within the grace period).
    bob.call.close();
    const bob2 = party(hub, 'bob', camera(), false);
    hub.replace(bob2.member);
    bob2.member.fire('joined', {
      room: 'r',
      name: 'bob',
      peers: ['alice'],
      members: [{ name: 'alice', metadata: {} }],
      iceServers: [],
      resume: undefined,
      rejoin: true,
      resumed: false,
    });
    await until(() => connected(alice, bob2), 2000, 'connected to the new bob');
    expect(oldPc.connectionState).toBe('closed');
    expect(alice.errors).toEqual([]);
    // The new stream object is announced even though its id is unchanged.
    await until(() => (alice.streams.get('bob') ?? []).length === 2);
  });

  it('reconciles after a re-join: drops the departed, keeps working connections', async () => {
    const hub = new FakeHub();
    const [a, b, c] = [party(hub, 'alice'), party(hub, 'bob'), party(hub, 'carol')];
    await until(() => connected(a, b) && connected(a, c), 3000);
    const count = FakePeerConnection.instances.length;
    hub.members.delete('carol'); // carol vanished while alice was away
    a.member.fire('joined', {
      room: 'r',
      name: 'alice',
      peers: ['bob'],
      members: [{ name: 'bob', metadata: {} }],
      iceServers: [{ urls: 'turn:t' }],
      resume: undefined,
      rejoin: true,
      resumed: true,
    });
    expect(a.removed).toEqual(['carol']);
    expect(a.call.connectionState('bob')).toBe('connected');
    expect(FakePeerConnection.instances.length).toBe(count);
    expect(FakePeerConnection.instances[0]!.getConfiguration().iceServers).toEqual([{ urls: 'turn:t' }]);
  });

  it('ignores malformed signal data from a peer', async () => {
    const hub = new FakeHub();
    const alice = party(hub, 'alice');
    for (const data of [
      {},
      { session: 's' },
      { session: 's', description: { type: 'rollback', sdp: '' } },
      { session: 5, candidate: { candidate: 'c', sdpMid: '0' } },
      { session: 's', candidate: { candidate: 'c' } },
    ]) {
      alice.member.fire('signal', { from: 'mallory', data });
    }
    await new Promise((r) => setTimeout(r, 10));
    expect(alice.call.peers).toEqual([]);
    expect(alice.errors).toEqual([]);
  });
});
