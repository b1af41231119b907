import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import type { SessionSink, SignalResult } from '../cluster/session.ts';
import type { SignalingNode } from '../cluster/signaling-node.ts';
import type { ConnectionMetrics } from '../metrics/metrics.ts';
import { NO_METRICS } from '../metrics/metrics.ts';
import { CloseCode, ErrorCode } from '../protocol/error-codes.ts';
import { encode, encodeError, encodeSignal, PONG } from '../protocol/encode-v1.ts';
import type { ClientMessage, IceServer, MessageId } from '../protocol/messages.ts';
import { parseV1 } from '../protocol/parse-v1.ts';
import { clientAddress } from './client-address.ts';
import type { ConnectionPolicy } from './connection-policy.ts';
import { boundedSender, DEFAULT_POLICY } from './connection-policy.ts';
import { createFrameGate } from './frame-gate.ts';

const UNAVAILABLE = 'the signaling backend cannot be reached; retry shortly';

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

const LEAVE_CODES = new Set<number>([CloseCode.Normal, CloseCode.PolicyViolation, CloseCode.MessageTooBig]);

export function connectionId(): string {
  return randomBytes(6).toString('base64url');
}

/** Serves protocol v1 (docs/protocol.md) on one WebSocket. */
export function serveV1(
  ws: WebSocket,
  request: IncomingMessage,
  node: SignalingNode,
  parentLog: Logger,
  metrics: ConnectionMetrics = NO_METRICS,
  policy: ConnectionPolicy = DEFAULT_POLICY,
): void {
  const id = connectionId();
  let log = parentLog.child({ conn: id });
  const send = boundedSender(ws, policy, () => log.warn({ buffered: ws.bufferedAmount }, 'client does not read its socket; cut off'));
  // Minted per call: every joined (join and resume) and every ice-servers gets new credentials.
  const ice = (name: string): { iceServers: IceServer[]; iceServersTtl?: number } =>
    policy.iceServersTtl === undefined ? { iceServers: policy.iceServers(name) } : { iceServers: policy.iceServers(name), iceServersTtl: policy.iceServersTtl };
  const sink: SessionSink = {
    joined: (room, name, peers, info) => {
      send(encode({ type: 'joined', room, name, peers, resume: info.resume, resumed: info.resumed, ...ice(name) }));
    },
    peerJoined: (name) => send(encode({ type: 'peer-joined', name })),
    peerLeft: (name) => send(encode({ type: 'peer-left', name })),
    deliver: send,
    replaced: () => {
      log.info('membership resumed on another connection; closing this one');
      ws.close(CloseCode.Replaced, 'resumed on another connection');
    },
  };
  const session = node.createSession('v1', id, sink, log);
  /** The last join or leave still running: `ice-servers` answers for the membership after it. */
  let membershipChange: Promise<unknown> = Promise.resolve();
  const fail = (code: ErrorCode, message: string, messageId?: MessageId): void => {
    send(encodeError(code, message, messageId));
  };
  log.info({ ip: clientAddress(request), protocol: 'v1' }, 'connection open');

  async function handle(message: ClientMessage): Promise<void> {
    switch (message.type) {
      case 'join': {
        if (policy.joinTokens) {
          const check = await policy.joinTokens.check(message.token, message.room, message.name);
          if (!check.ok) {
            metrics.join('unauthorized');
            return fail(ErrorCode.Unauthorized, check.reason, message.id);
          }
        }
        const result = await session.join(message.room, message.name, message.resume);
        metrics.join(result.ok ? 'joined' : result.code);
        if (result.ok) {
          // A child of parentLog, not of log: a child of a child costs ~1 KB per member, one ~250 B.
          log = parentLog.child({ conn: id, room: message.room, name: message.name });
          log.info({ resumed: result.resumed }, result.resumed ? 'resumed' : 'joined');
        } else {
          const [code, text] = JOIN_ERRORS[result.code];
          log.info({ room: message.room, name: message.name, code }, 'join refused');
          fail(code, text, message.id);
        }
        return;
      }
      case 'signal': {
        // Stamped when relayed, not now: a join or leave may still be queued ahead of it.
        const result = await session.signal(message.to, (from) => encodeSignal(JSON.stringify(from), message.data));
        metrics.signal(result);
        if (result !== 'sent') fail(SIGNAL_ERRORS[result][0], SIGNAL_ERRORS[result][1], message.id);
        return;
      }
      case 'leave': {
        if (await session.leave()) {
          log.info('left');
          log = parentLog.child({ conn: id });
        } else {
          fail(ErrorCode.NotJoined, 'not in a room', message.id);
        }
        return;
      }
      case 'ping':
        send(PONG);
        return;
      case 'ice-servers': {
        await membershipChange;
        // Credentials carry the member name, so only a member can ask; the rate limit bounds it.
        const name = session.isJoined ? session.name : undefined;
        if (name === undefined) return fail(ErrorCode.NotJoined, 'join a room before asking for ICE servers', message.id);
        send(encode({ type: 'ice-servers', ...ice(name) }));
        return;
      }
      default: {
        const unreachable: never = message;
        throw new Error(`unhandled message ${JSON.stringify(unreachable)}`);
      }
    }
  }

  const admit = createFrameGate(ws, policy, () => log, (code, text) => fail(code, text));
  ws.on('message', (data: RawData, isBinary: boolean) => {
    const text = admit(data, isBinary);
    if (text === null) return;
    const parsed = parseV1(text);
    if (!parsed.ok) return fail(ErrorCode.BadRequest, parsed.message, parsed.id);
    const handling = handle(parsed.message);
    if (parsed.message.type === 'join' || parsed.message.type === 'leave') membershipChange = handling.catch(() => undefined);
    handling.catch((error: unknown) => {
      log.error({ err: error }, 'message handler failed');
      fail(ErrorCode.Unavailable, 'internal error handling this message', parsed.message.id);
    });
  });
  ws.on('error', (error: Error & { code?: string }) => log.info({ code: error.code, err: error.message }, 'socket error'));
  ws.on('close', (code: number) => {
    // A dropped connection keeps the membership for RESUME_GRACE_MS. A normal close means
    // "I am done", and after 1008/1009 the client will not come back, so those leave now.
    const reason = LEAVE_CODES.has(code) ? 'leave' : 'disconnect';
    session
      .close(reason)
      .then((wasJoined) => log.info({ code, wasJoined, reason }, 'connection closed'))
      .catch((error: unknown) => log.warn({ err: error }, 'cleanup after close failed'));
  });
}
