import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import type { BroadcastResult, JoinInfo, SessionHandle, SessionSink, SignalResult } from '../cluster/session.ts';
import type { SignalingNode } from '../cluster/signaling-node.ts';
import type { EndReason } from '../cluster/backend.ts';
import type { ConnectionMetrics } from '../metrics/metrics.ts';
import { NO_METRICS } from '../metrics/metrics.ts';
import { CloseCode, ErrorCode } from '../protocol/error-codes.ts';
import { encode, encodeBroadcast, encodeError, encodeSignal, PONG } from '../protocol/encode-v1.ts';
import type { ClientMessage, IceServer, MessageId, Metadata } from '../protocol/messages.ts';
import { parseV1 } from '../protocol/parse-v1.ts';
import { clientAddress } from './client-address.ts';
import type { ConnectionPolicy } from './connection-policy.ts';
import { CUT_OFF, DEFAULT_POLICY, JOINS_THROTTLED, JOINS_THROTTLED_CLOSE, sendBounded } from './connection-policy.ts';
import { GatedConnection } from './frame-gate.ts';

const UNAVAILABLE = 'the signaling backend cannot be reached; retry shortly';
export const OVERLOADED = 'this dyno has MAX_INFLIGHT_BYTES of signals waiting for Redis; the signal was dropped, retry shortly';

const JOIN_ERRORS = {
  'already-joined': [ErrorCode.AlreadyJoined, 'this socket is already in a room; send leave first'],
  'name-taken': [ErrorCode.NameTaken, 'another member of this room uses that name; choose another'],
  'room-full': [ErrorCode.RoomFull, 'the room has reached MAX_ROOM_SIZE members'],
  unavailable: [ErrorCode.Unavailable, UNAVAILABLE],
} as const;

const SIGNAL_ERRORS: Record<Exclude<SignalResult, 'sent'>, readonly [ErrorCode, string]> = {
  'not-joined': [ErrorCode.NotJoined, 'join a room before sending signals'],
  'peer-not-found': [ErrorCode.PeerNotFound, 'no member of this room has that name'],
  'peer-backlogged': [ErrorCode.PeerBacklogged, 'that peer is reconnecting and too many signals already wait for it'],
  unavailable: [ErrorCode.Unavailable, UNAVAILABLE],
};

const BROADCAST_ERRORS: Record<Exclude<BroadcastResult, 'sent'>, readonly [ErrorCode, string]> = {
  'not-joined': [ErrorCode.NotJoined, 'join a room before sending broadcasts'],
  unavailable: [ErrorCode.Unavailable, UNAVAILABLE],
};

const LEAVE_CODES = new Set<number>([CloseCode.Normal, CloseCode.PolicyViolation, CloseCode.MessageTooBig]);

export function connectionId(): string {
  return randomBytes(6).toString('base64url');
}

/** What every v1 connection of a dyno shares: kept once, referenced by each connection. */
interface V1Context {
  node: SignalingNode;
  log: Logger;
  metrics: ConnectionMetrics;
  policy: ConnectionPolicy;
}

/** Serves protocol v1 (docs/protocol.md) on one WebSocket. */
export function serveV1(
  ws: WebSocket,
  request: IncomingMessage,
  node: SignalingNode,
  log: Logger,
  metrics: ConnectionMetrics = NO_METRICS,
  policy: ConnectionPolicy = DEFAULT_POLICY,
): void {
  new V1Connection(ws, request, sharedContext(node, log, metrics, policy));
}

/** One context per dyno (per node, logger, metrics and policy), not an object per connection. */
const contexts = new WeakMap<SignalingNode, V1Context[]>();
function sharedContext(node: SignalingNode, log: Logger, metrics: ConnectionMetrics, policy: ConnectionPolicy): V1Context {
  const known = contexts.get(node) ?? [];
  let ctx = known.find((c) => c.log === log && c.metrics === metrics && c.policy === policy);
  if (!ctx) {
    ctx = { node, log, metrics, policy };
    known.push(ctx);
    contexts.set(node, known);
  }
  return ctx;
}

