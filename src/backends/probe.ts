/**
 * Readiness as the backend sees it. "Connected" is not enough: a dyno whose subscriber has
 * silently lost its subscriptions still answers commands but never hears a signal, so the
 * probe sends a real message through the bus and waits for it to come back.
 */
export interface ProbeResult {
  ok: boolean;
  /** Publish-to-receive time of the probe message; 0 when it never came back. */
  latencyMs: number;
  /** Why the dyno is not ready; absent when ok. */
  reason?: string;
}

export interface Probe {
  probe(): Promise<ProbeResult>;
}
