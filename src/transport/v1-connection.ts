import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import type { SessionSink } from '../cluster/session.ts';
import type { SignalingNode } from '../cluster/signaling-node.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import { encode, encodeError, encodeSignal, PONG } from '../protocol/encode-v1.ts';
import type { ClientMessage, MessageId } from '../protocol/messages.ts';
import { parseV1 } from '../protocol/parse-v1.ts';

const JOIN_ERRORS = {
  'already-joined': [ErrorCode.AlreadyJoined, 'this socket is already in a room; send leave first'],
  'name-taken': [ErrorCode.NameTaken, 'another member of this room uses that name; choose another'],
  'room-full': [ErrorCode.RoomFull, 'the room has reached MAX_ROOM_SIZE members'],
  unavailable: [ErrorCode.Unavailable, 'the signaling backend cannot be reached; retry shortly'],
} as const;

export function connectionId(): string {
  return randomBytes(6).toString('base64url');
}

/** Serves protocol v1 (docs/protocol.md) on one WebSocket. */
export function serveV1(ws: WebSocket, request: IncomingMessage, node: SignalingNode, parentLog: Logger): void {
  const id = connectionId();
  let log = parentLog.child({ conn: id });
  let fromJson = '';
  const send = (frame: string): void => {
    if (ws.readyState === ws.OPEN) ws.send(frame);
  };
  const sink: SessionSink = {
    joined: (room, name, peers) => {
      fromJson = JSON.stringify(name);
      send(encode({ type: 'joined', room, name, peers }));
    },
    peerJoined: (name) => send(encode({ type: 'peer-joined', name })),
    peerLeft: (name) => send(encode({ type: 'peer-left', name })),
    deliver: send,
  };
  const session = node.createSession('v1', id, sink, log);
  const fail = (code: ErrorCode, message: string, messageId?: MessageId): void => send(encodeError(code, message, messageId));
  log.info({ ip: request.socket.remoteAddress, protocol: 'v1' }, 'connection open');

  async function handle(message: ClientMessage): Promise<void> {
    switch (message.type) {
      case 'join': {
        const result = await session.join(message.room, message.name);
        if (result.ok) {
          log = log.child({ room: message.room, name: message.name });
          log.info('joined');
        } else {
          const [code, text] = JOIN_ERRORS[result.code];
          log.info({ room: message.room, name: message.name, code }, 'join refused');
          fail(code, text, message.id);
        }
        return;
      }
      case 'signal': {
        const result = await session.signal(message.to, encodeSignal(fromJson, message.data));
        if (result === 'not-joined') fail(ErrorCode.NotJoined, 'join a room before sending signals', message.id);
        else if (result === 'peer-not-found') fail(ErrorCode.PeerNotFound, `no member named ${JSON.stringify(message.to)} in this room`, message.id);
        else if (result === 'unavailable') fail(ErrorCode.Unavailable, 'the signaling backend cannot be reached; retry shortly', message.id);
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
      default: {
        const unreachable: never = message;
        throw new Error(`unhandled message ${JSON.stringify(unreachable)}`);
      }
    }
  }

  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (isBinary) return fail(ErrorCode.BadRequest, 'binary frames are not accepted; send JSON text frames');
    // binaryType is the default "nodebuffer", so a text message is one Buffer.
    const parsed = parseV1((data as Buffer).toString("utf8"));
    if (!parsed.ok) return fail(ErrorCode.BadRequest, parsed.message, parsed.id);
    handle(parsed.message).catch((error: unknown) => {
      log.error({ err: error }, 'message handler failed');
      fail(ErrorCode.Unavailable, 'internal error handling this message', parsed.message.id);
    });
  });
  ws.on('error', (error: Error & { code?: string }) => log.info({ code: error.code, err: error.message }, 'socket error'));
  ws.on('close', (code: number) => {
    session
      .close()
      .then((wasJoined) => log.info({ code, wasJoined }, 'connection closed'))
      .catch((error: unknown) => log.warn({ err: error }, 'cleanup after close failed'));
  });
}
