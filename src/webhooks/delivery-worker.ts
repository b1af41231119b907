import type { Logger } from 'pino';
import type { BackoffOptions } from './backoff.ts';
import { nextDelay, retryAfterMs } from './backoff.ts';
import type { QueuedEvent } from './events.ts';
import { eventBody, roomOrigin, webhookId } from './events.ts';
import { WebhookPoster } from './http-post.ts';
import type { WebhookQueue } from './queue.ts';
import type { WebhookSigner } from './signer.ts';
import type { WebhookMetrics } from './webhook-metrics.ts';

export interface DeliveryOptions {
  url: string;
  signer: WebhookSigner;
  /** Lease owner: this dyno's id. */
  owner: string;
  /** One POST's deadline; the lease on a room lasts twice as long. */
  timeoutMs: number;
  /** POSTs open at once, at most: what bounds this dyno's memory whatever the receiver does. */
  concurrency: number;
  backoff: BackoffOptions;
  maxAgeMs: number;
  /** How often the shards are scanned for rooms due (other dynos' events, retries). */
  pollMs: number;
  logger: Logger;
  metrics: WebhookMetrics;
}

type Attempt = { ok: true } | { ok: false; error: string; retryAfter: number | undefined };

/** A room's lease outlasts one POST and its acknowledgement: twice the POST deadline. */
const LEASE_FACTOR = 2;
/** While Redis is away every poll fails the same way: one warning per this many ms. */
const QUEUE_WARNING_EVERY_MS = 10_000;
/** How often stop() looks whether the aborted POSTs have ended. */
const STOP_POLL_MS = 20;
/** How long stop() waits for aborted POSTs to end before it gives up on them. */
const STOP_TIMEOUT_MS = 2000;

/**
 * Delivers queued webhook events: one room at a time per slot, head first, so a room's events
 * reach the receiver in seq order. Rooms come from this dyno's own membership changes (at
 * once) and from scanning the shards (anything due, whoever queued it). Nothing is held here
 * but the events being POSTed: the queue lives in the backend.
 */
export class DeliveryWorker {
  private readonly queue: WebhookQueue;
  private readonly options: DeliveryOptions;
  /** Room -> abort of its open POST. Its size is the in-flight count, capped at concurrency. */
  private readonly active = new Map<string, AbortController>();
  /** Active rooms that had a membership change meanwhile (a subset of `active`). */
  private readonly again = new Set<string>();
  /**
   * Rooms kicked while every slot was busy, taken in turn as slots free up: the shard scan
   * would find them too, but not while their shard's master hangs. One entry per room.
   */
  private readonly waiting = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  /** Rooms this dyno retries itself when their time comes (see retryLater). */
  private readonly retries = new Map<string, NodeJS.Timeout>();
  private polling = false;
  private stopped = false;
  private lastQueueWarning = 0;
  private readonly poster: WebhookPoster;

  constructor(queue: WebhookQueue, options: DeliveryOptions) {
    this.queue = queue;
    this.options = options;
    this.poster = new WebhookPoster(options.url, options.timeoutMs, options.concurrency);
    queue.onActivity((room) => this.kick(room));
  }

  get inFlight(): number {
    return this.active.size;
  }

  start(): void {
    this.timer = setInterval(() => void this.poll(), this.options.pollMs);
    this.timer.unref();
    void this.poll();
  }

