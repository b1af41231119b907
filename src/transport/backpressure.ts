import type { Logger } from 'pino';
import type { WebSocket } from 'ws';

export interface BackpressureOptions {
  /** Bytes of relayed signals whose Redis command has not answered yet (MAX_INFLIGHT_BYTES). */
  maxInflightBytes: number;
  /** Event-loop lag past which the dyno stops reading client sockets (MAX_LOOP_LAG_MS). */
  maxLoopLagMs: number;
}

/** How often the loop lag is sampled: a timer that fires late by L ms means a lag of L. */
const SAMPLE_MS = 20;

/**
 * Keeps a dyno that is offered more than it can carry from queueing without bound (inside
 * ioredis, as PUBLISHes) and from falling so far behind on its own subscriber connection that
 * Redis cuts it (client-output-buffer-limit pubsub). Two stages:
 *
 * - soft: when half of MAX_INFLIGHT_BYTES is in flight or the event loop lags more than
 *   MAX_LOOP_LAG_MS, the dyno stops reading every client socket, so TCP pushes back on the
 *   senders and the loop is free to drain Redis replies and the subscriber connection. It
 *   reads again below a quarter and half the lag (hysteresis, so it does not flap). A pause
 *   lasts as long as the overload and no longer, so heartbeat pongs are read between pauses;
 * - hard: a signal that would take the total past MAX_INFLIGHT_BYTES is refused at once with
 *   `overloaded` (docs/protocol.md): frames already read when the pause began still arrive,
 *   and they must not grow memory either.
 */
export class Backpressure {
  private inflight = 0;
  private paused = false;
  private lagMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private expected = 0;
  private readonly options: BackpressureOptions;
  private readonly sockets: () => Iterable<WebSocket>;
  private readonly log: Logger;
  private lastLog = 0;
  /** Counters for /metrics and the overload bench. */
  refused = 0;
  pauses = 0;

  constructor(options: BackpressureOptions, sockets: () => Iterable<WebSocket>, log: Logger) {
    this.options = options;
    this.sockets = sockets;
    this.log = log;
  }

  get inflightBytes(): number {
    return this.inflight;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  start(): void {
    this.expected = performance.now() + SAMPLE_MS;
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    if (this.paused) this.resumeAll();
  }

  /** Takes `bytes` for one signal; false means refuse it (`overloaded`). */
  acquire(bytes: number): boolean {
    if (this.inflight + bytes > this.options.maxInflightBytes) {
      this.refused++;
      this.pauseAll('MAX_INFLIGHT_BYTES reached');
      return false;
    }
    this.inflight += bytes;
    if (this.inflight > this.options.maxInflightBytes / 2) this.pauseAll('half of MAX_INFLIGHT_BYTES in flight');
    return true;
  }

  release(bytes: number): void {
    this.inflight -= bytes;
    if (this.paused) this.maybeResume();
  }

  /** A socket opened while reading is paused starts paused too. */
  adopt(ws: WebSocket): void {
    if (this.paused) ws.pause();
  }

  private sample(): void {
    const now = performance.now();
    this.lagMs = Math.max(0, now - this.expected);
    this.expected = now + SAMPLE_MS;
    if (this.lagMs > this.options.maxLoopLagMs) this.pauseAll('event loop lag over MAX_LOOP_LAG_MS');
    else if (this.paused) this.maybeResume();
  }

  private maybeResume(): void {
    if (this.inflight <= this.options.maxInflightBytes / 4 && this.lagMs <= this.options.maxLoopLagMs / 2) this.resumeAll();
  }

  private pauseAll(why: string): void {
    if (this.paused) return;
    this.paused = true;
    this.pauses++;
    for (const ws of this.sockets()) ws.pause();
    // Under a sustained overload this flips many times a second: one line per 5 s says it all.
    const now = Date.now();
    if (now - this.lastLog < 5000) return;
    this.lastLog = now;
    this.log.warn(
      { why, inflightBytes: this.inflight, lagMs: Math.round(this.lagMs), pauses: this.pauses, refused: this.refused },
      'overloaded: stopped reading client sockets until Redis catches up (counts are totals since start)',
    );
  }

  private resumeAll(): void {
    this.paused = false;
    for (const ws of this.sockets()) ws.resume();
    this.log.debug({ inflightBytes: this.inflight, lagMs: Math.round(this.lagMs) }, 'load back under the bounds: reading client sockets again');
  }
}

/** A dyno that never pushes back (unit tests, tools): every signal is admitted. */
export const NO_BACKPRESSURE = {
  acquire: (): boolean => true,
  release: (): void => undefined,
};

export type SignalAdmission = Pick<Backpressure, 'acquire' | 'release'>;
