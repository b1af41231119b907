import type { CloseCodeDecisions, CloseCodesDecided, CloseCodeValue, ErrorCodeValue } from '../../protocol/wire.js';

/**
 * Error codes carried by `{"type":"error","code":C}` frames and WebSocket close codes.
 * Both are part of the wire contract (docs/protocol.md): add to them, never rename.
 */
export const ErrorCode = {
  /** Not JSON, not an object, unknown type, missing or mistyped field, binary frame. */
  BadRequest: 'bad-request',
  /** The message needs a joined session (signal, leave). */
  NotJoined: 'not-joined',
  /** A join on a socket that is already a member of a room. */
  AlreadyJoined: 'already-joined',
  /** Another member of the room already uses this name. */
  NameTaken: 'name-taken',
  /** A signal to a name that is not a member of the sender's room. */
  PeerNotFound: 'peer-not-found',
  /** The room already has MAX_ROOM_SIZE members. */
  RoomFull: 'room-full',
  /** The backend (Redis) cannot be reached; retry later. */
  Unavailable: 'unavailable',
  /** The receiver is reconnecting and MAX_HELD_SIGNALS signals already wait for it. */
  PeerBacklogged: 'peer-backlogged',
  /** Too many messages too fast; the connection is closed (1008) if it goes on. */
  RateLimited: 'rate-limited',
  /** TOKEN_SECRET is set and the join carried no valid token for this room and name. */
  Unauthorized: 'unauthorized',
  /** The dyno has MAX_INFLIGHT_BYTES of signals waiting for Redis; this one was dropped. */
  Overloaded: 'overloaded',
  /** The application removed this member through the server API; the socket closes with 4001. */
  Removed: 'removed',
} as const satisfies Record<string, ErrorCodeValue>;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Fails to compile when protocol/wire.d.ts has a code this table lacks (a check, read by nothing). */
const _errorCodesComplete: [Exclude<ErrorCodeValue, ErrorCode>] extends [never] ? true : never = true;

/**
 * Close codes the server uses, as protocol/wire.d.ts's close-code table lists them with the
 * decision a client takes on each: 1000-1015 are RFC 6455's; ours are 4000-4499 (permanent:
 * the client stops) and 4500-4899 (temporary: it reconnects). 4900-4999 are the client
 * library's own and never sent here.
 */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  /** A text frame was not valid UTF-8: sent by ws itself, never by our code. */
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  InternalError: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
  /** This membership was resumed on another connection; this one is obsolete. */
  Replaced: 4000,
  /** The application removed this member (server API): do not reconnect. */
  Removed: 4001,
} as const satisfies Record<string, CloseCodeValue & keyof CloseCodeDecisions>;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Fails to compile when protocol/wire.d.ts has a close code this table lacks (a check, read by nothing). */
const _closeCodesComplete: [Exclude<CloseCodeValue, CloseCode>] extends [never] ? true : never = true;

/** Fails to compile when a code the server sends has no decision in the wire table (a check, read by nothing). */
const _closeCodesDecided: CloseCodesDecided = true;
