/**
 * Protocol v1 (`/signaling`): the one definition of the wire that the server (src/), the
 * client package (client/) and the tests compile against. docs/protocol.md is its prose
 * reference. Types only, so neither side depends on the other's code at run time: a field
 * added here is a compile error on whichever side does not produce or read it yet.
 *
 * A declaration file, not a module with code: the server's build (rootDir src/) and the
 * client package's build (client/) both take it without emitting it.
 */

/** The protocol revision this file describes; the client package says which one it speaks. */
export type ProtocolVersion = '1.1';

/** An optional correlation id a client may put on any message; echoed in errors about it. */
export type MessageId = string | number;

/** What the application attaches to a member (a display name, say): a JSON object, at most 1 KB encoded. */
export type Metadata = Record<string, unknown>;

/** A member as `joined.members` lists it. */
export interface MemberSummary {
  name: string;
  metadata: Metadata;
}

/** An RTCIceServer as the browser takes it. */
export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

// Client to server ----------------------------------------------------------------------

export interface JoinMessage {
  type: 'join';
  room: string;
  name: string;
  /** The `resume` secret of an earlier `joined`, to take that membership over. */
  resume?: string;
  /** HS256 JWT binding room, name and exp; required when the server has TOKEN_SECRET. */
  token?: string;
  /** Shown to the other members; ignored when the server has TOKEN_SECRET (the token's claim wins). */
  metadata?: Metadata;
  /**
   * Asks for numbered frames: `signal`, `broadcast` and `message` frames then carry `seq`,
   * counted per membership (across resumes). On a first join send 0; with `resume`, the `seq`
   * of the last frame the client processed: what was sent after it is delivered again (or
   * `signals-lost` names the peers whose frames may be lost). Omitted: no numbers.
   */
  lastSeq?: number;
  id?: MessageId;
}

export interface SignalMessage {
  type: 'signal';
  to: string;
  /** Opaque to the server: an SDP description or an ICE candidate, as the client likes. */
  data: Record<string, unknown>;
  id?: MessageId;
}

/** To every other member of the room, through one publish on the room's channel. */
export interface BroadcastMessage {
  type: 'broadcast';
  data: Record<string, unknown>;
  id?: MessageId;
}

export interface LeaveMessage {
  type: 'leave';
  id?: MessageId;
}

export interface PingMessage {
  type: 'ping';
  id?: MessageId;
}

/** Asks for fresh ICE servers (new TURN credentials) without re-joining. */
export interface IceServersRequest {
  type: 'ice-servers';
  id?: MessageId;
}

export type ClientMessage = JoinMessage | SignalMessage | BroadcastMessage | LeaveMessage | PingMessage | IceServersRequest;

// Server to client ----------------------------------------------------------------------

export interface JoinedMessage {
  type: 'joined';
  room: string;
  name: string;
  /** The other members, in join order (on a resume: as this client last knew them). */
  peers: string[];
  /** The same members with their metadata, in the same order. */
  members: MemberSummary[];
  /** Secret for resuming this membership after a dropped connection. */
  resume: string;
  /** True when an earlier membership was resumed: peer connections may be kept. */
  resumed: boolean;
  /** RTCIceServer objects for new peer connections (fresh TURN credentials each join). */
  iceServers: IceServer[];
  /**
   * Seconds the TURN credentials in `iceServers` stay valid, counted from this frame; absent
   * when nothing expires. Relative, so a client with a wrong clock still refreshes in time.
   */
  iceServersTtl?: number;
}

/** Reply to `ice-servers`: a fresh list, as in `joined`. */
export interface IceServersMessage {
  type: 'ice-servers';
  iceServers: IceServer[];
  iceServersTtl?: number;
}

export interface PeerJoinedMessage {
  type: 'peer-joined';
  name: string;
  /** Omitted when the member has none (`{}`). */
  metadata?: Metadata;
}

export interface PeerLeftMessage {
  type: 'peer-left';
  name: string;
}

export interface ServerSignalMessage {
  type: 'signal';
  from: string;
  data: Record<string, unknown>;
  /** Its number in this membership, when the join asked for numbered frames (JoinMessage.lastSeq). */
  seq?: number;
}

export interface ServerBroadcastMessage {
  type: 'broadcast';
  from: string;
  data: Record<string, unknown>;
  /** Its number in this membership, when the join asked for numbered frames (JoinMessage.lastSeq). */
  seq?: number;
}

/** From the application's backend (server API), not from a member: no `from`. */
export interface ServerApiMessage {
  type: 'message';
  data: Record<string, unknown>;
  /** Its number in this membership, when the join asked for numbered frames (JoinMessage.lastSeq). */
  seq?: number;
}

/**
 * Signals between the receiver and `peers` may have been lost: the dyno's Redis subscriber
 * connection dropped with some in flight. The client should restart those peer connections.
 */
export interface SignalsLostMessage {
  type: 'signals-lost';
  peers: string[];
}

export interface PongMessage {
  type: 'pong';
}

export interface ErrorMessage {
  type: 'error';
  code: ErrorCodeValue;
  message: string;
  id?: MessageId;
}

export type ServerMessage =
  | JoinedMessage
  | IceServersMessage
  | PeerJoinedMessage
  | PeerLeftMessage
  | ServerSignalMessage
  | ServerBroadcastMessage
  | ServerApiMessage
  | SignalsLostMessage
  | PongMessage
  | ErrorMessage;

// Codes ---------------------------------------------------------------------------------

/** `error.code` values (docs/protocol.md, Error codes). Add to them, never rename. */
export type ErrorCodeValue =
  | 'bad-request'
  | 'not-joined'
  | 'already-joined'
  | 'name-taken'
  | 'peer-not-found'
  | 'room-full'
  | 'unavailable'
  | 'peer-backlogged'
  | 'rate-limited'
  | 'unauthorized'
  | 'overloaded'
  | 'removed';

/** Close codes the server sends (docs/protocol.md, Close codes); 4000-4099 mean "do not reconnect". */
export type CloseCodeValue = 1000 | 1001 | 1008 | 1009 | 1011 | 1012 | 1013 | 4000 | 4001;

/** Limits a client may check before sending (the server is the authority). */
export interface WireLimits {
  /** Code points in a room or member name. */
  maxNameChars: 64;
  /** Bytes of `join.metadata` as JSON. */
  maxMetadataBytes: 1024;
  /** Nesting of `signal.data`, `broadcast.data`, `join.metadata`. */
  maxJsonDepth: 32;
}
