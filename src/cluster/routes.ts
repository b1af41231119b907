/**
 * Where a dyno's bus messages go: which local session holds each member channel, which are
 * still registering under one, and which are in each room. Sessions attach and detach
 * themselves as their lifecycle moves; the node reads it to route every message.
 */
export class Routes<S> {
  /** Member channel -> the local session registered under it. */
  readonly members = new Map<string, S>();
  /** Member channel -> local sessions subscribed to it but not registered yet. */
  readonly joining = new Map<string, Set<S>>();
  /** Room events channel -> local sessions joined to (or joining) that room. */
  readonly rooms = new Map<string, Set<S>>();

  attachMember(channel: string, session: S): void {
    this.members.set(channel, session);
  }

  detachMember(channel: string, session: S): void {
    if (this.members.get(channel) === session) this.members.delete(channel);
  }

  /** Between subscribing and registering, frames on the channel go to the joining sessions. */
  attachJoining(channel: string, session: S): void {
    add(this.joining, channel, session);
  }

  detachJoining(channel: string, session: S): void {
    remove(this.joining, channel, session);
  }

  attachRoom(channel: string, session: S): void {
    add(this.rooms, channel, session);
  }

  detachRoom(channel: string, session: S): void {
    remove(this.rooms, channel, session);
  }
}

function add<S>(map: Map<string, Set<S>>, channel: string, session: S): void {
  let set = map.get(channel);
  if (!set) map.set(channel, (set = new Set()));
  set.add(session);
}

function remove<S>(map: Map<string, Set<S>>, channel: string, session: S): void {
  const set = map.get(channel);
  if (set?.delete(session) && set.size === 0) map.delete(channel);
}
