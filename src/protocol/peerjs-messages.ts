/**
 * The PeerJS server protocol (the server side of npm `peerjs` 1.5.x, as npm `peer` 1.0.2
 * speaks it): message types, the reference's error strings, and the frames we send, built
 * with the reference's field order so they compare byte for byte (docs/protocol.md, PeerJS).
 */

export const PeerJsType = {
  Open: 'OPEN',
  Leave: 'LEAVE',
  Candidate: 'CANDIDATE',
  Offer: 'OFFER',
  Answer: 'ANSWER',
  Expire: 'EXPIRE',
  Heartbeat: 'HEARTBEAT',
  IdTaken: 'ID-TAKEN',
  Error: 'ERROR',
} as const;

/** The reference server's error strings, kept exactly: clients and their users match on them. */
export const PeerJsError = {
  InvalidKey: 'Invalid key provided',
  InvalidWsParameters: 'No id, token, or key supplied to websocket server',
  ConnectionLimitExceeded: 'Server has reached its concurrent user limit',
} as const;

/** Types relayed to `dst` with the sender's id stamped as `src`. */
const RELAYED = new Set<string>([PeerJsType.Offer, PeerJsType.Answer, PeerJsType.Candidate, PeerJsType.Leave, PeerJsType.Expire]);

/** Types that wait for an id not connected yet; LEAVE and EXPIRE are dropped instead, as the reference does. */
const QUEUED = new Set<string>([PeerJsType.Offer, PeerJsType.Answer, PeerJsType.Candidate]);

export const OPEN_FRAME = JSON.stringify({ type: PeerJsType.Open });
export const ID_TAKEN_FRAME = JSON.stringify({ type: PeerJsType.IdTaken, payload: { msg: 'ID is taken' } });

export function errorFrame(msg: string): string {
  return JSON.stringify({ type: PeerJsType.Error, payload: { msg } });
}

/** What the reference relays: exactly these four fields, in this order (`payload` dropped when absent). */
export function relayFrame(type: string, src: string, dst: string, payload: unknown): string {
  return JSON.stringify({ type, src, dst, payload });
}

/** Sent to a sender whose message waited in vain: `src` is the id it could not reach. */
export function expireFrame(unreachable: string, sender: string): string {
  return JSON.stringify({ type: PeerJsType.Expire, src: unreachable, dst: sender });
}

/** Sent back when a connected peer cannot take a message (the reference's "Peer dead?" answer). */
export function leaveFrame(gone: string, sender: string): string {
  return JSON.stringify({ type: PeerJsType.Leave, src: gone, dst: sender });
}

export type PeerJsMessage =
  | { kind: 'heartbeat' }
  /** A relayed type with a string `dst`. */
  | { kind: 'relay'; type: string; dst: string; payload: unknown; queued: boolean }
  /** LEAVE without `dst`: the reference unregisters the sender's id. */
  | { kind: 'leave-server' }
  /** Parsed but nothing to do (unknown type, relay without a usable dst): ignored, as the reference does. */
  | { kind: 'ignored' }
  | { kind: 'malformed' };

export function parsePeerJs(text: string): PeerJsMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: 'malformed' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { kind: 'malformed' };
  const message = value as { type?: unknown; dst?: unknown; payload?: unknown };
  const type = message.type;
  if (type === PeerJsType.Heartbeat) return { kind: 'heartbeat' };
  if (typeof type !== 'string' || !RELAYED.has(type)) return { kind: 'ignored' };
  if (message.dst === undefined || message.dst === null || message.dst === '') {
    return type === PeerJsType.Leave ? { kind: 'leave-server' } : { kind: 'ignored' };
  }
  // An id is a string; any other dst could never match a connected peer.
  if (typeof message.dst !== 'string') return { kind: 'ignored' };
  return { kind: 'relay', type, dst: message.dst, payload: message.payload, queued: QUEUED.has(type) };
}
