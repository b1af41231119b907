/**
 * Protocol v1 frames as the client sees them (docs/protocol.md is the contract).
 * Parsing is defensive: a frame we cannot understand becomes `null` rather than
 * a crash, and unknown `type`s are tolerated so newer servers stay compatible.
 */

/** What an application attaches to a member (a display name, say): a JSON object, at most 1 KB. */
export type Metadata = Record<string, unknown>;

/** A member of the room with its metadata. */
export interface MemberSummary {
  name: string;
  metadata: Metadata;
}

/** Frames the client sends. */
export type ClientMessage =
  | { type: "join"; room: string; name: string; token?: string; resume?: string; metadata?: Metadata }
  | { type: "signal"; to: string; data: object }
  | { type: "broadcast"; data: object }
  | { type: "leave" }
  | { type: "ping" }
  | { type: "ice-servers" };

/** `joined`: we are a member of `room` as `name`; `peers` are the others, in join order. */
export interface JoinedMessage {
  type: "joined";
  room: string;
  name: string;
  peers: string[];
  /** The same members with their metadata (`{}` from servers that send none). */
  members: MemberSummary[];
  /** ICE servers (STUN/TURN with fresh credentials); absent on servers without them. */
  iceServers?: RTCIceServer[];
  /** Seconds the credentials in `iceServers` stay valid from now; absent when they do not expire. */
  iceServersTtl?: number;
  /** Opaque secret that lets a re-join resume this membership (issue 5). */
  resume?: string;
  /** True when the server took the earlier membership over rather than starting a new one. */
  resumed?: boolean;
}

/** Reply to `{"type":"ice-servers"}`: fresh ICE servers (new TURN credentials). */
export interface IceServersMessage {
  type: "ice-servers";
  iceServers: RTCIceServer[];
  iceServersTtl?: number;
}

/** Frames the server sends. */
export type ServerMessage =
  | JoinedMessage
  | IceServersMessage
  | { type: "peer-joined"; name: string; metadata: Metadata }
  | { type: "peer-left"; name: string }
  | { type: "signal"; from: string; data: Record<string, unknown> }
  | { type: "broadcast"; from: string; data: Record<string, unknown> }
  | { type: "message"; data: Record<string, unknown> }
  | { type: "error"; code: string; message: string; id?: string | number }
  | { type: "signals-lost"; peers: string[] }
  | { type: "pong" };

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A usable TTL: a positive, finite number of seconds. Anything else means "does not expire". */
function readTtl(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : undefined;
}

function isIceServer(value: unknown): value is RTCIceServer {
  if (!isObject(value)) return false;
  const urls = value["urls"];
  return typeof urls === "string" || (Array.isArray(urls) && urls.every((u) => typeof u === "string"));
}

/** `joined.members` as sent, or built from `peers` (with `{}`) when it is missing or malformed. */
function readMembers(peers: string[], value: unknown): MemberSummary[] {
  const byName = new Map<string, Metadata>();
  if (Array.isArray(value)) {
    for (const item of value) {
      if (isObject(item) && typeof item["name"] === "string" && isObject(item["metadata"])) byName.set(item["name"], item["metadata"]);
    }
  }
  return peers.map((name) => ({ name, metadata: byName.get(name) ?? {} }));
}

/**
 * Parses one text frame. Returns `null` for anything that is not a known,
 * well-formed v1 server frame; `"unknown"` for a well-formed object with a type
 * this client does not know (ignored, for forward compatibility).
 */
export function parseServerMessage(text: string): ServerMessage | "unknown" | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(value) || typeof value["type"] !== "string") return null;
  const v = value;
  switch (v["type"]) {
    case "joined": {
      const peers = v["peers"];
      if (typeof v["room"] !== "string" || typeof v["name"] !== "string") return null;
      if (!Array.isArray(peers) || !peers.every((p) => typeof p === "string")) return null;
      const message: JoinedMessage = { type: "joined", room: v["room"], name: v["name"], peers, members: readMembers(peers, v["members"]) };
      const ice = v["iceServers"];
      if (Array.isArray(ice)) message.iceServers = ice.filter(isIceServer);
      const ttl = readTtl(v["iceServersTtl"]);
      if (ttl !== undefined) message.iceServersTtl = ttl;
      if (typeof v["resume"] === "string") message.resume = v["resume"];
      if (typeof v["resumed"] === "boolean") message.resumed = v["resumed"];
      return message;
    }
    case "ice-servers": {
      const ice = v["iceServers"];
      if (!Array.isArray(ice)) return null;
      const message: IceServersMessage = { type: "ice-servers", iceServers: ice.filter(isIceServer) };
      const ttl = readTtl(v["iceServersTtl"]);
      if (ttl !== undefined) message.iceServersTtl = ttl;
      return message;
    }
    case "peer-joined":
      if (typeof v["name"] !== "string") return null;
      return { type: "peer-joined", name: v["name"], metadata: isObject(v["metadata"]) ? v["metadata"] : {} };
    case "peer-left":
      return typeof v["name"] === "string" ? { type: "peer-left", name: v["name"] } : null;
    case "signal":
    case "broadcast":
      if (typeof v["from"] !== "string" || !isObject(v["data"])) return null;
      return { type: v["type"], from: v["from"], data: v["data"] };
    case "message":
      return isObject(v["data"]) ? { type: "message", data: v["data"] } : null;
    case "error": {
      if (typeof v["code"] !== "string") return null;
      const message = typeof v["message"] === "string" ? v["message"] : v["code"];
      const id = v["id"];
      return typeof id === "string" || typeof id === "number"
        ? { type: "error", code: v["code"], message, id }
        : { type: "error", code: v["code"], message };
    }
    case "signals-lost": {
      const peers = v["peers"];
      return Array.isArray(peers) && peers.every((p) => typeof p === "string") ? { type: "signals-lost", peers } : null;
    }
    case "pong":
      return { type: "pong" };
    default:
      return "unknown";
  }
}

/**
 * Room and name rule of protocol v1: 1 to 64 code points, no control
 * characters, no lone surrogates. Checked locally so a typo fails at once,
 * not after a round trip; the server remains the authority.
 */
export function isValidRoomOrName(value: string): boolean {
  const length = [...value].length;
  return length >= 1 && length <= 64 && !/[\p{Cc}\p{Cs}]/u.test(value);
}
