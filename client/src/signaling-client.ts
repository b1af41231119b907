/**
 * SignalingClient: one member of one room, speaking protocol v1 over a
 * WebSocket, that keeps itself joined across network loss and dyno restarts.
 */
import { CLIENT_CLOSE_DEAD_LINK, closeDecision, joinErrorDecision } from './close-codes.ts';
import { IceRefreshTimer } from './ice-refresh.ts';
import { PingWatchdog } from './ping-watchdog.ts';
import {
  type ClientMessage,
  type IceServersMessage,
  type JoinedMessage,
  type Metadata,
  WIRE_LIMITS,
  isValidRoomOrName,
  parseServerMessage,
} from './protocol.ts';
import { ExponentialBackoffPolicy, type ReconnectContext, type ReconnectPolicy, nextDelay } from './reconnect-policy.ts';
import { SignalingError } from './signaling-error.ts';
import type { JoinedEvent, SignalingClientEvents, SignalingState } from './signaling-events.ts';
import { TypedEmitter } from './typed-emitter.ts';
import { WS_OPEN, type WebSocketConstructor, type WebSocketLike } from './websocket-like.ts';

export interface SignalingClientOptions {
  /** `ws(s)://host/signaling`. */
  url: string;
  room: string;
  name: string;
  /** Signed join token, for servers with TOKEN_SECRET. */
  token?: string;
  /**
   * Shown to the other members (`peer-joined`, `joined.members`), e.g. `{ displayName }`: a
   * JSON object of at most 1 KB. Servers with TOKEN_SECRET ignore it and use the token's claim.
   */
  metadata?: Metadata;
  /** WebSocket constructor. Default `globalThis.WebSocket`; pass `ws`'s in Node tests. */
  WebSocket?: WebSocketConstructor;
  /** Default: exponential backoff, full jitter, 0.5 s doubling to 10 s, never gives up. */
  reconnectPolicy?: ReconnectPolicy;
  /** Ping period of the liveness watchdog. Default 10 000 ms. */
  pingIntervalMs?: number;
  /** Time a ping may go unanswered (by any frame) before the link is declared dead. Default 5000 ms. */
  pongTimeoutMs?: number;
  /** Time an attempt may take from opening the socket to `joined`. Default 10 000 ms. */
  connectTimeoutMs?: number;
}

const NOOP = (): void => {};

export class SignalingClient extends TypedEmitter<SignalingClientEvents> {
  readonly url: string;
  readonly room: string;
  readonly name: string;
  readonly #token: string | undefined;
  readonly #metadata: Metadata | undefined;
  /** Metadata of the members we know, by name (from `joined` and `peer-joined`). */
  readonly #peerMetadata = new Map<string, Metadata>();
  readonly #WebSocket: WebSocketConstructor;
  readonly #policy: ReconnectPolicy;
  readonly #connectTimeoutMs: number;
  readonly #watchdog: PingWatchdog;
  readonly #iceRefresh = new IceRefreshTimer(() => this.refreshIceServers());

  #state: SignalingState = 'closed';
  #socket: WebSocketLike | undefined;
  #connectTimer: ReturnType<typeof setTimeout> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #retryCount = 0;
  #lostAt: number | undefined;
  #resume: string | undefined;
  /** The number of the last signal, broadcast or message processed in this membership (wire.d.ts JoinMessage.lastSeq). */
  #lastSeq = 0;
  #joinedOnce = false;
  #lastJoined: JoinedEvent | undefined;

