import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import { CloseCode, ErrorCode } from '../protocol/error-codes.ts';
import type { ConnectionPolicy } from './connection-policy.ts';
import { RateLimiter } from './rate-limiter.ts';

/** The connection a gate guards: how it answers a refused frame, and its logger. */
export interface GateOwner {
  refuse(code: typeof ErrorCode.RateLimited | typeof ErrorCode.BadRequest, message: string): void;
  logger(): Logger;
}

/**
 * The checks every incoming frame passes before a protocol adapter parses it, the same for
 * both protocols: the rate limit (refuse, then close with 1008) and text-only frames.
 */
export class FrameGate {
  private readonly limiter: RateLimiter;
  /** The same limit in bytes: 50 frames a second of 64 KB each would be 3 MB/s per socket. */
  private readonly bytes: RateLimiter;
  private readonly bytesPerSecond: number;
  private readonly ws: WebSocket;
  private readonly owner: GateOwner;
  private readonly perSecond: number;
  private cut = false;

  constructor(ws: WebSocket, policy: ConnectionPolicy, owner: GateOwner) {
    this.ws = ws;
    this.owner = owner;
    this.perSecond = policy.rateLimitPerSec;
    this.limiter = new RateLimiter(policy.rateLimitPerSec, policy.rateLimitBurst);
    this.bytesPerSecond = policy.rateLimitBytesPerSec;
    this.bytes = new RateLimiter(policy.rateLimitBytesPerSec, policy.rateLimitBytesBurst);
  }

  /** Returns the frame's text, or null when it was refused (and answered). */
  admit(data: RawData, isBinary: boolean): string | null {
    // ws still emits the frames it read before the close: handling or logging each would
    // turn one flood into a log flood.
    if (this.cut) return null;
    const size = (data as Buffer).length;
    const byCount = this.limiter.take();
    const byBytes = this.bytes.take(size);
    const decision = byCount === 'cut' || byBytes === 'cut' ? 'cut' : byCount === 'refuse' || byBytes === 'refuse' ? 'refuse' : 'allow';
    if (decision === 'cut') {
      this.cut = true;
      this.owner.logger().warn('rate limit exceeded again and again; closing with 1008');
      this.ws.close(CloseCode.PolicyViolation, 'rate limit exceeded');
      return null;
    }
    if (decision === 'refuse') {
      const what = byCount === 'allow' ? `${this.bytesPerSecond} bytes` : `${this.perSecond} messages`;
      this.owner.refuse(ErrorCode.RateLimited, `more than ${what} per second; slow down`);
      return null;
    }
    if (isBinary) {
      this.owner.refuse(ErrorCode.BadRequest, 'binary frames are not accepted; send JSON text frames');
      return null;
    }
    // binaryType is the default "nodebuffer", so a text message is one Buffer.
    return (data as Buffer).toString('utf8');
  }
}
