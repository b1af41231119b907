import type { Logger } from 'pino';
import type { ProbeResult } from '../backends/probe.ts';
import type { ProbedBackend } from '../backends/probed-backend.ts';
import type { SignalingNode } from '../cluster/signaling-node.ts';
import { SignalingMetrics } from './metrics.ts';
import { startProbeSampler } from './probe-sampler.ts';

export interface Observability {
  metrics: SignalingMetrics;
  /** Runs the readiness probe now and records it (GET /readyz). */
  readiness: () => Promise<ProbeResult>;
  stop: () => void;
}

/**
 * Wires metrics and the periodic readiness probe to one server, so server.ts only passes
 * them along. `openConnections` is read at scrape time (the gateway exists after the app).
 */
export function createObservability(
  backend: ProbedBackend,
  node: SignalingNode,
  logger: Logger,
  openConnections: () => number,
): Observability {
  const metrics = new SignalingMetrics({
    nodeId: node.nodeId,
    openConnections,
    localRooms: () => node.localRooms,
    localMembers: () => node.localMembers,
    ...(backend.kind === 'redis' ? { redisReconnects: () => backend.reconnects } : {}),
  });
  const sampler = startProbeSampler(
    () => backend.probe(),
    (result) => metrics.probe(result),
    logger,
  );
  return { metrics, readiness: sampler.check, stop: sampler.stop };
}
