import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import type { SessionSink, SignalResult } from '../cluster/session.ts';
import type { SignalingNode } from '../cluster/signaling-node.ts';
import { CloseCode, ErrorCode } from '../protocol/error-codes.ts';
import type { ConnectionMetrics } from '../metrics/metrics.ts';
import { NO_METRICS } from '../metrics/metrics.ts';
import type { ArticleMessage } from '../protocol/parse-article.ts';
import { parseArticle } from '../protocol/parse-article.ts';
import { clientAddress } from './client-address.ts';
import type { ConnectionPolicy } from './connection-policy.ts';
import { CUT_OFF, DEFAULT_POLICY, JOINS_THROTTLED, JOINS_THROTTLED_CLOSE, sendBounded } from './connection-policy.ts';
import { FrameGate } from './frame-gate.ts';
import { connectionId, OVERLOADED } from './v1-connection.ts';

/**
 * Error codes of article-protocol error frames: v1's, plus `forbidden` for a description
 * whose sender is not the party it claims to be (and any other way a signal can fail).
 */
export type ArticleErrorCode = ErrorCode | 'forbidden' | Exclude<SignalResult, 'sent'>;

const JOIN_ERRORS = {
  'already-joined': [ErrorCode.AlreadyJoined, 'this socket has already opened a room'],
  'name-taken': [ErrorCode.NameTaken, 'another member of this room uses that name; choose another'],
  'room-full': [ErrorCode.RoomFull, 'the room has reached MAX_ROOM_SIZE members'],
  unavailable: [ErrorCode.Unavailable, 'the signaling backend cannot be reached; retry shortly'],
} as const;

export function encodeArticleError(code: ArticleErrorCode, message: string): string {
  return JSON.stringify({ method: 'error', code, message });
}

/**
 * Serves the original article's protocol (docs/protocol.md, "Article protocol") on one
 * WebSocket, over the same cluster core as v1 but in the `article` namespace, so its rooms
 * never meet v1 rooms. Descriptions are routed by the sender's session and delivered as
 * the sender's exact text.
 */
