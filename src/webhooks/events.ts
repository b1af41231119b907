import { createHash } from 'node:crypto';

/**
 * The webhook events and their wire form (docs/webhooks.md). The queue stores events as
 * "seq\nat\ntype\nreason\nname" lines: the name comes last so it may hold any character, and
 * the body is rebuilt from them the same way on every dyno, so every retry of one event
 * carries byte-identical JSON under the same webhook-id.
 */

export type WebhookEventType = 'room.started' | 'room.finished' | 'member.joined' | 'member.left';

/** Why a member left. `removed`: the application removed it through the server API (src/api/). */
export type LeaveReason = 'left' | 'disconnected' | 'removed' | 'dyno-lost';

/**
 * A membership change a backend script may make, with what the webhook events need. A member
 * put back after the store lost it is no event, and one that ended (member.left) is never put
 * back (cluster/backend.ts, EndReason).
 */
export type MembershipChange = { kind: 'join'; name: string } | { kind: 'leave'; name: string; reason: LeaveReason };

export interface QueuedEvent {
  /** Rises with every event of the room (see nextSeq). */
  seq: number;
  /** When it happened, ms since the epoch (the backend's clock). */
  at: number;
  type: WebhookEventType;
  reason: LeaveReason | '';
  name: string;
}

const TYPES: ReadonlySet<string> = new Set<WebhookEventType>(['room.started', 'room.finished', 'member.joined', 'member.left']);
const REASONS: ReadonlySet<string> = new Set<LeaveReason | ''>(['', 'left', 'disconnected', 'removed', 'dyno-lost']);

/**
 * The next seq of a room: one more than the last, but never below the clock in ms. So seq
 * keeps rising even when the room's counter is lost (it expires with the room's queue, a
 * failover may drop the last increments), as long as the clock does not run back.
 */
export function nextSeq(last: number, nowMs: number): number {
  return Math.max(last + 1, nowMs);
}

export function encodeEvent(e: QueuedEvent): string {
  return `${e.seq}\n${e.at}\n${e.type}\n${e.reason}\n${e.name}`;
}

export function decodeEvent(line: string): QueuedEvent | null {
  const parts = line.split('\n');
  if (parts.length < 5) return null;
  const [seq, at, type = '', reason = ''] = parts;
  const name = parts.slice(4).join('\n');
  if (!TYPES.has(type) || !REASONS.has(reason)) return null;
  const e = { seq: Number(seq), at: Number(at), type: type as WebhookEventType, reason: reason as LeaveReason | '', name };
  return Number.isSafeInteger(e.seq) && Number.isSafeInteger(e.at) ? e : null;
}

/** Where a room's events come from: its protocol and name, recovered from its key base. */
export interface RoomOrigin {
  protocol: string;
  room: string;
}

/** "<prefix>{<namespace>.<encoded room>}" (cluster/keys.ts) -> protocol and room. */
export function roomOrigin(base: string): RoomOrigin {
  const open = base.indexOf('{');
  const tag = base.slice(open + 1, base.indexOf('}', open));
  const dot = tag.indexOf('.');
  // encodeSegment leaves [A-Za-z0-9_.~-] bare and percent-encodes UTF-8 bytes otherwise.
  return { protocol: tag.slice(0, dot), room: decodeURIComponent(tag.slice(dot + 1)) };
}

/** webhook-id: stable for one event on every dyno and every retry; no '.' (the spec forbids it). */
export function webhookId(base: string, seq: number): string {
  return `msg_${createHash('sha256').update(base).digest('base64url').slice(0, 22)}_${seq}`;
}

/** The POST body: {"type","timestamp","data":{"room","protocol","name"?,"seq","reason"?}}. */
export function eventBody(base: string, e: QueuedEvent): string {
  const { protocol, room } = roomOrigin(base);
  const data: Record<string, string | number> = { room, protocol };
  if (e.type === 'member.joined' || e.type === 'member.left') data['name'] = e.name;
  data['seq'] = e.seq;
  if (e.type === 'member.left') data['reason'] = e.reason;
  return JSON.stringify({ type: e.type, timestamp: new Date(e.at).toISOString(), data });
}