/**
 * One protocol v1 connection: parses frames, drives its Session, and is the session's sink.
 * Logging uses the dyno's logger with this connection's fields, not a child logger per
 * connection (a pino child costs a few hundred bytes for as long as the socket lives).
 */
class V1Connection extends GatedConnection implements SessionSink {
  private readonly ctx: V1Context;
  private readonly id: string;
  private readonly session: SessionHandle;
  /**
   * The last join or leave while it runs: `ice-servers` answers for the membership after it.
   * Back to a shared settled promise once it is done, so an idle member holds none.
   */
  private membershipChange: Promise<unknown> = RESOLVED;

  constructor(ws: WebSocket, request: IncomingMessage, ctx: V1Context) {
    super(ws, ctx.policy);
    this.ctx = ctx;
    this.id = connectionId();
    this.session = ctx.node.createSession('v1', this.id, this, ctx.log);
    this.listen();
    // Read only when logged: reading the peer address makes Node keep it on the socket.
    if (ctx.log.isLevelEnabled('info')) this.logger().info({ ip: clientAddress(request), protocol: 'v1' }, 'connection open');
  }

  /** The dyno's logger with this connection's fields (conn, and room and name once joined). */
  logger(): Logger {
    const { room, name } = this.session;
    return this.ctx.log.child(name === undefined ? { conn: this.id } : { conn: this.id, room, name });
  }

  refuse(code: ErrorCode, message: string, messageId?: MessageId): void {
    this.send(encodeError(code, message, messageId));
  }

  // SessionSink ------------------------------------------------------------------------

  joined(room: string, name: string, peers: string[], info: JoinInfo): boolean {
    const members = peers.map((peer) => ({ name: peer, metadata: info.metadata?.get(peer) ?? {} }));
    return this.send(encode({ type: 'joined', room, name, peers, members, resume: info.resume, resumed: info.resumed, ...this.ice(name) }));
  }

  peerJoined(name: string, metadata?: Metadata): void {
    // Omitted for a member without any: the frame stays what clients before metadata got.
    const some = metadata !== undefined && Object.keys(metadata).length > 0;
    this.send(encode(some ? { type: 'peer-joined', name, metadata } : { type: 'peer-joined', name }));
  }

  peerLeft(name: string): void {
    this.send(encode({ type: 'peer-left', name }));
  }

  deliver(frame: string, seq?: number): boolean {
    // Numbered frames (the client's join carried lastSeq) lead with their number: every
    // relayed frame is a JSON object encoded by encode-v1.ts, so it starts with '{'.
    return this.send(seq === undefined ? frame : `{"seq":${seq},${frame.slice(1)}`);
  }

  signalsLost(peers: string[]): void {
    this.send(encode({ type: 'signals-lost', peers }));
  }

  lostFrame(name: string): string {
    return encode({ type: 'signals-lost', peers: [name] });
  }

  replaced(): void {
    this.logger().info('membership resumed on another connection; closing this one');
    this.ws.close(CloseCode.Replaced, 'resumed on another connection');
  }

  ended(reason: EndReason): void {
    this.logger().info({ reason }, 'membership ended while this dyno was cut off; closing with 1012 so the client joins again');
    this.ws.close(CloseCode.ServiceRestart, `membership ended (${reason}); join again`);
  }

  removed(): void {
    this.logger().info('removed by the application (server API); closing with 4001');
    this.send(
      encodeError(
        ErrorCode.Removed,
        'the application removed you from this room; do not reconnect (it decides whether you may join again)',
      ),
    );
    this.ws.close(CloseCode.Removed, 'removed');
  }

  // Socket events -----------------------------------------------------------------------

