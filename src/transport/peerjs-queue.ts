import type { Logger } from 'pino';
import type { ChannelListener, SignalingNode } from '../cluster/signaling-node.ts';
import { RoomKeys } from '../cluster/keys.ts';
import { expireFrame } from '../protocol/peerjs-messages.ts';
import { encodeBus, encodeSignal, Tag } from '../cluster/bus-codec.ts';

/** The PeerJS room of an id: one room per id, the id its only member (docs/protocol.md, PeerJS). */
export function peerRoom(key: string, id: string): string {
  return `${key}/${id}`;
}

export function peerKeys(node: SignalingNode, key: string, id: string): RoomKeys {
  return new RoomKeys(node.prefix, 'peerjs', peerRoom(key, id));
}

/** Retries of a waiting pair besides the wake-up: covers a backend that was away. */
const RETRY_MS = 1000;
/**
 * Ids one connection may have messages waiting for at once: each costs a subscription and two
 * timers until it registers or expires. Past it a new id is answered EXPIRE at once.
 */
export const MAX_WAITING_IDS = 64;

/** The messages one sender (a connection) has waiting for one id that is not connected. */
interface Pair {
  /** pairKey(connection, dst). */
  readonly id: string;
  readonly connection: string;
  readonly sender: string;
  readonly senderKeys: RoomKeys;
  readonly dst: string;
  readonly dstKeys: RoomKeys;
  readonly frames: string[];
  readonly expires: NodeJS.Timeout;
  readonly retry: NodeJS.Timeout;
  readonly wake: ChannelListener;
  flushing: boolean;
  done: boolean;
  /**
   * A frame was held for the id by a check that may have run while the id's dyno was still
   * registering it (when a drain request is not heard): ask for the drain again before
   * anything else goes to the id.
   */
  needsDrain: boolean;
}

export interface PeerJsQueueOptions {
  node: SignalingNode;
  key: string;
  /** PEERJS_EXPIRE_TIMEOUT_MS. */
  expireMs: number;
  /** Frames one pair may have waiting (MAX_HELD_SIGNALS). */
  maxPerPair: number;
  log: Logger;
}

/**
 * Messages for a PeerJS id that is not connected anywhere in the cluster: kept on the
 * sender's dyno and delivered, in order, as soon as the id registers on any dyno (its room's
 * events channel announces the registration; the dyno listens to it while something waits),
 * else the sender gets one EXPIRE per pair after PEERJS_EXPIRE_TIMEOUT_MS, as the reference
 * server does. A message for an id that is connected never comes here.
 */
export class PeerJsQueue {
  private readonly pairs = new Map<string, Pair>();
  /** Waiting pairs per connection (MAX_WAITING_IDS). */
  private readonly perConnection = new Map<string, number>();
  private readonly options: PeerJsQueueOptions;

  constructor(options: PeerJsQueueOptions) {
    this.options = options;
  }

  get size(): number {
    return this.pairs.size;
  }

  /** True when `sender` has messages waiting for `dst`: later ones must queue behind them. */
  waiting(connection: string, dst: string): boolean {
    return this.pairs.has(pairKey(connection, dst));
  }

  /**
   * Queues `frame` (already stamped) from `sender` to `dst`. `pair-full`: that pair has
   * MAX_HELD_SIGNALS waiting; `too-many-ids`: the connection waits for MAX_WAITING_IDS ids.
   */
  add(connection: string, sender: string, dst: string, frame: string): 'queued' | 'pair-full' | 'too-many-ids' {
    const id = pairKey(connection, dst);
    const existing = this.pairs.get(id);
    if (existing) {
      if (existing.frames.length >= this.options.maxPerPair) return 'pair-full';
      existing.frames.push(frame);
      return 'queued';
    }
    const waiting = this.perConnection.get(connection) ?? 0;
    if (waiting >= MAX_WAITING_IDS) return 'too-many-ids';
    this.perConnection.set(connection, waiting + 1);
    const { node, key, expireMs } = this.options;
    const pair: Pair = {
      id,
      connection,
      sender,
      senderKeys: peerKeys(node, key, sender),
      dst,
      dstKeys: peerKeys(node, key, dst),
      frames: [frame],
      expires: setTimeout(() => this.expire(pair), expireMs),
      retry: setInterval(() => void this.flush(pair, false), RETRY_MS),
      wake: () => void this.flush(pair, true),
      flushing: false,
      done: false,
      needsDrain: false,
    };
    pair.expires.unref();
    pair.retry.unref();
    this.pairs.set(id, pair);
    // The id's registration is published on its room's events channel: listen, then try once
    // more, so a registration between the failed send and the subscription is not missed.
    node.listen(pair.dstKeys.events, pair.wake).then(
      () => this.flush(pair, false),
      (error: unknown) => this.options.log.debug({ err: error, dst }, 'PeerJS queue: cannot listen for the id yet; retrying every second'),
    );
    return 'queued';
  }

