import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { addressKey } from './address-key.ts';

/** The admission limits of one dyno (README, Configuration; docs/protocol.md, Admission). */
export interface AdmissionLimits {
  /** MAX_CONNECTIONS: open WebSockets on this dyno; more get 503 at the upgrade. */
  maxConnections: number;
  /** MAX_CONNECTIONS_PER_IP: open WebSockets per client address on this dyno; unset = no limit. */
  maxConnectionsPerIp: number | undefined;
  /** CONNECTIONS_PER_IP_PER_MIN: new WebSockets per client address per minute on this dyno; unset = no limit. */
  connectionsPerIpPerMin: number | undefined;
  /** MAX_JOINS_PER_SEC: joins (resumes included) this dyno starts per second; more get `unavailable` and 1013. */
  maxJoinsPerSec: number;
}

export type UpgradeRefusal = 'max-connections' | 'per-ip-connections' | 'per-ip-rate';

/** What the gateway does with one upgrade: go on, or answer 503 with Retry-After. */
export type UpgradeVerdict = { ok: true } | { ok: false; reason: UpgradeRefusal; retryAfterSeconds: number; message: string };

const ADMITTED: UpgradeVerdict = { ok: true };
const MS_PER_MINUTE = 60_000;
/** Retry-After of a full dyno: jittered over this range, so clients that honour it do not come back in one wave. */
const FULL_RETRY_AFTER_MIN_S = 2;
const FULL_RETRY_AFTER_MAX_S = 10;
/** Retry-After for an address at MAX_CONNECTIONS_PER_IP: one of its sockets must close first. */
const PER_IP_RETRY_AFTER_S = 10;
/** Refusals are logged as one summary line per this many ms, never line by line. */
const REPORT_EVERY_MS = 1000;
/** Where a tracked socket's address key is kept, so its close can release it without a closure per socket. */
const ADDRESS = Symbol('admission-address');
type TrackedSocket = WebSocket & { [ADDRESS]?: string };

/** A per-address token bucket for CONNECTIONS_PER_IP_PER_MIN: tokens left and when they were counted. */
interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Admission control at the edge of one dyno. Upgrades are refused before the WebSocket
 * exists (a 503 costs no socket, no session, no Redis command), so a flood or a reconnect
 * storm is turned away at the price of an HTTP answer. Joins are capped per second because
 * each starts Redis work (a script, subscriptions): above the cap, a storm after a deploy
 * would pile up in ioredis and the event loop instead of being spread by the clients'
 * jittered backoff.
 *
 * Everything is counted per dyno, in memory: per-address limits are not cluster-wide (a
 * client spread over N dynos by the router gets up to N times the limit), which keeps the
 * upgrade path free of Redis round trips. Per-address state is bounded: open counts exist
 * only while connections are open, and rate buckets are swept once they are full again.
 */
export class Admission {
  private readonly limits: AdmissionLimits;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly openByAddress = new Map<string, number>();
  private readonly buckets = new Map<string, Bucket>();
  private joinTokens: number;
  private joinsAt: number;
  private joinsInFlight = 0;
  private readonly refused: Record<UpgradeRefusal | 'joins', number> = {
    'max-connections': 0,
    'per-ip-connections': 0,
    'per-ip-rate': 0,
    joins: 0,
  };
  private reportTimer: NodeJS.Timeout | undefined;
  private readonly sweepTimer: NodeJS.Timeout | undefined;
  /** Shared by every tracked socket: `this` is the socket (no closure per connection). */
  private readonly release: (this: TrackedSocket) => void;

  constructor(limits: AdmissionLimits, log: Logger, now: () => number = () => performance.now()) {
    this.limits = limits;
    this.log = log;
    this.now = now;
    this.joinTokens = limits.maxJoinsPerSec;
    this.joinsAt = now();
    const open = this.openByAddress;
    this.release = function release(this: TrackedSocket): void {
      const key = this[ADDRESS];
      if (key === undefined) return;
      const n = (open.get(key) ?? 1) - 1;
      if (n <= 0) open.delete(key);
      else open.set(key, n);
    };
    if (limits.connectionsPerIpPerMin !== undefined) {
      this.sweepTimer = setInterval(() => this.sweep(), MS_PER_MINUTE);
      this.sweepTimer.unref();
    }
  }

  /** Whether per-address state is kept at all (both per-address limits are opt-in). */
  get perAddress(): boolean {
    return this.limits.maxConnectionsPerIp !== undefined || this.limits.connectionsPerIpPerMin !== undefined;
  }