  message(data: RawData, isBinary: boolean): void {
    const text = this.admit(data, isBinary);
    if (text === null) return;
    const parsed = parseV1(text);
    if (!parsed.ok) return this.refuse(ErrorCode.BadRequest, parsed.message, parsed.id);
    const message = parsed.message;
    // Anything the client sends after a `joined` proves it got it (delivery.ts).
    this.session.confirm();
    const handling = this.handle(message, (data as Buffer).length);
    if (message.type === 'join' || message.type === 'leave') {
      const change: Promise<unknown> = handling.then(
        () => this.settled(change),
        () => this.settled(change),
      );
      this.membershipChange = change;
    }
    // Backend failures come back as results (`unavailable`); what throws is a bug here. Not
    // `unavailable` (clients would retry the same message forever): close with 1011, and the
    // client reconnects and resumes.
    handling.catch((error: unknown) => {
      this.logger().error({ err: error, type: message.type }, 'message handler failed (a bug); closing with 1011');
      this.ws.close(CloseCode.InternalError, 'internal error');
    });
  }

  closed(code: number): void {
    // A dropped connection keeps the membership for RESUME_GRACE_MS. A normal close means
    // "I am done", and after 1008/1009 the client will not come back, so those leave now.
    const reason = LEAVE_CODES.has(code) ? 'leave' : 'disconnect';
    // The fields as they are now (the close changes them); the child logger only when a line
    // is written: a dyno whose members all drop at once closes thousands in one turn.
    const { room, name } = this.session;
    const base = this.ctx.log;
    const log = (): Logger => base.child(name === undefined ? { conn: this.id } : { conn: this.id, room, name });
    this.session
      .close(reason)
      .then((wasJoined) => {
        if (base.isLevelEnabled('info')) log().info({ code, wasJoined, reason }, 'connection closed');
      })
      .catch((error: unknown) => log().warn({ err: error }, 'cleanup after close failed'));
  }

  // Internals ---------------------------------------------------------------------------

  private settled(change: Promise<unknown>): void {
    if (this.membershipChange === change) this.membershipChange = RESOLVED;
  }

  /** Never buffers without bound: a peer that stops reading is cut off (MAX_BUFFERED_BYTES). */
  private send(frame: string): boolean {
    const outcome = sendBounded(this.ws, this.ctx.policy.maxBufferedBytes, frame);
    if (outcome === 'cut') this.logger().warn(CUT_OFF);
    return outcome === 'sent';
  }

  /** Minted per call: every joined (join and resume) and every ice-servers gets new credentials. */
  private ice(name: string): { iceServers: IceServer[]; iceServersTtl?: number } {
    const { policy } = this.ctx;
    return policy.iceServersTtl === undefined
      ? { iceServers: policy.iceServers(name) }
      : { iceServers: policy.iceServers(name), iceServersTtl: policy.iceServersTtl };
  }

  private async join(message: Extract<ClientMessage, { type: 'join' }>): Promise<void> {
    const { metrics, policy } = this.ctx;
    const tokens = policy.joinTokens;
    // A resume needs no token (its secret proves the membership); the token is checked
    // only if the membership is gone and a new one would start (docs/protocol.md).
    const authorize = tokens ? () => tokens.check(message.token, message.room, message.name) : undefined;
    // With TOKEN_SECRET only the token's `metadata` claim counts: the client's could be forged.
    let metadata: Metadata = tokens ? NO_METADATA : (message.metadata ?? NO_METADATA);
    if (authorize && message.resume === undefined) {
      const check = await authorize();
      if (!check.ok) {
        metrics.join('unauthorized');
        return this.refuse(ErrorCode.Unauthorized, check.reason, message.id);
      }
      metadata = check.metadata ?? NO_METADATA;
    }
    const result = await this.session.join(
      message.room,
      message.name,
      message.resume,
      message.resume === undefined ? undefined : authorize,
      metadata,
      message.lastSeq === undefined ? {} : { lastSeq: message.lastSeq },
    );
    metrics.join(result.ok ? 'joined' : result.code);
    if (result.ok) {
      this.logger().info({ resumed: result.resumed }, result.resumed ? 'resumed' : 'joined');
    } else if (result.code === 'unauthorized') {
      this.refuse(ErrorCode.Unauthorized, result.reason, message.id);
    } else {
      const [code, text] = JOIN_ERRORS[result.code];
      this.logger().info({ room: message.room, name: message.name, code }, 'join refused');
      this.refuse(code, text, message.id);
    }
  }

