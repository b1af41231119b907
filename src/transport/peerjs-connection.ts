import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import type { SessionHandle, SessionSink, SignalResult } from '../cluster/session.ts';
import type { SignalingNode } from '../cluster/signaling-node.ts';
import type { ConnectionMetrics } from '../metrics/metrics.ts';
import { CloseCode } from '../protocol/error-codes.ts';
import type { PeerJsMessage } from '../protocol/peerjs-messages.ts';
import {
  errorFrame,
  expireFrame,
  ID_TAKEN_FRAME,
  leaveFrame,
  OPEN_FRAME,
  parsePeerJs,
  PeerJsError,
  relayFrame,
} from '../protocol/peerjs-messages.ts';
import { clientAddress } from './client-address.ts';
import type { ConnectionPolicy } from './connection-policy.ts';
import { CUT_OFF, JOINS_THROTTLED_CLOSE, sendBounded } from './connection-policy.ts';
import { GatedConnection } from './frame-gate.ts';
import { MAX_WAITING_IDS, peerKeys, peerRoom } from './peerjs-queue.ts';
import type { PeerJsQueue } from './peerjs-queue.ts';
import { connectionId, OVERLOADED } from './v1-connection.ts';

/** Longest id and token accepted: they name Redis keys and are hashed on every registration. */
const MAX_ID_LENGTH = 256;
const UNAVAILABLE = 'the signaling backend cannot be reached; retry shortly';

/** What every PeerJS connection of a dyno shares. */
export interface PeerJsContext {
  node: SignalingNode;
  log: Logger;
  metrics: ConnectionMetrics;
  policy: ConnectionPolicy;
  /** PEERJS_KEY. */
  key: string;
  queue: PeerJsQueue;
  /** Open connections, for the alive sweep (PEERJS_ALIVE_TIMEOUT_MS). */
  open: Set<PeerJsConnection>;
}

/** Sends the reference's ERROR frame and closes as it does (no close code). */
export function refusePeerJs(ws: WebSocket, msg: string): void {
  ws.send(errorFrame(msg));
  ws.close();
}

/** Serves the PeerJS server protocol (docs/protocol.md, PeerJS) on one WebSocket. */
export function servePeerJs(ws: WebSocket, request: IncomingMessage, ctx: PeerJsContext): void {
  // As the reference reads them: the last of repeated parameters wins.
  const query = Object.fromEntries(new URL(request.url ?? '', 'http://peerjs').searchParams.entries());
  const { id, token, key } = query;
  if (!id || !token || !key) return refusePeerJs(ws, PeerJsError.InvalidWsParameters);
  if (key !== ctx.key) return refusePeerJs(ws, PeerJsError.InvalidKey);
  if (id.length > MAX_ID_LENGTH || token.length > MAX_ID_LENGTH)
    return refusePeerJs(ws, `id and token are limited to ${MAX_ID_LENGTH} characters each`);
  new PeerJsConnection(ws, request, ctx, id, token);
}

/**
 * One PeerJS client: its id is the one member of the id's own room in the `peerjs`
 * namespace, and its token is that membership's resume secret, so the same id and token
 * take the id over from any dyno while another token gets ID-TAKEN.
 */
export class PeerJsConnection extends GatedConnection implements SessionSink {
  /** Last frame from the client (ms): any frame, HEARTBEAT included, proves it alive. */
  lastSeen = Date.now();
  private readonly ctx: PeerJsContext;
  private readonly conn = connectionId();
  private readonly id: string;
  private readonly session: SessionHandle;
  /** Settles once the registration is decided; frames read before it wait for it. */
  private registered: Promise<boolean>;
  /** Per destination, the relay still running: messages to one id go out in order. */
  private readonly chains = new Map<string, Promise<void>>();

  constructor(ws: WebSocket, request: IncomingMessage, ctx: PeerJsContext, id: string, token: string) {
    super(ws, ctx.policy);
    this.ctx = ctx;
    this.id = id;
    this.session = ctx.node.createSession('peerjs', this.conn, this, ctx.log);
    ctx.open.add(this);
    this.listen();
    this.logger().info({ ip: clientAddress(request), protocol: 'peerjs' }, 'connection open');
    this.registered = this.register(token);
  }

