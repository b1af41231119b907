/**
 * A tiny typed event emitter. We do not use EventTarget because its events
 * carry no payload types and its listeners cannot be typed per event name;
 * this keeps `client.on("joined", (e) => e.peers)` fully checked.
 */

/** A listener for one event of `Events`. */
export type Listener<Events, K extends keyof Events> = (payload: Events[K]) => void;

/** `Events` maps each event name to the payload its listeners receive. */
export class TypedEmitter<Events> {
  readonly #listeners = new Map<keyof Events, Set<Listener<Events, keyof Events>>>();

  /** Subscribes to an event. Returns a function that unsubscribes. */
  on<K extends keyof Events>(event: K, listener: Listener<Events, K>): () => void {
    let set = this.#listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as Listener<Events, keyof Events>);
    return () => this.off(event, listener);
  }

  /** Subscribes for the next emission only. */
  once<K extends keyof Events>(event: K, listener: Listener<Events, K>): () => void {
    const off = this.on(event, (payload) => {
      off();
      listener(payload);
    });
    return off;
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events, K>): void {
    this.#listeners.get(event)?.delete(listener as Listener<Events, keyof Events>);
  }

  /** Drops every listener (used on dispose so closures can be collected). */
  removeAllListeners(): void {
    this.#listeners.clear();
  }

  protected emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.#listeners.get(event);
    if (set === undefined) return;
    // Copy so listeners may unsubscribe while we iterate.
    for (const listener of [...set]) {
      try {
        listener(payload);
      } catch (error) {
        // Like EventTarget: a throwing listener must not stop the others or
        // corrupt the emitter's state machine, but it must not vanish either.
        setTimeout(() => {
          throw error;
        }, 0);
      }
    }
  }
}
