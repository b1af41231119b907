import type { LeaveReason, QueuedEvent, WebhookEventType } from './events.ts';
import { nextSeq } from './events.ts';
import type { ClaimResult, WebhookQueue, WebhookQueueOptions } from './queue.ts';

interface Outbox {
  events: QueuedEvent[];
  lastSeq: number;
  attempts: number;
  next: number;
  leaseUntil: number;
  owner: string;
  lost: number;
}

/**
 * The embedded backend's webhook queue: the same semantics as the Redis one (per-room
 * outbox with a cap, head-first delivery, attempts, max age), in this process's memory. It
 * does not survive a restart, as nothing of the embedded backend does.
 */
export class MemoryWebhookQueue implements WebhookQueue {
  private readonly options: WebhookQueueOptions;
  private readonly outboxes = new Map<string, Outbox>();
  /** Room -> when it is due (ms). */
  private readonly listed = new Map<string, number>();
  private listener: (room: string) => void = () => undefined;

  constructor(options: WebhookQueueOptions) {
    this.options = options;
  }

  /** Called by the memory backend, in the same synchronous step as the membership change. */
  emit(room: string, type: WebhookEventType, name = '', reason: LeaveReason | '' = ''): void {
    let box = this.outboxes.get(room);
    if (!box) this.outboxes.set(room, (box = { events: [], lastSeq: 0, attempts: 0, next: 0, leaseUntil: 0, owner: '', lost: 0 }));
    const at = Date.now();
    box.lastSeq = nextSeq(box.lastSeq, at);
    if (box.events.length >= this.options.maxQueued) box.lost++;
    else box.events.push({ seq: box.lastSeq, at, type, reason, name });
    this.listed.set(room, at);
    queueMicrotask(() => this.listener(room));
  }

  async due(limit: number): Promise<string[]> {
    const now = Date.now();
    const rooms: string[] = [];
    for (const [room, at] of this.listed) {
      if (rooms.length >= limit) break;
      if (at <= now) rooms.push(room);
    }
    return rooms;
  }

  async claim(room: string, owner: string, leaseMs: number): Promise<ClaimResult> {
    const box = this.outboxes.get(room);
    if (!box) return { claim: { kind: 'empty' }, expired: [], lost: 0 };
    const now = Date.now();
    const lost = box.lost;
    box.lost = 0;
    if (box.leaseUntil > now && box.owner !== owner) return { claim: { kind: 'wait', delayMs: box.leaseUntil - now }, expired: [], lost };
    const expired: QueuedEvent[] = [];
    while (box.events[0] && now - box.events[0].at > this.options.maxAgeMs) {
      expired.push(box.events.shift() as QueuedEvent);
      box.attempts = 0;
      box.next = 0;
    }
    const head = box.events[0];
    if (!head) return { claim: { kind: 'empty' }, expired, lost };
    if (box.next > now) return { claim: { kind: 'wait', delayMs: box.next - now }, expired, lost };
    box.leaseUntil = now + leaseMs;
    box.owner = owner;
    return { claim: { kind: 'event', event: head, attempts: box.attempts }, expired, lost };
  }

  async ack(room: string, owner: string, seq: number): Promise<number> {
    const box = this.outboxes.get(room);
    if (!box) return 0;
    if (box.events[0]?.seq === seq) {
      box.events.shift();
      box.attempts = 0;
      box.next = 0;
    }
    if (box.owner === owner) box.leaseUntil = 0;
    return box.events.length;
  }

  async retry(room: string, owner: string, seq: number, delayMs: number): Promise<void> {
    const box = this.outboxes.get(room);
    if (!box) return;
    if (box.events[0]?.seq === seq) {
      box.attempts++;
      box.next = Date.now() + delayMs;
    }
    if (box.owner === owner) box.leaseUntil = 0;
    this.listed.set(room, Date.now() + delayMs);
  }

  async release(room: string, owner: string): Promise<void> {
    const box = this.outboxes.get(room);
    if (box?.owner === owner) box.leaseUntil = 0;
  }

  async defer(room: string, delayMs: number): Promise<void> {
    this.listed.set(room, Date.now() + delayMs);
  }

  async forget(room: string): Promise<void> {
    const box = this.outboxes.get(room);
    if (box && box.events.length > 0) return;
    // One process: the change that emits and the worker never interleave mid-step here.
    this.listed.delete(room);
    // The seq counter may go once the clock is past it: a new one starts from the clock.
    if (box && box.lastSeq < Date.now()) this.outboxes.delete(room);
  }

  onActivity(listener: (room: string) => void): void {
    this.listener = listener;
  }
}
