/**
 * The slice of the WebSocket API the client uses, so that the browser's
 * WebSocket, Node's global WebSocket and the `ws` package all fit.
 */

/**
 * A handler property type that is checked bivariantly, the way TypeScript
 * checks methods. Without it `ws`'s handlers (which take `ws`'s own event
 * classes) would not be assignable to ours under `strictFunctionTypes`.
 */
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

/** A WebSocket as far as this library is concerned. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /** `ws` only: drop the TCP connection at once, without a closing handshake. */
  terminate?(): void;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
  onclose: Handler<{ code: number; reason: string }> | null;
  onerror: Handler<unknown> | null;
}

/** A WebSocket constructor: `globalThis.WebSocket`, or `WebSocket` from `ws`. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** `readyState` of an open socket (the same in every implementation). */
export const WS_OPEN = 1;
