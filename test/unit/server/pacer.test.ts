import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Pacer } from '../../../src/cluster/pacer.ts';

describe('Pacer', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'performance', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('starts at most perTurn tasks in one turn of the event loop, and all of them in the end', async () => {
    const pacer = new Pacer({ perTurn: 10, inFlight: 1000 });
    let started = 0;
    const results = Array.from({ length: 95 }, (_, i) =>
      pacer.run(() => {
        started++;
        return Promise.resolve(i);
      }),
    );
    expect(started).toBe(10);
    const perTurn: number[] = [];
    while (started < 95) {
      const before = started;
      vi.advanceTimersToNextTimer();
      await Promise.resolve();
      perTurn.push(started - before);
    }
    expect(Math.max(...perTurn)).toBeLessThanOrEqual(10);
    expect(await Promise.all(results)).toEqual(Array.from({ length: 95 }, (_, i) => i));
  });

  it('keeps at most inFlight tasks running, in the order they were given', async () => {
    const pacer = new Pacer({ perTurn: 1000, inFlight: 3 });
    const gates: Array<() => void> = [];
    const order: number[] = [];
    let running = 0;
    let most = 0;
    const all = Array.from({ length: 20 }, (_, i) =>
      pacer.run(async () => {
        order.push(i);
        running++;
        most = Math.max(most, running);
        await new Promise<void>((resolve) => gates.push(resolve));
        running--;
      }),
    );
    while (order.length < 20 || running > 0) {
      gates.shift()?.();
      await vi.advanceTimersByTimeAsync(1);
    }
    await Promise.all(all);
    expect(most).toBe(3);
    expect(order).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('a failing task rejects its own run() only', async () => {
    const pacer = new Pacer();
    const bad = pacer.run(() => Promise.reject(new Error('boom')));
    const good = pacer.run(() => Promise.resolve('ok'));
    await expect(bad).rejects.toThrow('boom');
    await expect(good).resolves.toBe('ok');
  });

  it('delayed calls that fall due together run at most perTurn per turn, in order, and none after stop()', async () => {
    const pacer = new Pacer({ perTurn: 8, inFlight: 8 });
    const calls: number[] = [];
    // 1,000 grace periods that began in the same millisecond.
    for (let i = 0; i < 1000; i++) pacer.after(15_000, () => calls.push(i));
    pacer.after(5_000, () => calls.push(-1));
    vi.advanceTimersByTime(5_000);
    expect(calls).toEqual([-1]);
    vi.advanceTimersByTime(9_999);
    expect(calls).toHaveLength(1);
    const perTurn: number[] = [];
    while (calls.length < 1001) {
      const before = calls.length;
      vi.advanceTimersToNextTimer();
      perTurn.push(calls.length - before);
    }
    expect(Math.max(...perTurn)).toBeLessThanOrEqual(8);
    expect(calls.slice(1)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    pacer.after(10, () => calls.push(2000));
    pacer.stop();
    vi.advanceTimersByTime(100);
    expect(calls).toHaveLength(1001);
    expect(pacer.delayedCount).toBe(0);
  });
});
