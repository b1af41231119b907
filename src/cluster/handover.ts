/**
 * Hand-over of frames between the two dynos of a resume. A client whose socket dropped may
 * resume on another dyno before its old dyno ran the suspend that stores, in the held list,
 * the frames that reached it after the drop. The resume then finds no such frames, and the
 * old dyno's suspend finds the membership taken. So the old dyno publishes those frames on
 * the member channel as one hand-over payload (Tag.Handover in bus-codec.ts: the old owner
 * tag and the entries, possibly none, so the new dyno need not wait out the deadline), and a
 * resume that found its old connection not yet suspended waits for it (bounded) before it
 * replays anything: the client gets every frame once and in publish order (membership.ts,
 * replayResume).
 */

/** How long a resume waits for the old dyno's hand-over before replaying without it. */
export const DEFAULT_HANDOVER_TIMEOUT_MS = 1000;

/**
 * The receiving side: hand-overs that arrive before anyone waits for them are kept (the old
 * dyno can be quicker than the resume's reply), and a waiter gets the one from the owner it
 * names, or null at its deadline.
 */
export class HandoverInbox {
  private readonly arrived = new Map<string, string[]>();
  private waiter: { owner: string; resolve: (frames: string[] | null) => void } | null = null;

  offer(owner: string, frames: string[]): void {
    if (this.waiter?.owner === owner) {
      const { resolve } = this.waiter;
      this.waiter = null;
      resolve(frames);
    } else {
      this.arrived.set(owner, frames);
    }
  }

  wait(owner: string, timeoutMs: number): Promise<string[] | null> {
    const early = this.arrived.get(owner);
    this.arrived.clear();
    if (early) return Promise.resolve(early);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        resolve(null);
      }, timeoutMs);
      this.waiter = {
        owner,
        resolve: (frames) => {
          clearTimeout(timer);
          resolve(frames);
        },
      };
    });
  }
}
