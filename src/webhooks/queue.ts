import type { QueuedEvent } from './events.ts';

/**
 * The cluster-wide webhook queue, as the delivery worker sees it. Each room has an outbox
 * (its events in seq order) next to its members, so the membership scripts append to it
 * atomically; a fixed number of queue shards list the rooms whose outbox may hold events.
 * Delivery is per room, head first, under a lease: a dyno that dies mid-delivery leaves a
 * lease that runs out, and any other dyno takes the room over.
 */
export interface WebhookQueueOptions {
  /** Events one room's outbox may hold; past it new events of that room are dropped and counted. */
  maxQueued: number;
  /** Events older than this are dropped (logged, counted) instead of being tried again. */
  maxAgeMs: number;
}

/** What a claim of a room found. */
export type Claim =
  | { kind: 'empty' }
  /** Leased by another dyno, or the head waits for its next attempt. */
  | { kind: 'wait'; delayMs: number }
  /** The head event, now leased to the claimant. `attempts`: failed attempts so far. */
  | { kind: 'event'; event: QueuedEvent; attempts: number };

export interface ClaimResult {
  claim: Claim;
  /** Heads dropped by this claim because they were older than maxAgeMs. */
  expired: QueuedEvent[];
  /** Events refused since the last claim because the outbox was full. */
  lost: number;
}

export interface WebhookQueue {
  /** Rooms whose outbox is due now, up to `limit`, from shards taken in turn. */
  due(limit: number): Promise<string[]>;
  claim(room: string, owner: string, leaseMs: number): Promise<ClaimResult>;
  /** Removes the delivered head (if it still is `seq`); resolves to how many events are left. */
  ack(room: string, owner: string, seq: number): Promise<number>;
  /** Counts a failed attempt of head `seq` and makes the room due again after `delayMs`. */
  retry(room: string, owner: string, seq: number, delayMs: number): Promise<void>;
  /** Gives the lease back without counting an attempt (the dyno is stopping). */
  release(room: string, owner: string): Promise<void>;
  /** Makes the room due again after `delayMs` (it was leased by someone else). */
  defer(room: string, delayMs: number): Promise<void>;
  /** Takes an empty room off its shard, unless it was touched lately (an event may be on its way). */
  forget(room: string): Promise<void>;
  /** Called with the room after a membership change may have queued events there. */
  onActivity(listener: (room: string) => void): void;
}

/** How many queue shards list rooms; each is one key with its own hash tag (its own slot). */
export const QUEUE_SHARDS = 8;

/** Rooms touched this recently stay listed even when their outbox looks empty. */
export const FORGET_AFTER_MS = 60_000;

/** The key base of a room ("<prefix>{<ns>.<room>}") from its members key. */
export function roomBase(membersKey: string): string {
  return membersKey.slice(0, -':members'.length);
}

/** Which shard lists a room: FNV-1a of its key base. */
export function shardOf(base: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < base.length; i++) h = Math.imul(h ^ base.charCodeAt(i), 0x01000193);
  return (h >>> 0) % QUEUE_SHARDS;
}
