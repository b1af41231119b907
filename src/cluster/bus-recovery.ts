import type { Logger } from 'pino';
import { encodeSignal } from './bus-codec.ts';
import type { BusHost, RecoveringSession } from './host.ts';

const SUBSCRIBE_CHUNK = 500;
/**
 * How long live frames wait after the re-subscription before the hold lists are taken. A
 * signal published just before the re-subscription (reaching nobody) is held by a script its
 * sender's dyno issues one round trip later, possibly after a newer signal that already went
 * live; taking the lists after that script keeps the two in order. A busy sender's dyno
 * (reconnecting its own subscriber at the same moment) took over 50 ms for that here.
 */
const SETTLE_MS = 250;
const RETRY_MS = [100, 250, 500, 1000, 2000];
/** Catch-up rounds before the held signals are left to expire with the hold TTL. */
const MAX_CATCH_UP_ROUNDS = RETRY_MS.length * 4;
/** One recovery: the lost channels (a union while it is still re-subscribing) and their members. */
interface RecoveryRun {
  collecting: boolean;
  affected: Array<(channel: string) => boolean>;
  sessions: RecoveringSession[];
  caughtUp: Set<string>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/**
 * What the core does when the backend's bus lost subscriptions and is connected again
 * (Redis dropped the subscriber connection: CLIENT KILL, a slow subscriber cut at its
 * output-buffer limit, a failover, a blip). For the members whose channels were lost:
 *
 * 1. their sessions buffer live frames and events from now on;
 * 2. every lost channel this dyno holds is subscribed again (the subscriptions are ours,
 *    never the client library's replay, so a channel released meanwhile stays released);
 * 3. each member is caught up: the signals held for it while nobody subscribed (their
 *    senders' dynos found no receiver and held them, as for a reconnecting member) and the
 *    room changes it missed are handed over, then what was buffered. So every signal sent
 *    during the gap is delivered, in order per sender, or its sender got an error;
 * 4. signals already counted as delivered by Redis but still in the dropped connection are
 *    gone and cannot be told apart: both ends are told with a `signals-lost` frame naming
 *    the other, so the client library restarts that peer connection (docs/protocol.md).
 */
export class BusRecovery {
  private readonly node: BusHost;
  private readonly log: Logger;
  private readonly queued: Array<(channel: string) => boolean> = [];
  private current: RecoveryRun | null = null;
  private running: Promise<void> | null = null;

  constructor(node: BusHost, log: Logger) {
    this.node = node;
    this.log = log;
  }

  /**
   * A sender's dyno held a frame for this connected member and asks for it to be handed
   * over (HOLD script): live frames wait until it is, so they stay behind it.
   */
  drain(session: RecoveringSession): void {
    session.bufferLive();
    session.catchUp(false).catch(() => {
      // The backend is away: a bus reset follows, and its catch-up hands the list over.
    });
  }

  /**
   * Channels lost and not yet caught up (their recovery still re-subscribing them, or waiting
   * to run), or null when no recovery is under way.
   */
  recovering(): ((channel: string) => boolean) | null {
    const affected = [...(this.current?.affected ?? []), ...this.queued];
    return affected.length === 0 ? null : (channel) => affected.some((lost) => lost(channel));
  }

