/**
 * Why something went wrong, as a closed set a caller can switch on.
 *
 * - `server-error`: the server answered with `{"type":"error"}`; `code` holds its code
 *   (`name-taken`, `peer-not-found`, `unauthorized`, ...).
 * - `closed-by-server`: the socket closed with a code that means "do not retry"
 *   (see close-codes.ts); `closeCode` holds it.
 * - `ping-timeout`: no frame arrived within `pongTimeoutMs` after a ping.
 * - `connect-timeout`: the socket did not open and join within `connectTimeoutMs`.
 * - `reconnect-exhausted`: the reconnect policy gave up (answered `null`).
 * - `policy-failed`: the reconnect policy threw; retrying stops, `cause` holds what it threw.
 * - `bad-message`: the server sent a frame that is not protocol v1.
 * - `invalid-options`: the options passed to the constructor are unusable.
 * - `peer-connection`: an RTCPeerConnection operation failed (mesh call only).
 */
export type SignalingErrorReason =
  | 'server-error'
  | 'closed-by-server'
  | 'ping-timeout'
  | 'connect-timeout'
  | 'reconnect-exhausted'
  | 'policy-failed'
  | 'bad-message'
  | 'invalid-options'
  | 'peer-connection';

/** Extra facts attached to a {@link SignalingError}. */
export interface SignalingErrorDetails {
  /** Server error code, for `server-error`. */
  code?: string;
  /** WebSocket close code, for `closed-by-server` and `reconnect-exhausted`. */
  closeCode?: number;
  /** The `id` the server echoed, when the offending message carried one. */
  id?: string | number;
  /** The underlying error, if any. */
  cause?: unknown;
}

/** The one error class of this library: `reason` says why, the rest says what. */
export class SignalingError extends Error {
  override readonly name = 'SignalingError';
  readonly reason: SignalingErrorReason;
  readonly code: string | undefined;
  readonly closeCode: number | undefined;
  readonly id: string | number | undefined;

  constructor(reason: SignalingErrorReason, message: string, details: SignalingErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.reason = reason;
    this.code = details.code;
    this.closeCode = details.closeCode;
    this.id = details.id;
  }
}
