/**
 * Ephemeral TURN credentials in coturn's `use-auth-secret` scheme (the "TURN REST API" draft,
 * draft-uberti-behave-turn-rest-00), and the per-member ICE server list built from IceConfig.
 *
 * coturn checks: username = "<expiry>:<anything>", where <expiry> (unix seconds) must not be in
 * the past, and credential = base64(HMAC-SHA1(static-auth-secret, username)). It finds <expiry>
 * as the digits before the FIRST ':', so colons after it are harmless. But coturn 4.6 runs a
 * byte-wise "SASLprep" over the username that rejects bytes 0x80-0x9F (400 "wrong username"),
 * and those occur in the UTF-8 of many characters (☕ is E2 98 95). So the member name goes in
 * as base64url of its UTF-8: plain ASCII, never a ':', at most 342 characters for 64 code
 * points (within coturn's 512-byte and Chrome's 509-byte username limits).
 */
import { createHmac } from 'node:crypto';
import type { IceServer } from '../protocol/messages.ts';
import type { IceConfig } from './ice-config.ts';

export interface TurnCredential {
  username: string;
  credential: string;
  /** Unix seconds after which coturn refuses it. */
  expiresAt: number;
}

/** The name part of a username: base64url (no padding) of the UTF-8 member name. */
export function encodeTurnName(name: string): string {
  return Buffer.from(name, 'utf8').toString('base64url');
}

/** Mints a credential for `name`, valid for `ttlSeconds` from `nowMs`. */
export function mintTurnCredential(secret: string, name: string, ttlSeconds: number, nowMs = Date.now()): TurnCredential {
  const expiresAt = Math.floor(nowMs / 1000) + ttlSeconds;
  const username = `${expiresAt}:${encodeTurnName(name)}`;
  const credential = createHmac('sha1', secret).update(username, 'utf8').digest('base64');
  return { username, credential, expiresAt };
}

/** What `joined` and `ice-servers` carry: the list, and how long its credentials last. */
export interface IceServerSource {
  /** A fresh list for `name`: new TURN credentials on every call. */
  iceServers(name: string): IceServer[];
  /** TURN_TTL when credentials are minted (clients refresh before it runs out); else undefined. */
  ttlSeconds: number | undefined;
}

export function iceServerSource(config: IceConfig, now: () => number = Date.now): IceServerSource {
  const { stunUrls, turnUrls, turnSecret, turnTtl, staticServers } = config;
  const minting = turnSecret !== undefined && turnUrls.length > 0;
  return {
    ttlSeconds: minting ? turnTtl : undefined,
    iceServers(name) {
      const servers: IceServer[] = [];
      if (stunUrls.length > 0) servers.push({ urls: [...stunUrls] });
      if (minting) {
        const { username, credential } = mintTurnCredential(turnSecret, name, turnTtl, now());
        servers.push({ urls: [...turnUrls], username, credential });
      }
      // Copies: a frame must never share objects with the configuration.
      for (const server of staticServers)
        servers.push({ ...server, urls: typeof server.urls === 'string' ? server.urls : [...server.urls] });
      return servers;
    },
  };
}
