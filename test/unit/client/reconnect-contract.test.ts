import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  MeshCall,
  type MeshCallOptions,
  type PeerConnectionConstructor,
  type PeerState,
  type ReconnectContext,
  type ReconnectPolicy,
  SignalingClient,
  SignalingError,
  type WebSocketLike,
} from '../../../client/src/index.ts';
import { FakeHub } from './fake-hub.ts';
import { FakePeerConnection, FakeStream, FakeTrack } from './fake-webrtc.ts';

/**
 * The reconnect policy's contract, in SignalingClient and in MeshCall: `null` stops retrying
 * (nothing is rebuilt for 10 s after it), a policy that throws stops too and is reported
 * through the error event, and `elapsedMs` is the time since the link broke. Fake timers and
 * a fake clock, so ten seconds take none.
 */

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
  FakePeerConnection.instances.length = 0;
});

/** A WebSocket that does what the test says; every one made is counted. */
class ScriptedSocket implements WebSocketLike {
  static made: ScriptedSocket[] = [];
  readyState = 0;
  sent: string[] = [];
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  readonly url: string;
  constructor(url: string) {
    this.url = url;
    ScriptedSocket.made.push(this);
  }
  send(data: string): void {
    this.sent.push(data);
  }
  close(): void {
    this.readyState = 3;
  }
  /** The server accepts the join. */
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
    this.onmessage?.({
      data: JSON.stringify({
        type: 'joined',
        room: 'r',
        name: 'alice',
        peers: [],
        members: [],
        resume: 's',
        resumed: false,
        iceServers: [],
      }),
    });
  }
  /** The link drops. */
  drop(): void {
    this.readyState = 3;
    this.onclose?.({ code: 1006, reason: '' });
  }
}

function signalingClient(policy: ReconnectPolicy): { client: SignalingClient; errors: SignalingError[]; states: string[] } {
  ScriptedSocket.made = [];
  const client = new SignalingClient({
    url: 'ws://x/signaling',
    room: 'r',
    name: 'alice',
    WebSocket: ScriptedSocket,
    reconnectPolicy: policy,
  });
  const errors: SignalingError[] = [];
  const states: string[] = [];
  client.on('error', (error) => errors.push(error));
  client.on('state', ({ state }) => states.push(state));
  client.connect();
  ScriptedSocket.made[0]!.open();
  return { client, errors, states };
}

describe('SignalingClient and its reconnect policy', () => {
  it('stops on null: closed with reconnect-exhausted, and no new socket within 10 s', async () => {
    const { client, errors } = signalingClient({ nextRetryDelayInMs: () => null });
    ScriptedSocket.made[0]!.drop();
    expect(client.state).toBe('closed');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(ScriptedSocket.made).toHaveLength(1);
    expect(errors.map((e) => e.reason)).toEqual(['reconnect-exhausted']);
  });

  it('stops when the policy throws, and reports it through the error event', async () => {
    const thrown = new Error('policy bug');
    const { client, errors, states } = signalingClient({
      nextRetryDelayInMs: () => {
        throw thrown;
      },
    });
    ScriptedSocket.made[0]!.drop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(ScriptedSocket.made).toHaveLength(1);
    expect(client.state).toBe('closed');
    expect(states.at(-1)).toBe('closed');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ reason: 'policy-failed' });
    expect(errors[0]!.cause).toBe(thrown);
  });

  it('stops when the policy answers something that is not a number', async () => {
    const { client, errors } = signalingClient({ nextRetryDelayInMs: () => 'soon' as unknown as number });
    ScriptedSocket.made[0]!.drop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(ScriptedSocket.made).toHaveLength(1);
    expect(client.state).toBe('closed');
    expect(errors.map((e) => e.reason)).toEqual(['policy-failed']);
  });

  it('gives elapsedMs as the time since the link broke', async () => {
    const contexts: ReconnectContext[] = [];
    signalingClient({ nextRetryDelayInMs: (context) => (contexts.push(context), context.retryCount < 3 ? 1_000 : null) });
    await vi.advanceTimersByTimeAsync(500);
    ScriptedSocket.made[0]!.drop();
    for (let i = 1; i <= 3; i++) {
      await vi.advanceTimersByTimeAsync(1_000);
      ScriptedSocket.made[i]!.drop(); // each attempt fails at once
    }
    expect(contexts.map((c) => c.elapsedMs)).toEqual([0, 1_000, 2_000, 3_000]);
  });
});

interface Party {
  call: MeshCall;
  states: PeerState[];
  failed: string[];
  reconnecting: number;
  errors: SignalingError[];
}

