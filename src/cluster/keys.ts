/**
 * Names of every Redis key and channel (and of the embedded backend's channels, which use
 * the same scheme so both backends route identically).
 *
 * Room and member names are arbitrary Unicode, so they are percent-encoded over UTF-8 with
 * only [A-Za-z0-9_.~-] left bare. That makes the mapping injective (no two strings share a
 * key), keeps `{` and `}` out (the only hash tag is the one we put around the room, so a
 * room's keys and channels share one Redis Cluster slot), and keeps glob characters out.
 */

const SAFE = /^[A-Za-z0-9_.~-]*$/;

export function encodeSegment(value: string): string {
  if (SAFE.test(value)) return value;
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += byte < 0x80 && SAFE.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * The one flat copy of `value` in V8's string table. Keys built by concatenation are rope
 * strings (a node per part, and a flat copy besides once hashed); a room's keys interned are
 * one string shared by every member of the room on this dyno, and by ioredis's own record of
 * the subscription (property names are interned). Freed like any string once unused.
 */
function intern(value: string): string {
  for (const key in { [value]: 0 }) return key;
  return value;
}

/**
 * Protocols keep separate rooms: v1 rooms and article-protocol rooms never meet. `peerjs`
 * holds one room per PeerJS id (room "<key>/<id>", its one member named by the id).
 */
export type Namespace = 'v1' | 'article' | 'peerjs';

/** Everything about one room that lives in the backend, under one hash tag. */
export class RoomKeys {
  /** Hash: field = member name, value = member record. */
  readonly members: string;
  /** Channel: peer-joined / peer-left events for the room. */
  readonly events: string;
  private readonly memberPrefix: string;

  constructor(prefix: string, namespace: Namespace, room: string) {
    const base = `${prefix}{${namespace}.${encodeSegment(room)}}`;
    // Held by every member for as long as it stays: interned (see intern()).
    this.members = intern(`${base}:members`);
    this.events = intern(`${base}:events`);
    this.memberPrefix = intern(`${base}:m:`);
  }

  /** Channel only the dyno holding this member subscribes to (built per signal: not interned here). */
  memberChannel(name: string): string {
    return this.memberPrefix + encodeSegment(name);
  }

  /** List of what is held for a member while it reconnects (kept by its membership: interned). */
  holdKey(name: string): string {
    return intern(RoomKeys.holdKeyOf(this.members, name));
  }

  /** The channel of member `name` of the room a members key belongs to (server API). */
  static memberChannelOf(membersKey: string, name: string): string {
    return `${membersKey.slice(0, -':members'.length)}:m:${encodeSegment(name)}`;
  }

  /** The hold key of member `name` of the room a members key belongs to (its tombstones are under it). */
  static holdKeyOf(membersKey: string, name: string): string {
    return `${membersKey.slice(0, -':members'.length)}:h:${encodeSegment(name)}`;
  }

  /** The events channel of the room a members key belongs to (for sweeps). */
  static eventsOf(membersKey: string): string {
    return `${membersKey.slice(0, -':members'.length)}:events`;
  }
}

/**
 * Sorted set (all scores 0, so ordered by member) of the members keys of rooms that may have
 * members: the server API lists rooms from it. A room is added when its first member
 * registers; empty rooms are taken out lazily, by the listing that finds them empty.
 */
export function roomsIndexKey(prefix: string): string {
  return `${prefix}rooms`;
}

/**
 * Channel of one y-webrtc topic: every dyno with a local subscriber of the topic subscribes
 * to it, and a `publish` is one PUBLISH on it. Hash-tagged like a room, so a Redis Cluster
 * spreads topics over its shards.
 */
export function topicChannel(prefix: string, topic: string): string {
  return `${prefix}{ywebrtc.${encodeSegment(topic)}}:topic`;
}

/** Channel private to one dyno (readiness probe, control messages). */
export function nodeChannel(prefix: string, nodeId: string): string {
  return `${prefix}node:${encodeSegment(nodeId)}`;
}

/** Keys of the dyno registry used to find crashed dynos. */
export class NodeKeys {
  /** Sorted set: dyno id -> lease expiry (ms, Redis clock). */
  readonly leases: string;
  private readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = prefix;
    this.leases = `${prefix}nodes`;
  }

  /**
   * Set of the members registered through this dyno, the sweep index: one entry per
   * membership, "<membersKey>\n<holdKey>\n<name>\n<owner>"; an entry without the owner part
   * stands for any connection of the dyno.
   */
  members(nodeId: string): string {
    return `${this.prefix}node:${encodeSegment(nodeId)}:members`;
  }

  /** Short-lived lock so one survivor sweeps a dead dyno at a time. */
  sweepLock(nodeId: string): string {
    return `${this.prefix}node:${encodeSegment(nodeId)}:sweep`;
  }
}
