import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import { CloseCode, ErrorCode } from '../protocol/error-codes.ts';
import type { ConnectionPolicy } from './connection-policy.ts';
import { rateLimiterFor } from './connection-policy.ts';

/** How an adapter answers a refused frame in its own protocol's error format. */
export type RefuseFrame = (code: typeof ErrorCode.RateLimited | typeof ErrorCode.BadRequest, message: string) => void;

/**
 * The checks every incoming frame passes before a protocol adapter parses it, the same for
 * both protocols: the rate limit (refuse, then close with 1008) and text-only frames.
 * Returns the frame's text, or null when it was refused (and answered).
 */
export function createFrameGate(ws: WebSocket, policy: ConnectionPolicy, log: () => Logger, refuse: RefuseFrame): (data: RawData, isBinary: boolean) => string | null {
  const limiter = rateLimiterFor(policy);
  let cut = false;
  return (data, isBinary) => {
    // ws still emits the frames it read before the close: handling or logging each would
    // turn one flood into a log flood.
    if (cut) return null;
    const decision = limiter.take();
    if (decision === 'cut') {
      cut = true;
      log().warn('rate limit exceeded again and again; closing with 1008');
      ws.close(CloseCode.PolicyViolation, 'rate limit exceeded');
      return null;
    }
    if (decision === 'refuse') {
      refuse(ErrorCode.RateLimited, `more than ${policy.rateLimitPerSec} messages per second; slow down`);
      return null;
    }
    if (isBinary) {
      refuse(ErrorCode.BadRequest, 'binary frames are not accepted; send JSON text frames');
      return null;
    }
    // binaryType is the default "nodebuffer", so a text message is one Buffer.
    return (data as Buffer).toString('utf8');
  };
}
