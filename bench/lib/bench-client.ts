import { io } from 'socket.io-client';
import type { Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import { SDP, SDP_JSON } from './sdp.ts';

/** Which server a client speaks to: this product's protocol v1, or the socket.io baseline. */
export type TargetKind = 'signaling' | 'socketio';

/** What a load-generator client reports; `now` is performance.now() at arrival. */
export interface ClientEvents {
  joined(peers: number): void;
  peerJoined(): void;
  /** A relayed signal: `t` is when it was sent (performance.now()), `step` the step that sent it. */
  signal(t: number, step: number): void;
  error(code: string): void;
  closed(): void;
}

export interface BenchClient {
  /** Settles when the socket is open. */
  readonly open: Promise<void>;
  join(room: string, name: string): void;
  /** Sends ~1 KB of SDP-like data to `to`, carrying its send time and step. */
  signal(to: string, t: number, step: number, seq: number): boolean;
  close(): void;
}

export function openClient(kind: TargetKind, url: string, events: ClientEvents): BenchClient {
  return kind === 'signaling' ? new SignalingClient(url, events) : new SocketIoClient(url, events);
}

const DATA_T = '"data":{"t":';

/** Protocol v1 over `ws`, with frames built by concatenation so the generator stays cheap. */
class SignalingClient implements BenchClient {
  readonly open: Promise<void>;
  private readonly ws: WebSocket;
  private readonly events: ClientEvents;

  constructor(url: string, events: ClientEvents) {
    this.events = events;
    this.ws = new WebSocket(url, { perMessageDeflate: false });
    this.open = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.ws.on('error', () => undefined);
    this.ws.on('close', () => events.closed());
    this.ws.on('message', (raw: Buffer) => this.receive(raw.toString('utf8')));
  }

  join(room: string, name: string): void {
    this.ws.send(JSON.stringify({ type: 'join', room, name }));
  }

  signal(to: string, t: number, step: number, seq: number): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(
      `{"type":"signal","to":${JSON.stringify(to)},"data":{"t":${t},"s":${step},"k":${seq},"session":"bench","description":{"type":"offer","sdp":${SDP_JSON}}}}`,
    );
    return true;
  }

  close(): void {
    this.ws.close(1000);
  }

  private receive(text: string): void {
    // Signals are most frames: read t and s from the frame's head instead of parsing 1 KB.
    if (text.startsWith('{"type":"signal"')) {
      const at = text.indexOf(DATA_T);
      if (at > 0) {
        const tEnd = text.indexOf(',', at + DATA_T.length);
        const sEnd = text.indexOf(',', tEnd + 5);
        this.events.signal(Number(text.slice(at + DATA_T.length, tEnd)), Number(text.slice(tEnd + 5, sEnd)));
        return;
      }
    }
    const message = JSON.parse(text) as { type: string; peers?: string[]; code?: string };
    if (message.type === 'joined') this.events.joined(message.peers?.length ?? 0);
    else if (message.type === 'peer-joined') this.events.peerJoined();
    else if (message.type === 'error') this.events.error(message.code ?? 'unknown');
  }
}

interface SignalData {
  t: number;
  s: number;
}

/** socket.io-client over WebSocket only, one connection per client (forceNew: no multiplexing). */
class SocketIoClient implements BenchClient {
  readonly open: Promise<void>;
  private readonly socket: Socket;

  constructor(url: string, events: ClientEvents) {
    this.socket = io(url, { transports: ['websocket'], forceNew: true, reconnection: false });
    this.open = new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('connect_error', reject);
    });
    this.socket.on('disconnect', () => events.closed());
    this.socket.on('joined', () => events.joined(0));
    this.socket.on('peer-joined', () => events.peerJoined());
    this.socket.on('signal', (message: { data: SignalData }) => events.signal(message.data.t, message.data.s));
  }

  join(room: string, name: string): void {
    this.socket.emit('join', { room, name });
  }

  signal(to: string, t: number, step: number, seq: number): boolean {
    if (!this.socket.connected) return false;
    this.socket.emit('signal', { to, data: { t, s: step, k: seq, session: 'bench', description: { type: 'offer', sdp: SDP } } });
    return true;
  }

  close(): void {
    this.socket.disconnect();
  }
}
