import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../../src/backends/memory/memory-backend.ts';
import type { Backend } from '../../../src/cluster/backend.ts';
import { decodeBus, encodeHandover, encodeSignal, encodeSnapshot, Tag, toRoomEvent } from '../../../src/cluster/bus-codec.ts';
import type { CleanupJob } from '../../../src/cluster/cleanup-queue.ts';
import type { SessionHost } from '../../../src/cluster/host.ts';
import type { RoomKeys } from '../../../src/cluster/keys.ts';
import { Routes } from '../../../src/cluster/routes.ts';
import type { SessionCore } from '../../../src/cluster/session-core.ts';
import { Session } from '../../../src/cluster/session.ts';
import type { SessionSink } from '../../../src/cluster/session-types.ts';
import { SubscriptionSet } from '../../../src/cluster/subscription-set.ts';

const log = pino({ level: 'silent' });

/**
 * A session against a fake host: the SessionHost interface implemented here in a few lines
 * over the in-memory backend, with the node-wide acts (cleanups, forgetting, replacing)
 * recorded instead of done. What the session asks of its host is all it gets.
 */
class FakeHost implements SessionHost<SessionCore> {
  readonly nodeId = 'fake';
  readonly prefix = 'test:';
  readonly maxRoomSize = 8;
  readonly graceMs = 5000;
  readonly leaseMs = 5000;
  readonly handoverTimeoutMs = 100;
  readonly backend: Backend;
  readonly subscriptions: SubscriptionSet;
  readonly routes = new Routes<SessionCore>();
  readonly retired: CleanupJob[] = [];
  readonly forgotten: SessionCore[] = [];

  constructor(backend: Backend) {
    this.backend = backend;
    this.subscriptions = new SubscriptionSet(backend, () => undefined);
    backend.onMessage((channel, payload) => this.route(channel, payload));
  }

  forget(session: SessionCore): void {
    this.forgotten.push(session);
  }
  replaceElsewhere(): void {}
  async retire(job: CleanupJob): Promise<void> {
    this.retired.push(job);
  }
  async sendTo(keys: RoomKeys, to: string, frame: string): Promise<'sent' | 'not-found' | 'full'> {
    return (await this.backend.publish(keys.memberChannel(to), encodeSignal(frame))) > 0 ? 'sent' : 'not-found';
  }

  /** The node's routing, reduced to what these tests send. */
  private route(channel: string, payload: string): void {
    const message = decodeBus(payload);
    if (message?.tag === Tag.Removed) for (const session of this.routes.joining.get(channel) ?? []) session.earlyRemoved(message.owner);
    const member = this.routes.members.get(channel);
    if (member && message?.tag === Tag.Signal) member.frame(message.frame);
    else if (member && message?.tag === Tag.Removed && message.owner === member.owner) member.removed();
    const event = message ? toRoomEvent(message) : null;
    if (event) for (const session of this.routes.rooms.get(channel) ?? []) session.roomEvent(event);
    if (message?.tag === Tag.Handover) {
      for (const session of [...(member ? [member] : []), ...(this.routes.joining.get(channel) ?? [])])
        session.handover(message.owner, message.entries);
    }
  }
}

function recorder(options: { refuseJoined?: boolean } = {}): { sink: SessionSink; events: string[]; secret: () => string } {
  const events: string[] = [];
  let secret = '';
  const sink: SessionSink = {
    joined: (_room, _name, peers, info) => {
      secret = info.resume;
      events.push(`joined:${peers.join(',')}`);
      return options.refuseJoined !== true;
    },
    signalsLost: (peers) => void events.push(`lost:${peers.join(',')}`),
    peerJoined: (name) => void events.push(`+${name}`),
    peerLeft: (name) => void events.push(`-${name}`),
    deliver: (frame, seq) => void events.push(seq === undefined ? `frame:${frame}` : `frame#${seq}:${frame}`),
    removed: () => void events.push('removed'),
    ended: (reason) => void events.push(`ended:${reason}`),
  };
  return { sink, events, secret: () => secret };
}

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 10));

