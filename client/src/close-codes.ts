import type { ErrorCodeValue } from "../../protocol/wire.js";

/**
 * What the client does when the socket closes without `leave()`.
 *
 * The rule of thumb: retry when the cause is the network or the server's
 * lifecycle (a new attempt may land on a healthy dyno); stop when the cause is
 * this client itself (a new attempt would be refused the same way).
 *
 * | code        | meaning                          | decision  |
 * |-------------|----------------------------------|-----------|
 * | 1000        | normal closure by the server     | stop      |
 * | 1001        | going away (server shutting down)| reconnect |
 * | 1002, 1003  | protocol error, unsupported data | stop      |
 * | 1005, 1006  | no status / abnormal (link lost) | reconnect |
 * | 1007        | invalid frame payload            | stop      |
 * | 1008        | policy violation (rate limit...) | stop      |
 * | 1009        | message too big                  | stop      |
 * | 1010        | missing extension                | stop      |
 * | 1011        | internal server error            | reconnect |
 * | 1012        | service restart (dyno drain)     | reconnect |
 * | 1013        | try again later                  | reconnect |
 * | 1014        | bad gateway                      | reconnect |
 * | 1015        | TLS handshake failure            | stop      |
 * | 3000-3999   | library / framework codes        | reconnect |
 * | 4000-4499   | application: permanent refusal   | stop      |
 * | 4500-4999   | application: transient condition | reconnect |
 * | any other   | unknown                          | reconnect |
 *
 * Unknown codes reconnect because a proxy may invent one; the reconnect policy
 * still bounds how long we keep trying.
 */
export type CloseDecision = "reconnect" | "stop";

const STOP_CODES: ReadonlySet<number> = new Set([1000, 1002, 1003, 1007, 1008, 1009, 1010, 1015]);

/** Applies the table above to a close code. */
export function closeDecision(code: number): CloseDecision {
  if (STOP_CODES.has(code)) return "stop";
  if (code >= 4000 && code <= 4499) return "stop";
  return "reconnect";
}

/**
 * Close code the client itself uses when its watchdog declares the link dead.
 * 4000-4999 is the only range besides 1000 a browser lets scripts send.
 */
export const CLIENT_CLOSE_DEAD_LINK = 4000;

/** Server error codes that end the session when they answer a join. */
const FATAL_JOIN_ERRORS: ReadonlySet<string> = new Set<ErrorCodeValue>([
  "bad-request",
  "unauthorized",
  "room-full",
  "already-joined",
  "name-taken",
]);

/**
 * Decides what an `error` frame that answers our `join` means.
 * `name-taken` is retried on a re-join: the server may still hold our previous
 * socket (it has not yet noticed it died), and that hold ends by itself.
 */
export function joinErrorDecision(code: string, isRejoin: boolean): CloseDecision {
  if (code === "name-taken" && isRejoin) return "reconnect";
  return FATAL_JOIN_ERRORS.has(code) ? "stop" : "reconnect";
}