  /** Stops every timer (the dyno is exiting). */
  stop(): void {
    for (const pair of [...this.pairs.values()]) this.end(pair);
  }

  /**
   * Sends what waits, in order. `wake`: the id's registration was just announced, so it is
   * subscribed and a plain send (one PUBLISH) is safe. Otherwise (the first check, the
   * retries) each frame goes through the hold script, which never publishes to an id that
   * is not registered: a PUBLISH reaching a dyno still registering the id would be dropped
   * there as meant for a previous holder of the name.
   */
  private async flush(pair: Pair, wake: boolean): Promise<void> {
    if (pair.flushing || pair.done) return;
    pair.flushing = true;
    const { node } = this.options;
    try {
      if (pair.needsDrain && (wake || pair.frames.length === 0)) {
        await node.backend.publish(pair.dstKeys.memberChannel(pair.dst), encodeBus({ tag: Tag.DrainRequest }));
        pair.needsDrain = false;
      }
      while (pair.frames.length > 0 && !pair.done) {
        const frame = pair.frames[0] as string;
        const outcome = wake ? await node.sendTo(pair.dstKeys, pair.dst, frame) : await this.hold(pair, frame);
        // 'full': the id is reconnecting with a full backlog; try again later.
        if (outcome === 'not-found' || outcome === 'full') return;
        if (outcome === 'held') pair.needsDrain = true;
        pair.frames.shift();
      }
    } catch (error) {
      this.options.log.debug({ err: error, dst: pair.dst }, 'PeerJS queue: backend unavailable; retrying');
      return;
    } finally {
      pair.flushing = false;
    }
    if (pair.frames.length === 0 && !pair.needsDrain) this.end(pair);
  }

  private hold(pair: Pair, frame: string): Promise<'delivered' | 'held' | 'not-found' | 'full'> {
    const { node } = this.options;
    return node.backend.hold({
      membersKey: pair.dstKeys.members,
      holdKey: pair.dstKeys.holdKey(pair.dst),
      name: pair.dst,
      channel: pair.dstKeys.memberChannel(pair.dst),
      payload: encodeSignal(frame),
      maxHeld: node.maxHeld,
      maxHeldBytes: node.maxHeldBytes,
      ttlMs: node.graceMs + node.leaseMs,
    });
  }

  private expire(pair: Pair): void {
    if (pair.done) return;
    // A frame held but not yet drained was accepted for the id: not expired.
    const undelivered = pair.frames.length;
    this.end(pair);
    if (undelivered === 0) return;
    // Through the sender's own member channel: it reaches the sender wherever it is connected now.
    this.options.node.sendTo(pair.senderKeys, pair.sender, expireFrame(pair.dst, pair.sender)).catch((error: unknown) => {
      this.options.log.warn({ err: error, dst: pair.dst, sender: pair.sender }, 'could not send EXPIRE (backend unavailable)');
    });
  }

  private end(pair: Pair): void {
    if (pair.done) return;
    pair.done = true;
    clearTimeout(pair.expires);
    clearInterval(pair.retry);
    if (this.pairs.get(pair.id) === pair) this.pairs.delete(pair.id);
    const waiting = (this.perConnection.get(pair.connection) ?? 1) - 1;
    if (waiting > 0) this.perConnection.set(pair.connection, waiting);
    else this.perConnection.delete(pair.connection);
    this.options.node.unlisten(pair.dstKeys.events, pair.wake);
  }
}

function pairKey(connection: string, dst: string): string {
  return `${connection}\n${dst}`;
}
