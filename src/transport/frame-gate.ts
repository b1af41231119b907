import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import { CloseCode, ErrorCode } from '../protocol/error-codes.ts';
import type { ConnectionPolicy } from './connection-policy.ts';
import { decide, monotonicMs, takeTokens } from './rate-limiter.ts';

/**
 * The checks every incoming frame passes before a protocol adapter parses it, the same for
 * both protocols: the rate limit (refuse, then close with 1008) and text-only frames.
 *
 * A connection is a gate (it extends this class) rather than holding one: a dyno holds tens
 * of thousands of idle connections, and the two token buckets are three numbers here, where
 * a gate object with two bucket objects and a clock closure each was ~400 bytes per member.
 */
const CONNECTION = Symbol('connection');
type OwnedSocket = WebSocket & { [CONNECTION]?: GatedConnection };

// Module-level listeners (ws calls them with `this` = the socket): a dyno holds thousands of
// idle sockets, and per-socket closures and bound functions are memory each of them pays.
function onMessage(this: OwnedSocket, data: RawData, isBinary: boolean): void {
  this[CONNECTION]?.message(data, isBinary);
}
function onError(this: OwnedSocket, error: Error & { code?: string }): void {
  this[CONNECTION]?.logger().info({ code: error.code, err: error.message }, 'socket error');
}
function onClose(this: OwnedSocket, code: number): void {
  this[CONNECTION]?.closed(code);
}

export abstract class FrameGate {
  protected readonly ws: WebSocket;
  protected readonly policy: ConnectionPolicy;
  /** Messages left in the bucket (RATE_LIMIT_PER_SEC, RATE_LIMIT_BURST). */
  private messageTokens: number;
  /** The same limit in bytes: 50 frames a second of 64 KB each would be 3 MB/s per socket. */
  private byteTokens: number;
  private lastFrameAt: number;
  private cut = false;

  constructor(ws: WebSocket, policy: ConnectionPolicy) {
    this.ws = ws;
    this.policy = policy;
    this.messageTokens = policy.rateLimitBurst;
    this.byteTokens = policy.rateLimitBytesBurst;
    this.lastFrameAt = monotonicMs();
  }

  /** How the connection answers a refused frame. */
  abstract refuse(code: typeof ErrorCode.RateLimited | typeof ErrorCode.BadRequest, message: string): void;
  abstract logger(): Logger;

  /** Returns the frame's text, or null when it was refused (and answered). */
  protected admit(data: RawData, isBinary: boolean): string | null {
    // ws still emits the frames it read before the close: handling or logging each would
    // turn one flood into a log flood.
    if (this.cut) return null;
    const p = this.policy;
    const size = (data as Buffer).length;
    const now = monotonicMs();
    const elapsed = now - this.lastFrameAt;
    this.lastFrameAt = now;
    this.messageTokens = takeTokens(this.messageTokens, elapsed, p.rateLimitPerSec, p.rateLimitBurst, 1);
    this.byteTokens = takeTokens(this.byteTokens, elapsed, p.rateLimitBytesPerSec, p.rateLimitBytesBurst, size);
    const byCount = decide(this.messageTokens, p.rateLimitBurst);
    const byBytes = decide(this.byteTokens, p.rateLimitBytesBurst);
    const decision = byCount === 'cut' || byBytes === 'cut' ? 'cut' : byCount === 'refuse' || byBytes === 'refuse' ? 'refuse' : 'allow';
    if (decision === 'cut') {
      this.cut = true;
      this.logger().warn('rate limit exceeded again and again; closing with 1008');
      this.ws.close(CloseCode.PolicyViolation, 'rate limit exceeded');
      return null;
    }
    if (decision === 'refuse') {
      const what = byCount === 'allow' ? `${p.rateLimitBytesPerSec} bytes` : `${p.rateLimitPerSec} messages`;
      this.refuse(ErrorCode.RateLimited, `more than ${what} per second; slow down`);
      return null;
    }
    if (isBinary) {
      this.refuse(ErrorCode.BadRequest, 'binary frames are not accepted; send JSON text frames');
      return null;
    }
    // binaryType is the default "nodebuffer", so a text message is one Buffer.
    return (data as Buffer).toString('utf8');
  }
}

/**
 * A protocol connection that is its own gate and hears its socket through the module-level
 * listeners above (v1, PeerJS, y-webrtc): one set of listener functions for every socket.
 */
export abstract class GatedConnection extends FrameGate {
  /** A frame the socket received (pass it through admit() first). */
  abstract message(data: RawData, isBinary: boolean): void;
  abstract closed(code: number): void;

  /** Hands the socket's frames, errors and close to this connection. */
  protected listen(): void {
    (this.ws as OwnedSocket)[CONNECTION] = this;
    this.ws.on('message', onMessage);
    this.ws.on('error', onError);
    this.ws.on('close', onClose);
  }
}
