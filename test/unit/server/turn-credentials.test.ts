import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { IceConfig } from '../../../src/ice/ice-config.ts';
import { encodeTurnName, iceServerSource, mintTurnCredential } from '../../../src/ice/turn-credentials.ts';

const SECRET = 'coturn-static-auth-secret-0123456789';
const NOW = 1_699_999_000_000; // ms

/**
 * What coturn 4.6 (src/apps/relay/userdb.c, ns_turn_server.c) does with a username under
 * use-auth-secret, restated here so the test does not trust the code it tests:
 * - the timestamp is the digits before the first ':' (get_rest_api_timestamp);
 * - the request is refused when that timestamp is before the current time;
 * - the password is base64(HMAC-SHA1(secret, whole username));
 * - a byte-wise "SASLprep" refuses bytes < 0x20, 0x7F and 0x80-0x9F (400 "wrong username").
 */
function coturnAccepts(username: string, credential: string, secret: string, nowSeconds: number): boolean {
  const bytes = Buffer.from(username, 'utf8');
  if (bytes.length > 509) return false; // Chrome's limit, below coturn's 512
  if (bytes.some((b) => b < 0x20 || b === 0x7f || (b >= 0x80 && b <= 0x9f))) return false;
  const colon = username.indexOf(':');
  const head = colon < 0 ? username : username.slice(0, colon);
  if (!/^\d+$/.test(head)) return false;
  if (Number(head) < nowSeconds) return false;
  return createHmac('sha1', secret).update(bytes).digest('base64') === credential;
}

describe('TURN REST credentials (coturn use-auth-secret)', () => {
  it('matches a vector computed with openssl', () => {
    // printf '1700000000:QWRh' | openssl dgst -sha1 -hmac "$SECRET" -binary | base64
    const credential = mintTurnCredential(SECRET, 'Ada', 1000, NOW);
    expect(credential).toEqual({ username: '1700000000:QWRh', credential: '1Y68uhpaQLPfhNbDAmNoTCoXXZE=', expiresAt: 1_700_000_000 });
  });

  it('puts the expiry (now + TTL, unix seconds) before the first colon', () => {
    const { username, expiresAt } = mintTurnCredential(SECRET, 'bob', 86_400, NOW);
    expect(expiresAt).toBe(Math.floor(NOW / 1000) + 86_400);
    expect(username).toMatch(/^\d+:[A-Za-z0-9_-]+$/);
    expect(Number(username.split(':')[0])).toBe(expiresAt);
  });

  it('is accepted until it expires and refused after', () => {
    const { username, credential, expiresAt } = mintTurnCredential(SECRET, 'bob', 600, NOW);
    expect(coturnAccepts(username, credential, SECRET, Math.floor(NOW / 1000))).toBe(true);
    expect(coturnAccepts(username, credential, SECRET, expiresAt)).toBe(true);
    expect(coturnAccepts(username, credential, SECRET, expiresAt + 1)).toBe(false);
    expect(coturnAccepts(username, credential, 'another-secret-another-secret-another', Math.floor(NOW / 1000))).toBe(false);
  });

  it('encodes any member name so coturn takes it: colons, emoji, 64 four-byte characters', () => {
    expect(encodeTurnName('Ada: ☕')).toBe('QWRhOiDimJU'); // printf 'Ada: ☕' | base64, url-safe, unpadded
    // Raw, "☕" (E2 98 95) would be refused by coturn's byte filter: the reason for encoding.
    expect(coturnAccepts(`${Math.floor(NOW / 1000) + 60}:☕`, 'x', SECRET, 0)).toBe(false);
    for (const name of ['a:b:c', '1700000000', ':', 'Ada: ☕', '山'.repeat(64), '😀'.repeat(64), 'x\u00ad\u00a0y']) {
      const { username, credential } = mintTurnCredential(SECRET, name, 60, NOW);
      expect(coturnAccepts(username, credential, SECRET, Math.floor(NOW / 1000)), name).toBe(true);
      expect(username.indexOf(':')).toBe(username.lastIndexOf(':'));
      expect(Buffer.from(username.slice(username.indexOf(':') + 1), 'base64url').toString('utf8')).toBe(name);
    }
  });
});

describe('iceServerSource', () => {
  const base: IceConfig = { stunUrls: [], turnUrls: [], turnSecret: undefined, turnTtl: 86_400, staticServers: [] };

  it('sends nothing, and no TTL, when nothing is configured', () => {
    const source = iceServerSource(base);
    expect(source.iceServers('a')).toEqual([]);
    expect(source.ttlSeconds).toBeUndefined();
  });

  it('sends STUN, then minted TURN, then ICE_SERVERS, with fresh credentials on every call', () => {
    let now = NOW;
    const source = iceServerSource(
      {
        stunUrls: ['stun:stun.example.org'],
        turnUrls: ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:5349?transport=tcp'],
        turnSecret: SECRET,
        turnTtl: 3600,
        staticServers: [{ urls: 'turn:managed.example.net', username: 'u', credential: 'p' }],
      },
      () => now,
    );
    expect(source.ttlSeconds).toBe(3600);
    const first = source.iceServers('Ada: ☕');
    expect(first).toHaveLength(3);
    expect(first[0]).toEqual({ urls: ['stun:stun.example.org'] });
    expect(first[2]).toEqual({ urls: 'turn:managed.example.net', username: 'u', credential: 'p' });
    const turn = first[1]!;
    expect(turn.urls).toEqual(['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:5349?transport=tcp']);
    expect(coturnAccepts(turn.username!, turn.credential!, SECRET, Math.floor(now / 1000))).toBe(true);
    expect(turn.username).toBe(`${Math.floor(now / 1000) + 3600}:${encodeTurnName('Ada: ☕')}`);
    now += 5000;
    const second = source.iceServers('Ada: ☕')[1]!;
    expect(second.username).not.toBe(turn.username);
    expect(Number(second.username!.split(':')[0])).toBe(Math.floor(now / 1000) + 3600);
    // Frames never share arrays with the configuration (or with each other).
    expect(second.urls).not.toBe(turn.urls);
  });
});
