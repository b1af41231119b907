import type { UpgradeRefusal } from '../transport/admission.ts';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ProbeResult } from '../backends/probe.ts';
import type { JoinResult, SignalResult } from '../cluster/session.ts';

/** Follows the core's result types, so a new outcome there is counted without edits here. */
export type JoinOutcome = 'joined' | 'unauthorized' | 'throttled' | Extract<JoinResult, { ok: false }>['code'];
/** `overloaded`: refused by the transport's MAX_INFLIGHT_BYTES bound before reaching the core. */
export type SignalOutcome = SignalResult | 'overloaded';

// Listed so every series exists from the start (at 0); dashboards need no special case.
const JOIN_OUTCOMES: readonly JoinOutcome[] = [
  'joined',
  'already-joined',
  'name-taken',
  'room-full',
  'unavailable',
  'unauthorized',
  'throttled',
];
const UPGRADE_REFUSALS: readonly UpgradeRefusal[] = ['max-connections', 'per-ip-connections', 'per-ip-rate'];
const SIGNAL_OUTCOMES: readonly SignalOutcome[] = ['sent', 'not-joined', 'peer-not-found', 'peer-backlogged', 'unavailable', 'overloaded'];
/** The `protocol` label: which endpoint a join, signal or bad frame came through. */
export type Protocol = 'v1' | 'article' | 'peerjs' | 'ywebrtc';
const PROTOCOLS: readonly Protocol[] = ['v1', 'article', 'peerjs', 'ywebrtc'];

/** What a protocol adapter reports. Two label lookups per call: cheap on the signal path. */
export interface ConnectionMetrics {
  join(outcome: JoinOutcome): void;
  signal(outcome: SignalOutcome): void;
  /** A frame dropped as unreadable (malformed JSON, unknown shape) without an answer. */
  badFrame?(): void;
}

export const NO_METRICS: ConnectionMetrics = { join: () => undefined, signal: () => undefined };

/** Live values read at scrape time instead of being tracked on every event. */
export interface MetricSources {
  nodeId: string;
  openConnections(): number;
  localRooms(): number;
  localMembers(): number;
  /** Redis reconnect attempts so far; absent for the embedded backend. */
  redisReconnects?: () => number;
}

/**
 * Everything GET /metrics shows, in a registry of its own (not prom-client's global one),
 * so several servers in one process (tests) never clash over metric names.
 */
export class SignalingMetrics implements ConnectionMetrics {
  readonly registry = new Registry();
  private readonly joins: Counter<'outcome' | 'protocol'>;
  private readonly signals: Counter<'outcome' | 'protocol'>;
  private readonly badFrames: Counter<'protocol'>;
  /** The signal counter's children, bound once per protocol and outcome. */
  private readonly signalChildren: Map<Protocol, Map<SignalOutcome, { inc(value?: number): void }>>;
  private readonly byProtocol = new Map<Protocol, ConnectionMetrics>();
  private readonly busDelivery: Histogram;
  private readonly probes: Counter<'result'>;
  private readonly refusedUpgrades: Counter<'reason'>;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    // One label that tells dynos apart: on Heroku a scrape reaches whichever dyno the router picks.
    this.registry.setDefaultLabels({ node: sources.nodeId });
    // Includes nodejs_eventloop_lag_seconds (and p50/p90/p99), heap and GC figures.
    collectDefaultMetrics({ register: this.registry });