  /**
   * Decides on an upgrade, given the dyno's open sockets and the client's address as the
   * router reports it. An admitted upgrade from a known address is counted: pass the socket
   * to `track` once it is open so its close uncounts it.
   */
  admitUpgrade(openConnections: number, address: string | undefined): UpgradeVerdict {
    const { maxConnections, maxConnectionsPerIp, connectionsPerIpPerMin } = this.limits;
    if (openConnections >= maxConnections) {
      // Jittered, so clients that honour it do not come back in one wave.
      return this.refuse(
        'max-connections',
        FULL_RETRY_AFTER_MIN_S + Math.floor(Math.random() * (FULL_RETRY_AFTER_MAX_S - FULL_RETRY_AFTER_MIN_S + 1)),
        `this dyno holds MAX_CONNECTIONS=${maxConnections} connections; retry later`,
      );
    }
    if (!this.perAddress || address === undefined) return ADMITTED;
    const key = addressKey(address);
    if (maxConnectionsPerIp !== undefined && (this.openByAddress.get(key) ?? 0) >= maxConnectionsPerIp) {
      return this.refuse(
        'per-ip-connections',
        PER_IP_RETRY_AFTER_S,
        `this address has MAX_CONNECTIONS_PER_IP=${maxConnectionsPerIp} connections open on this dyno; close one or retry later`,
      );
    }
    if (connectionsPerIpPerMin !== undefined) {
      const wait = this.takeConnectionToken(key, connectionsPerIpPerMin);
      if (wait > 0)
        return this.refuse(
          'per-ip-rate',
          wait,
          `this address opened more than CONNECTIONS_PER_IP_PER_MIN=${connectionsPerIpPerMin} connections in the last minute; retry in ${wait} s`,
        );
    }
    return ADMITTED;
  }

  /** Counts an admitted socket against its address until it closes. */
  track(ws: WebSocket, address: string | undefined): void {
    if (this.limits.maxConnectionsPerIp === undefined || address === undefined) return;
    const key = addressKey(address);
    (ws as TrackedSocket)[ADDRESS] = key;
    this.openByAddress.set(key, (this.openByAddress.get(key) ?? 0) + 1);
    ws.once('close', this.release);
  }

  /**
   * Takes one join from the dyno's MAX_JOINS_PER_SEC budget: a bucket of one second's worth,
   * and at most that many joins in progress at once. The second bound is what protects a
   * dyno slowed down (a busy CPU, a slow Redis): a rate alone would let joins queue up
   * behind each other until clients time out and retry, doubling the load. An admitted
   * join must be ended with `joinDone()`.
   */
  admitJoin(): boolean {
    const { maxJoinsPerSec } = this.limits;
    const t = this.now();
    this.joinTokens = Math.min(maxJoinsPerSec, this.joinTokens + ((t - this.joinsAt) / 1000) * maxJoinsPerSec);
    this.joinsAt = t;
    if (this.joinTokens >= 1 && this.joinsInFlight < maxJoinsPerSec) {
      this.joinTokens -= 1;
      this.joinsInFlight += 1;
      return true;
    }
    this.count('joins');
    return false;
  }

  joinDone(): void {
    if (this.joinsInFlight > 0) this.joinsInFlight -= 1;
  }

  stop(): void {
    clearInterval(this.sweepTimer);
    clearTimeout(this.reportTimer);
  }

  /** Addresses with state kept (for tests of the bound). */
  get trackedAddresses(): number {
    return this.openByAddress.size + this.buckets.size;
  }

  private refuse(reason: UpgradeRefusal, retryAfterSeconds: number, message: string): UpgradeVerdict {
    this.count(reason);
    return { ok: false, reason, retryAfterSeconds, message };
  }

  /** Seconds until the address may connect again (0: it may now, and a token was taken). */
  private takeConnectionToken(key: string, perMinute: number): number {
    const t = this.now();
    const perMs = perMinute / MS_PER_MINUTE;
    const bucket = this.buckets.get(key);
    if (bucket === undefined) {
      this.buckets.set(key, { tokens: perMinute - 1, at: t });
      return 0;
    }
    bucket.tokens = Math.min(perMinute, bucket.tokens + (t - bucket.at) * perMs);
    bucket.at = t;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000));
  }

  /** Forgets buckets that have filled up again: they hold nothing a new bucket would not. */
  private sweep(): void {
    const perMinute = this.limits.connectionsPerIpPerMin;
    if (perMinute === undefined) return;
    const t = this.now();
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + (t - bucket.at) * (perMinute / MS_PER_MINUTE) >= perMinute) this.buckets.delete(key);
    }
  }

  /**
   * Refusals are logged as one summary line per second, not one per refusal: a storm
   * refused line by line would spend the CPU the refusals are there to save.
   */
  private count(reason: UpgradeRefusal | 'joins'): void {
    this.refused[reason] += 1;
    if (this.reportTimer !== undefined) return;
    this.reportTimer = setTimeout(() => {
      this.reportTimer = undefined;
      const refused = { ...this.refused };
      for (const k of Object.keys(this.refused) as Array<keyof typeof this.refused>) this.refused[k] = 0;
      this.log.warn(
        { refused, limits: this.limits },
        'admission control refused connections or joins in the last second; clients retry with backoff (raise the limits if this dyno has room)',
      );
    }, REPORT_EVERY_MS);
    this.reportTimer.unref();
  }
}
