/**
 * What the cluster core needs from a backend: a presence store (who is in which room) and a
 * message bus (channels with subscribers). The core holds all signaling logic; a backend is
 * thin I/O, so the embedded and Redis backends behave identically by construction.
 */

/** One registration in a room, as stored by the backend. */
export interface MemberEntry {
  name: string;
  /** Position in the room's join order; unique per room while the room exists. */
  seq: number;
}

export type RegisterOutcome =
  | { ok: true; seq: number; /** Other members, in join order. */ peers: MemberEntry[] }
  | { ok: false; reason: 'name-taken' | 'room-full' };

export interface RegisterRequest {
  membersKey: string;
  name: string;
  /** Opaque owner tag (dyno + connection); unregister only succeeds with the same tag. */
  owner: string;
  maxRoomSize: number;
}

export type BusHandler = (channel: string, payload: string) => void;

export interface Backend {
  /** Human-readable kind for logs and /readyz. */
  readonly kind: 'embedded' | 'redis';
  /** Atomically registers `name` unless it is taken or the room is full. */
  register(request: RegisterRequest): Promise<RegisterOutcome>;
  /** Removes `name` if `owner` still holds it; resolves to the removed seq or null. */
  unregister(membersKey: string, name: string, owner: string): Promise<number | null>;
  /** Publishes to a channel; resolves to how many dynos are subscribed to it. */
  publish(channel: string, payload: string): Promise<number>;
  subscribe(channels: readonly string[]): Promise<void>;
  unsubscribe(channels: readonly string[]): Promise<void>;
  /** Registers the single receiver of every message on subscribed channels. */
  onMessage(handler: BusHandler): void;
  /** True when the backend answers now (used by /readyz). */
  isReady(): boolean;
  close(): Promise<void>;
}

/** Thrown (or rejected with) by a backend that cannot reach its store. */
export class BackendUnavailableError extends Error {
  readonly code = 'ERR_BACKEND_UNAVAILABLE';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'BackendUnavailableError';
  }
}

/** The owner tag kept with a registration. */
export function ownerTag(nodeId: string, connectionId: string): string {
  return `${nodeId}/${connectionId}`;
}
