import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisBackend } from '../../src/backends/redis/redis-backend.ts';
import { RedisClusterBackend } from '../../src/backends/redis/redis-cluster-backend.ts';
import type { RedisStore } from '../../src/backends/redis/redis-store.ts';
import { LeasesAndSweeps } from '../../src/cluster/leases-and-sweeps.ts';
import { NodeKeys, RoomKeys } from '../../src/cluster/keys.ts';
import type { SessionHandle, SessionSink } from '../../src/cluster/session.ts';
import { SignalingNode } from '../../src/cluster/signaling-node.ts';
import { redisClusterNodes } from '../../src/config/redis-cluster-nodes.ts';
import { FaultyBackend, gate } from '../fixtures/faulty-backend.ts';
import type { RedisFixture } from '../fixtures/redis.ts';
import { startRedis, uniquePrefix } from '../fixtures/redis.ts';
import type { RedisClusterFixture } from '../fixtures/redis-cluster.ts';
import { startRedisCluster } from '../fixtures/redis-cluster.ts';

/**
 * Membership under faults (issue 18): cluster cores in this process on real Redis (and the
 * three-master cluster where the scripts' publishing matters), with lost replies and delays
 * injected at the backend seam, where a real fault could not be timed.
 */
const log = pino({ level: 'silent' });
const GRACE_MS = 300;
const LEASE_MS = 600;

interface Member {
  session: SessionHandle;
  events: string[];
  secrets: string[];
}

interface Core {
  node: SignalingNode;
  faults: FaultyBackend;
  nodeId: string;
  member(connection: string): Member;
}

type Kind = 'redis' | 'redis-cluster';

let redis: RedisFixture;
let cluster: RedisClusterFixture | undefined;
let admin: Redis;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  admin?.disconnect();
  await redis?.stop();
  await cluster?.stop();
});

