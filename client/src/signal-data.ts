/**
 * The `data` of the signals a MeshCall exchanges. The server relays `data`
 * untouched, so this is a contract between browsers only:
 *
 *   { "session": S, "to"?: R, "description": { "type": "offer" | "answer", "sdp": "..." } }
 *   { "session": S, "to"?: R, "candidate": { "candidate": "...", "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "..." } }
 *
 * `session` is a random id of the sender's RTCPeerConnection for this pair.
 * It changes when the sender starts over with a new connection (it was away
 * long enough for the room to forget it, or its connection broke), which tells
 * the receiver to start over too: a new connection's DTLS fingerprint cannot be
 * applied to an old one.
 *
 * `to` is the receiver's session as the sender knows it: present on answers and
 * candidates (and on offers once the pair has negotiated). A receiver drops a
 * signal whose `to` is not its current connection: it was meant for one it has
 * replaced, and applying it to the new one would mix two negotiations.
 */

/** A description or an ICE candidate, tagged with the sender's connection id (and the receiver's, when known). */
export type MeshSignalData =
  | { session: string; to?: string; description: RTCSessionDescriptionInit }
  | { session: string; to?: string; candidate: RTCIceCandidateInit };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optional<T>(value: unknown, guard: (v: unknown) => v is T): T | null | undefined | false {
  if (value === undefined || value === null) return value;
  return guard(value) ? value : false;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const isSessionId = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 64;

/**
 * Validates signal data from another browser (which may be buggy or hostile).
 * Returns `null` for anything that is not one of the two shapes above.
 */
export function parseMeshSignal(data: Record<string, unknown>): MeshSignalData | null {
  const session = data['session'];
  if (!isSessionId(session)) return null;
  const to = data['to'];
  if (to !== undefined && !isSessionId(to)) return null;
  const tag = to === undefined ? { session } : { session, to };
  const description = data['description'];
  if (isObject(description)) {
    const type = description['type'];
    const sdp = description['sdp'];
    if ((type !== 'offer' && type !== 'answer') || typeof sdp !== 'string') return null;
    return { ...tag, description: { type, sdp } };
  }
  const candidate = data['candidate'];
  if (isObject(candidate) && typeof candidate['candidate'] === 'string') {
    const sdpMid = optional(candidate['sdpMid'], isString);
    const sdpMLineIndex = optional(candidate['sdpMLineIndex'], isIndex);
    const usernameFragment = optional(candidate['usernameFragment'], isString);
    if (sdpMid === false || sdpMLineIndex === false || usernameFragment === false) return null;
    if (sdpMid == null && sdpMLineIndex == null) return null; // addIceCandidate would throw
    const init: RTCIceCandidateInit = { candidate: candidate['candidate'] };
    if (sdpMid != null) init.sdpMid = sdpMid;
    if (sdpMLineIndex != null) init.sdpMLineIndex = sdpMLineIndex;
    if (usernameFragment != null) init.usernameFragment = usernameFragment;
    return { ...tag, candidate: init };
  }
  return null;
}

/** A fresh connection id: 128 random bits as hex. */
export function newSessionId(): string {
  const bytes = new Uint8Array(16);
  // getRandomValues works outside secure contexts too (unlike randomUUID),
  // so the page also works on a plain-http LAN address.
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
