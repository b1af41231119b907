/**
 * Public API of the browser client library. It never touches the DOM: it
 * runs in browsers and in Node (with an injected WebSocket and, for calls,
 * RTCPeerConnection).
 */
export { SignalingClient, type SignalingClientOptions } from "./signaling-client.ts";
export type { SignalingClientEvents, SignalingState, JoinedEvent, StateChangeEvent } from "./signaling-events.ts";
export { SignalingError, type SignalingErrorReason, type SignalingErrorDetails } from "./signaling-error.ts";
export {
  ExponentialBackoffPolicy,
  type ExponentialBackoffOptions,
  type ReconnectContext,
  type ReconnectPolicy,
} from "./reconnect-policy.ts";
export { closeDecision, joinErrorDecision, CLIENT_CLOSE_DEAD_LINK, type CloseDecision } from "./close-codes.ts";
export { MeshCall, type MeshCallEvents, type MeshCallOptions, type MeshSignaling, type PeerConnectionConstructor, type PeerState } from "./mesh-call.ts";
export type { TrackKind, IceFailure, IceCandidateErrorInfo } from "./peer-link.ts";
export { type MeshSignalData, parseMeshSignal } from "./signal-data.ts";
export type { ClientMessage, ServerMessage, JoinedMessage, IceServersMessage, Metadata, MemberSummary } from "./protocol.ts";
export { ICE_REFRESH_FRACTION, iceRefreshDelayMs } from "./ice-refresh.ts";
export type { WebSocketConstructor, WebSocketLike } from "./websocket-like.ts";
