import type { MemberEntry, MemberInfo, MemberRef, RoomRenumbering } from './backend.ts';
import type { RoomKeys } from './keys.ts';
import type { RoomEvent } from './bus-codec.ts';
import type { Numbering } from './bus-codec.ts';
import { decodeSignal, decodeSnapshot, encodeSignal, encodeSnapshot as encodeKnown, Tag } from './bus-codec.ts';
import type { SessionSink } from './session-types.ts';
import type { Delivery } from './delivery.ts';
import type { ChannelLease } from './subscription-set.ts';

/** One membership as a session sees it: where it lives and what its client was told. */
export interface Membership {
  room: string;
  name: string;
  keys: RoomKeys;
  ref: MemberRef;
  memberChannel: string;
  seq: number;
  /** Peers this client has been told about, with the seq they joined with. */
  known: Map<string, number>;
  /** Its room and member channel subscriptions, given back once whichever way it ends. */
  readonly subscriptions: ChannelLease;
  /** Its metadata and join time, kept to write it anew if the backend loses it. */
  info: MemberInfo;
  /** What reaches the client, and what is kept of it for a resume (delivery.ts). */
  delivery: Delivery;
}

/**
 * Tells the client about a room event unless it already knows: the join seq filters events
 * from before the client's own registration (docs/protocol.md, "Ordering and delivery").
 */
export function applyRoomEvent(m: Membership, event: RoomEvent, sink: SessionSink): void {
  if (event.name === m.name) return;
  const known = m.known.get(event.name);
  if (event.kind === 'joined') {
    // Renumbered after Redis lost the room: the same membership under a new seq.
    if (event.previous !== undefined && known === event.previous) {
      m.known.set(event.name, event.seq);
      return;
    }
    if (event.seq <= m.seq || (known !== undefined && known >= event.seq)) return;
    // A newer seq for a known name means we missed its leave: report both, in order.
    if (known !== undefined) sink.peerLeft(event.name);
    m.known.set(event.name, event.seq);
    sink.peerJoined(event.name, event.metadata);
  } else if (known === event.seq) {
    m.known.delete(event.name);
    sink.peerLeft(event.name);
  }
}

/** Hands what waited (the lifecycle state's buffer) to the client, in arrival order. */
export function flushPending(m: Membership, pending: readonly (RoomEvent | string)[], sink: SessionSink): void {
  for (const item of pending) {
    if (typeof item === 'string') sink.deliver(item);
    else applyRoomEvent(m, item, sink);
  }
}

/**
 * What the client may not have got, as held-list entries in order: the frames delivered since
 * a `joined` it never answered, then those waiting in `pending` (a closing socket's buffer).
 */
export function pendingFrames(m: Membership, waiting: readonly (RoomEvent | string)[]): string[] {
  const unconfirmed = m.delivery.unconfirmed?.frames ?? [];
  const pending = waiting.filter((item): item is string => typeof item === 'string');
  return [...unconfirmed, ...pending].map(encodeSignal);
}

/**
 * Brings what the client knows (`m.known`) in line with the room as it is now: peer-left for
 * every known member that is gone or came back under a new seq, then peer-joined for every
 * member the client does not know at its current seq. Used by a resume and by the catch-up
 * after a subscriber drop.
 */
export function reconcileKnown(m: Membership, peers: readonly MemberEntry[], sink: SessionSink, renumbering?: RoomRenumbering): void {
  const now = new Map(peers.map((p) => [p.name, p.seq]));
  for (const [name, seq] of [...m.known]) {
    const current = now.get(name);
    if (current === seq) continue;
    // The store lost the room and its members' dynos are putting them back: one put back
    // already is the same membership under a new seq, one not yet back is on its way (its
    // renumbered announcement follows). Only a member that ended is reported as leaving.
    if (renumbering && current === renumbering.base + seq) {
      m.known.set(name, current);
      continue;
    }
    if (renumbering && current === undefined && renumbering.pending.includes(name)) continue;
    m.known.delete(name);
    sink.peerLeft(name);
  }
  for (const peer of peers) {
    if (m.known.get(peer.name) !== peer.seq) {
      m.known.set(peer.name, peer.seq);
      sink.peerJoined(peer.name, peer.metadata);
    }
  }
}

/**
 * Replays a resumed membership: `joined` lists the peers as the client last knew them (the
 * snapshot stored when its connection dropped), then peer-left / peer-joined bring it up to
 * date, then the signals held for it and its early frames, in order; what arrived live
 * during the takeover (the state's buffer) is the caller's to flush after. Its peers see nothing. Returns the peers the client was told it knew (in `joined`).
 *
 * `held`: the old dyno's hand-over (frames that reached it after the drop, when the resume
 * beat its suspend) followed by the held list; every frame in the first precedes every frame
 * in the second, and both precede `early` (what the joining state kept) but may overlap it.
 */
