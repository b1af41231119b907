import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../../src/backends/memory/memory-backend.ts';
import type { Backend } from '../../../src/cluster/backend.ts';
import { SubscriptionSet } from '../../../src/cluster/subscription-set.ts';

describe('ChannelLease', () => {
  it('gives its channels back once: a second release leaves the shared room channel to the other members', async () => {
    const set = new SubscriptionSet(new MemoryBackend(), () => undefined);
    const alice = set.lease(['room', 'alice']);
    const bob = set.lease(['room', 'bob']);
    await alice.acquire();
    await bob.acquire();
    await alice.release();
    await alice.release();
    expect(set.channels().sort()).toEqual(['bob', 'room']);
    await bob.release();
    expect(set.size).toBe(0);
  });

  it('holds nothing after a failed acquire, so its release takes nothing from the others', async () => {
    const backend = new MemoryBackend();
    let down = false;
    const flaky: Backend = Object.create(backend, {
      subscribe: { value: (channels: string[]) => (down ? Promise.reject(new Error('down')) : backend.subscribe(channels)) },
    }) as Backend;
    const set = new SubscriptionSet(flaky, () => undefined);
    const bob = set.lease(['room', 'bob']);
    await bob.acquire();
    down = true;
    const alice = set.lease(['room', 'alice']);
    await expect(alice.acquire()).rejects.toThrow('down');
    await alice.release();
    expect(set.channels().sort()).toEqual(['bob', 'room']);
  });
});
