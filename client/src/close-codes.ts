import type { ClientCloseCodeValue, CloseCodeDecisions, CloseCodeRanges, CloseDecision, ErrorCodeValue } from '../../protocol/wire.js';

export type { CloseDecision } from '../../protocol/wire.js';

/**
 * What the client does when the socket closes without `leave()`: protocol/wire.d.ts's
 * close-code table (docs/protocol.md, Close codes). The rule of thumb: retry when the cause
 * is the network or the server's lifecycle (a new attempt may land on a healthy dyno); stop
 * when the cause is this client itself (a new attempt would be refused the same way).
 *
 * `satisfies` the wire's table in both directions: a code missing here, one too many, or a
 * different decision does not compile.
 */
export const CLOSE_DECISIONS = {
  1000: 'stop',
  1001: 'reconnect',
  1002: 'stop',
  1003: 'stop',
  1005: 'reconnect',
  1006: 'reconnect',
  1007: 'stop',
  1008: 'stop',
  1009: 'stop',
  1010: 'stop',
  1011: 'reconnect',
  1012: 'reconnect',
  1013: 'reconnect',
  1014: 'reconnect',
  1015: 'stop',
  4000: 'stop',
  4001: 'stop',
} as const satisfies CloseCodeDecisions;

/** Codes the table does not list decide by range; anything else reconnects (a proxy may invent a code). */
export const CLOSE_RANGES = [
  { from: 3000, to: 3999, owner: 'library', decision: 'reconnect' },
  { from: 4000, to: 4499, owner: 'server', decision: 'stop' },
  { from: 4500, to: 4899, owner: 'server', decision: 'reconnect' },
  { from: 4900, to: 4999, owner: 'client', decision: 'reconnect' },
] as const satisfies CloseCodeRanges;

/** Applies the table to a close code. */
export function closeDecision(code: number): CloseDecision {
  const listed = (CLOSE_DECISIONS as Partial<Record<number, CloseDecision>>)[code];
  if (listed !== undefined) return listed;
  return CLOSE_RANGES.find((range) => code >= range.from && code <= range.to)?.decision ?? 'reconnect';
}

/**
 * Close code the client itself uses when its watchdog declares the link dead: in the
 * client's own range (4900-4999), so neither side can take it for a server's code.
 */
export const CLIENT_CLOSE_DEAD_LINK: ClientCloseCodeValue = 4900;

/** Server error codes that end the session when they answer a join. */
const FATAL_JOIN_ERRORS: ReadonlySet<string> = new Set<ErrorCodeValue>([
  'bad-request',
  'unauthorized',
  'room-full',
  'already-joined',
  'name-taken',
]);

/**
 * Decides what an `error` frame that answers our `join` means.
 * `name-taken` is retried on a re-join: the server may still hold our previous
 * socket (it has not yet noticed it died), and that hold ends by itself.
 */
export function joinErrorDecision(code: string, isRejoin: boolean): CloseDecision {
  if (code === 'name-taken' && isRejoin) return 'reconnect';
  return FATAL_JOIN_ERRORS.has(code) ? 'stop' : 'reconnect';
}
