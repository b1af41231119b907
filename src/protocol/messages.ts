/**
 * Protocol v1 message shapes (endpoint /signaling), as the server sees them. They are defined
 * once, in protocol/wire.d.ts, which the client package compiles against too; this module
 * only re-exports them under the names the server uses.
 */
export type {
  BroadcastMessage,
  ClientMessage,
  ErrorMessage,
  IceServer,
  IceServersMessage,
  IceServersRequest,
  JoinedMessage,
  JoinMessage,
  LeaveMessage,
  MemberSummary,
  MessageId,
  Metadata,
  PeerJoinedMessage,
  PeerLeftMessage,
  PingMessage,
  PongMessage,
  ServerApiMessage,
  ServerBroadcastMessage,
  ServerMessage,
  ServerSignalMessage,
  SignalMessage,
  SignalsLostMessage,
} from '../../protocol/wire.js';