  /** The gate's refusals (rate, binary frames) are ERROR frames, as the reference's refusals are. */
  refuse(_code: string, message: string): void {
    this.send(errorFrame(message));
  }

  logger(): Logger {
    return this.ctx.log.child({ conn: this.conn, protocol: 'peerjs', peer: this.id });
  }

  /** Closes a socket that sent nothing for PEERJS_ALIVE_TIMEOUT_MS, as the reference does. */
  expireIfSilent(now: number, aliveMs: number): void {
    if (now - this.lastSeen < aliveMs) return;
    this.logger().info({ silentMs: now - this.lastSeen }, 'no HEARTBEAT within PEERJS_ALIVE_TIMEOUT_MS; closing');
    this.ws.close();
  }

  // SessionSink --------------------------------------------------------------------------

  joined(): void {
    // Also on a takeover by the same id and token: the reference sends nothing then, and
    // its client's reconnect() never emits `open` (docs/protocol.md, deliberate differences).
    this.send(OPEN_FRAME);
  }

  peerJoined(): void {
    // The id's room has no other member.
  }

  peerLeft(): void {
    // Idem.
  }

  deliver(frame: string): boolean {
    return this.send(frame);
  }

  replaced(): void {
    this.logger().info('the same id and token connected again (maybe through another dyno); closing this socket');
    this.ws.close(CloseCode.Replaced, 'id taken over by a new connection with its token');
  }

  removed(): void {
    this.logger().info('removed by the application (server API); closing');
    this.send(errorFrame('the application removed this peer from the server'));
    this.ws.close(CloseCode.Removed, 'removed');
  }

  // Internals ------------------------------------------------------------------------------

  private async register(token: string): Promise<boolean> {
    const { metrics, policy } = this.ctx;
    if (!policy.admitJoin()) {
      metrics.join('throttled');
      // No ERROR: the client would give up; a closed socket lets it reconnect() later.
      this.ws.close(CloseCode.TryAgainLater, JOINS_THROTTLED_CLOSE);
      return false;
    }
    let result;
    try {
      // The token is the resume secret: a registration of this id under it is taken over,
      // a missing one is started under it, another token's is refused (name-taken).
      result = await this.session.join(peerRoom(this.ctx.key, this.id), this.id, token, undefined, {}, { secret: token });
    } finally {
      policy.joinDone();
    }
    metrics.join(result.ok ? 'joined' : result.code);
    if (result.ok) {
      this.logger().info({ resumed: result.resumed }, result.resumed ? 'id taken over' : 'registered');
      return true;
    }
    if (result.code === 'name-taken' || result.code === 'room-full') {
      this.logger().info('id taken by a connection with another token');
      this.send(ID_TAKEN_FRAME);
      this.ws.close();
    } else {
      this.logger().warn({ code: result.code }, 'registration failed');
      refusePeerJs(this.ws, result.code === 'unavailable' ? UNAVAILABLE : 'registration refused');
    }
    return false;
  }

  message(data: RawData, isBinary: boolean): void {
    this.lastSeen = Date.now();
    const text = this.admit(data, isBinary);
    if (text === null) return;
    const message = parsePeerJs(text);
    if (message.kind === 'malformed') {
      // The reference drops it without an answer; counted, and logged at debug.
      this.ctx.metrics.badFrame?.();
      this.logger().debug('malformed frame dropped');
      return;
    }
    if (message.kind === 'heartbeat' || message.kind === 'ignored') return;
    void this.registered.then((ok) => (ok ? this.handle(message, Buffer.byteLength(text)) : undefined));
  }

