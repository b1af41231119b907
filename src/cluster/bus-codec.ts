/**
 * The bus codec: every payload the cluster puts on a Redis channel (or in a hold list) is
 * one tag character followed by its body. Compact text rather than JSON: signals are built
 * and read on every relayed message, room events on every join and leave.
 *
 * `Tag` is the one table of tags. The Lua scripts (backends/redis/scripts.ts) interpolate
 * it, so a tag is spelled once for both languages; `BusMessage` is the one union of their
 * payloads, and `encodeBus` / `decodeBus` the one encoder and decoder.
 *
 * Member channel (one dyno subscribes: the one holding the member):
 *   S<frame>                   a signal frame, ready to send to the client
 *   D                          a sender's dyno held a frame for this connected member: hand the hold list over
 *   K<owner>                   the connection <owner> was replaced (the member resumed elsewhere)
 *   X<owner>                   the connection <owner> was removed by the application (server API)
 *   H<owner>\n<JSON entries>   the old dyno's hand-over of a resume (cluster/handover.ts)
 * Room events channel (every dyno with a member in the room):
 *   B<from>\n<frame>           a frame for every member but <from> ('' for the server API)
 *   J<seq>:<name>[\n<JSON>]    a member joined, with its metadata when it has any
 *   L<seq>:<name>              a member left
 *   R<seq>:<old>:<name>[\n<JSON>]  a member put back after Redis lost the room, renumbered
 * Hold list entries (what waits for a reconnecting member):
 *   S<frame>                   a held signal (same encoding as on the member channel)
 *   V<JSON [[name, seq]...]>   the peers its client knew when its connection dropped
 *
 * Names hold no control characters, so a newline ends a name; metadata and frames come last
 * so they may hold anything.
 */

import type { Metadata } from '../protocol/messages.ts';
import { readMetadata } from '../protocol/metadata.ts';

/** Every bus tag, by what it carries. Interpolated into the Lua scripts (LUA_TAGS). */
export const Tag = {
  Signal: 'S',
  DrainRequest: 'D',
  Replaced: 'K',
  Removed: 'X',
  Handover: 'H',
  RoomFrame: 'B',
  Joined: 'J',
  Left: 'L',
  Renumbered: 'R',
  Snapshot: 'V',
} as const;
export type Tag = (typeof Tag)[keyof typeof Tag];

/** The payload of each tag. */
export type BusMessage =
  | { tag: typeof Tag.Signal; frame: string }
  | { tag: typeof Tag.DrainRequest }
  | { tag: typeof Tag.Replaced; owner: string }
  | { tag: typeof Tag.Removed; owner: string }
  | { tag: typeof Tag.Handover; owner: string; entries: string[] }
  | { tag: typeof Tag.RoomFrame; from: string; frame: string }
  | { tag: typeof Tag.Joined; seq: number; name: string; metadata?: Metadata }
  | { tag: typeof Tag.Left; seq: number; name: string }
  | { tag: typeof Tag.Renumbered; seq: number; previous: number; name: string; metadata?: Metadata }
  | { tag: typeof Tag.Snapshot; known: Array<[string, number]>; numbering?: Numbering };

/**
 * A numbered client's frame numbering, carried in its snapshot: the next number and the
 * frames written recently, with their numbers (cluster/delivery.ts).
 */
export interface Numbering {
  next: number;
  written: Array<[number, string]>;
}

const TAGS: ReadonlySet<string> = new Set(Object.values(Tag));

function isTag(value: string | undefined): value is Tag {
  return value !== undefined && TAGS.has(value);
}

function unreachable(value: never): never {
  throw new Error(`unknown bus message: ${JSON.stringify(value)}`);
}

/**
 * What a `joined` event appends to the member's name: "\n<metadata JSON>", or nothing when
 * there is none (most joins, every article join). The re-registration script appends the
 * same suffix, passed as an argument.
 */
export function metadataSuffix(metadata: Metadata | undefined): string {
  return metadata === undefined || Object.keys(metadata).length === 0 ? '' : `\n${JSON.stringify(metadata)}`;
}

