import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/config.ts';
import { parseV1 } from '../../../src/protocol/parse-v1.ts';

const SECRET = 'a-turn-secret-of-at-least-32-characters';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('ICE configuration', () => {
  it('is empty by default', () => {
    expect(loadConfig({}).ice).toEqual({ stunUrls: [], turnUrls: [], turnSecret: undefined, turnTtl: 86_400, staticServers: [] });
  });

  it('reads STUN_URLS, TURN_URLS, TURN_SECRET, TURN_TTL and ICE_SERVERS together', () => {
    const ice = loadConfig({
      STUN_URLS: 'stun:stun.example.org, stuns:[2001:db8::1]:5349',
      TURN_URLS: 'turn:turn.example.org:3478?transport=udp,turns:turn.example.org:443?transport=tcp,turn:127.0.0.1',
      TURN_SECRET: SECRET,
      TURN_TTL: '3600',
      ICE_SERVERS: '[{"urls":["turn:global.example.net:3478"],"username":"u","credential":"p"},{"urls":"stun:stun.l.example.com:19302"}]',
    }).ice;
    expect(ice).toEqual({
      stunUrls: ['stun:stun.example.org', 'stuns:[2001:db8::1]:5349'],
      turnUrls: ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:443?transport=tcp', 'turn:127.0.0.1'],
      turnSecret: SECRET,
      turnTtl: 3600,
      staticServers: [
        { urls: ['turn:global.example.net:3478'], username: 'u', credential: 'p' },
        { urls: 'stun:stun.l.example.com:19302' },
      ],
    });
  });

  it('refuses TURN_URLS without TURN_SECRET, and the reverse', () => {
    expect(problems({ TURN_URLS: 'turn:turn.example.org' })).toEqual([expect.stringMatching(/^TURN_URLS is set but TURN_SECRET is not/)]);
    expect(problems({ TURN_SECRET: SECRET })).toEqual([expect.stringMatching(/^TURN_SECRET is set but TURN_URLS is not/)]);
  });

  it('names each bad URL and the variable holding it', () => {
    const found = problems({
      STUN_URLS: 'stun:ok.example.org,http://stun.example.org',
      TURN_URLS: 'stun:wrong.example.org,turn:host:99999,turn:h?transport=sctp',
      TURN_SECRET: SECRET,
    });
    expect(found).toHaveLength(4);
    expect(found[0]).toMatch(/^STUN_URLS has "http:\/\/stun\.example\.org", which is not a STUN URL like stun:/);
    expect(found[1]).toMatch(/^TURN_URLS has "stun:wrong\.example\.org", which is not a TURN URL like turn:/);
    expect(found[2]).toMatch(/^TURN_URLS has "turn:host:99999": the port must be from 1 to 65535/);
    expect(found[3]).toMatch(/^TURN_URLS has "turn:h\?transport=sctp"/);
  });

  it('refuses a short TURN_SECRET without showing it, and a TTL under a minute', () => {
    const found = problems({ TURN_URLS: 'turn:t.example.org', TURN_SECRET: 'hunter2', TURN_TTL: '10' });
    expect(found).toHaveLength(2);
    expect(found[0]).toBe('TURN_SECRET=(7 characters, not shown) must be at least 32 characters (use `openssl rand -hex 32`)');
    expect(found[1]).toMatch(/^TURN_TTL="10" must be from 60 to 604800/);
    expect(found.join()).not.toContain('hunter2');
  });

  it('validates ICE_SERVERS entry by entry, never quoting credentials', () => {
    expect(problems({ ICE_SERVERS: '{"urls":"stun:x"}' })).toEqual(['ICE_SERVERS must be a JSON array of RTCIceServer objects']);
    expect(problems({ ICE_SERVERS: '[{urls:1}]' })[0]).toMatch(/^ICE_SERVERS is not valid JSON/);
    const found = problems({
      ICE_SERVERS: JSON.stringify([
        { url: 'stun:old.example.org' },
        { urls: ['turn:t.example.org'], username: 'user', credential: 's3cret-value' },
        { urls: 'turn:t.example.org', credential: 's3cret-value' },
        { urls: ['https://t.example.org'] },
        { urls: [] },
      ]),
    });
    expect(found).toEqual([
      'ICE_SERVERS[0] has unknown field(s) "url": use urls, username, credential',
      'ICE_SERVERS[0].urls must be a URL string or a non-empty array of them',
      'ICE_SERVERS[2] has TURN URLs, so it needs "username" and "credential"',
      expect.stringMatching(/^ICE_SERVERS\[3\]\.urls has "https:\/\/t\.example\.org", which is not a STUN or TURN URL/),
      'ICE_SERVERS[4].urls must be a URL string or a non-empty array of them',
    ]);
    expect(found.join()).not.toContain('s3cret-value');
  });
});

describe('protocol v1: ice-servers request', () => {
  it('parses, with or without an id, ignoring extra fields', () => {
    expect(parseV1('{"type":"ice-servers"}')).toEqual({ ok: true, message: { type: 'ice-servers' } });
    expect(parseV1('{"type":"ice-servers","id":7,"x":1}')).toEqual({ ok: true, message: { type: 'ice-servers', id: 7 } });
  });
});
