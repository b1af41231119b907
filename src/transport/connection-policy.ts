import type { JoinTokenVerifier } from '../auth/join-token.ts';
import type { IceServer } from '../protocol/messages.ts';
import type { WebSocket } from 'ws';
import type { SignalAdmission } from './backpressure.ts';
import { NO_BACKPRESSURE } from './backpressure.ts';
import { DEFAULTS } from '../config/defaults.ts';

/** Per-connection limits and join requirements shared by both protocol adapters. */
export interface ConnectionPolicy {
  /** Sustained messages per second (RATE_LIMIT_PER_SEC). */
  rateLimitPerSec: number;
  /** Messages at once (RATE_LIMIT_BURST). */
  rateLimitBurst: number;
  /** Unsent bytes after which a socket that does not read is cut (MAX_BUFFERED_BYTES). */
  maxBufferedBytes: number;
  /** Largest signal (v1 `signal`, article `rtc`) frame in bytes (MAX_SIGNAL_BYTES). */
  maxSignalBytes: number;
  /** Sustained bytes per second one connection may send (RATE_LIMIT_BYTES_PER_SEC). */
  rateLimitBytesPerSec: number;
  /** Bytes one connection may send at once (RATE_LIMIT_BYTES_BURST). */
  rateLimitBytesBurst: number;
  /** The dyno's bound on signal bytes in flight to Redis (MAX_INFLIGHT_BYTES). */
  inflight: SignalAdmission;
  /** Present when TOKEN_SECRET is set: joins must carry a valid token. */
  joinTokens?: JoinTokenVerifier;
  /** ICE servers for `joined`, minted per member (fresh TURN credentials). */
  iceServers(name: string): IceServer[];
  /** Seconds those credentials last (TURN_TTL), sent as `iceServersTtl`; absent when they do not expire. */
  iceServersTtl?: number;
  /** Takes one join from the dyno's MAX_JOINS_PER_SEC budget; false: refuse it (`unavailable`, then 1013). */
  admitJoin(): boolean;
  /** Ends a join admitted by admitJoin (whatever its outcome). */
  joinDone(): void;
}

/** What a join over MAX_JOINS_PER_SEC is told, before its socket is closed with 1013. */
export const JOINS_THROTTLED = 'this dyno is taking MAX_JOINS_PER_SEC joins already; reconnect after a jittered backoff';
export const JOINS_THROTTLED_CLOSE = 'too many joins on this dyno; retry later';

/** The policy of a connection served without a config (tests): the configuration's defaults, no tokens, no ICE servers. */
export const DEFAULT_POLICY: ConnectionPolicy = {
  rateLimitPerSec: DEFAULTS.rateLimitPerSec,
  rateLimitBurst: DEFAULTS.rateLimitBurst,
  maxBufferedBytes: DEFAULTS.maxBufferedBytes,
  maxSignalBytes: DEFAULTS.maxSignalBytes,
  rateLimitBytesPerSec: DEFAULTS.rateLimitBytesPerSec,
  rateLimitBytesBurst: DEFAULTS.rateLimitBytesBurst,
  inflight: NO_BACKPRESSURE,
  iceServers: () => [],
  admitJoin: () => true,
  joinDone: () => undefined,
};

/**
 * Sends without buffering beyond bound: a peer that stops reading is terminated once
 * MAX_BUFFERED_BYTES are queued for it, instead of growing this process. Returns what
 * happened, so the caller can log a cut without a callback allocated per frame.
 */
export function sendBounded(ws: WebSocket, maxBufferedBytes: number, frame: string): 'sent' | 'closed' | 'cut' {
  if (ws.readyState !== ws.OPEN) return 'closed';
  if (ws.bufferedAmount > maxBufferedBytes) {
    ws.terminate();
    return 'cut';
  }
  ws.send(frame);
  return 'sent';
}

export const CUT_OFF = 'client does not read its socket; cut off';
