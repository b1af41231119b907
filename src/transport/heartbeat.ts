import type { WebSocket, WebSocketServer } from 'ws';

/**
 * The interval is cut into phases this long; each socket is pinged in its own phase, so the
 * pings of a dyno go out as a steady trickle instead of a round over every socket at once
 * (a round over 40,000 idle members is over a second of write(2) calls).
 */
const PHASE_MS = 25;
/** At most this many phases (each a Set): a long HEARTBEAT_MS gets longer phases instead of more. */
const MAX_PHASES = 1024;
/** Sockets visited per turn of the event loop at most: a late or crowded phase never stalls signals. */
export const HEARTBEAT_SLICE = 64;

const STATE = Symbol('heartbeat');
/** Low bit: heard from since the last ping. The rest: the socket's phase. */
const ALIVE = 1;
type Beating = WebSocket & { [STATE]: number };

/**
 * Pings every socket once per `intervalMs`, each in its own phase of the interval, and
 * terminates one that was not heard from (a pong or any frame) since its previous ping.
 * A socket that goes silent is cut at its second visit after that: within 2 x `intervalMs`.
 * A live one gets a frame every `intervalMs`, which keeps an idle connection under the
 * Heroku router's 55 s idle cut-off (HEARTBEAT_MS, 25 s by default).
 */
export function startHeartbeat(wss: WebSocketServer, intervalMs: number): () => void {
  const count = Math.min(MAX_PHASES, Math.max(1, Math.round(intervalMs / PHASE_MS)));
  const phases: Array<Set<WebSocket>> = Array.from({ length: count }, () => new Set());
  let current = 0;
  let joinAt = 0;
  // Listeners are made once per heartbeat and shared by every socket (`this` is the socket),
  // not a closure per connection: that is memory every idle member would pay.
  function onHeard(this: WebSocket): void {
    (this as Beating)[STATE] |= ALIVE;
  }
  function onClose(this: WebSocket): void {
    phases[(this as Beating)[STATE] >> 1]?.delete(this);
  }
  const onConnection = (ws: WebSocket): void => {
    const beating = ws as Beating;
    // Round robin: the phases stay even whatever order sockets come and go in.
    const phase = joinAt;
    joinAt = (joinAt + 1) % count;
    beating[STATE] = (phase << 1) | ALIVE;
    (phases[phase] as Set<WebSocket>).add(ws);
    ws.on('pong', onHeard);
    // Any frame proves the client alive: under backpressure its pong may wait behind frames
    // queued in the socket for longer than the interval.
    ws.on('message', onHeard);
    ws.on('close', onClose);
  };
  wss.on('connection', onConnection);

  // Sockets due and not visited yet: normally one phase's worth, a few dozen.
  let due: WebSocket[] = [];
  let next = 0;
  let pending: NodeJS.Immediate | undefined;
  const visit = (): void => {
    pending = undefined;
    const end = Math.min(next + HEARTBEAT_SLICE, due.length);
    for (; next < end; next++) {
      const ws = due[next] as Beating;
      if (ws.readyState !== ws.OPEN) continue;
      if ((ws[STATE] & ALIVE) === 0) {
        ws.terminate();
        continue;
      }
      ws[STATE] &= ~ALIVE;
      ws.ping();
    }
    if (next < due.length) pending = setImmediate(visit);
    else {
      due = [];
      next = 0;
    }
  };
  const timer = setInterval(() => {
    const phase = phases[current] as Set<WebSocket>;
    current = (current + 1) % count;
    if (phase.size === 0) return;
    // A phase still being visited when the next is due (a stalled loop) is finished first.
    if (next === 0 && due.length === 0) due = [...phase];
    else for (const ws of phase) due.push(ws);
    if (pending === undefined) visit();
  }, intervalMs / count);
  timer.unref();
  return () => {
    clearInterval(timer);
    if (pending !== undefined) clearImmediate(pending);
    due = [];
    wss.off('connection', onConnection);
  };
}
