/**
 * An in-memory stand-in for the signaling service, for MeshCall tests: each
 * member is a MeshSignaling whose signals travel through a queue the test can
 * hold, reorder and release (to stage glare and early candidates).
 */
import type { JoinedEvent, MeshSignaling, SignalingClientEvents } from '../../../client/src/index.ts';
import { TypedEmitter } from '../../../client/src/typed-emitter.ts';

export interface Envelope {
  from: string;
  to: string;
  data: Record<string, unknown>;
}

export class FakeMember extends TypedEmitter<SignalingClientEvents> implements MeshSignaling {
  lastJoined: JoinedEvent | undefined;
  readonly name: string;
  readonly #hub: FakeHub;
  constructor(name: string, hub: FakeHub) {
    super();
    this.name = name;
    this.#hub = hub;
  }
  /** While true, signal() drops everything and returns false, as SignalingClient does when not open. */
  down = false;
  signal(to: string, data: object): boolean {
    if (this.down) return false;
    // Through JSON, as on the wire: no object identity survives.
    this.#hub.enqueue({ from: this.name, to, data: JSON.parse(JSON.stringify(data)) as Record<string, unknown> });
    return true;
  }
  fire<K extends keyof SignalingClientEvents>(event: K, payload: SignalingClientEvents[K]): void {
    if (event === 'joined') this.lastJoined = payload as JoinedEvent;
    this.emit(event, payload);
  }
}

export class FakeHub {
  readonly members = new Map<string, FakeMember>();
  /** Every signal ever sent, in order. */
  readonly log: Envelope[] = [];
  /** Signals not yet delivered while `hold` is true. */
  queue: Envelope[] = [];
  hold = false;
  /** Return true to lose a signal on the way (it stays in `log`). */
  drop: ((envelope: Envelope) => boolean) | undefined;

  /** Creates a member; `join()` it once its MeshCall listens. */
  member(name: string): FakeMember {
    const member = new FakeMember(name, this);
    return member;
  }

  join(member: FakeMember): void {
    const peers = [...this.members.keys()];
    this.members.set(member.name, member);
    member.fire('joined', {
      room: 'r',
      name: member.name,
      peers,
      members: peers.map((name) => ({ name, metadata: {} })),
      iceServers: [],
      resume: undefined,
      rejoin: false,
      resumed: false,
    });
    for (const peer of peers) this.members.get(peer)?.fire('peer-joined', { name: member.name, metadata: {} });
  }

  leave(name: string): void {
    const member = this.members.get(name);
    this.members.delete(name);
    member?.fire('state', { state: 'closed', previous: 'open' });
    for (const other of this.members.values()) other.fire('peer-left', { name });
  }

  /** Swaps in a new member object for `name` without telling anyone (a resumed or restarted client). */
  replace(member: FakeMember): void {
    this.members.set(member.name, member);
  }

  enqueue(envelope: Envelope): void {
    this.log.push(envelope);
    if (this.drop?.(envelope) === true) return;
    this.queue.push(envelope);
    if (!this.hold) setTimeout(() => this.release(), 0);
  }

  /** Delivers the queued signals, in queue order. */
  release(): void {
    const batch = this.queue;
    this.queue = [];
    for (const { from, to, data } of batch) this.members.get(to)?.fire('signal', { from, data });
  }
}