export function encodeBus(message: BusMessage): string {
  switch (message.tag) {
    case Tag.Signal:
      return Tag.Signal + message.frame;
    case Tag.DrainRequest:
      return Tag.DrainRequest;
    case Tag.Replaced:
    case Tag.Removed:
      return message.tag + message.owner;
    case Tag.Handover:
      return `${Tag.Handover}${message.owner}\n${JSON.stringify(message.entries)}`;
    case Tag.RoomFrame:
      return `${Tag.RoomFrame}${message.from}\n${message.frame}`;
    case Tag.Joined:
      return `${Tag.Joined}${message.seq}:${message.name}${metadataSuffix(message.metadata)}`;
    case Tag.Left:
      return `${Tag.Left}${message.seq}:${message.name}`;
    case Tag.Renumbered:
      return `${Tag.Renumbered}${message.seq}:${message.previous}:${message.name}${metadataSuffix(message.metadata)}`;
    case Tag.Snapshot:
      // The plain list unless the client numbers frames, so others' snapshots stay as they were.
      if (message.numbering === undefined) return Tag.Snapshot + JSON.stringify(message.known);
      return Tag.Snapshot + JSON.stringify({ known: message.known, next: message.numbering.next, written: message.numbering.written });
    default:
      return unreachable(message);
  }
}

/** Null for a payload that is not one of ours or is malformed (the caller logs or drops it). */
export function decodeBus(payload: string): BusMessage | null {
  const tag = payload[0];
  if (!isTag(tag)) return null;
  const body = payload.slice(1);
  switch (tag) {
    case Tag.Signal:
      return { tag, frame: body };
    case Tag.DrainRequest:
      return body === '' ? { tag } : null;
    case Tag.Replaced:
    case Tag.Removed:
      return { tag, owner: body };
    case Tag.Handover:
      return decodeHandoverBody(body);
    case Tag.RoomFrame: {
      const newline = body.indexOf('\n');
      return newline === -1 ? null : { tag, from: body.slice(0, newline), frame: body.slice(newline + 1) };
    }
    case Tag.Joined:
    case Tag.Left:
    case Tag.Renumbered:
      return decodeRoomEventBody(tag, body);
    case Tag.Snapshot:
      return decodeSnapshotBody(body);
    default:
      return unreachable(tag);
  }
}

function decodeHandoverBody(body: string): BusMessage | null {
  const newline = body.indexOf('\n');
  if (newline < 1) return null;
  try {
    const entries: unknown = JSON.parse(body.slice(newline + 1));
    if (!Array.isArray(entries) || !entries.every((e): e is string => typeof e === 'string')) return null;
    return { tag: Tag.Handover, owner: body.slice(0, newline), entries };
  } catch {
    return null;
  }
}

const isKnownPair = (pair: unknown): pair is [string, number] =>
  Array.isArray(pair) && typeof pair[0] === 'string' && typeof pair[1] === 'number';
const isWrittenPair = (pair: unknown): pair is [number, string] =>
  Array.isArray(pair) && typeof pair[0] === 'number' && typeof pair[1] === 'string';

/** "[[name, seq], ...]", or with numbering {"known": [...], "next": n, "written": [[n, frame], ...]}. */
function decodeSnapshotBody(body: string): BusMessage | null {
  try {
    const value: unknown = JSON.parse(body);
    if (Array.isArray(value)) return { tag: Tag.Snapshot, known: value.filter(isKnownPair) };
    if (typeof value !== 'object' || value === null) return null;
    const { known, next, written } = value as { known?: unknown; next?: unknown; written?: unknown };
    if (!Array.isArray(known) || typeof next !== 'number') return null;
    const numbering = { next, written: Array.isArray(written) ? written.filter(isWrittenPair) : [] };
    return { tag: Tag.Snapshot, known: known.filter(isKnownPair), numbering };
  } catch {
    return null;
  }
}

/** "<seq>:<name>[\n<metadata>]" (J, L) or "<seq>:<previous>:<name>[\n<metadata>]" (R). */
function decodeRoomEventBody(tag: typeof Tag.Joined | typeof Tag.Left | typeof Tag.Renumbered, body: string): BusMessage | null {
  const colon = body.indexOf(':');
  if (colon < 1) return null;
  const seq = Number(body.slice(0, colon));
  if (!Number.isSafeInteger(seq)) return null;
  let rest = body.slice(colon + 1);
  let previous = 0;
  if (tag === Tag.Renumbered) {
    const second = rest.indexOf(':');
    previous = Number(rest.slice(0, second));
    if (second < 1 || !Number.isSafeInteger(previous)) return null;
    rest = rest.slice(second + 1);
  }
  const newline = rest.indexOf('\n');
  const name = newline === -1 ? rest : rest.slice(0, newline);
  const metadata = newline === -1 ? undefined : readMetadata(rest.slice(newline + 1));
  const withMetadata = metadata === undefined ? {} : { metadata };
  if (tag === Tag.Left) return { tag, seq, name };
  if (tag === Tag.Joined) return { tag, seq, name, ...withMetadata };
  return { tag, seq, previous, name, ...withMetadata };
}

