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

/** What a client does when its socket closes with a code: open a new one, or give up. */
export type CloseDecision = 'reconnect' | 'stop';

/**
 * The close-code table (docs/protocol.md, Close codes): each code a client may see, with the
 * decision the client library takes on it. The rule: retry when the cause is the network or
 * the server's lifecycle (a new attempt may land on a healthy dyno), stop when the cause is
 * this client itself (a new attempt would be refused the same way). The server's table
 * (src/protocol/error-codes.ts) and the client's (client/src/close-codes.ts) are checked
 * against it when they compile.
 */
export interface CloseCodeDecisions {
  /** Normal closure by the server. */
  1000: 'stop';
  /** Going away: the server is shutting down. */
  1001: 'reconnect';
  /** Protocol error. */
  1002: 'stop';
  /** Unsupported data. */
  1003: 'stop';
  /** No status received (never sent on the wire). */
  1005: 'reconnect';
  /** Abnormal closure: the link dropped (never sent on the wire). */
  1006: 'reconnect';
  /** A text frame was not valid UTF-8. */
  1007: 'stop';
  /** Policy violation: the client kept sending after `rate-limited`. */
  1008: 'stop';
  /** A frame over MAX_MESSAGE_BYTES: the same frame would fail again. */
  1009: 'stop';
  /** Missing extension. */
  1010: 'stop';
  /** Internal server error: a retry (and resume) may succeed. */
  1011: 'reconnect';
  /** Service restart: the dyno is draining. */
  1012: 'reconnect';
  /** Try again later: joins over the dyno's rate. */
  1013: 'reconnect';
  /** Bad gateway. */
  1014: 'reconnect';
  /** TLS handshake failure. */
  1015: 'stop';
  /** This membership was resumed on another connection; that one is the live one. */
  4000: 'stop';
  /** The application removed this member (server API). */
  4001: 'stop';
}

/**
 * Ranges for codes the table does not list, in order. 4000-4899 belong to the server (its
 * permanent refusals below 4500, temporary conditions from 4500); 4900-4999 to the client
 * library's own closes, which a server never sends. Any other code reconnects: a proxy may
 * invent one, and the reconnect policy still bounds the retries.
 */
export type CloseCodeRanges = [
  { from: 3000; to: 3999; owner: 'library'; decision: 'reconnect' },
  { from: 4000; to: 4499; owner: 'server'; decision: 'stop' },
  { from: 4500; to: 4899; owner: 'server'; decision: 'reconnect' },
  { from: 4900; to: 4999; owner: 'client'; decision: 'reconnect' },
];

/** Close codes the server sends (1007 is sent by the WebSocket library itself). */
export type CloseCodeValue = 1000 | 1001 | 1007 | 1008 | 1009 | 1011 | 1012 | 1013 | 4000 | 4001;

/** Close codes the client library sends: its own range (4900-4999), so they cannot be taken for a server's. */
export type ClientCloseCodeValue = 4900;

/** Fails to compile when the server sends a code the table has no decision for. */
export type CloseCodesDecided = [Exclude<CloseCodeValue, keyof CloseCodeDecisions>] extends [never] ? true : never;

/**
 * Limits a client may check before sending (the server is the authority). Both sides declare
 * their constants with these types, so a limit changed on one side only does not compile.
 */
export interface WireLimits {
  /** Code points in a room or member name. */
  maxNameChars: 64;
  /** Bytes of `join.metadata` as JSON. */
  maxMetadataBytes: 1024;
  /** Nesting of `signal.data`, `broadcast.data`, `join.metadata`. */
  maxJsonDepth: 32;
}
