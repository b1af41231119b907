import type { WebSocket, WebSocketServer } from 'ws';

/**
 * Pings every socket each `intervalMs` and terminates the ones that did not answer the
 * previous ping. Under the Heroku router's 55 s idle cut-off by default (25 s), so the
 * pings also keep idle connections open.
 */
export function startHeartbeat(wss: WebSocketServer, intervalMs: number): () => void {
  const alive = new WeakSet<WebSocket>();
  // One listener for every socket (`this` is the socket), not a closure per connection: an
  // idle dyno holds tens of thousands of sockets, and each closure is memory they all pay.
  const onPong = function onPong(this: WebSocket): void {
    alive.add(this);
  };
  const onConnection = (ws: WebSocket): void => {
    alive.add(ws);
    ws.on('pong', onPong);
  };
  wss.on('connection', onConnection);
  const timer = setInterval(() => {
    for (const ws of wss.clients) {
      if (!alive.delete(ws)) {
        ws.terminate();
        continue;
      }
      ws.ping();
    }
  }, intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    wss.off('connection', onConnection);
  };
}
