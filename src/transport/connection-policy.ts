import type { JoinTokenVerifier } from '../auth/join-token.ts';
import type { IceServer } from '../protocol/messages.ts';
import type { WebSocket } from 'ws';
import { RateLimiter } from './rate-limiter.ts';

/** Per-connection limits and join requirements shared by both protocol adapters. */
export interface ConnectionPolicy {
  /** Sustained messages per second (RATE_LIMIT_PER_SEC). */
  rateLimitPerSec: number;
  /** Messages at once (RATE_LIMIT_BURST). */
  rateLimitBurst: number;
  /** Unsent bytes after which a socket that does not read is cut (MAX_BUFFERED_BYTES). */
  maxBufferedBytes: number;
  /** Present when TOKEN_SECRET is set: joins must carry a valid token. */
  joinTokens?: JoinTokenVerifier;
  /** ICE servers for `joined`, minted per member (fresh TURN credentials). */
  iceServers(name: string): IceServer[];
  /** Seconds those credentials last (TURN_TTL), sent as `iceServersTtl`; absent when they do not expire. */
  iceServersTtl?: number;
}

export const DEFAULT_POLICY: ConnectionPolicy = {
  rateLimitPerSec: 50,
  rateLimitBurst: 200,
  maxBufferedBytes: 1024 * 1024,
  iceServers: () => [],
};

export function rateLimiterFor(policy: ConnectionPolicy): RateLimiter {
  return new RateLimiter(policy.rateLimitPerSec, policy.rateLimitBurst);
}

/**
 * Returns a send function that never buffers without bound: a peer that stops reading is
 * terminated once MAX_BUFFERED_BYTES are queued for it, instead of growing this process.
 */
export function boundedSender(ws: WebSocket, policy: ConnectionPolicy, onCut: () => void): (frame: string) => boolean {
  return (frame) => {
    if (ws.readyState !== ws.OPEN) return false;
    if (ws.bufferedAmount > policy.maxBufferedBytes) {
      onCut();
      ws.terminate();
      return false;
    }
    ws.send(frame);
    return true;
  };
}
