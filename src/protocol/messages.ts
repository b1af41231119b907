/**
 * Protocol v1 message shapes (endpoint /signaling), as the server sees them. They are defined
 * once, in protocol/wire.d.ts, which the client package compiles against too; this module
 * only re-exports the ones the server names.
 */
export type { ClientMessage, IceServer, MessageId, Metadata, ServerMessage } from '../../protocol/wire.js';
