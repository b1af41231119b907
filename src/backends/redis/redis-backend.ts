import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { BackendUnavailableError } from '../../cluster/backend.ts';
import type { RedisConnectionConfig } from './connection.ts';
import { connectionOptions, createConnection } from './connection.ts';
import { RedisStore } from './redis-store.ts';
import { indexFailureLogger } from './best-effort-writes.ts';

const ALL_CHANNELS = (): boolean => true;

/**
 * One Redis as presence store and bus. Two connections, because a subscribed connection can
 * run nothing but (un)subscribe commands. All logic stays in the cluster core; RedisStore
 * maps Backend calls onto scripts and commands, this class adds the connections and the bus.
 */
export class RedisBackend extends RedisStore {
  private readonly commands: Redis;
  private readonly subscriber: Redis;
  private everReady = false;

  constructor(config: RedisConnectionConfig & { prefix: string }, nodeId: string, log: Logger) {
    const commands = createConnection(config, `signaling:${nodeId}:cmd`);
    super(commands, config.prefix, false, indexFailureLogger(log));
    this.commands = commands;
    // Subscriptions are the core's (SubscriptionSet), not ioredis's: its automatic
    // re-subscribe replays its own list, which would keep a channel whose UNSUBSCRIBE failed
    // during a blip. After a reconnect the core subscribes what it holds.
    this.subscriber = new Redis(config.url, { ...connectionOptions(config, `signaling:${nodeId}:sub`), autoResubscribe: false });
    let subscriberEverReady = false;
    this.subscriber.on('ready', () => {
      if (subscriberEverReady) {
        log.warn('redis subscriber connection is back: re-subscribing and handing over what was held meanwhile');
        this.busResetHandler(() => true);
      }
      subscriberEverReady = true;
    });
    for (const [role, client] of [
      ['commands', this.commands],
      ['subscriber', this.subscriber],
    ] as const) {
      client.on('error', (error: Error) => log.warn({ role, err: error.message }, 'redis connection error; reconnecting'));
      client.on('end', () => log.info({ role }, 'redis connection closed'));
    }
    this.commands.on('ready', () => {
      log.info('redis ready');
      if (this.everReady) this.reconnectHandler();
      this.everReady = true;
    });
    this.subscriber.on('message', (channel: string, payload: string) => this.handler(channel, payload));
  }

  /** Connects both clients; rejects with a message that says what to check. */
  async connect(): Promise<void> {
    try {
      await Promise.all([this.commands.connect(), this.subscriber.connect()]);
    } catch (error) {
      throw new BackendUnavailableError(
        `cannot connect to Redis (${error instanceof Error ? error.message : String(error)}); check REDIS_URL and that Redis is running`,
        { cause: error },
      );
    }
  }

  publish(channel: string, payload: string): Promise<number> {
    return this.commands.publish(channel, payload);
  }

  async subscribe(channels: readonly string[]): Promise<void> {
    await this.subscriber.subscribe(...channels);
  }

  async unsubscribe(channels: readonly string[]): Promise<void> {
    await this.subscriber.unsubscribe(...channels);
  }

  busGaps(): ((channel: string) => boolean) | null {
    return this.subscriber.status === 'ready' ? null : ALL_CHANNELS;
  }

  isReady(): boolean {
    return this.commands.status === 'ready' && this.subscriber.status === 'ready';
  }

  async close(): Promise<void> {
    this.indexes.stop();
    await Promise.allSettled([this.commands.quit(), this.subscriber.quit()]);
    this.commands.disconnect();
    this.subscriber.disconnect();
  }
}
