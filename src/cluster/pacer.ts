/**
 * Runs background work (grace expiries, sweeps, the clean-up after a dropped connection) so
 * that it never crowds out live signals: at most `perTurn` tasks start in one turn of the
 * event loop, and at most `inFlight` run at once. A deploy that drops 40,000 members at once
 * would otherwise queue 40,000 Redis scripts in one turn, and every signal published after
 * them waits for all of them (one connection, answered in order).
 *
 * [perTurn=32] tasks started per event-loop turn
 * [inFlight=32] tasks running (awaiting the backend) at once
 */
export interface PacerOptions {
  perTurn: number;
  inFlight: number;
}

const PACER_DEFAULTS: PacerOptions = { perTurn: 32, inFlight: 32 };

/**
 * The queue is consumed from a moving head; the spent slots before it are cut off once there
 * are more than this and they are over half the array: a long backlog does not keep every
 * finished task's slot, and the splice (linear in the array) stays rare.
 */
const COMPACT_AFTER = 1024;

interface Delayed {
  due: number;
  /** Tie-break, so equal due times run in the order they were asked for. */
  order: number;
  fn: () => void;
}

interface Queued {
  task: () => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export class Pacer {
  private readonly options: PacerOptions;
  private readonly queue: Queued[] = [];
  private head = 0;
  private running = 0;
  private scheduled = false;
  /** Tasks started in the current turn (reset when the next turn begins). */
  private startedThisTurn = 0;
  /** Min-heap by due time: one timer for all of them, not one per departing member. */
  private readonly delayed: Delayed[] = [];
  private order = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Infinity;
  private stopped = false;

  constructor(options: Partial<PacerOptions> = {}) {
    this.options = { ...PACER_DEFAULTS, ...options };
  }

  /** Runs `task` when its turn comes; settles as the task does. */
  run<T>(task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ task, resolve: resolve as (value: unknown) => void, reject });
      this.pump();
    });
  }

  /**
   * Calls `fn` once `delayMs` have passed, with no more than `perTurn` such calls in one turn
   * (grace periods that began together end together). Nothing runs after stop().
   */
  after(delayMs: number, fn: () => void): void {
    if (this.stopped) return;
    heapPush(this.delayed, { due: performance.now() + delayMs, order: this.order++, fn });
    this.arm();
  }

  /** Drops every delayed call; tasks already given to run() still run (their callers wait on them). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.delayed.length = 0;
  }

  /** Delayed calls not yet due. */
  get delayedCount(): number {
    return this.delayed.length;
  }

  /** Tasks waiting for their turn. */
  get waiting(): number {
    return this.queue.length - this.head;
  }

  private pump(): void {
    const { perTurn, inFlight } = this.options;
    while (this.head < this.queue.length && this.running < inFlight && this.startedThisTurn < perTurn) {
      const item = this.queue[this.head] as Queued;
      this.queue[this.head++] = undefined as unknown as Queued;
      this.start(item);
    }
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > COMPACT_AFTER && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    // The share is per turn: count afresh in the next one, and go on there with what is left
    // (a slot freed by a settling task pumps again, so the in-flight bound needs no timer).
    if (this.startedThisTurn > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(this.nextTurn);
    }
  }

  private readonly nextTurn = (): void => {
    this.scheduled = false;
    this.startedThisTurn = 0;
    if (this.waiting > 0) this.pump();
  };

  private arm(): void {
    const first = this.delayed[0];
    if (!first || this.stopped) return;
    if (this.timer !== undefined && this.timerDue <= first.due) return;
    clearTimeout(this.timer);
    this.timerDue = first.due;
    this.timer = setTimeout(this.fire, Math.max(0, first.due - performance.now()));
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.timerDue = Infinity;
    const now = performance.now();
    let calls = 0;
    while (calls < this.options.perTurn && !this.stopped) {
      const first = this.delayed[0];
      if (!first || first.due > now) break;
      heapPop(this.delayed);
      calls++;
      first.fn();
    }
    const first = this.delayed[0];
    if (!first || this.stopped) return;
    // More are due already: the rest in the next turn.
    if (first.due <= now) {
      this.timerDue = now;
      this.timer = setTimeout(this.fire, 0);
    } else this.arm();
  };

  private start(item: Queued): void {
    this.running++;
    this.startedThisTurn++;
    let result: Promise<unknown>;
    try {
      result = item.task();
    } catch (error) {
      result = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    result.then(item.resolve, item.reject).finally(() => {
      this.running--;
      if (this.waiting > 0) this.pump();
    });
  }
}

function before(a: Delayed, b: Delayed): boolean {
  return a.due < b.due || (a.due === b.due && a.order < b.order);
}

function heapPush(heap: Delayed[], item: Delayed): void {
  heap.push(item);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!before(item, heap[parent] as Delayed)) break;
    heap[i] = heap[parent] as Delayed;
    i = parent;
  }
  heap[i] = item;
}

function heapPop(heap: Delayed[]): void {
  const last = heap.pop() as Delayed;
  if (heap.length === 0) return;
  let i = 0;
  for (;;) {
    const left = 2 * i + 1;
    if (left >= heap.length) break;
    const right = left + 1;
    const child = right < heap.length && before(heap[right] as Delayed, heap[left] as Delayed) ? right : left;
    if (!before(heap[child] as Delayed, last)) break;
    heap[i] = heap[child] as Delayed;
    i = child;
  }
  heap[i] = last;
}
