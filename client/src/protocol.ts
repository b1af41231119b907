/**
 * Protocol v1 frames as the client sees them (docs/protocol.md is the contract).
 * Parsing is defensive: a frame we cannot understand becomes `null` rather than
 * a crash, and unknown `type`s are tolerated so newer servers stay compatible.
 */

import type * as Wire from '../../protocol/wire.js';

export type { Metadata, MemberSummary } from '../../protocol/wire.js';
type Metadata = Wire.Metadata;
type MemberSummary = Wire.MemberSummary;

/** Frames the client sends: the wire's (protocol/wire.d.ts), without the optional `id`. */
export type ClientMessage = DistributiveOmit<Wire.ClientMessage, 'id'>;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * `joined` as parsed: the wire's, with what older servers may leave out optional (the
 * client then behaves as before those fields existed).
 */
export type JoinedMessage = Omit<Wire.JoinedMessage, 'iceServers' | 'resume' | 'resumed'> &
  Partial<Pick<Wire.JoinedMessage, 'iceServers' | 'resume' | 'resumed'>>;

/** Reply to `{"type":"ice-servers"}`: fresh ICE servers (new TURN credentials). */
export type IceServersMessage = Wire.IceServersMessage;

/**
 * Frames the server sends, as parsed: the wire's, with `peer-joined.metadata` always set
 * (`{}` when the server omits it) and error codes from newer servers kept as strings.
 */
export type ServerMessage =
  | JoinedMessage
  | Exclude<Wire.ServerMessage, Wire.JoinedMessage | Wire.PeerJoinedMessage | Wire.ErrorMessage>
  | (Wire.PeerJoinedMessage & { metadata: Metadata })
  | (Omit<Wire.ErrorMessage, 'code'> & { code: string });

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A usable TTL: a positive, finite number of seconds. Anything else means "does not expire". */
function readTtl(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : undefined;
}

function isIceServer(value: unknown): value is Wire.IceServer {
  if (!isObject(value)) return false;
  const urls = value['urls'];
  return typeof urls === 'string' || (Array.isArray(urls) && urls.every((u) => typeof u === 'string'));
}

/** `joined.members` as sent, or built from `peers` (with `{}`) when it is missing or malformed. */
function readMembers(peers: string[], value: unknown): MemberSummary[] {
  const byName = new Map<string, Metadata>();
  if (Array.isArray(value)) {
    for (const item of value) {
      if (isObject(item) && typeof item['name'] === 'string' && isObject(item['metadata'])) byName.set(item['name'], item['metadata']);
    }
  }
  return peers.map((name) => ({ name, metadata: byName.get(name) ?? {} }));
}

/**
 * Parses one text frame. Returns `null` for anything that is not a known,
 * well-formed v1 server frame; `"unknown"` for a well-formed object with a type
 * this client does not know (ignored, for forward compatibility).
 */
export function parseServerMessage(text: string): ServerMessage | 'unknown' | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(value) || typeof value['type'] !== 'string') return null;
  const v = value;
  switch (v['type']) {
    case 'joined': {
      const peers = v['peers'];
      if (typeof v['room'] !== 'string' || typeof v['name'] !== 'string') return null;
      if (!Array.isArray(peers) || !peers.every((p) => typeof p === 'string')) return null;
      const message: JoinedMessage = { type: 'joined', room: v['room'], name: v['name'], peers, members: readMembers(peers, v['members']) };
      const ice = v['iceServers'];
      if (Array.isArray(ice)) message.iceServers = ice.filter(isIceServer);
      const ttl = readTtl(v['iceServersTtl']);
      if (ttl !== undefined) message.iceServersTtl = ttl;
      if (typeof v['resume'] === 'string') message.resume = v['resume'];
      if (typeof v['resumed'] === 'boolean') message.resumed = v['resumed'];
      return message;
    }
    case 'ice-servers': {
      const ice = v['iceServers'];
      if (!Array.isArray(ice)) return null;
      const message: IceServersMessage = { type: 'ice-servers', iceServers: ice.filter(isIceServer) };
      const ttl = readTtl(v['iceServersTtl']);
      if (ttl !== undefined) message.iceServersTtl = ttl;
      return message;
    }
    case 'peer-joined':
      if (typeof v['name'] !== 'string') return null;
      return { type: 'peer-joined', name: v['name'], metadata: isObject(v['metadata']) ? v['metadata'] : {} };
    case 'peer-left':
      return typeof v['name'] === 'string' ? { type: 'peer-left', name: v['name'] } : null;
    case 'signal':
    case 'broadcast':
      if (typeof v['from'] !== 'string' || !isObject(v['data'])) return null;
      return withSeq({ type: v['type'], from: v['from'], data: v['data'] }, v['seq']);
    case 'message':
      return isObject(v['data']) ? withSeq({ type: 'message' as const, data: v['data'] }, v['seq']) : null;
    case 'error': {
      if (typeof v['code'] !== 'string') return null;
      const message = typeof v['message'] === 'string' ? v['message'] : v['code'];
      const id = v['id'];
      return typeof id === 'string' || typeof id === 'number'
        ? { type: 'error', code: v['code'], message, id }
        : { type: 'error', code: v['code'], message };
    }
    case 'signals-lost': {
      const peers = v['peers'];
      return Array.isArray(peers) && peers.every((p) => typeof p === 'string') ? { type: 'signals-lost', peers } : null;
    }
    case 'pong':
      return { type: 'pong' };
    default:
      return 'unknown';
  }
}

/** The wire's limits (protocol/wire.d.ts): typed by the wire, so the server's copy and this one cannot differ. */
export const WIRE_LIMITS: Wire.WireLimits = { maxNameChars: 64, maxMetadataBytes: 1024, maxJsonDepth: 32 };

/**
 * Room and name rule of protocol v1: 1 to `maxNameChars` code points, no control
 * characters, no lone surrogates. Checked locally so a typo fails at once,
 * not after a round trip; the server remains the authority.
 */
export function isValidRoomOrName(value: string): boolean {
  const length = [...value].length;
  return length >= 1 && length <= WIRE_LIMITS.maxNameChars && !/[\p{Cc}\p{Cs}]/u.test(value);
}

/** Keeps a frame's number (JoinMessage.lastSeq) when the server sent one. */
function withSeq<T extends object>(message: T, seq: unknown): T & { seq?: number } {
  return typeof seq === 'number' && Number.isSafeInteger(seq) ? { ...message, seq } : message;
}