/**
 * A room event as the membership logic applies it: a join (renumbered ones carry the seq
 * the member had before) or a leave.
 */
export interface RoomEvent {
  kind: 'joined' | 'left';
  seq: number;
  name: string;
  /**
   * Only on `joined` events of a member put back after Redis lost the room (Tag.Renumbered,
   * written by the re-register script): the seq it had before. Peers that know it by that
   * seq keep it (nobody told them it left); to the others it is a newcomer.
   */
  previous?: number;
  /** Only on `joined` events: the member's metadata, so peers get it with peer-joined. */
  metadata?: Metadata;
}

export function encodeRoomEvent(event: RoomEvent): string {
  const { seq, name, metadata } = event;
  if (event.kind === 'left') return encodeBus({ tag: Tag.Left, seq, name });
  if (event.previous !== undefined)
    return encodeBus({ tag: Tag.Renumbered, seq, previous: event.previous, name, ...(metadata ? { metadata } : {}) });
  return encodeBus({ tag: Tag.Joined, seq, name, ...(metadata ? { metadata } : {}) });
}

/** The room event a decoded message carries, or null when it carries none. */
export function toRoomEvent(message: BusMessage): RoomEvent | null {
  switch (message.tag) {
    case Tag.Joined:
      return message.metadata === undefined
        ? { kind: 'joined', seq: message.seq, name: message.name }
        : { kind: 'joined', seq: message.seq, name: message.name, metadata: message.metadata };
    case Tag.Renumbered: {
      const event: RoomEvent = { kind: 'joined', seq: message.seq, name: message.name, previous: message.previous };
      if (message.metadata !== undefined) event.metadata = message.metadata;
      return event;
    }
    case Tag.Left:
      return { kind: 'left', seq: message.seq, name: message.name };
    default:
      return null;
  }
}

export function decodeRoomEvent(payload: string): RoomEvent | null {
  const message = decodeBus(payload);
  return message ? toRoomEvent(message) : null;
}

export function encodeRoomFrame(from: string, frame: string): string {
  return encodeBus({ tag: Tag.RoomFrame, from, frame });
}

export function decodeRoomFrame(payload: string): { from: string; frame: string } | null {
  const message = decodeBus(payload);
  return message?.tag === Tag.RoomFrame ? { from: message.from, frame: message.frame } : null;
}

/** A signal frame as published on a member channel and as held for a reconnecting member. */
export function encodeSignal(frame: string): string {
  return Tag.Signal + frame;
}

/** The frame of a held entry or member-channel payload, or null when it is not a signal. */
export function decodeSignal(entry: string): string | null {
  return entry.startsWith(Tag.Signal) ? entry.slice(Tag.Signal.length) : null;
}

export function encodeHandover(owner: string, entries: readonly string[]): string {
  return encodeBus({ tag: Tag.Handover, owner, entries: [...entries] });
}

export function decodeHandover(payload: string): { owner: string; frames: string[] } | null {
  const message = decodeBus(payload);
  return message?.tag === Tag.Handover ? { owner: message.owner, frames: message.entries } : null;
}

export function encodeSnapshot(known: Iterable<[string, number]>, numbering?: Numbering): string {
  return encodeBus(
    numbering === undefined ? { tag: Tag.Snapshot, known: [...known] } : { tag: Tag.Snapshot, known: [...known], numbering },
  );
}

/** The peers a snapshot entry lists (and a numbered client's numbering), or null when `entry` is not a (well-formed) snapshot. */
export function decodeSnapshot(entry: string): { known: Array<[string, number]>; numbering?: Numbering } | null {
  const message = decodeBus(entry);
  if (message?.tag !== Tag.Snapshot) return null;
  return message.numbering === undefined ? { known: message.known } : { known: message.known, numbering: message.numbering };
}