async function core(kind: Kind, prefix: string, name: string, graceMs = GRACE_MS): Promise<Core> {
  const nodeId = `${name}-${Math.random().toString(16).slice(2, 8)}`;
  let real: RedisStore;
  if (kind === 'redis') {
    const backend = new RedisBackend({ url: redis.url, tlsVerify: false, commandTimeoutMs: 3000, prefix }, nodeId, log);
    await backend.connect();
    real = backend;
  } else {
    cluster ??= await startRedisCluster();
    const seeds = redisClusterNodes(cluster.seeds);
    if (!seeds.ok) throw new Error(seeds.problem);
    const backend = new RedisClusterBackend({ ...seeds.value, tlsVerify: false, commandTimeoutMs: 3000, prefix }, nodeId, log);
    await backend.connect();
    real = backend;
  }
  const faults = new FaultyBackend(real);
  const node = new SignalingNode(faults.backend, { nodeId, prefix, maxRoomSize: 16, graceMs, leaseMs: LEASE_MS, maxHeld: 16, logger: log });
  cleanups.push(async () => {
    node.stop();
    await real.close();
  });
  let n = 0;
  return {
    node,
    faults,
    nodeId,
    member(connection = `c${++n}`): Member {
      const events: string[] = [];
      const secrets: string[] = [];
      const sink: SessionSink = {
        joined: (_room, _name, peers, info) => {
          events.push(`joined:${peers.join(',')}${info.resumed ? ':resumed' : ''}`);
          secrets.push(info.resume);
        },
        peerJoined: (peer) => void events.push(`+${peer}`),
        peerLeft: (peer) => void events.push(`-${peer}`),
        deliver: (frame) => void events.push(`frame:${frame}`),
        replaced: () => void events.push('replaced'),
        ended: (reason) => void events.push(`ended:${reason}`),
        signalsLost: (peers) => void events.push(`lost:${peers.join(',')}`),
      };
      return { session: node.createSession('v1', connection, sink, log), events, secrets };
    },
  };
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Alice on core a and bob on core b, in room r, alice having heard bob join. */
async function aliceAndBob(kind: Kind, prefix: string): Promise<{ a: Core; b: Core; alice: Member; bob: Member }> {
  const a = await core(kind, prefix, 'a');
  const b = await core(kind, prefix, 'b');
  const alice = a.member('c1');
  const bob = b.member('c1');
  await alice.session.join('r', 'alice');
  await bob.session.join('r', 'bob');
  await until(() => alice.events.includes('+bob'), 'alice to hear bob');
  return { a, b, alice, bob };
}

describe.each<Kind>(['redis', 'redis-cluster'])('lost replies (%s)', (kind) => {
  it('frees a name whose register reply was lost, even when the first cleanup fails too', async () => {
    const prefix = uniquePrefix('lost-register');
    const a = await core(kind, prefix, 'a');
    const b = await core(kind, prefix, 'b');
    a.faults.inject('register', { kind: 'lost-reply' });
    a.faults.inject('unregister', { kind: 'fails' });
    const alice = a.member('c1');
    expect(await alice.session.join('r', 'alice')).toEqual({ ok: false, code: 'unavailable' });
    // The registration ran; its cleanup is retried until it goes through.
    const bob = b.member('c1');
    await until(async () => (await bob.session.join('r', 'alice')).ok, 'the name to be free again');
    expect(bob.events[0]).toBe('joined:');
    // The name is free once Redis ran the retried unregister; the cleanup counts as done
    // only when its reply is back, which a container's Redis can deliver a little later.
    await until(() => a.node.pendingCleanups === 0, 'the cleanup queue to empty');
  });

  it('lets a client whose resume reply was lost resume again with the secret it holds', async () => {
    const prefix = uniquePrefix('lost-resume');
    const { b, alice, bob } = await aliceAndBob(kind, prefix);
    await alice.session.close('disconnect');
    const secret = alice.secrets[0] ?? '';
    b.faults.inject('resume', { kind: 'lost-reply' });
    const retry = b.member('c2');
    expect(await retry.session.join('r', 'alice', secret)).toEqual({ ok: false, code: 'unavailable' });
    const again = b.member('c3');
    await until(async () => (await again.session.join('r', 'alice', secret)).ok, 'the resume to go through');
    expect(again.events[0]).toBe('joined:bob:resumed');
    // Bob never saw alice go, not even after her grace.
    await pause(GRACE_MS * 2);
    expect(bob.events).toEqual(['joined:alice']);
  });

  it('announces a leave whose unregister reply was lost', async () => {
    const prefix = uniquePrefix('lost-unregister');
    const { a, alice, bob } = await aliceAndBob(kind, prefix);
    a.faults.inject('unregister', { kind: 'lost-reply' });
    await alice.session.leave();
    // Alice's unregister ran, then its reply was lost: the peer-left must still go out, once.
    await until(() => bob.events.includes('-alice'), 'bob to hear peer-left');
    await pause(500);
    expect(bob.events).toEqual(['joined:alice', '-alice']);
  });
});

describe('lost replies to expiry', () => {
  it('still tells peers when the expiry ran but its reply was lost', async () => {
    const prefix = uniquePrefix('lost-expire');
    const { a, alice, bob } = await aliceAndBob('redis', prefix);
    a.faults.inject('expire', { kind: 'lost-reply' });
    await alice.session.close('disconnect');
    await until(() => bob.events.includes('-alice'), 'bob to hear peer-left after the grace');
    expect(a.faults.calls('expire')).toBeGreaterThanOrEqual(1);
  });
});

/** Deletes a room's keys: the shard holding it restarted empty. */
async function loseRoom(kind: Kind, prefix: string, room: string): Promise<void> {
  const keys = new RoomKeys(prefix, 'v1', room);
  if (kind === 'redis') {
    await admin.del(keys.members);
    return;
  }
  const port = await (cluster as RedisClusterFixture).masterOf(keys.members);
  await (cluster as RedisClusterFixture).cli(port, 'DEL', keys.members);
}

describe.each<Kind>(['redis', 'redis-cluster'])('re-registration (%s)', (kind) => {
  it('announces a member put back after its room was lost, so a newcomer and it see each other', async () => {
    const prefix = uniquePrefix('split');
    const a = await core(kind, prefix, 'a');
    const b = await core(kind, prefix, 'b');
    const alice = a.member('c1');
    const carol = a.member('c2');
    await alice.session.join('r', 'alice');
    await carol.session.join('r', 'carol');
    await until(() => alice.events.includes('+carol'), 'alice to hear carol');
    await loseRoom(kind, prefix, 'r');
    // Bob lands in the emptied room before a's members are back: his seq is no higher than theirs.
    const bob = b.member('c1');
    await bob.session.join('r', 'bob');
    expect(bob.events).toEqual(['joined:']);
    a.faults.reconnect();
    await until(() => bob.events.includes('+alice') && bob.events.includes('+carol'), 'bob to hear alice and carol');
    await until(() => alice.events.includes('+bob') && carol.events.includes('+bob'), 'alice and carol to hear bob');
    // Alice and carol were never told the other left: no flap between them.
    expect(alice.events).toEqual(['joined:', '+carol', '+bob']);
    expect(carol.events).toEqual(['joined:alice', '+bob']);
    // A newcomer sees everyone, in the old join order, and everyone hears of it.
    const dave = b.member('c2');
    await dave.session.join('r', 'dave');
    expect(dave.events[0]).toBe('joined:bob,alice,carol');
    await until(() => [alice, carol, bob].every((m) => m.events.includes('+dave')), 'everyone to hear dave');
  });

  it('does not put back the members of a dyno swept while it was stalled: they are told, and join anew', async () => {
    const prefix = uniquePrefix('lapse');
    const a = await core(kind, prefix, 'a');
    const b = await core(kind, prefix, 'b');
    const lost: string[] = [];
    const start = (c: Core): LeasesAndSweeps => {
      const liveness = new LeasesAndSweeps(c.faults.backend, {
        nodeId: c.nodeId,
        leaseMs: LEASE_MS,
        graceMs: GRACE_MS,
        logger: log,
        onLeaseLost: (state) => {
          lost.push(state);
          c.node.requestRestore(`lease ${state}`);
        },
      });
      liveness.start();
      cleanups.push(() => liveness.stop());
      return liveness;
    };
    start(a);
    const alice = a.member('c1');
    const bob = b.member('c1');
    await alice.session.join('r', 'alice');
    await bob.session.join('r', 'bob');
    await until(() => alice.events.includes('+bob'), 'alice to hear bob');
    await until(() => a.faults.calls('renewLease') >= 2, 'a to renew its lease');
    // Dyno a stalls: its renewals stop reaching Redis, and b sweeps alice after her grace.
    const stall = gate();
    a.faults.inject('renewLease', { kind: 'delayed', until: stall.until }, 1000);
    start(b);
    await until(() => bob.events.includes('-alice'), 'bob to hear alice swept', 15_000);
    stall.open();
    // Bob heard alice leave: that membership ended for good. Her session is told so (her
    // socket closes, her client joins again) instead of being written back.
    await until(() => alice.events.includes('ended:dyno-lost'), 'alice to hear her membership ended');
    expect(lost.length).toBeGreaterThan(0);
    await pause(500);
    expect(alice.events).toEqual(['joined:', '+bob', 'ended:dyno-lost']);
    expect(bob.events).toEqual(['joined:alice', '-alice']);
    // Her client joins again: a new membership, which bob hears, and signals reach her.
    const again = a.member('c2');
    expect(await again.session.join('r', 'alice')).toEqual({ ok: true, resumed: false });
    await until(() => bob.events.includes('+alice'), 'bob to hear alice join again');
    expect(await bob.session.signal('alice', 'hello')).toBe('sent');
    await until(() => again.events.includes('frame:hello'), 'alice to get the signal');
  });
});

describe('one queue for every change to a session', () => {
  it('lets a member that drops during its re-registration expire with peer-left', async () => {
    const prefix = uniquePrefix('rereg-race');
    const { a, alice, bob } = await aliceAndBob('redis', prefix);
    const slow = gate();
    a.faults.inject('reregister', { kind: 'delayed', until: slow.until });
    a.faults.inject('renewLease', { kind: 'delayed', until: slow.until });
    a.faults.reconnect();
    await until(() => a.faults.calls('reregister') + a.faults.calls('renewLease') > 0, 're-registration to start');
    const closing = alice.session.close('disconnect');
    await pause(50);
    slow.open();
    await closing;
    await until(() => bob.events.includes('-alice'), 'bob to hear alice leave after her grace');
    const members = await admin.hgetall(new RoomKeys(prefix, 'v1', 'r').members);
    expect(Object.keys(members)).not.toContain('alice');
  });

  it('keeps the room channel for the other local members when a dropping member is resumed elsewhere', async () => {
    const prefix = uniquePrefix('double-release');
    const a = await core('redis', prefix, 'a');
    const b = await core('redis', prefix, 'b');
    const alice = a.member('c1');
    const carol = a.member('c2');
    const bob = b.member('c1');
    await alice.session.join('r', 'alice');
    await carol.session.join('r', 'carol');
    await bob.session.join('r', 'bob');
    await until(() => carol.events.includes('+bob'), 'carol to hear bob');
    // Alice drops; dyno a's unsubscribe is slow, and she resumes on b meanwhile.
    const slow = gate();
    a.faults.inject('unsubscribe', { kind: 'delayed', until: slow.until });
    const closing = alice.session.close('disconnect');
    await until(() => a.faults.calls('unsubscribe') > 0, 'the unsubscribe to start');
    const back = b.member('c2');
    expect(await back.session.join('r', 'alice', alice.secrets[0])).toEqual({ ok: true, resumed: true });
    await pause(200);
    slow.open();
    await closing;
    // Carol, on the same dyno, must still hear the room.
    const dave = b.member('c3');
    await dave.session.join('r', 'dave');
    await until(() => carol.events.includes('+dave'), 'carol to hear dave');
  });

  // Alice's socket drops and signal 1 reaches only her old dyno a, which is slow to store it
  // (a slow unsubscribe: a still hears of the resume; or a slow suspend: it does not), so her
  // resume on b runs first. Before the hand-over, signal 1 was dropped there.
  it.each<[Kind, 'unsubscribe' | 'suspend']>([
    ['redis', 'unsubscribe'],
    ['redis', 'suspend'],
    ['redis-cluster', 'unsubscribe'],
  ])('hands over what a dropping dyno still had when the resume beat its suspend (%s, slow %s)', async (kind, slowStep) => {
    const prefix = uniquePrefix('late-suspend');
    const { a, b, alice, bob } = await aliceAndBob(kind, prefix);
    const slow = gate();
    const unsubscribed = slowStep === 'unsubscribe' ? slow : gate();
    a.faults.inject('unsubscribe', { kind: 'delayed', until: unsubscribed.until });
    if (slowStep === 'suspend') a.faults.inject('suspend', { kind: 'delayed', until: slow.until });
    const closing = alice.session.close('disconnect');
    await until(() => a.faults.calls('unsubscribe') > 0, 'the unsubscribe to start');
    // a still subscribes: signal 1 reaches it (and only it) after the drop.
    expect(await bob.session.signal('alice', '{"i":1}')).toBe('sent');
    await pause(50);
    if (slowStep === 'suspend') {
      unsubscribed.open();
      await until(() => a.faults.calls('suspend') > 0, 'the suspend to start');
    }
    const back = b.member('c2');
    const resumed = back.session.join('r', 'alice', alice.secrets[0]);
    if (slowStep === 'suspend') {
      // The resume ran and waits for a's hand-over, which a sends once its suspend fails.
      await until(() => b.faults.calls('resume') > 0, 'the resume to start');
      await pause(150);
      slow.open();
    }
    expect(await resumed).toEqual({ ok: true, resumed: true });
    // a heard of the resume while still subscribed and handed over at once.
    slow.open();
    expect(await bob.session.signal('alice', '{"i":2}')).toBe('sent');
    await closing;
    expect(await bob.session.signal('alice', '{"i":3}')).toBe('sent');
    await until(() => back.events.filter((e) => e.startsWith('frame:')).length >= 3, 'three signals to reach the resumed alice', 5000);
    await pause(200);
    expect(back.events).toEqual(['joined:bob:resumed', 'frame:{"i":1}', 'frame:{"i":2}', 'frame:{"i":3}']);
  });

  it('tells a resumed client signals may be lost when its old dyno never hands over', async () => {
    const prefix = uniquePrefix('no-handover');
    const { a, b, alice, bob } = await aliceAndBob('redis', prefix);
    // a stalls in its unsubscribe and its hand-over never gets out (as if it died).
    const never = gate();
    a.faults.inject('unsubscribe', { kind: 'delayed', until: never.until });
    a.faults.inject('publish', { kind: 'fails' });
    void alice.session.close('disconnect');
    await until(() => a.faults.calls('unsubscribe') > 0, 'the unsubscribe to start');
    const back = b.member('c2');
    const started = Date.now();
    expect(await back.session.join('r', 'alice', alice.secrets[0])).toEqual({ ok: true, resumed: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(b.node.handoverTimeoutMs - 50);
    expect(back.events).toEqual(['joined:bob:resumed', 'lost:bob']);
    expect(await bob.session.signal('alice', '{"i":1}')).toBe('sent');
    await until(() => back.events.includes('frame:{"i":1}'), 'live signals to flow');
    never.open();
  });

  it('forgets sweep-index entries once memberships end: 100 join/leave cycles leave none', async () => {
    const prefix = uniquePrefix('index');
    const a = await core('redis', prefix, 'a');
    const keeper = a.member('keep');
    await keeper.session.join('r', 'keeper');
    for (let i = 0; i < 100; i++) {
      const m = a.member(`c${i}`);
      await m.session.join('r', `m${i}`);
      await m.session.leave();
    }
    // A refused join leaves nothing behind either.
    const taken = a.member('taken');
    expect(await taken.session.join('r', 'keeper')).toEqual({ ok: false, code: 'name-taken' });
    await until(() => a.node.pendingCleanups === 0, 'cleanups to finish');
    expect(await admin.scard(new NodeKeys(prefix).members(a.nodeId))).toBe(1);
  });

  it('indexes a registration before making it, so a dyno that dies right after is swept', async () => {
    const prefix = uniquePrefix('index-first');
    const a = await core('redis', prefix, 'a');
    const b = await core('redis', prefix, 'b');
    // The index write fails: the join must not go ahead unindexed.
    a.faults.inject('indexMember', { kind: 'fails' });
    const alice = a.member('c1');
    const outcome = await alice.session.join('r', 'alice');
    // Dyno a dies now, without cleaning up: its lease is over at once.
    a.node.stop();
    await admin.zadd(new NodeKeys(prefix).leases, 0, a.nodeId);
    const liveness = new LeasesAndSweeps(b.faults.backend, { nodeId: b.nodeId, leaseMs: LEASE_MS, graceMs: GRACE_MS, logger: log });
    liveness.start();
    cleanups.push(() => liveness.stop());
    const bob = b.member('c1');
    await until(async () => (await bob.session.join('r', 'alice')).ok, 'the name to be free', 15_000);
    expect(outcome).toEqual({ ok: false, code: 'unavailable' });
  });

  it('schedules no grace timers once stopped: the suspended member is left for survivors to sweep', async () => {
    const prefix = uniquePrefix('stopped');
    const a = await core('redis', prefix, 'a');
    const alice = a.member('c1');
    await alice.session.join('r', 'alice');
    a.node.stop();
    await alice.session.close('disconnect');
    await pause(GRACE_MS + 400);
    const record = await admin.hget(new RoomKeys(prefix, 'v1', 'r').members, 'alice');
    expect(record).not.toBeNull();
    // Suspended (a grace deadline is set) and still indexed, so a sweep finds it.
    expect(record?.endsWith('|0')).toBe(false);
    expect(await admin.scard(new NodeKeys(prefix).members(a.nodeId))).toBe(1);
  });
});
