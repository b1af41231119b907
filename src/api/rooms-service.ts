import type { MemberDetail, MemberRef } from '../cluster/backend.ts';
import { RoomKeys } from '../cluster/keys.ts';
import { encodeRoomFrame } from '../cluster/bus-codec.ts';
import { encode } from '../protocol/encode-v1.ts';
import type { SignalingNode } from '../cluster/signaling-node.ts';
import { roomOrigin } from '../webhooks/events.ts';
import { roomBase } from '../webhooks/queue.ts';

/** A member as GET /api/v1/rooms/{room} shows it. */
export interface ApiMember {
  name: string;
  metadata: Record<string, unknown>;
  /** ISO 8601; null for a record written without it. */
  joinedAt: string | null;
  state: 'connected' | 'reconnecting';
}

export type MessageOutcome = 'accepted' | 'not-found' | 'backlogged';

/**
 * What the server API does, on the backend shared by every dyno: any dyno answers about any
 * room, wherever its members are connected. Only protocol v1 rooms (`/signaling`) are seen.
 */
export class RoomsService {
  private readonly node: SignalingNode;

  constructor(node: SignalingNode) {
    this.node = node;
  }

  async members(room: string): Promise<ApiMember[]> {
    const details = await this.node.backend.roomMembers(this.keys(room).members);
    return details.map(toApiMember);
  }

  /** Rooms with members after `after` (a room name; undefined: from the start), at most `limit`. */
  async list(
    after: string | undefined,
    limit: number,
  ): Promise<{ rooms: Array<{ room: string; members: number }>; last?: string; unreachable?: number }> {
    const floor = `${this.node.prefix}{v1.`;
    // Every v1 members key starts with "<prefix>{v1." and '/' follows '.': the range holds them all.
    const below = `${this.node.prefix}{v1/`;
    const page = await this.node.backend.listRooms(after === undefined ? floor : this.keys(after).members, below, limit);
    const rooms = page.rooms.map(({ membersKey, members }) => ({ room: roomName(membersKey), members }));
    const unreachable = page.unreachable === undefined ? {} : { unreachable: page.unreachable };
    return page.after === undefined ? { rooms, ...unreachable } : { rooms, last: roomName(page.after), ...unreachable };
  }

  /** Removes one member (its socket gets `removed` and close 4001); false when it is not one. */
  removeMember(room: string, name: string): Promise<boolean> {
    return this.node.backend.remove(this.ref(room, name));
  }

  /** Removes every member there is now; resolves to how many were removed. */
  async removeAll(room: string): Promise<number> {
    const members = await this.node.backend.roomMembers(this.keys(room).members);
    const removed = await Promise.all(members.map((m) => this.node.backend.remove(this.ref(room, m.name))));
    return removed.filter(Boolean).length;
  }

  /**
   * Sends `{"type":"message","data":...}` to every member (one publish on the room's
   * channel), or to `to` alone (held for it while it reconnects, as a signal would be).
   */
  async message(room: string, data: Record<string, unknown>, to: string | undefined): Promise<MessageOutcome> {
    const frame = encode({ type: 'message', data });
    const keys = this.keys(room);
    const { backend } = this.node;
    if (to === undefined) {
      // Refused rather than dropped when nobody could get it.
      if ((await backend.roomMembers(keys.members)).length === 0) return 'not-found';
      await backend.publish(keys.events, encodeRoomFrame('', frame));
      return 'accepted';
    }
    const outcome = await this.node.sendTo(keys, to, frame);
    if (outcome === 'not-found') return 'not-found';
    return outcome === 'full' ? 'backlogged' : 'accepted';
  }

  private keys(room: string): RoomKeys {
    return new RoomKeys(this.node.prefix, 'v1', room);
  }

  private ref(room: string, name: string): MemberRef {
    const keys = this.keys(room);
    return { membersKey: keys.members, holdKey: keys.holdKey(name), name };
  }
}

function roomName(membersKey: string): string {
  return roomOrigin(roomBase(membersKey)).room;
}

function toApiMember(m: MemberDetail): ApiMember {
  return {
    name: m.name,
    metadata: m.metadata,
    joinedAt: m.joinedAt === undefined ? null : new Date(m.joinedAt).toISOString(),
    state: m.reconnecting ? 'reconnecting' : 'connected',
  };
}
