import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisBackend } from '../../src/backends/redis/redis-backend.ts';
import { RedisClusterBackend } from '../../src/backends/redis/redis-cluster-backend.ts';
import type { RedisStore } from '../../src/backends/redis/redis-store.ts';
import { Liveness } from '../../src/cluster/liveness.ts';
import { NodeKeys, RoomKeys } from '../../src/cluster/keys.ts';
import type { Session, SessionSink } from '../../src/cluster/session.ts';
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
  session: Session;
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
      };
      return { session: node.createSession('v1', connection, sink, log), events, secrets };
    },
  };
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

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
    expect(a.node.pendingRetirements).toBe(0);
  });

  it('lets a client whose resume reply was lost resume again with the secret it holds', async () => {
    const prefix = uniquePrefix('lost-resume');
    const a = await core(kind, prefix, 'a');
    const b = await core(kind, prefix, 'b');
    const alice = a.member('c1');
    const bob = b.member('c1');
    await alice.session.join('r', 'alice');
    await bob.session.join('r', 'bob');
    await until(() => alice.events.includes('+bob'), 'alice to hear bob');
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
    const a = await core(kind, prefix, 'a');
    const b = await core(kind, prefix, 'b');
    const alice = a.member('c1');
    const bob = b.member('c1');
    await alice.session.join('r', 'alice');
    await bob.session.join('r', 'bob');
    await until(() => alice.events.includes('+bob'), 'alice to hear bob');
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
    const a = await core('redis', prefix, 'a');
    const b = await core('redis', prefix, 'b');
    const alice = a.member('c1');
    const bob = b.member('c1');
    await alice.session.join('r', 'alice');
    await bob.session.join('r', 'bob');
    await until(() => alice.events.includes('+bob'), 'alice to hear bob');
    a.faults.inject('expire', { kind: 'lost-reply' });
    await alice.session.close('disconnect');
    await until(() => bob.events.includes('-alice'), 'bob to hear peer-left after the grace');
    expect(a.faults.calls('expire')).toBeGreaterThanOrEqual(1);
  });
});