export function serveArticle(
  ws: WebSocket,
  request: IncomingMessage,
  node: SignalingNode,
  parentLog: Logger,
  metrics: ConnectionMetrics = NO_METRICS,
  policy: ConnectionPolicy = DEFAULT_POLICY,
): void {
  const id = connectionId();
  let log = parentLog.child({ conn: id });
  /** The room and name of the member this socket is: set by the sink once joined. */
  let me: { room: string; name: string } | null = null;
  /**
   * Messages are handled one after another, so an rtc right behind an open is checked
   * against the outcome of that open, never against a claim that may still fail.
   */
  let queue: Promise<void> = Promise.resolve();
  const send = (frame: string): boolean => {
    const outcome = sendBounded(ws, policy.maxBufferedBytes, frame);
    if (outcome === 'cut') log.warn(CUT_OFF);
    return outcome === 'sent';
  };
  const sink: SessionSink = {
    joined: (room, name, peers) => {
      me = { room, name };
      send(JSON.stringify({ method: 'opened', roomName: room, name, peers }));
    },
    // The article's trigger: the member already in the room (`from`) offers to the newcomer.
    peerJoined: (name) => {
      if (me) send(JSON.stringify({ method: 'rtc', type: 'request', roomName: me.room, to: name, from: me.name }));
    },
    peerLeft: (name) => {
      if (me) send(JSON.stringify({ method: 'peer-left', roomName: me.room, name }));
    },
    deliver: send,
    // The article's client ignores methods other than rtc; other clients may act on it.
    signalsLost: (peers) => {
      if (me) send(JSON.stringify({ method: 'signals-lost', roomName: me.room, peers }));
    },
    lostFrame: (name) => JSON.stringify({ method: 'signals-lost', roomName: me?.room ?? '', peers: [name] }),
    // Another connection holds the membership now (a clash after re-registration): this
    // socket must not stay open on a closed session.
    replaced: () => {
      log.info('membership taken by another connection; closing this one');
      ws.close(CloseCode.Replaced, 'membership taken by another connection');
    },
    // Its membership ended while this dyno was cut off (swept as dead): the client opens anew.
    ended: (reason) => {
      log.info({ reason }, 'membership ended while this dyno was cut off; closing with 1012');
      ws.close(CloseCode.ServiceRestart, `membership ended (${reason}); open again`);
    },
  };
  const session = node.createSession('article', id, sink, log);
  const fail = (code: ArticleErrorCode, message: string): void => {
    send(encodeArticleError(code, message));
  };
  log.info({ ip: clientAddress(request), protocol: 'article' }, 'connection open');

  async function handle(message: ArticleMessage, text: string): Promise<void> {
    if (message.method === 'open') {
      // A second open is answered already-joined and starts nothing: not counted.
      const counted = me === null;
      if (counted && !policy.admitJoin()) {
        metrics.join('throttled');
        fail(ErrorCode.Unavailable, JOINS_THROTTLED);
        ws.close(CloseCode.TryAgainLater, JOINS_THROTTLED_CLOSE);
        return;
      }
      let result;
      try {
        if (policy.joinTokens) {
          metrics.join('unauthorized');
          return fail(
            ErrorCode.Unauthorized,
            'this server requires join tokens (TOKEN_SECRET), which the article protocol cannot carry; use /signaling',
          );
        }
        result = await session.join(message.roomName, message.name);
      } finally {
        if (counted) policy.joinDone();
      }
      metrics.join(result.ok ? 'joined' : result.code);
      if (!result.ok && result.code === 'unauthorized') return fail(ErrorCode.Unauthorized, result.reason);
      if (result.ok) {
        // A child of parentLog, not of log: a child of a child costs ~1 KB per member, one ~250 B.
        log = parentLog.child({ conn: id, room: message.roomName, name: message.name });
        log.info('joined');
      } else {
        const [code, reason] = JOIN_ERRORS[result.code];
        log.info({ room: message.roomName, name: message.name, code }, 'join refused');
        fail(code, reason);
      }
      return;
    }
    const self = me?.name;
    if (self === undefined) return fail(ErrorCode.NotJoined, 'send open before rtc');
    const { descriptionType: type, from, to } = message;
    // Offers go to `to` and answers to `from`; the other end must be the sender.
    const claimant = type === 'offer' ? from : to;
    const target = type === 'offer' ? to : from;
    if (claimant !== self) {
      log.debug({ type, from, to }, 'rtc refused: sender is not who it claims to be');
      return fail('forbidden', `an ${type}'s ${type === 'offer' ? 'from' : 'to'} must be your own name`);
    }
    if (target === self) return fail(ErrorCode.BadRequest, 'rtc.from and rtc.to must differ');
    const bytes = Buffer.byteLength(text);
    if (bytes > policy.maxSignalBytes) {
      return fail(
        ErrorCode.BadRequest,
        `rtc frames are limited to MAX_SIGNAL_BYTES (${policy.maxSignalBytes} bytes); this one has ${bytes}`,
      );
    }
    if (!policy.inflight.acquire(bytes)) {
      metrics.signal('overloaded');
      return fail(ErrorCode.Overloaded, OVERLOADED);
    }
    let result: SignalResult;
    try {
      result = await session.signal(target, text);
    } finally {
      policy.inflight.release(bytes);
    }
    metrics.signal(result);
    if (result === 'not-joined') fail(ErrorCode.NotJoined, 'send open before rtc');
    else if (result === 'peer-not-found') fail(ErrorCode.PeerNotFound, `no member named ${JSON.stringify(target)} in this room`);
    else if (result === 'unavailable') fail(ErrorCode.Unavailable, 'the signaling backend cannot be reached; retry shortly');
    else if (result !== 'sent') fail(result, `the description was not delivered (${result})`);
  }

  const gate = new ArticleGate(ws, policy, fail, () => log);
  ws.on('message', (data: RawData, isBinary: boolean) => {
    const text = gate.check(data, isBinary);
    if (text === null) return;
    const parsed = parseArticle(text);
    // Anything the client sends after `opened` proves it got it (cluster/delivery.ts).
    session.confirm();
    if (!parsed.ok) return fail(ErrorCode.BadRequest, parsed.message);
    queue = queue
      .then(() => handle(parsed.message, text))
      .catch((error: unknown) => {
        // As for v1: backend failures are results; what throws is a bug, answered with 1011.
        log.error({ err: error, method: parsed.message.method }, 'message handler failed (a bug); closing with 1011');
        ws.close(CloseCode.InternalError, 'internal error');
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

type GateCode = typeof ErrorCode.RateLimited | typeof ErrorCode.BadRequest;

/** The frame checks for an article connection, which answers through its callbacks. */
class ArticleGate extends FrameGate {
  private readonly onRefuse: (code: GateCode, message: string) => void;
  private readonly log: () => Logger;

  constructor(ws: WebSocket, policy: ConnectionPolicy, onRefuse: (code: GateCode, message: string) => void, log: () => Logger) {
    super(ws, policy);
    this.onRefuse = onRefuse;
    this.log = log;
  }

  refuse(code: GateCode, message: string): void {
    this.onRefuse(code, message);
  }

  logger(): Logger {
    return this.log();
  }

  check(data: RawData, isBinary: boolean): string | null {
    return this.admit(data, isBinary);
  }
}
