import type { Logger } from 'pino';
import type { Backend, IndexedMember, LeaseState } from './backend.ts';
import { Pacer } from './pacer.ts';

export interface LeasesAndSweepsOptions {
  nodeId: string;
  leaseMs: number;
  graceMs: number;
  logger: Logger;
  /**
   * The lease had run out (a stall longer than the lease: survivors may have swept our
   * members) or vanished (the store lost it) since it was last renewed: re-register.
   */
  onLeaseLost?: (state: Exclude<LeaseState, 'live'>) => void;
}

/** Members of a dead dyno swept at once: pipelined, so a big index takes a few round trips, not one each. */
const SWEEP_BATCH = 200;
/** Renewal runs at a third of the lease, so one slow round trip does not look like a crash. */
const RENEWALS_PER_LEASE = 3;
/** Sweeps run twice per lease, so a dead dyno's members wait at most half a lease past it. */
const SWEEPS_PER_LEASE = 2;
/** Neither timer runs more often than this, however short the lease (tests use short ones). */
const MIN_TIMER_MS = 50;

/**
 * Keeps this dyno's lease alive and sweeps dynos whose lease ran out: their members first
 * get a grace period (their clients may resume elsewhere), then leave with peer-left.
 */
export class LeasesAndSweeps {
  private renewTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping = false;
  private renewedOnce = false;
  private readonly backend: Backend;
  private readonly options: LeasesAndSweepsOptions;
  /** A dead dyno's members are swept a few at a time, so live signals never queue behind the sweep. */
  private readonly pacer = new Pacer();

  constructor(backend: Backend, options: LeasesAndSweepsOptions) {
    this.backend = backend;
    this.options = options;
  }

  start(): void {
    const { leaseMs, nodeId, logger, onLeaseLost } = this.options;
    const renew = (): void => {
      this.backend
        .renewLease(nodeId, leaseMs)
        .then((state) => {
          if (state !== 'live' && this.renewedOnce) {
            logger.warn(
              { state },
              state === 'lapsed'
                ? "this dyno's lease ran out (stalled?): re-registering its members"
                : "this dyno's lease was gone from the store: re-registering its members",
            );
            onLeaseLost?.(state);
          }
          this.renewedOnce = true;
        })
        .catch((error: unknown) => logger.warn({ err: String(error) }, 'lease renewal failed'));
    };
    renew();
    this.renewTimer = setInterval(renew, Math.max(MIN_TIMER_MS, Math.floor(leaseMs / RENEWALS_PER_LEASE)));
    this.sweepTimer = setInterval(() => void this.sweep(), Math.max(MIN_TIMER_MS, Math.floor(leaseMs / SWEEPS_PER_LEASE)));
    this.renewTimer.unref();
    this.sweepTimer.unref();
  }

  /** Stops the timers and gives the lease up, so survivors sweep at once. */
  async stop(): Promise<void> {
    clearInterval(this.renewTimer);
    clearInterval(this.sweepTimer);
    await this.backend.releaseLease(this.options.nodeId).catch(() => undefined);
  }

  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    const { nodeId, leaseMs, graceMs, logger } = this.options;
    try {
      const dead = await this.backend.claimDeadNodes(nodeId, leaseMs);
      for (const deadNode of dead.filter((id) => id !== nodeId)) {
        let removed = 0;
        let failed = 0;
        try {
          const members = await this.backend.deadNodeMembers(deadNode);
          for (let i = 0; i < members.length; i += SWEEP_BATCH) {
            // Each removal is announced by its own script, so nothing is published here. A
            // member whose room's master does not answer stays indexed for the next sweep;
            // the others are swept now.
            const outcomes = await Promise.allSettled(
              members
                .slice(i, i + SWEEP_BATCH)
                .map((m: IndexedMember) => this.pacer.run(() => this.backend.sweepMember(deadNode, m, graceMs))),
            );
            removed += outcomes.filter((o) => o.status === 'fulfilled' && o.value.action === 'removed').length;
            failed += outcomes.filter((o) => o.status === 'rejected').length;
          }
          if (failed === 0) await this.backend.forgetNode(deadNode);
        } catch (error) {
          logger.warn({ deadNode, err: String(error) }, 'sweep of a dead dyno failed; retrying on the next tick');
        }
        if (removed > 0 || failed > 0) logger.info({ deadNode, removed, failed }, 'swept members of a dyno whose lease ran out');
      }
    } catch (error) {
      logger.warn({ err: String(error) }, 'sweep failed; retrying on the next tick');
    } finally {
      this.sweeping = false;
    }
  }
}
