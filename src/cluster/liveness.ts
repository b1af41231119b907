import type { Logger } from 'pino';
import type { Backend } from './backend.ts';
import { RoomKeys } from './keys.ts';
import { encodeRoomEvent } from './room-events.ts';

export interface LivenessOptions {
  nodeId: string;
  leaseMs: number;
  graceMs: number;
  logger: Logger;
}

/**
 * Keeps this dyno's lease alive and sweeps dynos whose lease ran out: their members first
 * get a grace period (their clients may resume elsewhere), then leave with peer-left.
 * Renewal runs at a third of the lease so one slow round trip does not look like a crash.
 */
export class Liveness {
  private renewTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping = false;
  private readonly backend: Backend;
  private readonly options: LivenessOptions;

  constructor(backend: Backend, options: LivenessOptions) {
    this.backend = backend;
    this.options = options;
  }

  start(): void {
    const { leaseMs, nodeId, logger } = this.options;
    const renew = (): void => {
      this.backend.renewLease(nodeId, leaseMs).catch((error: unknown) => logger.warn({ err: String(error) }, 'lease renewal failed'));
    };
    renew();
    this.renewTimer = setInterval(renew, Math.max(50, Math.floor(leaseMs / 3)));
    this.sweepTimer = setInterval(() => void this.sweep(), Math.max(50, Math.floor(leaseMs / 2)));
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
        for (const member of await this.backend.deadNodeMembers(deadNode)) {
          const outcome = await this.backend.sweepMember(deadNode, member, graceMs);
          if (outcome.action !== 'removed') continue;
          removed++;
          await this.backend.publish(RoomKeys.eventsOf(member.membersKey), encodeRoomEvent({ kind: 'left', seq: outcome.seq, name: member.name }));
        }
        await this.backend.forgetNode(deadNode);
        if (removed > 0) logger.info({ deadNode, removed }, 'swept members of a dyno whose lease ran out');
      }
    } catch (error) {
      logger.warn({ err: String(error) }, 'sweep failed; retrying on the next tick');
    } finally {
      this.sweeping = false;
    }
  }
}