describe('a session against a fake host', () => {
  it('joins through the host: subscribes, registers, routes its channel, and numbers frames when asked', async () => {
    const host = new FakeHost(new MemoryBackend());
    const alice = recorder();
    const bob = recorder();
    const a = new Session(host, 'v1', 'a', alice.sink, log);
    const b = new Session(host, 'v1', 'b', bob.sink, log);
    expect(await a.join('r', 'alice', undefined, undefined, {}, { lastSeq: 0 })).toEqual({ ok: true, resumed: false });
    expect(await b.join('r', 'bob')).toEqual({ ok: true, resumed: false });
    expect(host.routes.members.size).toBe(2);
    expect(await b.signal('alice', 'one')).toBe('sent');
    expect(await b.signal('alice', 'two')).toBe('sent');
    await settle();
    expect(alice.events).toEqual(['joined:', '+bob', 'frame#1:one', 'frame#2:two']);
  });

  it('a first joined the socket refused ends with the socket: unregistered, not suspended', async () => {
    const host = new FakeHost(new MemoryBackend());
    const carol = recorder({ refuseJoined: true });
    const c = new Session(host, 'v1', 'c', carol.sink, log);
    await c.join('r', 'carol');
    await c.close('disconnect');
    expect(host.retired.map((job) => job.step)).toEqual(['unregister']);
    expect(host.forgotten).toEqual([c]);
  });

  it('a disconnect suspends: the host schedules the expiry, and the membership waits for its resume', async () => {
    const backend = new MemoryBackend();
    const host = new FakeHost(backend);
    const alice = recorder();
    const a = new Session(host, 'v1', 'a', alice.sink, log);
    await a.join('r', 'alice');
    a.confirm();
    await a.close('disconnect');
    expect(host.retired.map((job) => job.step)).toEqual(['expire']);
    expect(host.routes.members.size).toBe(0);
    expect((await backend.roomMembers('test:{v1.r}:members')).map((m) => [m.name, m.reconnecting])).toEqual([['alice', true]]);
  });

  it('a removal notice ends it: removed, unrouted, its index entry retired', async () => {
    const backend = new MemoryBackend();
    const host = new FakeHost(backend);
    const alice = recorder();
    const a = new Session(host, 'v1', 'a', alice.sink, log);
    await a.join('r', 'alice');
    expect(await backend.remove({ membersKey: 'test:{v1.r}:members', holdKey: 'test:{v1.r}:h:alice', name: 'alice' })).toBe(true);
    await settle();
    await settle();
    expect(alice.events).toEqual(['joined:', 'removed']);
    expect(host.routes.members.size).toBe(0);
    expect(host.retired.map((job) => job.step)).toEqual(['unindex']);
    expect(await a.join('r', 'alice')).toEqual({ ok: false, code: 'unavailable' });
  });

  it('a re-registration that finds its membership ended is never written back: the client is told', async () => {
    const backend = new MemoryBackend();
    const ended: Backend = Object.create(backend, {
      reregister: { value: async () => ({ status: 'ended', reason: 'dyno-lost' }) },
    }) as Backend;
    const host = new FakeHost(backend);
    Object.defineProperty(host, 'backend', { value: ended });
    const alice = recorder();
    const a = new Session(host, 'v1', 'a', alice.sink, log);
    await a.join('r', 'alice');
    expect(await a.reregister()).toBe('ended');
    expect(alice.events).toEqual(['joined:', 'ended:dyno-lost']);
    expect(host.routes.members.size).toBe(0);
  });

  it('a removal whose notice arrives while still registering is enforced once the join is done', async () => {
    const backend = new MemoryBackend();
    const ref = { membersKey: 'test:{v1.r}:members', holdKey: 'test:{v1.r}:h:alice', name: 'alice' };
    // The application removes alice between her registration and its reply.
    const racing: Backend = Object.create(backend, {
      register: {
        value: async (request: Parameters<Backend['register']>[0]) => {
          const outcome = await backend.register(request);
          await backend.remove(ref);
          await settle();
          return outcome;
        },
      },
    }) as Backend;
    const host = new FakeHost(backend);
    Object.defineProperty(host, 'backend', { value: racing });
    const alice = recorder();
    const a = new Session(host, 'v1', 'a', alice.sink, log);
    expect(await a.join('r', 'alice')).toEqual({ ok: true, resumed: false });
    expect(alice.events).toEqual(['joined:', 'removed']);
    expect(host.routes.members.size).toBe(0);
  });

  it("a resume's socket closing while it waits for the old dyno's hand-over still gets the hand-over", async () => {
    const host = new FakeHost(new MemoryBackend());
    const bob = recorder();
    const old = recorder();
    const b = new Session(host, 'v1', 'b', bob.sink, log);
    const a = new Session(host, 'v1', 'a', old.sink, log);
    await b.join('r', 'bob');
    await a.join('r', 'alice');
    a.confirm();
    // alice resumes on another connection while the old one has not suspended yet: the resume waits for its hand-over.
    const alice = recorder();
    const a2 = new Session(host, 'v1', 'a2', alice.sink, log);
    const resumed = a2.join('r', 'alice', old.secret());
    await settle();
    // The socket goes during the wait (the close queues behind the join); then the old dyno's hand-over arrives.
    const closed = a2.close('disconnect');
    await host.backend.publish('test:{v1.r}:m:alice', encodeHandover(a.owner, [encodeSnapshot([['bob', 1]]), encodeSignal('handed')]));
    expect(await resumed).toEqual({ ok: true, resumed: true });
    expect(alice.events).toContain('frame:handed');
    expect(alice.events.filter((e) => e.startsWith('lost:'))).toEqual([]);
    expect(await closed).toBe(true);
  });
});
