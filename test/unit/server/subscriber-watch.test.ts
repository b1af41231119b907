import { EventEmitter } from 'node:events';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Cluster } from 'ioredis';
import { SubscriberWatch } from '../../../src/backends/redis/subscriber-watch.ts';

/**
 * The detectors of SubscriberWatch that do not depend on the client library's `-node`:
 * the slot map compared after a refresh, and the per-master probe of this dyno's subscriber
 * connection. The Cluster is a stand-in here (what it answers is scripted); the integration
 * test cluster-failover-loss.test.ts shows the whole path on a real cluster.
 */
const log = pino({ level: 'silent' });

class FakeMaster {
  options = { host: '127.0.0.1', port: 7000 };
  /** The CLIENT LIST TYPE pubsub answer, and which ids CLIENT LIST ID still finds. */
  pubsub = '';
  alive = new Set<string>();
  call(...args: string[]): Promise<string> {
    if (args[2] === 'TYPE') return Promise.resolve(this.pubsub);
    const id = args[3] ?? '';
    return Promise.resolve(this.alive.has(id) ? `id=${id} name=x:signaling:n1:sub flags=P` : '');
  }
}

function fakes(master: FakeMaster): {
  subscriber: EventEmitter & { slots: string[][] };
  commands: { status: string; nodes: () => FakeMaster[] };
} {
  const subscriber = Object.assign(new EventEmitter(), { slots: [['127.0.0.1:7000'], ['127.0.0.1:7000'], ['127.0.0.1:7001']] });
  return { subscriber, commands: { status: 'ready', nodes: () => [master] } };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('SubscriberWatch', () => {
  it('reports the slots that changed hands at a slot refresh, at once', () => {
    const master = new FakeMaster();
    const { subscriber, commands } = fakes(master);
    const lost: number[][] = [];
    const watch = new SubscriberWatch(
      subscriber as unknown as Cluster,
      commands as unknown as Cluster,
      'signaling:n1:sub',
      (slots) => lost.push([...slots]),
      log,
    );
    subscriber.emit('ready');
    subscriber.slots = [['127.0.0.1:7000'], ['127.0.0.1:7002'], ['127.0.0.1:7001']];
    subscriber.emit('refresh');
    expect(lost).toEqual([[1]]);
    subscriber.emit('refresh');
    expect(lost).toEqual([[1]]);
    watch.stop();
  });

  it("reports a master's slots when its probe finds this dyno's subscriber connection replaced", async () => {
    vi.useFakeTimers();
    const master = new FakeMaster();
    master.pubsub = 'id=5 name=other:signaling:n2:sub flags=P\nid=15 name=ioredis-cluster(ssubscriber):signaling:n1:sub flags=P';
    master.alive.add('15');
    const { subscriber, commands } = fakes(master);
    const lost: number[][] = [];
    const watch = new SubscriberWatch(
      subscriber as unknown as Cluster,
      commands as unknown as Cluster,
      'signaling:n1:sub',
      (slots) => lost.push([...slots]),
      log,
    );
    subscriber.emit('ready');
    await vi.advanceTimersByTimeAsync(1000); // learns id 15
    await vi.advanceTimersByTimeAsync(1000); // still there
    expect(lost).toEqual([]);
    master.alive.delete('15');
    master.pubsub = 'id=16 name=ioredis-cluster(ssubscriber):signaling:n1:sub flags=P';
    master.alive.add('16');
    await vi.advanceTimersByTimeAsync(1000); // 15 is gone: replaced
    expect(lost).toEqual([[0, 1]]);
    await vi.advanceTimersByTimeAsync(2000); // learns 16, which stays
    expect(lost).toEqual([[0, 1]]);
    watch.stop();
  });
});