  private async handle(message: ClientMessage, bytes: number): Promise<void> {
    const { metrics, policy } = this.ctx;
    const session = this.session;
    switch (message.type) {
      case 'join': {
        // A member's second join is answered already-joined: it starts nothing, so it is not
        // counted (and never costs the member its socket).
        const counted = !session.isJoined;
        // Before the token check: verifying a JWT is work a storm should not get either.
        if (counted && !policy.admitJoin()) {
          metrics.join('throttled');
          this.refuse(ErrorCode.Unavailable, JOINS_THROTTLED, message.id);
          // Closed, not left open: the reconnect goes through the router, maybe to a calmer dyno.
          this.ws.close(CloseCode.TryAgainLater, JOINS_THROTTLED_CLOSE);
          return;
        }
        try {
          await this.join(message);
        } finally {
          if (counted) policy.joinDone();
        }
        return;
      }
      case 'signal': {
        if (bytes > policy.maxSignalBytes) {
          return this.refuse(
            ErrorCode.BadRequest,
            `signal frames are limited to MAX_SIGNAL_BYTES (${policy.maxSignalBytes} bytes); this one has ${bytes}`,
            message.id,
          );
        }
        if (!policy.inflight.acquire(bytes)) {
          metrics.signal('overloaded');
          return this.refuse(ErrorCode.Overloaded, OVERLOADED, message.id);
        }
        let result: SignalResult;
        try {
          // Stamped when relayed, not now: a join or leave may still be queued ahead of it.
          result = await session.signal(message.to, (from) => encodeSignal(JSON.stringify(from), message.data));
        } finally {
          policy.inflight.release(bytes);
        }
        metrics.signal(result);
        if (result !== 'sent') this.refuse(SIGNAL_ERRORS[result][0], SIGNAL_ERRORS[result][1], message.id);
        return;
      }
      case 'broadcast': {
        // The same limits as a signal: it costs the room's dynos at least as much.
        if (bytes > policy.maxSignalBytes) {
          return this.refuse(
            ErrorCode.BadRequest,
            `broadcast frames are limited to MAX_SIGNAL_BYTES (${policy.maxSignalBytes} bytes); this one has ${bytes}`,
            message.id,
          );
        }
        if (!policy.inflight.acquire(bytes)) return this.refuse(ErrorCode.Overloaded, OVERLOADED, message.id);
        let result: BroadcastResult;
        try {
          result = await session.broadcast((from) => encodeBroadcast(JSON.stringify(from), message.data));
        } finally {
          policy.inflight.release(bytes);
        }
        if (result !== 'sent') this.refuse(BROADCAST_ERRORS[result][0], BROADCAST_ERRORS[result][1], message.id);
        return;
      }
      case 'leave': {
        const log = this.logger();
        if (await session.leave()) log.info('left');
        else this.refuse(ErrorCode.NotJoined, 'not in a room', message.id);
        return;
      }
      case 'ping':
        this.send(PONG);
        return;
      case 'ice-servers': {
        await this.membershipChange;
        // Credentials carry the member name, so only a member can ask; the rate limit bounds it.
        const name = session.isJoined ? session.name : undefined;
        if (name === undefined) return this.refuse(ErrorCode.NotJoined, 'join a room before asking for ICE servers', message.id);
        this.send(encode({ type: 'ice-servers', ...this.ice(name) }));
        return;
      }
      default: {
        const unreachable: never = message;
        throw new Error(`unhandled message ${JSON.stringify(unreachable)}`);
      }
    }
  }
}

const RESOLVED: Promise<unknown> = Promise.resolve();
/** Most members have none: one shared (frozen) empty object instead of one each for as long as they stay. */
const NO_METADATA: Metadata = Object.freeze({});
