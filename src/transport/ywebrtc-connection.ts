import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import type { ConnectionMetrics } from '../metrics/metrics.ts';
import { CloseCode } from '../protocol/error-codes.ts';
import { clientAddress } from './client-address.ts';
import type { ConnectionPolicy } from './connection-policy.ts';
import { CUT_OFF, sendBounded } from './connection-policy.ts';
import { FrameGate } from './frame-gate.ts';
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

/**
 * Serves y-webrtc's signaling protocol (docs/protocol.md, y-webrtc) on one WebSocket:
 * subscribe, unsubscribe, publish (to every subscriber of the topic on every dyno, the
 * sender included) and ping. Frames are handled one after another, so a publish right
 * behind a subscribe goes out only once this dyno hears the topic: the answers to a
 * y-webrtc announce cannot overtake the subscription.
 */
export function serveYWebrtc(ws: WebSocket, request: IncomingMessage, ctx: YWebrtcContext): void {
  const id = connectionId();
  const log = ctx.log.child({ conn: id, protocol: 'ywebrtc' });
  const topics = new Set<string>();
  let closed = false;
  const send = (frame: string): boolean => {
    const outcome = sendBounded(ws, ctx.policy.maxBufferedBytes, frame);
    if (outcome === 'cut') log.warn(CUT_OFF);
    return outcome === 'sent';
  };
  const subscriber: TopicSubscriber = { deliver: send };
  const refuse = (message: string): void => void send(errorFrame(message));
  const gate = new FrameGate(ws, ctx.policy, { refuse: (_code, message) => refuse(message), logger: () => log });
  let queue: Promise<void> = Promise.resolve();

  async function subscribe(names: unknown[]): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const name of names) {
      // Not a string: skipped, as the reference server does.
      if (typeof name !== 'string' || topics.has(name)) continue;
      if (name.length > MAX_TOPIC_LENGTH) {
        refuse(`topics are limited to ${MAX_TOPIC_LENGTH} characters; not subscribed to one of ${name.length}`);
        continue;
      }
      if (topics.size >= MAX_TOPICS_PER_CONNECTION) {
        refuse(`a connection may subscribe to at most ${MAX_TOPICS_PER_CONNECTION} topics; not subscribed to ${JSON.stringify(name.slice(0, 64))}`);
        continue;
      }
      topics.add(name);
      waits.push(ctx.hub.subscribe(name, subscriber));
    }
    await Promise.all(waits);
  }

  async function publish(message: Record<string, unknown>, bytes: number): Promise<void> {
    const topic = message['topic'];
    // A falsy topic is ignored, as the reference does; any other non-string is an error.
    if (!topic) return;
    if (typeof topic !== 'string') return refuse('publish.topic must be a string');
    const { policy, metrics } = ctx;
    if (bytes > policy.maxSignalBytes) return refuse(`publish frames are limited to MAX_SIGNAL_BYTES (${policy.maxSignalBytes} bytes); this one has ${bytes}`);
    if (!policy.inflight.acquire(bytes)) {
      metrics.signal('overloaded');
      return refuse(OVERLOADED);
    }
    // `clients` is the receiving dyno's to set; whatever the sender put there is dropped.
    const { clients: _ignored, ...rest } = message;
    const text = JSON.stringify(rest);
    try {
      await ctx.hub.publish(topic, text.slice(0, -1));
      metrics.signal('sent');
    } catch {
      metrics.signal('unavailable');
      refuse(UNAVAILABLE);
    } finally {
      policy.inflight.release(bytes);
    }
  }

  async function handle(message: Record<string, unknown>, bytes: number): Promise<void> {
    if (closed) return;
    switch (message['type']) {
      case 'subscribe':
      case 'unsubscribe': {
        const names = message['topics'] ?? [];
        if (!Array.isArray(names)) return refuse(`${String(message['type'])}.topics must be an array of strings`);
        if (message['type'] === 'subscribe') return subscribe(names);
        for (const name of names) {
          if (typeof name === 'string' && topics.delete(name)) ctx.hub.unsubscribe(name, subscriber);
        }
        return;
      }
      case 'publish':
        return publish(message, bytes);
      case 'ping':
        send(PONG);
        return;
      default:
        // Unknown types are ignored, as the reference does.
        return;
    }
  }

  ws.on('message', (data: RawData, isBinary: boolean) => {
    const text = gate.admit(data, isBinary);
    if (text === null) return;
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      ctx.metrics.badFrame?.();
      return refuse('frames must be JSON objects such as {"type":"ping"}');
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message)) return refuse('frames must be JSON objects with a type');
    const bytes = Buffer.byteLength(text);
    queue = queue
      .then(() => handle(message as Record<string, unknown>, bytes))
      .catch((error: unknown) => {
        log.error({ err: error }, 'y-webrtc message handler failed (a bug); closing with 1011');
        ws.close(CloseCode.InternalError, 'internal error');
      });
  });
  ws.on('error', (error: Error & { code?: string }) => log.info({ code: error.code, err: error.message }, 'socket error'));
  ws.on('close', (code: number) => {
    closed = true;
    for (const name of topics) ctx.hub.unsubscribe(name, subscriber);
    log.info({ code, topics: topics.size }, 'connection closed');
    topics.clear();
  });
  log.info({ ip: clientAddress(request), protocol: 'ywebrtc' }, 'connection open');
}
