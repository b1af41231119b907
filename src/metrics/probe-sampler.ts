import type { Logger } from 'pino';
import type { ProbeResult } from '../backends/probe.ts';

export interface ProbeSampler {
  /** Runs one probe now (GET /readyz) and records it. */
  check: () => Promise<ProbeResult>;
  stop: () => void;
}

/** How often the probe runs besides GET /readyz (the metric's help text says the same). */
const PROBE_EVERY_MS = 10_000;

/**
 * Runs the readiness probe every `intervalMs` even when nobody asks, so the delivery-latency
 * histogram has samples and a dyno that goes deaf is logged once when it happens, not only
 * when a load balancer polls. The timer is unref'd: it never keeps the process alive.
 */
export function startProbeSampler(
  probe: () => Promise<ProbeResult>,
  record: (result: ProbeResult) => void,
  log: Logger,
  intervalMs = PROBE_EVERY_MS,
): ProbeSampler {
  let lastOk = true;
  const check = async (): Promise<ProbeResult> => {
    const result = await probe();
    record(result);
    if (result.ok !== lastOk) {
      if (result.ok) log.info({ latencyMs: result.latencyMs }, 'readiness probe passes again');
      else log.warn({ reason: result.reason }, 'readiness probe failed: this dyno is not ready');
      lastOk = result.ok;
    }
    return result;
  };
  const timer = setInterval(() => void check(), intervalMs);
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}
