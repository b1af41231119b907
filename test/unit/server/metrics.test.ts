import { describe, expect, it } from 'vitest';
import { SignalingMetrics } from '../../../src/metrics/metrics.ts';

const sources = { nodeId: 'test', openConnections: () => 0, localRooms: () => 0, localMembers: () => 0 };

describe('SignalingMetrics.forProtocol', () => {
  // Called for every upgrade: a new object each time made every connection a context of its
  // own in the adapters' per-dyno cache (keyed by it), which grew with each connection made.
  it('gives one object per protocol, the same on every call', async () => {
    const metrics = new SignalingMetrics(sources);
    expect(metrics.forProtocol('v1')).toBe(metrics.forProtocol('v1'));
    expect(metrics.forProtocol('article')).not.toBe(metrics.forProtocol('v1'));
    metrics.forProtocol('v1').join('joined');
    metrics.forProtocol('v1').join('joined');
    expect(await metrics.registry.getSingleMetricAsString('signaling_joins_total')).toContain(
      'signaling_joins_total{protocol="v1",outcome="joined",node="test"} 2',
    );
  });
});
