import { describe, expect, it } from 'vitest';
import { ExponentialBackoffPolicy, closeDecision, joinErrorDecision } from '../../../client/src/index.ts';

const ctx = (retryCount: number) => ({ retryCount, elapsedMs: 0 });

describe('ExponentialBackoffPolicy (full jitter)', () => {
  it('draws each delay from [0, min(max, initial * 2^n))', () => {
    const high = new ExponentialBackoffPolicy({ initialDelayMs: 100, maxDelayMs: 1000, random: () => 0.999999 });
    const low = new ExponentialBackoffPolicy({ initialDelayMs: 100, maxDelayMs: 1000, random: () => 0 });
    expect([0, 1, 2, 3, 4, 5, 50].map((n) => high.nextRetryDelayInMs(ctx(n)))).toEqual([99, 199, 399, 799, 999, 999, 999]);
    expect([0, 1, 2, 3, 50].map((n) => low.nextRetryDelayInMs(ctx(n)))).toEqual([0, 0, 0, 0, 0]);
  });

  it('scales the random draw linearly (full jitter, not equal jitter)', () => {
    const half = new ExponentialBackoffPolicy({ initialDelayMs: 100, maxDelayMs: 10_000, random: () => 0.5 });
    expect([0, 1, 2].map((n) => half.nextRetryDelayInMs(ctx(n)))).toEqual([50, 100, 200]);
  });

  it('stays within bounds with the real Math.random, and spreads', () => {
    const policy = new ExponentialBackoffPolicy();
    for (let n = 0; n < 12; n++) {
      const delays = Array.from({ length: 200 }, () => policy.nextRetryDelayInMs(ctx(n))!);
      const ceiling = policy.ceilingMs(n);
      expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...delays)).toBeLessThan(ceiling);
      expect(new Set(delays).size).toBeGreaterThan(n === 0 ? 50 : 100);
    }
    expect(policy.ceilingMs(0)).toBe(500);
    expect(policy.ceilingMs(1000)).toBe(10_000);
  });

  it('gives up after maxRetries', () => {
    const policy = new ExponentialBackoffPolicy({ maxRetries: 2, random: () => 0.5 });
    expect(policy.nextRetryDelayInMs(ctx(1))).not.toBeNull();
    expect(policy.nextRetryDelayInMs(ctx(2))).toBeNull();
  });
});

describe('close code decisions', () => {
  it.each([
    [1000, 'stop'],
    [1001, 'reconnect'],
    [1002, 'stop'],
    [1005, 'reconnect'],
    [1006, 'reconnect'],
    [1008, 'stop'],
    [1009, 'stop'],
    [1011, 'reconnect'],
    [1012, 'reconnect'],
    [1013, 'reconnect'],
    [1015, 'stop'],
    [3000, 'reconnect'],
    [4000, 'stop'],
    [4499, 'stop'],
    [4500, 'reconnect'],
    [4999, 'reconnect'],
  ] as const)('%i -> %s', (code, decision) => {
    expect(closeDecision(code)).toBe(decision);
  });

  it('treats join refusals as fatal except transient ones and name-taken on a re-join', () => {
    expect(joinErrorDecision('name-taken', false)).toBe('stop');
    expect(joinErrorDecision('name-taken', true)).toBe('reconnect');
    expect(joinErrorDecision('unauthorized', true)).toBe('stop');
    expect(joinErrorDecision('room-full', false)).toBe('stop');
    expect(joinErrorDecision('unavailable', false)).toBe('reconnect');
    expect(joinErrorDecision('rate-limited', false)).toBe('reconnect');
  });
});
