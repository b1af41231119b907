import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { WebSocketServer } from 'ws';
import type { Admission, UpgradeRefusal } from './admission.ts';
import { clientAddress } from './client-address.ts';

export type UpgradeHandler = (ws: WebSocket, request: IncomingMessage) => void;

export interface GatewayOptions {
  /** Largest accepted frame; ws closes the socket with 1009 beyond it. */
  maxPayload: number;
  /** WebSocket endpoints by path. */
  routes: ReadonlyMap<string, UpgradeHandler>;
  /** Origin policy (ALLOWED_ORIGINS); refused upgrades get 403. Default: allow all. */
  allowOrigin?: (request: IncomingMessage) => boolean;
  /** Connection limits (MAX_CONNECTIONS, per-address limits); refused upgrades get 503 with Retry-After. */
  admission?: Admission;
  /** Told of every upgrade refused by admission control (metrics). */
  onRefused?: (reason: UpgradeRefusal) => void;
  /**
   * Paths whose clients understand a refusal only inside their protocol (PeerJS: an ERROR
   * frame): admission refusals there complete the upgrade and hand the socket to this,
   * which answers and closes it, instead of a 503.
   */
  inBandRefusals?: ReadonlyMap<string, (ws: WebSocket, message: string) => void>;
}

/**
 * Accepts WebSocket upgrades on the HTTP server's own port (Heroku gives a dyno one port).
 * Unknown paths get a plain 404 instead of hanging. Compression stays off: it costs memory
 * per socket and CPU per frame, and SDP is small.
 */
export class WsGateway {
  readonly wss: WebSocketServer;
  private accepting = true;
  private readonly options: GatewayOptions;
  /**
   * Open sockets. Kept here rather than by ws (clientTracking), which adds a closure per
   * socket to forget it; `untrack` is one listener for all of them.
   */
  private readonly open = new Set<WebSocket>();
  private readonly untrack: (this: WebSocket) => void;

  constructor(server: Server, options: GatewayOptions) {
    this.options = options;
    this.wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayload, perMessageDeflate: false, clientTracking: false });
    const open = this.open;
    this.untrack = function untrack(this: WebSocket): void {
      open.delete(this);
    };
    server.on('upgrade', (request, socket, head) => this.upgrade(request, socket, head));
  }

  /** Stop taking new upgrades (graceful drain); open sockets are left alone. */
  stopAccepting(): void {
    this.accepting = false;
  }

  get clients(): ReadonlySet<WebSocket> {
    return this.open;
  }

  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', destroySocket);
    const path = (request.url ?? '/').split('?', 1)[0] ?? '/';
    const handler = this.options.routes.get(path);
    if (!handler) return reject(socket, 404, 'Not Found');
    if (!this.accepting) return reject(socket, 503, 'Service Unavailable');
    if (this.options.allowOrigin && !this.options.allowOrigin(request)) return reject(socket, 403, 'Forbidden');
    const admission = this.options.admission;
    // Read only when a per-address limit is set: the header split costs every upgrade.
    const address = admission?.perAddress ? clientAddress(request) : undefined;
    if (admission) {
      const verdict = admission.admitUpgrade(this.open.size, address);
      if (!verdict.ok) {
        this.options.onRefused?.(verdict.reason);
        const inBand = this.options.inBandRefusals?.get(path);
        if (inBand) return void this.wss.handleUpgrade(request, socket, head, (ws) => inBand(ws, verdict.message));
        return reject(socket, 503, 'Service Unavailable', verdict.retryAfterSeconds, verdict.message);
      }
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => {
      this.open.add(ws);
      ws.on('close', this.untrack);
      admission?.track(ws, address);
      // noServer mode does not emit 'connection' by itself; the heartbeat listens for it.
      this.wss.emit('connection', ws, request);
      handler(ws, request);
    });
  }
}

/**
 * Declared out here, not as an arrow in upgrade(): the listener lives as long as the socket,
 * and an arrow would keep upgrade()'s whole scope alive with it, the request (headers and
 * all) included: about 1 KB per open connection.
 */
function destroySocket(this: Duplex): void {
  this.destroy();
}

function reject(socket: Duplex, status: number, text: string, retryAfterSeconds?: number, body = ''): void {
  const retry = retryAfterSeconds === undefined ? '' : `Retry-After: ${retryAfterSeconds}\r\n`;
  const type = body === '' ? '' : 'Content-Type: text/plain; charset=utf-8\r\n';
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\n${retry}${type}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}
