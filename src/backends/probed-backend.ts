import type { Backend, BusHandler, BusResetHandler } from '../cluster/backend.ts';
import { BusProbe, failed } from './bus-probe.ts';
import type { Probe, ProbeResult } from './probe.ts';

export type ProbedBackend = Backend &
  Probe & {
    /** Times the backend came back after losing its store (Redis); 0 for the embedded one. */
    readonly reconnects: number;
  };

/** A probe message that has not come back this long after its publish means the bus is deaf. */
const PROBE_TIMEOUT_MS = 2000;

/**
 * Adds a readiness probe to any backend without touching the backend or the core: the core's
 * single bus handler and reconnect handler are wrapped so probe echoes on this dyno's own
 * channel are taken out before the core sees them, and reconnects are counted. Everything
 * else goes straight to the backend (a Proxy, so methods the Backend interface gains later
 * need no change here). Wrap before the SignalingNode registers its handlers.
 */
export function withBusProbe(backend: Backend, channel: string, timeoutMs = PROBE_TIMEOUT_MS): ProbedBackend {
  const bus = new BusProbe(channel, timeoutMs, (c, p) => backend.publish(c, p));
  let coreHandler: BusHandler = () => undefined;
  let coreReconnect: () => void = () => undefined;
  let coreBusReset: BusResetHandler = () => undefined;
  let reconnects = 0;
  backend.onMessage((c, p) => {
    if (!bus.intercept(c, p)) coreHandler(c, p);
  });
  backend.onReconnect(() => {
    reconnects++;
    coreReconnect();
  });

  // Subscribed once, and again after the bus lost it (backends do not re-subscribe by
  // themselves). If that fails, the probe must report it, not quietly paper over it.
  let subscribed = false;
  const subscribe = async (): Promise<void> => {
    await backend.subscribe([channel]);
    subscribed = true;
  };
  if (backend.isReady()) subscribe().catch(() => undefined);
  backend.onBusReset((affected) => {
    if (affected(channel)) {
      subscribed = false;
      subscribe().catch(() => undefined);
    }
    coreBusReset(affected);
  });

  async function probe(): Promise<ProbeResult> {
    if (!backend.isReady()) return failed(`the ${backend.kind} backend is not connected`);
    if (!subscribed) {
      try {
        await subscribe();
      } catch (error) {
        return failed(`cannot subscribe to this dyno's channel: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return bus.run();
  }

  const own: Record<PropertyKey, unknown> = {
    onMessage: (handler: BusHandler) => {
      coreHandler = handler;
    },
    onReconnect: (handler: () => void) => {
      coreReconnect = handler;
    },
    onBusReset: (handler: BusResetHandler) => {
      coreBusReset = handler;
    },
    probe,
  };
  // Bound once per method: publish() is on every signal's path and must not allocate here.
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(backend, {
    get(target, property) {
      if (property === 'reconnects') return reconnects;
      if (Object.hasOwn(own, property)) return own[property];
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      let method = bound.get(property);
      if (!method) bound.set(property, (method = value.bind(target)));
      return method;
    },
  }) as ProbedBackend;
}
