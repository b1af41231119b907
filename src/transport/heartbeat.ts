import type { WebSocket, WebSocketServer } from 'ws';

/**
 * Pings every socket each `intervalMs` and terminates the ones that did not answer the
 * previous ping. Under the Heroku router's 55 s idle cut-off by default (25 s), so the
 * pings also keep idle connections open.
 */
export function startHeartbeat(wss: WebSocketServer, intervalMs: number): () => void {
  const alive = new WeakSet<WebSocket>();
  const onConnection = (ws: WebSocket): void => {
    alive.add(ws);
    ws.on('pong', () => alive.add(ws));
    // Any frame proves the client alive: under backpressure its pong may wait behind frames
    // queued in the socket for longer than the interval.
    ws.on('message', () => alive.add(ws));
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