  constructor(options: SignalingClientOptions) {
    super();
    const Ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (Ctor === undefined) throw new SignalingError('invalid-options', 'no WebSocket implementation available');
    if (!/^(wss?|https?):\/\//i.test(options.url)) throw new SignalingError('invalid-options', `bad url: ${options.url}`);
    const rule = `must be 1-${WIRE_LIMITS.maxNameChars} characters, no control characters`;
    if (!isValidRoomOrName(options.room)) throw new SignalingError('invalid-options', `room ${rule}`);
    if (!isValidRoomOrName(options.name)) throw new SignalingError('invalid-options', `name ${rule}`);
    this.url = options.url;
    this.room = options.room;
    this.name = options.name;
    this.#token = options.token;
    this.#metadata = options.metadata;
    this.#WebSocket = Ctor;
    this.#policy = options.reconnectPolicy ?? new ExponentialBackoffPolicy();
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#watchdog = new PingWatchdog({
      intervalMs: options.pingIntervalMs ?? 10_000,
      timeoutMs: options.pongTimeoutMs ?? 5_000,
      sendPing: () => this.#send({ type: 'ping' }),
      onDead: () => this.#retry(new SignalingError('ping-timeout', 'no answer to ping: link is dead')),
    });
  }

  get state(): SignalingState {
    return this.#state;
  }

  /** The last `joined` since `connect()`, if any, with `iceServers` as last refreshed. */
  get lastJoined(): JoinedEvent | undefined {
    return this.#lastJoined;
  }

  /** ICE servers from the last `joined` or refresh (fresh TURN credentials on every join). */
  get iceServers(): RTCIceServer[] {
    return this.#lastJoined?.iceServers ?? [];
  }

  /** Starts connecting. No-op unless `closed`. */
  connect(): void {
    if (this.#state !== 'closed') return;
    this.#retryCount = 0;
    this.#lostAt = undefined;
    this.#resume = undefined;
    this.#lastSeq = 0;
    this.#joinedOnce = false;
    this.#lastJoined = undefined;
    this.#setState('connecting');
    this.#openSocket();
  }

  /** Sends `data` to `to`. Returns false (and drops it) when not `open`. */
  signal(to: string, data: object): boolean {
    if (this.#state !== 'open') return false;
    // Any object serialises as a JSON object; the wire type names it as the server reads it.
    return this.#send({ type: 'signal', to, data: data as Record<string, unknown> });
  }

  /**
   * Sends `data` to every other member of the room (they get a `broadcast` event); it is not
   * echoed back. Same size and rate limits as `signal`. Returns false (and drops it) when not `open`.
   */
  broadcast(data: object): boolean {
    if (this.#state !== 'open') return false;
    return this.#send({ type: 'broadcast', data: data as Record<string, unknown> });
  }

  /** The metadata a member of the room joined with (`{}` when it has none), or undefined for a stranger. */
  metadataOf(name: string): Metadata | undefined {
    return this.#peerMetadata.get(name);
  }

  /**
   * Asks the server for fresh ICE servers; the answer comes as an `ice-servers` event. The
   * client does this by itself before credentials expire. Returns false when not `open`.
   */
  refreshIceServers(): boolean {
    if (this.#state !== 'open') return false;
    return this.#send({ type: 'ice-servers' });
  }

  /** Leaves the room and closes normally; no reconnect. Idempotent. */
  leave(): void {
    if (this.#state === 'closed') return;
    // Also while a join is in flight: the server may have accepted it already,
    // and without `leave` it would hold the membership for a resume.
    this.#send({ type: 'leave' });
    this.#finish(undefined);
  }

  #openSocket(): void {
    let socket: WebSocketLike;
    try {
      socket = new this.#WebSocket(this.url);
    } catch (cause) {
      this.#finish(new SignalingError('invalid-options', `cannot open ${this.url}`, { cause }));
      return;
    }
    this.#socket = socket;
    this.#connectTimer = setTimeout(() => {
      this.#retry(new SignalingError('connect-timeout', `not joined within ${this.#connectTimeoutMs} ms`));
    }, this.#connectTimeoutMs);
    socket.onopen = () => this.#sendJoin();
    socket.onmessage = (event) => this.#onFrame(event.data);
    socket.onclose = (event) => this.#onClose(event.code, event.reason);
    socket.onerror = NOOP; // a close event always follows; it carries the facts
  }

  #sendJoin(): void {
    const join: ClientMessage = { type: 'join', room: this.room, name: this.name };
    if (this.#token !== undefined) join.token = this.#token;
    if (this.#resume !== undefined) join.resume = this.#resume;
    // Numbered frames: a resume gets again what was sent after the last one processed.
    join.lastSeq = this.#resume === undefined ? 0 : this.#lastSeq;
    if (this.#metadata !== undefined) join.metadata = this.#metadata;
    this.#send(join);
  }

  #onFrame(data: unknown): void {
    this.#watchdog.frameReceived();
    const message = typeof data === 'string' ? parseServerMessage(data) : null;
    if (message === null) {
      this.emit('error', new SignalingError('bad-message', 'server sent a frame that is not protocol v1'));
      return;
    }
    if (message === 'unknown') return;
    switch (message.type) {
      case 'joined':
        this.#onJoined(message);
        break;
      case 'ice-servers':
        if (this.#state === 'open') this.#onIceServers(message);
        break;
      case 'peer-joined':
        if (this.#state !== 'open') break;
        this.#peerMetadata.set(message.name, message.metadata);
        this.emit('peer-joined', { name: message.name, metadata: message.metadata });
        break;
      case 'peer-left':
        if (this.#state !== 'open') break;
        this.#peerMetadata.delete(message.name);
        this.emit('peer-left', { name: message.name });
        break;
      case 'signal':
      case 'broadcast':
        if (this.#state !== 'open') break;
        if (message.seq !== undefined) this.#lastSeq = message.seq;
        this.emit(message.type, { from: message.from, data: message.data });
        break;
      case 'message':
        if (this.#state !== 'open') break;
        if (message.seq !== undefined) this.#lastSeq = message.seq;
        this.emit('message', { data: message.data });
        break;
      case 'error': {
        const details = message.id === undefined ? { code: message.code } : { code: message.code, id: message.id };
        const error = new SignalingError('server-error', message.message, details);
        if (this.#state === 'open') this.emit('error', error);
        else if (joinErrorDecision(message.code, this.#joinedOnce) === 'stop') this.#finish(error);
        else this.#retry(error);
        break;
      }
      case 'signals-lost':
        if (this.#state === 'open') this.emit('signals-lost', { peers: message.peers });
        break;
      case 'pong':
        break;
    }
  }

  #onJoined(message: JoinedMessage): void {
    clearTimeout(this.#connectTimer);
    this.#retryCount = 0;
    this.#lostAt = undefined;
    this.#resume = message.resume;
    // A new membership numbers its frames from 1 again.
    if (message.resumed !== true) this.#lastSeq = 0;
    const event: JoinedEvent = {
      room: message.room,
      name: message.name,
      peers: message.peers,
      members: message.members,
      iceServers: message.iceServers ?? [],
      resume: message.resume,
      rejoin: this.#joinedOnce,
      // The server's answer: a resume whose membership was gone starts a new one.
      resumed: message.resumed === true,
    };
    if (message.iceServersTtl !== undefined) event.iceServersTtl = message.iceServersTtl;
    this.#peerMetadata.clear();
    for (const member of message.members) this.#peerMetadata.set(member.name, member.metadata);
    this.#joinedOnce = true;
    this.#lastJoined = event;
    this.#watchdog.start();
    this.#iceRefresh.schedule(message.iceServersTtl);
    this.#setState('open');
    this.emit('joined', event);
  }

  #onIceServers(message: IceServersMessage): void {
    const { iceServers, iceServersTtl } = message;
    if (this.#lastJoined !== undefined) {
      // A MeshCall created from now on must start with these, not the expired ones.
      const refreshed: JoinedEvent = { ...this.#lastJoined, iceServers };
      if (iceServersTtl === undefined) delete refreshed.iceServersTtl;
      else refreshed.iceServersTtl = iceServersTtl;
      this.#lastJoined = refreshed;
    }
    this.#iceRefresh.schedule(iceServersTtl);
    this.emit('ice-servers', iceServersTtl === undefined ? { iceServers } : { iceServers, iceServersTtl });
  }

  #onClose(code: number, reason: string): void {
    this.#discardSocket();
    if (closeDecision(code) === 'stop') {
      const text = `server closed the connection (${code}${reason ? `: ${reason}` : ''})`;
      this.#finish(new SignalingError('closed-by-server', text, { closeCode: code }));
    } else {
      this.#scheduleRetry({ closeCode: code, reason: reason || `close ${code}` });
    }
  }

  /** A transient failure: tell the app, drop this socket, try again later. */
  #retry(error: SignalingError): void {
    this.emit('error', error);
    this.#discardSocket(error.reason === 'ping-timeout' || error.reason === 'connect-timeout');
    this.#scheduleRetry({ reason: error.code ?? error.reason });
  }

  #scheduleRetry(cause: { closeCode?: number; reason: string }): void {
    this.#lostAt ??= Date.now();
    const context: ReconnectContext = { retryCount: this.#retryCount, elapsedMs: Date.now() - this.#lostAt, ...cause };
    const delay = nextDelay(this.#policy, context);
    if (delay instanceof SignalingError) {
      this.#finish(delay);
      return;
    }
    if (delay === null) {
      const details = cause.closeCode === undefined ? {} : { closeCode: cause.closeCode };
      this.#finish(new SignalingError('reconnect-exhausted', `gave up reconnecting (${cause.reason})`, details));
      return;
    }
    this.#setState('reconnecting');
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#retryCount += 1;
      this.#openSocket();
    }, delay);
  }

  /** Ends the session: no socket, no timers, state `closed`. */
  #finish(error: SignalingError | undefined): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#discardSocket();
    this.#resume = undefined;
    if (error !== undefined) this.emit('error', error);
    this.#setState('closed', error);
  }

  /**
   * Forgets the current socket. Its handlers are replaced by no-ops (not
   * removed: `ws` throws on an unhandled "error" event) so a late event from
   * a socket we gave up on can never disturb the next attempt.
   */
  #discardSocket(dead = false): void {
    clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    this.#watchdog.stop();
    this.#iceRefresh.stop();
    const socket = this.#socket;
    if (socket === undefined) return;
    this.#socket = undefined;
    socket.onopen = NOOP;
    socket.onmessage = NOOP;
    socket.onclose = NOOP;
    socket.onerror = NOOP;
    try {
      // A dead link cannot complete a closing handshake: drop it outright where
      // the implementation allows (ws), else start a close the browser will time out.
      if (!dead) socket.close(1000);
      else if (socket.terminate !== undefined) socket.terminate();
      else socket.close(CLIENT_CLOSE_DEAD_LINK, 'dead link');
    } catch {
      // Already closing or closed: nothing left to release.
    }
  }

  #send(message: ClientMessage): boolean {
    const socket = this.#socket;
    if (socket === undefined || socket.readyState !== WS_OPEN) return false;
    socket.send(JSON.stringify(message));
    return true;
  }

  #setState(state: SignalingState, error?: SignalingError): void {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    this.emit('state', error === undefined ? { state, previous } : { state, previous, error });
  }
}
