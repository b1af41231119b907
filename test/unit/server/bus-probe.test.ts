import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../../src/backends/memory/memory-backend.ts';
import { withBusProbe } from '../../../src/backends/probed-backend.ts';

const CHANNEL = 'sig:node:test-node';

describe('bus probe (readiness)', () => {
  it('passes when a message on the dyno channel comes back, and hides the echo from the core', async () => {
    const backend = withBusProbe(new MemoryBackend(), CHANNEL);
    const seen: string[] = [];
    backend.onMessage((channel) => seen.push(channel));
    const result = await backend.probe();
    expect(result).toMatchObject({ ok: true });
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
    await backend.subscribe(['other']);
    await backend.publish('other', 'x');
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(seen).toEqual(['other']);
    await backend.close();
  });

  it('fails for a backend that is connected but deaf', async () => {
    const raw = new MemoryBackend();
    const backend = withBusProbe(raw, CHANNEL);
    expect((await backend.probe()).ok).toBe(true);
    // The subscription is lost while the connection stays up: isReady() cannot see that.
    await raw.unsubscribe([CHANNEL]);
    expect(backend.isReady()).toBe(true);
    const result = await backend.probe();
    expect(result.ok).toBe(false);
    expect(result.reason).toMatch(/deaf/);
    await backend.close();
  });

  it('fails within its timeout when messages never come back', async () => {
    const raw = new MemoryBackend();
    // A bus that counts a receiver but never delivers, like a frozen subscriber connection.
    const backend = withBusProbe(Object.assign(raw, { publish: async () => 1 }), CHANNEL, 100);
    const started = Date.now();
    const result = await backend.probe();
    expect(result.ok).toBe(false);
    expect(result.reason).toMatch(/within 100 ms/);
    expect(Date.now() - started).toBeLessThan(1000);
    await backend.close();
  });
});