  /**
   * Runs one recovery at a time. While a ioredis client cycles through a failover it reports
   * a lost shard again on every attempt; a request that comes while the running recovery is
   * still re-subscribing joins it (its channels are subscribed by the same loop and its
   * members caught up once), so the members hear one `signals-lost`, not one per attempt.
   * A request after that step (a new drop) gets a recovery of its own, run next.
   */
  reset(affected: (channel: string) => boolean): Promise<void> {
    if (this.current?.collecting) {
      this.include(this.current, affected);
    } else {
      this.queued.push(affected);
    }
    this.running ??= this.runQueued().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async runQueued(): Promise<void> {
    while (this.queued.length > 0) {
      const run: RecoveryRun = { collecting: true, affected: [], sessions: [], caughtUp: new Set() };
      for (const affected of this.queued.splice(0)) this.include(run, affected);
      this.current = run;
      try {
        await this.recover(run);
      } finally {
        this.current = null;
      }
    }
  }

  /** Adds the members of the lost channels to the run; their sessions buffer live frames. */
  private include(run: RecoveryRun, affected: (channel: string) => boolean): void {
    run.affected.push(affected);
    for (const [channel, session] of this.node.memberSessions()) {
      if (!affected(channel) || run.caughtUp.has(channel)) continue;
      session.bufferLive();
      run.sessions.push(session);
      run.caughtUp.add(channel);
    }
  }

  private async recover(run: RecoveryRun): Promise<void> {
    const started = Date.now();
    const { sessions, caughtUp } = run;
    const lost = (channel: string): boolean => run.affected.some((affected) => affected(channel));
    let channels: string[] = [];
    const attempted = new Set<string>();
    for (let attempt = 0; ; attempt++) {
      const requests = run.affected.length;
      channels = this.node.subscriptions.channels().filter(lost);
      for (const channel of channels) attempted.add(channel);
      const subscribed = await this.subscribe(channels);
      // A request that joined during that SUBSCRIBE may name channels it did not cover.
      if (subscribed && requests === run.affected.length) break;
      if (!subscribed) await sleep(RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)] as number);
    }
    run.collecting = false;
    // Members that left while this ran unsubscribed, but a copy of their subscription may
    // have come back meanwhile (the client library replays its own list when it replaces a
    // connection): their channels are unsubscribed once more, so that afterwards this dyno
    // subscribes exactly what its members need.
    await this.node.subscriptions.dropReleased([...attempted]);
    // Holds issued by senders' dynos just before the re-subscription still arrive now and go
    // to the list (see HOLD): a moment of buffering lets the list be taken after them.
    await sleep(SETTLE_MS);
    let notices = 0;
    let failed: RecoveringSession[] = sessions;
    for (let attempt = 0; failed.length > 0; attempt++) {
      if (attempt > 0) await sleep(RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)] as number);
      const batch = failed;
      failed = [];
      await Promise.all(
        batch.map(async (session) => {
          try {
            const peers = await session.catchUp(true);
            notices += peers.length;
            this.notifyPeers(session, peers, caughtUp);
          } catch {
            // The backend is away: buffer again and retry; what is held stays held meanwhile.
            session.bufferLive();
            failed.push(session);
          }
        }),
      );
      if (attempt === MAX_CATCH_UP_ROUNDS) {
        this.log.error({ members: failed.length }, 'could not hand over held signals after a bus reset; they expire with the hold TTL');
        for (const session of failed) void session.catchUp(true).catch(() => undefined);
        break;
      }
    }
    this.log.info(
      { channels: channels.length, members: sessions.length, notices, ms: Date.now() - started },
      'bus subscriptions restored; held signals handed over',
    );
  }

  /**
   * True once every channel is subscribed again (SUBSCRIBE of a subscribed channel is a no-op).
   * Each chunk keeps only the channels a session still holds when it is sent: a member that
   * left while earlier chunks ran has unsubscribed, and subscribing it again would leave a
   * channel nobody here handles (its signals counted as delivered, then dropped). A release
   * after the filter sends its UNSUBSCRIBE after this SUBSCRIBE, on the same connection.
   */
  private async subscribe(channels: readonly string[]): Promise<boolean> {
    try {
      for (let i = 0; i < channels.length; i += SUBSCRIBE_CHUNK) {
        const held = channels.slice(i, i + SUBSCRIBE_CHUNK).filter((channel) => this.node.subscriptions.holds(channel));
        if (held.length > 0) await this.node.backend.subscribe(held);
      }
      return true;
    } catch (error) {
      this.log.warn({ err: error instanceof Error ? error.message : String(error) }, 're-subscribing after a bus reset failed; retrying');
      return false;
    }
  }

  /** The other end of each possibly lost signal hears it too, on its own member channel. */
  private notifyPeers(session: RecoveringSession, peers: readonly string[], caughtUp: ReadonlySet<string>): void {
    const frame = session.lostFrame();
    if (frame === undefined) return;
    for (const peer of peers) {
      const channel = session.peerChannel(peer);
      // A peer caught up in this same reset gets its own notice, naming every peer.
      // A peer that is reconnecting (nobody subscribes) reconciles its links when it resumes.
      if (channel && !caughtUp.has(channel)) this.node.backend.publish(channel, encodeSignal(frame)).catch(() => undefined);
    }
  }
}
