import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Backend, BusHandler, MemberEntry, RegisterOutcome, RegisterRequest } from '../../cluster/backend.ts';
import { BackendUnavailableError } from '../../cluster/backend.ts';
import type { RedisConnectionConfig } from './connection.ts';
import { createConnection, runScript } from './connection.ts';
import { COUNTER_FIELD, REGISTER, UNREGISTER } from './scripts.ts';

const script = (source: string) => ({ source, sha: createHash('sha1').update(source).digest('hex') });
const REGISTER_SCRIPT = script(REGISTER);
const UNREGISTER_SCRIPT = script(UNREGISTER);

/**
 * Redis as presence store and bus. Two connections, because a subscribed connection can
 * run nothing but (un)subscribe commands. All logic stays in the cluster core.
 */
export class RedisBackend implements Backend {
  readonly kind = 'redis';
  private readonly commands: Redis;
  private readonly subscriber: Redis;
  private handler: BusHandler = () => undefined;

  constructor(config: RedisConnectionConfig, nodeId: string, log: Logger) {
    this.commands = createConnection(config, `signaling:${nodeId}:cmd`);
    this.subscriber = createConnection(config, `signaling:${nodeId}:sub`);
    for (const [role, client] of [['commands', this.commands], ['subscriber', this.subscriber]] as const) {
      client.on('error', (error: Error) => log.warn({ role, err: error.message }, 'redis connection error; reconnecting'));
      client.on('ready', () => log.info({ role }, 'redis connection ready'));
      client.on('end', () => log.info({ role }, 'redis connection closed'));
    }
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

  async register(request: RegisterRequest): Promise<RegisterOutcome> {
    const reply = (await runScript(
      this.commands,
      REGISTER_SCRIPT,
      [request.membersKey],
      [request.name, request.owner, request.maxRoomSize, COUNTER_FIELD],
    )) as Array<number | string>;
    const seq = Number(reply[0]);
    if (seq === -1) return { ok: false, reason: 'name-taken' };
    if (seq === -2) return { ok: false, reason: 'room-full' };
    const peers: MemberEntry[] = [];
    for (let i = 1; i + 1 < reply.length; i += 2) {
      peers.push({ name: String(reply[i]), seq: Number.parseInt(String(reply[i + 1]), 10) });
    }
    peers.sort((a, b) => a.seq - b.seq);
    return { ok: true, seq, peers };
  }

  async unregister(membersKey: string, name: string, owner: string): Promise<number | null> {
    const seq = Number(await runScript(this.commands, UNREGISTER_SCRIPT, [membersKey], [name, owner]));
    return seq === -1 ? null : seq;
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

  onMessage(handler: BusHandler): void {
    this.handler = handler;
  }

  isReady(): boolean {
    return this.commands.status === 'ready' && this.subscriber.status === 'ready';
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.commands.quit(), this.subscriber.quit()]);
    this.commands.disconnect();
    this.subscriber.disconnect();
  }
}