export function replayResume(
  m: Membership,
  held: string[],
  early: readonly string[],
  peers: MemberEntry[],
  sink: SessionSink,
  joinedInfo: { resume: string; lastSeq?: number },
): Array<[string, number]> {
  const first = held.find((entry) => entry.startsWith(Tag.Snapshot));
  const snapshot = first ? decodeSnapshot(first) : null;
  // Without a snapshot (its dyno crashed) the best guess is that the client knew everyone.
  const before = snapshot?.known ?? peers.map((p): [string, number] => [p.name, p.seq]);
  for (const [name, peerSeq] of before) m.known.set(name, peerSeq);
  const metadata = new Map(peers.map((p) => [p.name, p.metadata ?? {}]));
  sink.joined(
    m.room,
    m.name,
    before.map(([name]) => name),
    { resume: joinedInfo.resume, resumed: true, metadata },
  );
  reconcileKnown(m, peers, sink);
  if (joinedInfo.lastSeq !== undefined) replayWritten(m, snapshot?.numbering, joinedInfo.lastSeq, sink);
  // A frame published while both the old dyno (its socket already dead) and this one (joining)
  // subscribed the member's channel reaches both: the old dyno hands it over into the held
  // list and this one keeps it as an early frame. Deliver it once: an early frame that matches a
  // replayed held frame (as a multiset, in order) is that same frame.
  const replayed = new Map<string, number>();
  for (const entry of held) {
    const frame = decodeSignal(entry);
    if (frame === null) continue;
    sink.deliver(frame);
    replayed.set(frame, (replayed.get(frame) ?? 0) + 1);
  }
  for (const frame of early) {
    const copies = replayed.get(frame) ?? 0;
    if (copies > 0) replayed.set(frame, copies - 1);
    else sink.deliver(frame);
  }
  return before;
}

/**
 * Brings a membership up to date after it was put back in the backend (kept or renumbered,
 * see ReregisterOutcome) and tells the client what it missed, as a resume does.
 * Known peers missing from `peers` are left alone: their dynos may not have put them back
 * yet, and their own announcement or leave reaches us on the events channel.
 */
export function reconcileReregistered(
  m: Membership,
  seq: number,
  peers: MemberEntry[],
  /** null: the client cannot be told any more (its socket is closing); only renumber. */
  sink: SessionSink | null,
): void {
  m.seq = seq;
  for (const peer of peers) {
    const known = m.known.get(peer.name);
    if (known === peer.seq) continue;
    if (known !== undefined) {
      // A peer renumbered the same way; its announcement may still be on its way.
      m.known.set(peer.name, peer.seq);
      continue;
    }
    // New to us.
    if (!sink) continue;
    m.known.set(peer.name, peer.seq);
    sink.peerJoined(peer.name, peer.metadata);
  }
}

/**
 * A numbered client names the last frame it processed: what was written after it (the old
 * connection's record, carried in the snapshot) is delivered again under its own numbers,
 * and numbering goes on after the highest. Frames after `lastSeq` that fell out of that
 * bounded record, or a record that never came (its dyno crashed), mean signals may be lost:
 * the client is told, naming its peers, so it renegotiates.
 */
function replayWritten(m: Membership, numbering: Numbering | undefined, lastSeq: number, sink: SessionSink): void {
  const { delivery } = m;
  if (!delivery.numbered) return;
  if (delivery.next <= lastSeq) delivery.next = lastSeq + 1;
  if (numbering === undefined) {
    if (lastSeq > 0 && m.known.size > 0) sink.signalsLost?.([...m.known.keys()]);
    return;
  }
  const written = numbering.written.filter(([n]) => n > lastSeq);
  const firstKept = written[0]?.[0] ?? numbering.next;
  if (firstKept > lastSeq + 1 && m.known.size > 0) sink.signalsLost?.([...m.known.keys()]);
  for (const [n, frame] of written) delivery.redeliver(n, frame);
  if (delivery.next < numbering.next) delivery.next = numbering.next;
}

/**
 * The held entry recording which peers a dropped client knew, with their join seqs; for a
 * numbered client also the next frame number and the frames written recently. A client that
 * has not answered its `joined` yet is taken to know only what it knew before it.
 */
export function encodeSnapshot(m: Membership): string {
  const known = m.delivery.unconfirmed?.known ?? m.known;
  const { delivery } = m;
  return delivery.numbered ? encodeKnown(known, { next: delivery.next, written: delivery.written }) : encodeKnown(known);
}
