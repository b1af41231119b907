import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/config.ts';
import { RoomKeys } from '../../../src/cluster/keys.ts';
import { backoffDelay, nextDelay, retryAfterMs } from '../../../src/webhooks/backoff.ts';
import { decodeEvent, encodeEvent, eventBody, nextSeq, roomOrigin, webhookId } from '../../../src/webhooks/events.ts';
import { roomBase, shardOf, QUEUE_SHARDS } from '../../../src/webhooks/queue.ts';
import { parseWebhookSecret, WebhookSigner } from '../../../src/webhooks/signer.ts';

describe('Standard Webhooks signer', () => {
  it('matches the reference vector of the Standard Webhooks libraries', () => {
    const secret = parseWebhookSecret('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    if (!secret.ok) throw new Error(secret.problem);
    const headers = new WebhookSigner(secret.key).sign('msg_p5jXN8AQM9LWM0D4loKWxJek', '{"test": 2432232314}', 1614265330_000);
    expect(headers).toEqual({
      'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      'webhook-timestamp': '1614265330',
      'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    });
  });

  it('refuses secrets that are not whsec_ + base64 of 24 to 64 bytes', () => {
    expect(parseWebhookSecret('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw').ok).toBe(false);
    expect(parseWebhookSecret('whsec_not base64!').ok).toBe(false);
    expect(parseWebhookSecret(`whsec_${Buffer.alloc(16).toString('base64')}`).ok).toBe(false);
    expect(parseWebhookSecret(`whsec_${Buffer.alloc(65).toString('base64')}`).ok).toBe(false);
    expect(parseWebhookSecret(`whsec_${Buffer.alloc(32, 7).toString('base64')}`).ok).toBe(true);
  });
});

describe('webhook events', () => {
  const base = roomBase(new RoomKeys('sig:', 'v1', 'Café {1}').members);

  it('recovers the room and protocol from the key base, whatever the room name', () => {
    expect(roomOrigin(base)).toEqual({ protocol: 'v1', room: 'Café {1}' });
    expect(roomOrigin(roomBase(new RoomKeys('p:', 'article', 'a.b').members))).toEqual({ protocol: 'article', room: 'a.b' });
  });

  it('round-trips queued events, names with newlines included, and rejects junk', () => {
    const e = { seq: 1764620000123, at: 1764620000120, type: 'member.left' as const, reason: 'dyno-lost' as const, name: 'a\nb|c' };
    expect(decodeEvent(encodeEvent(e))).toEqual(e);
    expect(decodeEvent('1\n2\nroom.exploded\n\n')).toBeNull();
    expect(decodeEvent('x\n2\nroom.started\n\n')).toBeNull();
  });

  it('builds the documented body and an id without full stops that depends on room and seq only', () => {
    const body = JSON.parse(
      eventBody(base, { seq: 7, at: Date.UTC(2026, 0, 2), type: 'member.left', reason: 'left', name: 'bob' }),
    ) as unknown;
    expect(body).toEqual({
      type: 'member.left',
      timestamp: '2026-01-02T00:00:00.000Z',
      data: { room: 'Café {1}', protocol: 'v1', name: 'bob', seq: 7, reason: 'left' },
    });
    expect(JSON.parse(eventBody(base, { seq: 8, at: 0, type: 'room.finished', reason: '', name: '' }))).toMatchObject({
      data: { room: 'Café {1}', seq: 8 },
    });
    expect(webhookId(base, 7)).toMatch(/^msg_[A-Za-z0-9_-]{22}_7$/);
    expect(webhookId(base, 7)).toBe(webhookId(base, 7));
    expect(webhookId(base, 7)).not.toBe(webhookId(roomBase(new RoomKeys('sig:', 'v1', 'other').members), 7));
  });

  it('keeps seq rising when the counter restarts from nothing', () => {
    expect(nextSeq(5, 1000)).toBe(1000);
    expect(nextSeq(1000, 1000)).toBe(1001);
    expect(nextSeq(0, 2000)).toBeGreaterThan(nextSeq(1000, 1000));
  });

  it('spreads rooms over every queue shard', () => {
    const used = new Set(Array.from({ length: 200 }, (_, i) => shardOf(roomBase(new RoomKeys('sig:', 'v1', `room-${i}`).members))));
    expect(used.size).toBe(QUEUE_SHARDS);
  });
});

describe('webhook retry timing', () => {
  const options = { baseMs: 1000, maxMs: 300_000 };

  it('doubles from the base with jitter in the upper half, up to the cap', () => {
    expect(backoffDelay(1, options, () => 0)).toBe(500);
    expect(backoffDelay(1, options, () => 1)).toBe(1000);
    expect(backoffDelay(4, options, () => 1)).toBe(8000);
    expect(backoffDelay(40, options, () => 1)).toBe(300_000);
    expect(backoffDelay(40, options, () => 0)).toBe(150_000);
  });

  it('honours Retry-After (seconds or a date) when it asks for longer, within the max age', () => {
    expect(retryAfterMs('120')).toBe(120_000);
    expect(retryAfterMs(new Date(10_000 + 30_000).toUTCString(), 10_000)).toBe(30_000);
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(null)).toBeUndefined();
    expect(nextDelay(1, 120_000, options, 3_600_000)).toBe(120_000);
    expect(nextDelay(1, 999_999_999, options, 3_600_000)).toBe(3_600_000);
    expect(nextDelay(1, 0, options, 3_600_000)).toBeGreaterThanOrEqual(500);
  });
});

describe('webhook configuration', () => {
  const secret = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;
  const problems = (env: Record<string, string>): string[] => {
    try {
      loadConfig(env);
      return [];
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
  };

  it('is off without WEBHOOK_URL and on with URL and secret', () => {
    expect(loadConfig({}).webhook).toBeUndefined();
    const config = loadConfig({
      WEBHOOK_URL: 'https://app.example.com/hooks',
      WEBHOOK_SECRET: secret,
      WEBHOOK_MAX_AGE_MS: '7200000',
    }).webhook;
    expect(config).toMatchObject({
      url: 'https://app.example.com/hooks',
      maxAgeMs: 7_200_000,
      timeoutMs: 10_000,
      maxQueued: 1000,
      concurrency: 8,
    });
    expect(config?.key).toEqual(Buffer.alloc(32, 1));
  });

  it('needs the secret with the URL, a well-formed secret (never echoed), and an http(s) URL', () => {
    expect(problems({ WEBHOOK_URL: 'https://app.example.com/hooks' }).join()).toContain('WEBHOOK_URL is set without WEBHOOK_SECRET');
    expect(problems({ WEBHOOK_SECRET: secret }).join()).toContain('WEBHOOK_SECRET is set without WEBHOOK_URL');
    const bad = problems({ WEBHOOK_URL: 'https://app.example.com/hooks', WEBHOOK_SECRET: 'hunter2-hunter2-hunter2' }).join();
    expect(bad).toContain('WEBHOOK_SECRET=(23 characters, not shown) must start with whsec_');
    expect(bad).not.toContain('hunter2');
    expect(problems({ WEBHOOK_URL: 'ftp://x', WEBHOOK_SECRET: secret }).join()).toContain(
      'WEBHOOK_URL="ftp://x" must be an http:// or https:// URL',
    );
    expect(problems({ WEBHOOK_URL: 'https://a.example', WEBHOOK_SECRET: secret, WEBHOOK_BACKOFF_MS: '0' }).join()).toContain(
      'WEBHOOK_BACKOFF_MS',
    );
  });
});
