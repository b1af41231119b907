import type { Logger } from 'pino';
import { topicChannel } from '../cluster/keys.ts';
import type { ChannelListener, SignalingNode } from '../cluster/signaling-node.ts';

/** A local subscriber of y-webrtc topics: one WebSocket connection. */
export interface TopicSubscriber {
  /** Sends a frame as is; false when the socket is closing. */
  deliver(frame: string): boolean;
}

interface Topic {
  readonly channel: string;
  readonly subscribers: Set<TopicSubscriber>;
  readonly listener: ChannelListener;
  /** Settles when the dyno's subscription to the channel is confirmed (or failed). */
  ready: Promise<void>;
}

/**
 * The y-webrtc topics of one dyno: a topic's channel is subscribed while the dyno has a local
 * subscriber of it, and a `publish` is one PUBLISH on it, heard by every dyno subscribed
 * (the sender's included), each handing it to its own local subscribers.
 *
 * What goes over the bus is the publish frame re-serialised without its closing brace;
 * each receiving dyno appends `"clients":<its local subscriber count>}`, so the frame is
 * built once per dyno, not parsed again (docs/protocol.md, y-webrtc).
 */
export class TopicHub {
  private readonly topics = new Map<string, Topic>();
  private readonly node: SignalingNode;
  private readonly log: Logger;

  constructor(node: SignalingNode, log: Logger) {
    this.node = node;
    this.log = log;
  }

  /** Topics with at least one local subscriber (metrics, tests). */
  get size(): number {
    return this.topics.size;
  }

  /** Adds `subscriber`; resolves once the dyno hears the topic (never rejects: logs instead). */
  subscribe(name: string, subscriber: TopicSubscriber): Promise<void> {
    let topic = this.topics.get(name);
    if (!topic) {
      const channel = topicChannel(this.node.prefix, name);
      const subscribers = new Set<TopicSubscriber>();
      const listener: ChannelListener = (payload) => fanOut(subscribers, payload);
      topic = { channel, subscribers, listener, ready: Promise.resolve() };
      this.topics.set(name, topic);
      topic.ready = this.node.listen(channel, listener).catch((error: unknown) => {
        // Its subscribers hear nothing from other dynos until they subscribe again; the
        // y-webrtc client does that on its reconnect, and the bus recovery re-subscribes
        // channels it holds.
        this.log.warn({ err: error, topic: name }, 'y-webrtc: could not subscribe to a topic (backend unavailable)');
        if (this.topics.get(name) === topic) this.topics.delete(name);
      });
    }
    topic.subscribers.add(subscriber);
    return topic.ready;
  }

  unsubscribe(name: string, subscriber: TopicSubscriber): void {
    const topic = this.topics.get(name);
    if (!topic?.subscribers.delete(subscriber) || topic.subscribers.size > 0) return;
    this.topics.delete(name);
    this.node.unlisten(topic.channel, topic.listener);
  }

  /** One PUBLISH of `open` (the frame without its closing brace) on the topic's channel. */
  async publish(name: string, open: string): Promise<void> {
    await this.node.backend.publish(topicChannel(this.node.prefix, name), open);
  }
}

function fanOut(subscribers: ReadonlySet<TopicSubscriber>, open: string): void {
  if (subscribers.size === 0) return;
  const frame = `${open},"clients":${subscribers.size}}`;
  for (const subscriber of subscribers) subscriber.deliver(frame);
}