  private handle(message: Exclude<PeerJsMessage, { kind: 'malformed' | 'heartbeat' | 'ignored' }>, bytes: number): void {
    switch (message.kind) {
      case 'leave-server':
        // The reference unregisters the id and keeps the socket: it can relay no more.
        void this.session.leave();
        return;
      case 'relay': {
        const { policy } = this.ctx;
        if (bytes > policy.maxSignalBytes) {
          this.send(errorFrame(`messages are limited to MAX_SIGNAL_BYTES (${policy.maxSignalBytes} bytes); this one has ${bytes}`));
          return;
        }
        const previous = this.chains.get(message.dst) ?? RESOLVED;
        const next = previous.then(() => this.relay(message, bytes));
        this.chains.set(message.dst, next);
        void next.finally(() => {
          if (this.chains.get(message.dst) === next) this.chains.delete(message.dst);
        });
        return;
      }
      default: {
        const unreachable: never = message;
        throw new Error(`unhandled PeerJS message ${JSON.stringify(unreachable)}`);
      }
    }
  }

  private async relay(message: Extract<PeerJsMessage, { kind: 'relay' }>, bytes: number): Promise<void> {
    const { metrics, policy, queue } = this.ctx;
    const frame = relayFrame(message.type, this.id, message.dst, message.payload);
    // Behind messages still waiting for the same id: they must stay in order.
    if (queue.waiting(this.conn, message.dst)) return this.enqueue(message, frame);
    if (!policy.inflight.acquire(bytes)) {
      metrics.signal('overloaded');
      this.send(errorFrame(OVERLOADED));
      return;
    }
    let result: SignalResult;
    try {
      result = await this.sendTo(message.dst, frame);
    } finally {
      policy.inflight.release(bytes);
    }
    metrics.signal(result);
    switch (result) {
      case 'sent':
      case 'not-joined':
        return;
      case 'peer-not-found':
      case 'unavailable':
        // Not connected anywhere (or Redis away for a moment): wait for it, as the reference does.
        return this.enqueue(message, frame);
      case 'peer-backlogged':
        // The reference's answer when a connected peer cannot take a message.
        this.send(leaveFrame(message.dst, this.id));
        return;
      default: {
        const unreachable: never = result;
        throw new Error(`unhandled signal result ${String(unreachable)}`);
      }
    }
  }

  /**
   * Straight to the id's member channel (held by the core while it reconnects): each id is
   * its own room, so this is the core's sendTo on that room, not a signal within ours.
   * Ordered per destination by the caller's chain.
   */
  private async sendTo(dst: string, frame: string): Promise<SignalResult> {
    if (!this.session.isJoined) return 'not-joined';
    try {
      const outcome = await this.ctx.node.sendTo(peerKeys(this.ctx.node, this.ctx.key, dst), dst, frame);
      return outcome === 'not-found' ? 'peer-not-found' : outcome === 'full' ? 'peer-backlogged' : 'sent';
    } catch {
      return 'unavailable';
    }
  }

  private enqueue(message: Extract<PeerJsMessage, { kind: 'relay' }>, frame: string): void {
    // LEAVE and EXPIRE for an id not connected are dropped, as the reference does.
    if (!message.queued) return;
    const outcome = this.ctx.queue.add(this.conn, this.id, message.dst, frame);
    if (outcome === 'pair-full') {
      this.logger().info({ dst: message.dst }, 'too many messages waiting for one id (MAX_HELD_SIGNALS); dropped one');
    } else if (outcome === 'too-many-ids') {
      // Answered now, as if it had expired: the client reports peer-unavailable.
      this.logger().info({ dst: message.dst }, `messages wait for ${MAX_WAITING_IDS} ids already; answered EXPIRE at once`);
      this.send(expireFrame(message.dst, this.id));
    }
  }

  closed(code: number): void {
    this.ctx.open.delete(this);
    const log = this.logger();
    // The reference frees an id when its socket closes: a reconnect with the same token
    // registers it again, and messages sent meanwhile wait in the queue.
    this.session
      .close('leave')
      .then((wasJoined) => log.info({ code, wasJoined }, 'connection closed'))
      .catch((error: unknown) => log.warn({ err: error }, 'cleanup after close failed'));
  }

  private send(frame: string): boolean {
    const outcome = sendBounded(this.ws, this.ctx.policy.maxBufferedBytes, frame);
    if (outcome === 'cut') this.logger().warn(CUT_OFF);
    return outcome === 'sent';
  }
}

const RESOLVED: Promise<void> = Promise.resolve();
