/** Small async helpers shared by the client library tests. */
import { WebSocket } from 'ws';
import { SignalingClient, type SignalingClientEvents, type SignalingClientOptions } from '../../../client/src/index.ts';

/** Resolves with the next emission of `event`, or rejects after `timeoutMs`. */
export function next<K extends keyof SignalingClientEvents>(
  client: SignalingClient,
  event: K,
  timeoutMs = 2000,
  where: (payload: SignalingClientEvents[K]) => boolean = () => true,
): Promise<SignalingClientEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for "${String(event)}"`));
    }, timeoutMs);
    const off = client.on(event, (payload) => {
      if (!where(payload)) return;
      clearTimeout(timer);
      off();
      resolve(payload);
    });
  });
}

/** Polls `check` until it returns true. */
export async function until(check: () => boolean, timeoutMs = 2000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A client on `url` using `ws`, with fast, deterministic retries unless overridden. */
export function makeClient(url: string, name: string, options: Partial<SignalingClientOptions> = {}): SignalingClient {
  return new SignalingClient({
    url,
    room: 'room-1',
    name,
    WebSocket,
    reconnectPolicy: { nextRetryDelayInMs: () => 10 },
    ...options,
  });
}

/** Records every state a client goes through. */
export function recordStates(client: SignalingClient): string[] {
  const states: string[] = [client.state];
  client.on('state', ({ state }) => states.push(state));
  return states;
}
