import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import type { ConnectionMetrics } from '../metrics/metrics.ts';
import { CloseCode } from '../protocol/error-codes.ts';
import { clientAddress } from './client-address.ts';
import type { ConnectionPolicy } from './connection-policy.ts';
import { CUT_OFF, sendBounded } from './connection-policy.ts';
import { GatedConnection } from './frame-gate.ts';
import { connectionId, OVERLOADED } from './v1-connection.ts';
import type { TopicHub, TopicSubscriber } from './ywebrtc-topics.ts';

/** Topics one connection may hold at once (a y-webrtc room is one topic; an app rarely has more than a few documents open). */
export const MAX_TOPICS_PER_CONNECTION = 64;
/** Longest topic name in characters (y-webrtc uses the room name). */
export const MAX_TOPIC_LENGTH = 256;

const PONG = JSON.stringify({ type: 'pong' });
const UNAVAILABLE = 'the signaling backend cannot be reached; retry shortly';

/** What every y-webrtc connection of a dyno shares. */
export interface YWebrtcContext {
  hub: TopicHub;
  log: Logger;
  metrics: ConnectionMetrics;
  policy: ConnectionPolicy;
}

/** An error answer: the y-webrtc client ignores types it does not know, other tools may log it. */
function errorFrame(message: string): string {
  return JSON.stringify({ type: 'error', message });
}

/** Serves y-webrtc's signaling protocol (docs/protocol.md, y-webrtc) on one WebSocket. */
export function serveYWebrtc(ws: WebSocket, request: IncomingMessage, ctx: YWebrtcContext): void {
  new YWebrtcConnection(ws, request, ctx);
}

/**
 * One y-webrtc client: subscribe, unsubscribe, publish (to every subscriber of the topic on
 * every dyno, the sender included) and ping. Frames are handled one after another, so a
 * publish right behind a subscribe goes out only once this dyno hears the topic: the answers
 * to a y-webrtc announce cannot overtake the subscription.
 */
class YWebrtcConnection extends GatedConnection implements TopicSubscriber {
  private readonly ctx: YWebrtcContext;
  private readonly conn = connectionId();
  private readonly topics = new Set<string>();
  private queue: Promise<void> = Promise.resolve();
  private closedYet = false;

  constructor(ws: WebSocket, request: IncomingMessage, ctx: YWebrtcContext) {
    super(ws, ctx.policy);
    this.ctx = ctx;
    this.listen();
    this.logger().info({ ip: clientAddress(request), protocol: 'ywebrtc' }, 'connection open');
  }

  logger(): Logger {
    return this.ctx.log.child({ conn: this.conn, protocol: 'ywebrtc' });
  }

  deliver(frame: string): boolean {
    const outcome = sendBounded(this.ws, this.ctx.policy.maxBufferedBytes, frame);
    if (outcome === 'cut') this.logger().warn(CUT_OFF);
    return outcome === 'sent';
  }

  message(data: RawData, isBinary: boolean): void {
    const text = this.admit(data, isBinary);
    if (text === null) return;
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      this.ctx.metrics.badFrame?.();
      return this.refuseWith('frames must be JSON objects such as {"type":"ping"}');
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message))
      return this.refuseWith('frames must be JSON objects with a type');
    const bytes = Buffer.byteLength(text);
    this.queue = this.queue
      .then(() => this.handle(message as Record<string, unknown>, bytes))
      .catch((error: unknown) => {
        this.logger().error({ err: error }, 'y-webrtc message handler failed (a bug); closing with 1011');
        this.ws.close(CloseCode.InternalError, 'internal error');
      });
  }

  closed(code: number): void {
    this.closedYet = true;
    for (const name of this.topics) this.ctx.hub.unsubscribe(name, this);
    this.logger().info({ code, topics: this.topics.size }, 'connection closed');
    this.topics.clear();
  }

  /** The gate's refusals (rate, binary frames) are answered like the adapter's own. */
  refuse(_code: string, message: string): void {
    this.refuseWith(message);
  }

  private refuseWith(message: string): void {
    this.deliver(errorFrame(message));
  }

  private async handle(message: Record<string, unknown>, bytes: number): Promise<void> {
    if (this.closedYet) return;
    const type = message['type'];
    switch (type) {
      case 'subscribe':
      case 'unsubscribe': {
        const names = message['topics'] ?? [];
        if (!Array.isArray(names)) return this.refuseWith(`${type}.topics must be an array of strings`);
        if (type === 'subscribe') return this.subscribe(names);
        for (const name of names) {
          if (typeof name === 'string' && this.topics.delete(name)) this.ctx.hub.unsubscribe(name, this);
        }
        return;
      }
      case 'publish':
        return this.publish(message, bytes);
      case 'ping':
        this.deliver(PONG);
        return;
      default:
        // Unknown types (and none) are ignored, as the reference does.
        return;
    }
  }

  private async subscribe(names: unknown[]): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const name of names) {
      // Not a string: skipped, as the reference server does.
      if (typeof name !== 'string' || this.topics.has(name)) continue;
      if (name.length > MAX_TOPIC_LENGTH) {
        this.refuseWith(`topics are limited to ${MAX_TOPIC_LENGTH} characters; not subscribed to one of ${name.length}`);
        continue;
      }
      if (this.topics.size >= MAX_TOPICS_PER_CONNECTION) {
        this.refuseWith(
          `a connection may subscribe to at most ${MAX_TOPICS_PER_CONNECTION} topics; not subscribed to ${JSON.stringify(name.slice(0, 64))}`,
        );
        continue;
      }
      this.topics.add(name);
      waits.push(this.ctx.hub.subscribe(name, this));
    }
    await Promise.all(waits);
  }

  private async publish(message: Record<string, unknown>, bytes: number): Promise<void> {
    const topic = message['topic'];
    // A falsy topic is ignored, as the reference does; any other non-string is an error.
    if (!topic) return;
    if (typeof topic !== 'string') return this.refuseWith('publish.topic must be a string');
    const { policy, metrics } = this.ctx;
    if (bytes > policy.maxSignalBytes)
      return this.refuseWith(`publish frames are limited to MAX_SIGNAL_BYTES (${policy.maxSignalBytes} bytes); this one has ${bytes}`);
    if (!policy.inflight.acquire(bytes)) {
      metrics.signal('overloaded');
      return this.refuseWith(OVERLOADED);
    }
    // `clients` is the receiving dyno's to set; whatever the sender put there is dropped.
    const { clients: _ignored, ...rest } = message;
    try {
      await this.ctx.hub.publish(topic, JSON.stringify(rest).slice(0, -1));
      metrics.signal('sent');
    } catch {
      metrics.signal('unavailable');
      this.refuseWith(UNAVAILABLE);
    } finally {
      policy.inflight.release(bytes);
    }
  }
}
