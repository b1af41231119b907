import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { addressKey } from '../../../src/transport/address-key.ts';
import { Admission } from '../../../src/transport/admission.ts';
import { connectionCeiling } from '../../../src/transport/open-files.ts';

const silent = pino({ level: 'silent' });
const limits = { maxConnections: 100, maxConnectionsPerIp: undefined, connectionsPerIpPerMin: undefined, maxJoinsPerSec: 10 };

afterEach(() => {
  vi.useRealTimers();
});

describe('addressKey', () => {
  it('keeps IPv4, folds IPv6 to its /64 and IPv4-mapped IPv6 to IPv4', () => {
    expect(addressKey(' 203.0.113.5 ')).toBe('203.0.113.5');
    expect(addressKey('2001:db8::1')).toBe(addressKey('2001:0DB8:0:0:ffff::9%eth0'));
    expect(addressKey('2001:db8::1')).not.toBe(addressKey('2001:db8:0:1::1'));
    expect(addressKey('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(addressKey('x'.repeat(500))).toHaveLength(64);
  });
});

describe('Admission', () => {
  it('MAX_JOINS_PER_SEC: one second of joins at once, then the refill rate', () => {
    let now = 0;
    const admission = new Admission(limits, silent, () => now);
    const burst = Array.from({ length: 15 }, () => admission.admitJoin());
    expect(burst.filter(Boolean)).toHaveLength(10);
    for (let i = 0; i < 10; i++) admission.joinDone();
    now += 300; // 3 joins' worth
    expect(Array.from({ length: 5 }, () => admission.admitJoin()).filter(Boolean)).toHaveLength(3);
    admission.stop();
  });

  it('MAX_JOINS_PER_SEC also bounds the joins in progress: a slow dyno refuses instead of queueing', () => {
    let now = 0;
    const admission = new Admission(limits, silent, () => now);
    for (let i = 0; i < 10; i++) expect(admission.admitJoin()).toBe(true);
    // A second later the bucket is full again, but none of the ten has finished.
    now += 1000;
    expect(admission.admitJoin()).toBe(false);
    admission.joinDone();
    admission.joinDone();
    expect(admission.admitJoin()).toBe(true);
    expect(admission.admitJoin()).toBe(true);
    expect(admission.admitJoin()).toBe(false);
    admission.stop();
  });

  it('CONNECTIONS_PER_IP_PER_MIN: refuses with the seconds until the next token, and forgets full buckets', () => {
    vi.useFakeTimers();
    let now = 0;
    const admission = new Admission({ ...limits, connectionsPerIpPerMin: 6 }, silent, () => now);
    for (let i = 0; i < 6; i++) expect(admission.admitUpgrade(0, '192.0.2.1')).toEqual({ ok: true });
    expect(admission.admitUpgrade(0, '192.0.2.1')).toMatchObject({ ok: false, reason: 'per-ip-rate', retryAfterSeconds: 10 });
    now += 4000;
    expect(admission.admitUpgrade(0, '192.0.2.1')).toMatchObject({ ok: false, retryAfterSeconds: 6 });
    // Many addresses, one connection each: their buckets go once they are full again.
    for (let i = 0; i < 1000; i++) admission.admitUpgrade(0, `198.51.${i >> 8}.${i & 255}`);
    expect(admission.trackedAddresses).toBe(1001);
    now += 60_000;
    vi.advanceTimersByTime(60_000);
    expect(admission.trackedAddresses).toBe(0);
    admission.stop();
  });

  it('MAX_CONNECTIONS comes first and needs no address', () => {
    const admission = new Admission(limits, silent);
    expect(admission.admitUpgrade(99, undefined)).toEqual({ ok: true });
    const refused = admission.admitUpgrade(100, undefined);
    expect(refused).toMatchObject({ ok: false, reason: 'max-connections' });
    if (!refused.ok) expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(2);
    admission.stop();
  });
});

describe('connectionCeiling', () => {
  const limitsText =
    'Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 4096                 files\n';
  it('lowers MAX_CONNECTIONS to what the open-files limit allows, warning when it was set', () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    expect(connectionCeiling(500, log, limitsText)).toBe(500);
    expect(connectionCeiling(5000, log, limitsText)).toBe(924);
    expect(lines.join('')).toContain('"level":40');
    expect(lines.join('')).toContain('MAX_CONNECTIONS=5000');
    expect(connectionCeiling(5000, log, undefined)).toBe(5000);
  });
});
