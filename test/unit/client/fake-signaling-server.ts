/**
 * An in-process server that speaks enough of protocol v1 (join, signal, leave,
 * ping, resume, ice-servers) for the client library's unit tests, with knobs to misbehave:
 * stay silent, never answer joins, refuse joins, close with a given code.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';

type Json = Record<string, unknown>;

interface Member {
  room: string;
  name: string;
  socket: WebSocket | undefined;
  resume: string;
}

export interface FakeServerOptions {
  /** Sent in `joined` and `ice-servers`; a function is called each time (fresh credentials). */
  iceServers?: object[] | ((name: string) => object[]);
  /** Sent as `iceServersTtl` in `joined` and `ice-servers`. */
  iceServersTtl?: number;
  /** When true, `joined` carries a `resume` secret and members survive an unclean disconnect. */
  resume?: boolean;
  /** Attach to this HTTP server (which must already listen) instead of opening a port. */
  server?: Server;
}

export class FakeSignalingServer {
  readonly #wss: WebSocketServer;
  readonly #options: FakeServerOptions;
  readonly #members = new Map<string, Member>();
  readonly #sockets = new Set<WebSocket>();
  #secrets = 0;
  /** Every frame received, with the index of the connection it came on. */
  readonly received: Array<{ connection: number; message: Json }> = [];
  /** Connections accepted so far. */
  connections = 0;
  /** Answer nothing at all on connections with these indexes (a half-open link). */
  readonly silentConnections = new Set<number>();
  /** Ignore joins (connect timeout) while true. */
  ignoreJoins = false;
  /** Tell members about newcomers (false: the test sends peer-joined itself, e.g. to stage glare). */
  announceJoins = true;
  /** Answer the next joins with this error code instead of `joined`. */
  readonly joinErrors: string[] = [];

  private constructor(wss: WebSocketServer, options: FakeServerOptions) {
    this.#wss = wss;
    this.#options = options;
    wss.on('connection', (socket) => this.#accept(socket));
  }

  static async start(options: FakeServerOptions = {}): Promise<FakeSignalingServer> {
    if (options.server !== undefined) {
      return new FakeSignalingServer(new WebSocketServer({ server: options.server, path: '/signaling' }), options);
    }
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', path: '/signaling' });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    return new FakeSignalingServer(wss, options);
  }

  /** Set to end memberships as soon as their socket closes, as when the resume grace runs out. */
  graceOver = false;

  get url(): string {
    return `ws://127.0.0.1:${(this.#wss.address() as AddressInfo).port}/signaling`;
  }

  /** Number of sockets currently open. */
  get openSockets(): number {
    return this.#sockets.size;
  }

  messagesOfType(type: string): Json[] {
    return this.received.filter((r) => r.message['type'] === type).map((r) => r.message);
  }

  /** Closes every client socket with `code` (1006 means: drop TCP without a close frame). */
  closeAll(code: number, reason = ''): void {
    for (const socket of this.#sockets) {
      if (code === 1006) socket.terminate();
      else socket.close(code, reason);
    }
  }

  /** Sends a frame to one member. */
  sendTo(room: string, name: string, frame: Json): void {
    this.#members.get(key(room, name))?.socket?.send(JSON.stringify(frame));
  }

  /** Sends `text` as is to every client. */
  sendRaw(text: string): void {
    for (const socket of this.#sockets) socket.send(text);
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.terminate();
    await new Promise<void>((resolve, reject) => this.#wss.close((error) => (error ? reject(error) : resolve())));
  }

  #accept(socket: WebSocket): void {
    const index = this.connections++;
    this.#sockets.add(socket);
    let self: Member | undefined;
    socket.on('close', () => {
      this.#sockets.delete(socket);
      if (self === undefined || self.socket !== socket) return;
      self.socket = undefined;
      // With resume on, the member waits (forever, here, unless graceOver) for its secret.
      if (!this.#options.resume || this.graceOver) this.#removeMember(self);
    });
    socket.on('message', (raw) => {
      const message = JSON.parse((raw as Buffer).toString('utf8')) as Json;
      this.received.push({ connection: index, message });
      if (this.silentConnections.has(index)) return;
      const send = (frame: Json): void => socket.send(JSON.stringify(frame));
      switch (message['type']) {
        case 'ping':
          send({ type: 'pong' });
          return;
        case 'ice-servers':
          if (self === undefined) send({ type: 'error', code: 'not-joined', message: 'join first' });
          else send({ type: 'ice-servers', ...this.#ice(self.name) });
          return;
        case 'join':
          self = this.#join(message, socket, send) ?? self;
          return;
        case 'leave':
          if (self !== undefined) this.#removeMember(self);
          self = undefined;
          return;
        case 'signal': {
          const target = self && this.#members.get(key(self.room, String(message['to'])));
          if (self === undefined || target?.socket === undefined) {
            send({ type: 'error', code: self ? 'peer-not-found' : 'not-joined', message: 'no such peer' });
            return;
          }
          target.socket.send(JSON.stringify({ type: 'signal', from: self.name, data: message['data'] }));
        }
      }
    });
  }

  #join(message: Json, socket: WebSocket, send: (frame: Json) => void): Member | undefined {
    if (this.ignoreJoins) return undefined;
    const forced = this.joinErrors.shift();
    if (forced !== undefined) {
      send({ type: 'error', code: forced, message: forced });
      return undefined;
    }
    const room = String(message['room']);
    const name = String(message['name']);
    const existing = this.#members.get(key(room, name));
    const resumed = existing !== undefined && message['resume'] === existing.resume;
    if (existing !== undefined && !resumed) {
      send({ type: 'error', code: 'name-taken', message: 'name taken' });
      return undefined;
    }
    const others = [...this.#members.values()].filter((m) => m.room === room && m.name !== name);
    const member: Member = existing ?? { room, name, socket, resume: '' };
    if (existing?.socket !== undefined && existing.socket !== socket) existing.socket.terminate();
    member.socket = socket;
    member.resume = `secret-${++this.#secrets}`;
    this.#members.set(key(room, name), member);
    const joined: Json = { type: 'joined', room, name, peers: others.map((m) => m.name), resumed };
    Object.assign(joined, this.#ice(name));
    if (this.#options.resume) joined['resume'] = member.resume;
    send(joined);
    if (!resumed && this.announceJoins) for (const other of others) other.socket?.send(JSON.stringify({ type: 'peer-joined', name }));
    return member;
  }

  #ice(name: string): Json {
    const { iceServers, iceServersTtl } = this.#options;
    const frame: Json = {};
    if (iceServers !== undefined) frame['iceServers'] = typeof iceServers === 'function' ? iceServers(name) : iceServers;
    if (iceServersTtl !== undefined) frame['iceServersTtl'] = iceServersTtl;
    return frame;
  }

  #removeMember(member: Member): void {
    this.#members.delete(key(member.room, member.name));
    for (const other of this.#members.values()) {
      if (other.room === member.room) other.socket?.send(JSON.stringify({ type: 'peer-left', name: member.name }));
    }
  }
}

function key(room: string, name: string): string {
  return JSON.stringify([room, name]);
}
