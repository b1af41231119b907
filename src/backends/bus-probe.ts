import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { ProbeResult } from './probe.ts';

const TOKEN_PREFIX = 'probe:';

/**
 * One round trip through the bus: publish a one-off token on this dyno's own channel and
 * wait until the subscriber side delivers it. That is exactly the path a cross-dyno signal
 * takes (publish -> Redis -> a subscriber), so its latency doubles as the delivery-latency
 * sample for /metrics without timing every signal.
 */
export class BusProbe {
  readonly channel: string;
  private readonly timeoutMs: number;
  private readonly publish: (channel: string, payload: string) => Promise<number>;
  private readonly waiting = new Map<string, () => void>();

  constructor(channel: string, timeoutMs: number, publish: (channel: string, payload: string) => Promise<number>) {
    this.channel = channel;
    this.timeoutMs = timeoutMs;
    this.publish = publish;
  }

  /** Consumes probe echoes; returns false for every other message so the core gets it. */
  intercept(channel: string, payload: string): boolean {
    if (channel !== this.channel) return false;
    if (payload.startsWith(TOKEN_PREFIX)) this.waiting.get(payload)?.();
    return true;
  }

  /** Bounded by `timeoutMs` as a whole: a frozen Redis must not hang GET /readyz. */
  async run(): Promise<ProbeResult> {
    const token = TOKEN_PREFIX + randomBytes(8).toString('hex');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<ProbeResult>((resolve) => {
      timer = setTimeout(
        () => resolve(failed(`no answer within ${this.timeoutMs} ms (Redis or the subscriber connection is stuck)`)),
        this.timeoutMs,
      );
      timer.unref();
    });
    const echoed = new Promise<number>((resolve) => this.waiting.set(token, () => resolve(performance.now())));
    const roundTrip = async (): Promise<ProbeResult> => {
      const started = performance.now();
      const receivers = await this.publish(this.channel, token);
      if (receivers === 0) return failed("nobody is subscribed to this dyno's channel: its subscriber connection is deaf");
      return { ok: true, latencyMs: (await echoed) - started };
    };
    try {
      return await Promise.race([roundTrip(), timeout]);
    } catch (error) {
      return failed(`cannot publish: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      clearTimeout(timer);
      this.waiting.delete(token);
    }
  }
}

export function failed(reason: string): ProbeResult {
  return { ok: false, latencyMs: 0, reason };
}
