/**
 * Public API of the browser client library. It never touches the DOM: it
 * runs in browsers and in Node (with an injected WebSocket and, for calls,
 * RTCPeerConnection).
 */
export { SignalingClient, type SignalingClientOptions } from './signaling-client.ts';
export type { SignalingClientEvents, SignalingState, JoinedEvent, StateChangeEvent } from './signaling-events.ts';
export { SignalingError, type SignalingErrorReason, type SignalingErrorDetails } from './signaling-error.ts';
export {
  ExponentialBackoffPolicy,
  type ExponentialBackoffOptions,
  type ReconnectContext,
  type ReconnectPolicy,
  nextDelay,
} from './reconnect-policy.ts';
export {
  closeDecision,
  joinErrorDecision,
  CLIENT_CLOSE_DEAD_LINK,
  CLOSE_DECISIONS,
  CLOSE_RANGES,
  type CloseDecision,
} from './close-codes.ts';
export {
  MeshCall,
  type MeshCallEvents,
  type MeshCallOptions,
  type MeshSignaling,
  type PeerConnectionConstructor,
  type PeerState,
} from './mesh-call.ts';
export type { TrackKind, IceFailure, IceCandidateErrorInfo } from './peer-link.ts';
export { type MeshSignalData, parseMeshSignal } from './signal-data.ts';
export type { ClientMessage, ServerMessage, JoinedMessage, IceServersMessage, Metadata, MemberSummary } from './protocol.ts';
export { WIRE_LIMITS } from './protocol.ts';
export { ICE_REFRESH_FRACTION, iceRefreshDelayMs } from './ice-refresh.ts';
export type { WebSocketConstructor, WebSocketLike } from './websocket-like.ts';
export { newRoomName, ROOM_ALPHABET, ROOM_NAME_BITS } from './room-name.ts';
export { type LinkQuality, type LinkSample, classify, readLinkSample } from './link-quality.ts';
export {
  CallStats,
  type CallStatsEvents,
  type CallStatsOptions,
  type LocalStatsEvent,
  type PeerStatsEvent,
  type StatsSource,
} from './call-stats.ts';
export type { StatsListener } from './stats-listeners.ts';
export { type VideoSendSettings, videoSendSettings, HEAVY_ROOM_SIZE } from './send-quality.ts';
export { type MediaState, parseMediaState } from './media-state.ts';
export { LevelMeter } from './level-meter.ts';
export {
  type DeviceChoice,
  type DeviceKind,
  type KeyValueStore,
  loadChoice,
  saveChoice,
  trackConstraint,
  fallbackDevice,
} from './device-choice.ts';
export { ScreenShare, canShareScreen, type ScreenShareEvents } from './screen-share.ts';
export { Chat, type ChatEvents, type ChatMessage, type ChatOptions, type ChatSignaling, MAX_CHAT_LENGTH, parseChat } from './chat.ts';
