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
 * A pause lasts at most this long, then sockets are read for READ_WINDOW_MS whatever the
 * load: a dyno that read nothing for HEARTBEAT_MS would cut every client for a missed pong,
 * and the hard bound (refusing with `overloaded`) keeps memory bounded meanwhile.
 */
const MAX_PAUSE_MS = 1000;
const READ_WINDOW_MS = 100;
/** Past this many times MAX_LOOP_LAG_MS, signals read in a read window are refused. */
const REFUSE_LAG_FACTOR = 2;
/** Under a sustained overload pausing flips many times a second: one log line per this many ms. */
const LOG_EVERY_MS = 5000;

/**
 * Keeps a dyno that is offered more than it can carry from queueing without bound (inside
 * ioredis, as PUBLISHes) and from falling so far behind on its own subscriber connection that
 * Redis cuts it (client-output-buffer-limit pubsub). Two stages:
 *
 * - refuse: while the event loop lags more than MAX_LOOP_LAG_MS, or when a signal would take
 *   the total past MAX_INFLIGHT_BYTES, it is refused at once with `overloaded`
 *   (docs/protocol.md): the sender hears it within a round trip and nothing queues;
 * - stop reading: when half of MAX_INFLIGHT_BYTES is in flight or the loop lags more than
 *   twice MAX_LOOP_LAG_MS (reading and refusing is itself too much), the dyno stops reading
 *   every client socket, so TCP pushes back on the senders and the loop is free to drain
 *   Redis replies and the subscriber connection. It reads again below a quarter and half the
 *   lag (hysteresis, so it does not flap), and after MAX_PAUSE_MS at the latest (then reads
 *   for READ_WINDOW_MS whatever the load).
 */
export class Backpressure {
  private inflight = 0;
  private paused = false;
  private pausedAt = 0;
  /** No new pause before this time (performance.now()): the read window after a long pause. */
  private readUntil = 0;
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

  /**
   * Takes `bytes` for one signal; false means refuse it (`overloaded`): over
   * MAX_INFLIGHT_BYTES, or while the loop lags over MAX_LOOP_LAG_MS. Refusing costs a parse
   * and a small error frame, far less than relaying, and it answers the sender at once
   * instead of letting a backlog build up in its socket.
   */
  acquire(bytes: number): boolean {
    if (this.inflight + bytes > this.options.maxInflightBytes || this.lagMs > REFUSE_LAG_FACTOR * this.options.maxLoopLagMs) {
      this.refused++;
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
    if (this.paused && now - this.pausedAt > MAX_PAUSE_MS) {
      this.readUntil = now + READ_WINDOW_MS;
      this.resumeAll();
    } else if (this.lagMs > this.options.maxLoopLagMs) this.pauseAll('event loop lag over MAX_LOOP_LAG_MS');
    else if (this.paused) this.maybeResume();
  }

  private maybeResume(): void {
    if (this.inflight <= this.options.maxInflightBytes / 4 && this.lagMs <= this.options.maxLoopLagMs / 2) this.resumeAll();
  }

  private pauseAll(why: string): void {
    if (this.paused) return;
    const now = performance.now();
    if (now < this.readUntil) return;
    this.paused = true;
    this.pausedAt = now;
    this.pauses++;
    for (const ws of this.sockets()) ws.pause();
    if (now - this.lastLog < LOG_EVERY_MS) return;
    this.lastLog = now;
    this.log.warn(
      { why, inflightBytes: this.inflight, lagMs: Math.round(this.lagMs), pauses: this.pauses, refused: this.refused },
      'overloaded: stopped reading client sockets until Redis catches up (counts are totals since start)',
    );
  }

  private resumeAll(): void {
    this.paused = false;
    for (const ws of this.sockets()) ws.resume();
    this.log.debug(
      { inflightBytes: this.inflight, lagMs: Math.round(this.lagMs) },
      'load back under the bounds: reading client sockets again',
    );
  }
}

/** A dyno that never pushes back (unit tests, tools): every signal is admitted. */
export const NO_BACKPRESSURE = {
  acquire: (): boolean => true,
  release: (): void => undefined,
};

export type SignalAdmission = Pick<Backpressure, 'acquire' | 'release'>;