    new Gauge({
      name: 'signaling_open_connections',
      help: 'WebSocket connections open on this dyno (all protocols)',
      registers,
      collect() {
        this.set(sources.openConnections());
      },
    });
    new Gauge({
      name: 'signaling_local_rooms',
      help: 'Rooms with at least one member connected to this dyno',
      registers,
      collect() {
        this.set(sources.localRooms());
      },
    });
    new Gauge({
      name: 'signaling_local_members',
      help: 'Room members connected to this dyno',
      registers,
      collect() {
        this.set(sources.localMembers());
      },
    });
    const reconnects = sources.redisReconnects;
    if (reconnects) {
      new Counter({
        name: 'signaling_redis_reconnects_total',
        help: 'Times a Redis connection of this dyno started reconnecting',
        registers,
        collect() {
          // The backend owns the count; mirror it so the counter never drifts from it.
          this.reset();
          this.inc(reconnects());
        },
      });
    }
    this.joins = new Counter({
      name: 'signaling_joins_total',
      help: 'Join requests (PeerJS: registrations) by protocol and outcome',
      labelNames: ['protocol', 'outcome'],
      registers,
    });
    this.signals = new Counter({
      name: 'signaling_signals_total',
      help: 'Signals (y-webrtc: publishes) sent by protocol and outcome',
      labelNames: ['protocol', 'outcome'],
      registers,
    });
    this.badFrames = new Counter({
      name: 'signaling_bad_frames_total',
      help: 'Frames dropped unanswered as unreadable, by protocol (PeerJS answers malformed JSON with silence, as its reference server does)',
      labelNames: ['protocol'],
      registers,
    });
    for (const protocol of PROTOCOLS) {
      for (const outcome of JOIN_OUTCOMES) this.joins.inc({ protocol, outcome }, 0);
      for (const outcome of SIGNAL_OUTCOMES) this.signals.inc({ protocol, outcome }, 0);
      this.badFrames.inc({ protocol }, 0);
    }
    // Bound once: inc({ protocol, outcome }) hashes the labels on every call, and this one runs per signal.
    this.signalChildren = new Map(
      PROTOCOLS.map((protocol) => [
        protocol,
        new Map(SIGNAL_OUTCOMES.map((outcome) => [outcome, this.signals.labels({ protocol, outcome })])),
      ]),
    );
    this.busDelivery = new Histogram({
      name: 'signaling_bus_delivery_seconds',
      help:
        'Publish-to-receive time of a message through the backend bus, the path every cross-dyno signal takes. ' +
        'Sampled by the readiness probe (every /readyz and every 10 s), not per signal.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2],
      registers,
    });
    this.probes = new Counter({
      name: 'signaling_readiness_probes_total',
      help: 'Readiness probes by result',
      labelNames: ['result'],
      registers,
    });
    this.probes.inc({ result: 'ok' }, 0);
    this.probes.inc({ result: 'failed' }, 0);
    this.refusedUpgrades = new Counter({
      name: 'signaling_upgrades_refused_total',
      help: 'WebSocket upgrades refused with 503 by admission control, by limit',
      labelNames: ['reason'],
      registers,
    });
    for (const reason of UPGRADE_REFUSALS) this.refusedUpgrades.inc({ reason }, 0);
  }

  /** One upgrade refused by admission control (MAX_CONNECTIONS, per-address limits). */
  upgradeRefused(reason: UpgradeRefusal): void {
    this.refusedUpgrades.inc({ reason });
  }

  join(outcome: JoinOutcome): void {
    this.joins.inc({ protocol: 'v1', outcome });
  }

  signal(outcome: SignalOutcome): void {
    this.countSignal('v1', outcome);
  }

  private countSignal(protocol: Protocol, outcome: SignalOutcome): void {
    const child = this.signalChildren.get(protocol)?.get(outcome);
    if (child) child.inc();
    else this.signals.inc({ protocol, outcome });
  }

  /**
   * What one protocol's adapter reports, labelled with it: one object per protocol, the same
   * on every call (adapters share a context per dyno keyed by it, so a new one per
   * connection would make a context per connection).
   */
  forProtocol(protocol: Protocol): ConnectionMetrics {
    let metrics = this.byProtocol.get(protocol);
    if (!metrics) {
      metrics = {
        join: (outcome) => this.joins.inc({ protocol, outcome }),
        signal: (outcome) => this.countSignal(protocol, outcome),
        badFrame: () => this.badFrames.inc({ protocol }),
      };
      this.byProtocol.set(protocol, metrics);
    }
    return metrics;
  }

  /** Records one readiness probe; only successful ones have a latency worth keeping. */
  probe(result: ProbeResult): void {
    this.probes.inc({ result: result.ok ? 'ok' : 'failed' });
    if (result.ok) this.busDelivery.observe(result.latencyMs / 1000);
  }
}
