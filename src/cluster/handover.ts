/**
 * Hand-over of frames between the two dynos of a resume. A client whose socket dropped may
 * resume on another dyno before its old dyno ran the suspend that stores, in the held list,
 * the frames that reached it after the drop. The resume then finds no such frames, and the
 * old dyno's suspend finds the membership taken: before this, those frames were dropped (a
 * lost offer, in a call that then never connects). Now the old dyno publishes them on the
 * member channel as one hand-over payload, and a resume that found its old connection not yet
 * suspended waits for it (bounded) before it replays anything, so the client gets every
 * frame once and in publish order (membership.ts, replayResume).
 *
 * Payload: "H" + the old owner tag + "\n" + a JSON array of frames (possibly empty: the old
 * dyno had nothing, and the new one need not wait out the deadline).
 */
export const HANDOVER_PREFIX = 'H';

/** How long a resume waits for the old dyno's hand-over before replaying without it. */
export const DEFAULT_HANDOVER_TIMEOUT_MS = 1000;

export function encodeHandover(owner: string, frames: readonly string[]): string {
  return `${HANDOVER_PREFIX}${owner}\n${JSON.stringify(frames)}`;
}

export function decodeHandover(payload: string): { owner: string; frames: string[] } | null {
  const newline = payload.indexOf('\n');
  if (!payload.startsWith(HANDOVER_PREFIX) || newline < 2) return null;
  try {
    const frames: unknown = JSON.parse(payload.slice(newline + 1));
    if (!Array.isArray(frames) || !frames.every((f): f is string => typeof f === 'string')) return null;
    return { owner: payload.slice(1, newline), frames };
  } catch {
    return null;
  }
}

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
