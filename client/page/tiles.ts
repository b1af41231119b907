/**
 * The grid of remote tiles: one <figure data-peer="<name>"> per peer, holding
 * that peer's <video> and a caption with its name and connection state.
 */

import type { PeerState } from "../src/index.ts";

const STATE_LABELS: Record<PeerState, string> = {
  new: "waiting",
  connecting: "connecting…",
  connected: "connected",
  disconnected: "connection lost, retrying…",
  failed: "could not connect",
  closed: "closed",
  reconnecting: "reconnecting…",
};

interface Tile {
  root: HTMLElement;
  video: HTMLVideoElement;
  state: HTMLElement;
}

export class TileGrid {
  readonly #container: HTMLElement;
  readonly #tiles = new Map<string, Tile>();
  /** Called when the browser refuses to play sound without a user gesture. */
  readonly #onSoundBlocked: () => void;

  constructor(container: HTMLElement, onSoundBlocked: () => void) {
    this.#container = container;
    this.#onSoundBlocked = onSoundBlocked;
  }

  /** `label`: what to show instead of the member name (its `metadata.displayName`). */
  add(peer: string, label?: string): void {
    if (this.#tiles.has(peer)) return;
    const root = document.createElement("figure");
    root.className = "tile";
    root.dataset["peer"] = peer;
    root.dataset["connection"] = "new";
    const video = document.createElement("video");
    video.autoplay = true;
    video.playsInline = true;
    const caption = document.createElement("figcaption");
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = label ?? peer; // textContent: names are any Unicode, never markup
    const state = document.createElement("span");
    state.className = "state";
    state.textContent = STATE_LABELS.new;
    caption.append(name, " ", state);
    root.append(video, caption);
    this.#container.append(root);
    this.#tiles.set(peer, { root, video, state });
  }

  setStream(peer: string, stream: MediaStream): void {
    this.add(peer);
    const tile = this.#tiles.get(peer);
    if (tile === undefined || tile.video.srcObject === stream) return;
    tile.video.srcObject = stream;
    this.#play(tile.video);
  }

  /** `reconnecting`: the connection broke and a new one is being made (MeshCall recovery). */
  setState(peer: string, state: PeerState): void {
    const tile = this.#tiles.get(peer);
    if (tile === undefined) return;
    tile.root.dataset["connection"] = state;
    tile.state.textContent = STATE_LABELS[state];
  }

  remove(peer: string): void {
    const tile = this.#tiles.get(peer);
    if (tile === undefined) return;
    this.#tiles.delete(peer);
    tile.video.srcObject = null;
    tile.root.remove();
  }

  clear(): void {
    for (const peer of [...this.#tiles.keys()]) this.remove(peer);
  }

  /** After a user gesture: turn the sound on everywhere. */
  unmuteAll(): void {
    for (const { video } of this.#tiles.values()) {
      video.muted = false;
      void video.play().catch(() => undefined);
    }
  }

  #play(video: HTMLVideoElement): void {
    video.play().catch((error: unknown) => {
      // AbortError only means a newer srcObject replaced this one.
      if (!(error instanceof DOMException) || error.name !== "NotAllowedError") return;
      // Autoplay with sound refused (no gesture yet): play muted, offer a button.
      video.muted = true;
      void video.play().catch(() => undefined);
      this.#onSoundBlocked();
    });
  }
}