function party(hub: FakeHub, name: string, options: Partial<MeshCallOptions>): Party {
  const member = hub.member(name);
  const call = new MeshCall({
    signaling: member,
    localStream: new FakeStream([new FakeTrack('audio'), new FakeTrack('video')]) as unknown as MediaStream,
    RTCPeerConnection: FakePeerConnection as unknown as PeerConnectionConstructor,
    ...options,
  });
  const p: Party = { call, states: [], failed: [], reconnecting: 0, errors: [] };
  call.on('connection-state', ({ state }) => p.states.push(state));
  call.on('peer-failed', ({ peer }) => p.failed.push(peer));
  call.on('peer-reconnecting', () => p.reconnecting++);
  call.on('error', ({ error }) => p.errors.push(error));
  hub.join(member);
  return p;
}

/**
 * alice offers to bob, whose answers are all lost, so alice's link never settles and breaks
 * after 150 ms; bob's never gives up (no deadline), so only alice's policy decides.
 */
function brokenPair(policy: ReconnectPolicy): { hub: FakeHub; alice: Party; bob: Party } {
  const hub = new FakeHub();
  hub.drop = (e) => e.from === 'bob' && 'description' in e.data;
  const alice = party(hub, 'alice', { settleTimeoutMs: 150, rebuildPolicy: policy });
  const bob = party(hub, 'bob', { settleTimeoutMs: 0 });
  return { hub, alice, bob };
}

const aliceConnections = (): number => FakePeerConnection.instances.length - 1; // bob keeps his one

describe('MeshCall and its rebuild policy', () => {
  it('stops on null: the peer reads failed, nothing is rebuilt within 10 s, a re-join starts over', async () => {
    const { hub, alice } = brokenPair({ nextRetryDelayInMs: () => null });
    await vi.advanceTimersByTimeAsync(300);
    expect(alice.failed).toEqual(['bob']);
    expect(alice.call.connectionState('bob')).toBe('failed');
    expect(alice.states.at(-1)).toBe('failed');
    expect(alice.reconnecting).toBe(0);
    const before = aliceConnections();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(aliceConnections()).toBe(before);
    expect(alice.call.connectionState('bob')).toBe('failed');
    // A re-join starts over: a new connection to bob.
    hub.drop = undefined;
    const member = hub.members.get('alice')!;
    member.fire('joined', {
      room: 'r',
      name: 'alice',
      peers: ['bob'],
      members: [{ name: 'bob', metadata: {} }],
      iceServers: [],
      resume: undefined,
      rejoin: true,
      resumed: true,
    });
    expect(aliceConnections()).toBe(before + 1);
    alice.call.close();
  });

  it('starts over when the peer offers again after alice gave up', async () => {
    const { hub, alice, bob } = brokenPair({ nextRetryDelayInMs: () => null });
    // alice's candidates are lost too, so bob's end never connects either.
    hub.drop = (e) => (e.from === 'bob' && 'description' in e.data) || (e.from === 'alice' && 'candidate' in e.data);
    await vi.advanceTimersByTimeAsync(300);
    expect(alice.call.connectionState('bob')).toBe('failed');
    hub.drop = undefined;
    expect(bob.call.connectionState('alice')).not.toBe('connected');
    // bob re-joins: he offers anew to everyone he has no working connection with.
    hub.members.get('bob')!.fire('joined', {
      room: 'r',
      name: 'bob',
      peers: ['alice'],
      members: [{ name: 'alice', metadata: {} }],
      iceServers: [],
      resume: undefined,
      rejoin: true,
      resumed: true,
    });
    await vi.advanceTimersByTimeAsync(200);
    expect(alice.call.connectionState('bob')).toBe('connected');
    alice.call.close();
    bob.call.close();
  });

  it('stops when the policy throws, and reports it as an error event', async () => {
    const { alice } = brokenPair({
      nextRetryDelayInMs: () => {
        throw new Error('policy bug');
      },
    });
    await vi.advanceTimersByTimeAsync(300);
    const before = aliceConnections();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(aliceConnections()).toBe(before);
    expect(alice.call.connectionState('bob')).toBe('failed');
    expect(alice.failed).toEqual(['bob']);
    // The break itself is reported too (peer-connection); the policy's failure once.
    expect(alice.errors.filter((e) => e.reason === 'policy-failed')).toHaveLength(1);
    alice.call.close();
  });

  it('gives elapsedMs as the time since the link first broke', async () => {
    const contexts: ReconnectContext[] = [];
    brokenPair({ nextRetryDelayInMs: (context) => (contexts.push(context), context.retryCount < 2 ? 1_000 : null) });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(contexts.map((c) => c.retryCount)).toEqual([0, 1, 2]);
    // Broke at 150 ms; rebuilt at 1150, broke at 1300; rebuilt at 2300, broke at 2450.
    expect(contexts.map((c) => c.elapsedMs)).toEqual([0, 1_150, 2_300]);
  });
});
