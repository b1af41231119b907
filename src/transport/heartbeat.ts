import type { WebSocket, WebSocketServer } from 'ws';

/**
 * Sockets pinged per turn of the event loop. A ping is a write(2) each (tens of µs on a
 * virtualised dyno), so one loop over 50,000 idle members stalled every signal of the dyno
 * for over a second each round; slices of this size keep each stall to a few ms.
 */
const SLICE = 500;

/**
 * Pings every socket each `intervalMs` and terminates the ones that did not answer the
 * previous ping. Under the Heroku router's 55 s idle cut-off by default (25 s), so the
 * pings also keep idle connections open. A round runs in slices (setImmediate between
 * them), so traffic on the other sockets is served while it runs.
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
    // Any frame proves the client alive: under backpressure its pong may wait behind frames
    // queued in the socket for longer than the interval.
    ws.on('message', onPong);
  };
  wss.on('connection', onConnection);
  let round: WebSocket[] = [];
  let next = 0;
  let pending: NodeJS.Immediate | undefined;
  const slice = (): void => {
    pending = undefined;
    const end = Math.min(next + SLICE, round.length);
    for (; next < end; next++) {
      const ws = round[next] as WebSocket;
      // Closed since the round started: nothing to ping or cut.
      if (ws.readyState !== ws.OPEN) continue;
      if (!alive.delete(ws)) {
        ws.terminate();
        continue;
      }
      ws.ping();
    }
    if (next < round.length) pending = setImmediate(slice);
    else round = [];
  };
  const timer = setInterval(() => {
    // A round still running when the next is due (a huge dyno, a tiny interval) finishes first.
    if (pending !== undefined) return;
    round = [...wss.clients];
    next = 0;
    slice();
  }, intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    if (pending !== undefined) clearImmediate(pending);
    round = [];
    wss.off('connection', onConnection);
  };
}
