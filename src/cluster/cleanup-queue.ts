import type { Logger } from 'pino';
import type { Backend, MemberRef, ReregisterEntry } from './backend.ts';
import { Pacer } from './pacer.ts';

/**
 * What is left to do for a registration this dyno made and no session holds any more:
 *  - `unregister`: remove it (a leave, or a register whose reply was lost: the script may
 *    have run, and the name must not stay taken);
 *  - `expire`: remove it once its grace is over, unless it was resumed meanwhile;
 *  - `resuspend`: undo a resume whose reply was lost: back to reconnecting under the secret
 *    the client still holds, then `expire`;
 *  - `unindex`: only forget the sweep-index entry (the registration failed or moved on).
 * Every step ends by forgetting the index entry. All of it is idempotent (owner-checked
 * scripts, SREM), so a step whose reply is lost is simply run again.
 */
export type CleanupStep = 'unregister' | 'expire' | 'resuspend' | 'unindex';

export interface CleanupJob {
  ref: MemberRef;
  owner: string;
  step: CleanupStep;
  /** For `expire` and `resuspend`: what re-registration needs if Redis loses the member meanwhile. */
  seq?: number;
  /** The secret hash the record must carry (for `resuspend`, the one the client resumed with). */
  secretHash?: string;
  /** Local clock (ms) at which the grace ends. */
  graceUntil?: number;
}

export interface CleanupQueueOptions {
  nodeId: string;
  graceMs: number;
  leaseMs: number;
  logger: Logger;
}

const FIRST_RETRY_MS = 250;

function keyOf(job: CleanupJob): string {
  return `${job.owner}\n${job.ref.membersKey}\n${job.ref.name}`;
}
const MAX_RETRY_MS = 5000;

/**
 * Runs every cleanup job until it succeeds, retrying with backoff while the backend is away.
 * Once stopped (the process exits) nothing more is scheduled: the index entries stay, and
 * survivors sweep what is left when this dyno's lease ends.
 */
export class CleanupQueue {
  private readonly backend: Backend;
  private readonly options: CleanupQueueOptions;
  /** Pending work by owner and member, so re-registration can put suspended members back. */
  private readonly pending = new Map<string, CleanupJob>();
  private stopped = false;
  /** Grace periods that began together (a dyno's members dropped at once) end together: paced. */
  private readonly pacer = new Pacer();

  constructor(backend: Backend, options: CleanupQueueOptions) {
    this.backend = backend;
    this.options = options;
  }

  /** Runs `job` after `delayMs`; resolves after its first attempt (retries go on behind). */
  schedule(job: CleanupJob, delayMs = 0): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const key = keyOf(job);
    this.pending.set(key, job);
    return new Promise<void>((resolve) => {
      const run = (attempt: number): void => {
        void this.pacer
          .run(() => this.attempt(job))
          .then((result) => {
            resolve();
            if (result === 'done') {
              if (this.pending.get(key) === job) this.pending.delete(key);
            } else if (result === 'after-grace') {
              this.later(() => run(0), this.options.graceMs);
            } else {
              this.later(() => run(attempt + 1), Math.min(FIRST_RETRY_MS * 2 ** attempt, MAX_RETRY_MS));
            }
          });
      };
      if (delayMs > 0) this.later(() => run(0), delayMs);
      else run(0);
    });
  }

  /** Members waiting out their grace here, as re-registration entries with their jobs. */
  suspended(): Array<{ job: CleanupJob; entry: ReregisterEntry }> {
    const now = Date.now();
    const out: Array<{ job: CleanupJob; entry: ReregisterEntry }> = [];
    for (const job of this.pending.values()) {
      if (job.step !== 'expire' || job.seq === undefined || job.secretHash === undefined) continue;
      const graceMs = Math.max(1, (job.graceUntil ?? now) - now);
      out.push({
        job,
        entry: { ...job.ref, seq: job.seq, owner: job.owner, secretHash: job.secretHash, graceMs, highestKnownSeq: job.seq },
      });
    }
    return out;
  }

  /** True while `job` has not completed. */
  has(job: CleanupJob): boolean {
    return this.pending.get(keyOf(job)) === job;
  }

  get size(): number {
    return this.pending.size;
  }

  stop(): void {
    this.stopped = true;
    this.pacer.stop();
  }

  private later(run: () => void, delayMs: number): void {
    if (!this.stopped) this.pacer.after(delayMs, run);
  }

  /** One try of the job's remaining steps: done, run again after the grace, or retry (backend failed). */
  private async attempt(job: CleanupJob): Promise<'done' | 'after-grace' | 'retry'> {
    const { backend } = this;
    const { nodeId, graceMs, leaseMs, logger } = this.options;
    try {
      switch (job.step) {
        case 'unregister':
          await backend.unregister(job.ref, job.owner);
          break;
        case 'expire':
          if ((await backend.expire(job.ref, job.owner)) !== null) logger.info({ member: job.ref.name }, 'grace over: member removed');
          break;
        case 'resuspend': {
          const back = await backend.suspend({
            ...job.ref,
            owner: job.owner,
            graceMs,
            snapshot: '',
            frames: [],
            holdTtlMs: graceMs + leaseMs,
            secretHash: job.secretHash ?? '',
          });
          if (back) {
            // From here on it is an ordinary grace period.
            job.step = 'expire';
            job.graceUntil = Date.now() + graceMs;
            return 'after-grace';
          }
          break;
        }
        case 'unindex':
          break;
        default: {
          const unreachable: never = job.step;
          throw new Error(`unknown cleanup step ${String(unreachable)}`);
        }
      }
      await backend.unindexMember(nodeId, job.ref, job.owner);
      return 'done';
    } catch (error) {
      logger.warn(
        { member: job.ref.name, step: job.step, err: error instanceof Error ? error.message : String(error) },
        'cleanup of a membership failed; retrying',
      );
      return 'retry';
    }
  }
}