  /** Stops taking rooms, aborts open POSTs and gives their leases back for others to take. */
  async stop(timeoutMs = STOP_TIMEOUT_MS): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    for (const timer of this.retries.values()) clearTimeout(timer);
    this.retries.clear();
    this.waiting.clear();
    for (const abort of this.active.values()) abort.abort();
    const deadline = Date.now() + timeoutMs;
    while (this.active.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, STOP_POLL_MS));
    this.poster.close();
  }

  /**
   * The room is due again in `delayMs`: its shard says so too, but the shard may live on a
   * master that hangs (its scan then waits for it), so this dyno also comes back to the room
   * by itself. The lease keeps two dynos from delivering it at once.
   */
  private retryLater(room: string, delayMs: number): void {
    if (this.stopped || this.retries.has(room)) return;
    const timer = setTimeout(() => {
      this.retries.delete(room);
      this.kick(room);
    }, delayMs + 10);
    timer.unref();
    this.retries.set(room, timer);
  }

  /** A write to the room's shard that nothing waits for: a hung shard must not hold the room's delivery. */
  private background(write: Promise<void>): void {
    write.catch((error: unknown) => this.queueWarning(error));
  }

  private kick(room: string): void {
    if (this.stopped) return;
    // Being delivered here: look at it again when that run ends (it may have just emptied).
    if (this.active.has(room)) this.again.add(room);
    else if (this.active.size < this.options.concurrency) void this.drain(room);
    else this.waiting.add(room);
  }

  private async poll(): Promise<void> {
    if (this.polling || this.stopped) return;
    this.polling = true;
    try {
      const free = this.options.concurrency - this.active.size;
      if (free > 0) for (const room of await this.queue.due(free * 2)) this.kick(room);
    } catch (error) {
      this.queueWarning(error);
    } finally {
      this.polling = false;
    }
  }

  private async drain(room: string): Promise<void> {
    const abort = new AbortController();
    this.active.set(room, abort);
    const { owner, timeoutMs } = this.options;
    try {
      let hidden = false;
      while (!this.stopped) {
        const { claim, expired, lost } = await this.queue.claim(room, owner, timeoutMs * LEASE_FACTOR);
        this.reportDropped(room, expired, lost);
        switch (claim.kind) {
          case 'empty':
            this.background(this.queue.forget(room));
            return;
          case 'wait':
            this.background(this.queue.defer(room, claim.delayMs));
            this.retryLater(room, claim.delayMs);
            return;
          case 'event': {
            // While this dyno delivers the room it is not due for anyone (this dyno's scan
            // included); if this dyno dies, it is due again when the lease runs out. Once per
            // run through the room: each event costs its claim, POST and ack only.
            if (!hidden) void this.queue.defer(room, timeoutMs * LEASE_FACTOR).catch(() => undefined);
            hidden = true;
            const attempt = await this.post(room, claim.event, abort.signal);
            if (attempt.ok) {
              this.options.metrics.delivery('delivered');
              if ((await this.queue.ack(room, owner, claim.event.seq)) > 0) continue;
              // Emptied: unlisted once nobody touched it for a while (forget() decides).
              this.background(this.queue.forget(room));
              return;
            }
            if (this.stopped) {
              await this.queue.release(room, owner);
              return;
            }
            this.options.metrics.delivery('failed');
            const failures = claim.attempts + 1;
            const delayMs = nextDelay(failures, attempt.retryAfter, this.options.backoff, this.options.maxAgeMs);
            // At the 1st, 2nd, 4th, 8th... failure of an event: a dead receiver is visible at
            // once without a line per retry (the metric counts every one).
            if ((failures & (failures - 1)) === 0) {
              this.options.logger.warn(
                {
                  webhookId: webhookId(room, claim.event.seq),
                  type: claim.event.type,
                  ...roomOrigin(room),
                  failures,
                  retryInMs: delayMs,
                  err: attempt.error,
                },
                'webhook delivery failed; will retry (check WEBHOOK_URL and the receiver)',
              );
            }
            await this.queue.retry(room, owner, claim.event.seq, delayMs);
            this.retryLater(room, delayMs);
            return;
          }
          default: {
            const never: never = claim;
            throw new Error(`unknown claim ${String(never)}`);
          }
        }
      }
    } catch (error) {
      // The lease runs out on its own; the shard still lists the room, so it is tried again.
      this.queueWarning(error);
    } finally {
      this.active.delete(room);
      if (this.again.delete(room)) this.kick(room);
      for (const next of this.waiting) {
        if (this.active.size >= this.options.concurrency) break;
        this.waiting.delete(next);
        this.kick(next);
      }
    }
  }

  private async post(room: string, event: QueuedEvent, stop: AbortSignal): Promise<Attempt> {
    const body = eventBody(room, event);
    const headers = { ...this.options.signer.sign(webhookId(room, event.seq), body), 'content-type': 'application/json' };
    try {
      const { status, headers: answer } = await this.poster.post(body, headers, stop);
      if (status >= 200 && status < 300) return { ok: true };
      const retryAfter = answer['retry-after'];
      return { ok: false, error: `HTTP ${status}`, retryAfter: retryAfterMs(typeof retryAfter === 'string' ? retryAfter : null) };
    } catch (error) {
      return { ok: false, error: error instanceof Error ? error.message : String(error), retryAfter: undefined };
    }
  }

  private reportDropped(room: string, expired: readonly QueuedEvent[], lost: number): void {
    const { logger, metrics, maxAgeMs } = this.options;
    for (const event of expired) {
      logger.error(
        { webhookId: webhookId(room, event.seq), type: event.type, ...roomOrigin(room), seq: event.seq, ageMs: Date.now() - event.at },
        `webhook event dropped: the receiver did not accept it within WEBHOOK_MAX_AGE_MS (${maxAgeMs} ms)`,
      );
    }
    if (expired.length > 0) metrics.dropped('max-age', expired.length);
    if (lost > 0) {
      logger.error(
        { ...roomOrigin(room), lost },
        'webhook events dropped: the room already had WEBHOOK_MAX_QUEUED events waiting (is the receiver down?)',
      );
      metrics.dropped('queue-full', lost);
    }
  }

  private queueWarning(error: unknown): void {
    if (Date.now() - this.lastQueueWarning < QUEUE_WARNING_EVERY_MS) return;
    this.lastQueueWarning = Date.now();
    this.options.logger.warn(
      { err: error instanceof Error ? error.message : String(error) },
      'webhook queue unreachable; delivery resumes when the backend is back',
    );
  }
}
