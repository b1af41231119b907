/**
 * The grid of remote tiles: one <figure data-peer="<name>"> per peer, holding
 * that peer's <video> and a caption with its name, connection state, link
 * quality and muted mark. The grid's data-count (remote tiles) sizes them
 * (styles.css); layout.ts adds spotlight and full screen.
 */

import type { LinkQuality, PeerState, PeerStatsEvent } from '../src/index.ts';
import type { Strings } from './i18n/en.ts';

interface Tile {
  root: HTMLElement;
  video: HTMLVideoElement;
  state: HTMLElement;
  quality: HTMLElement;
  /** The quality badge's label as written (empty while hidden): compared, not read back from the DOM. */
  label: string;
}

function stateLabel(strings: Strings, state: PeerState): string {
  switch (state) {
    case 'new':
      return strings.tileNew;
    case 'connecting':
      return strings.tileConnecting;
    case 'connected':
      return strings.tileConnected;
    case 'disconnected':
      return strings.tileDisconnected;
    case 'failed':
      return strings.tileFailed;
    case 'closed':
      return strings.tileClosed;
    case 'reconnecting':
      return strings.tileReconnecting;
    default: {
      const never: never = state;
      return never;
    }
  }
}

function qualityLabel(strings: Strings, quality: LinkQuality): string {
  switch (quality) {
    case 'good':
      return strings.qualityGood;
    case 'weak':
      return strings.qualityWeak;
    case 'bad':
      return strings.qualityBad;
    default: {
      const never: never = quality;
      return never;
    }
  }
}

export class TileGrid {
  readonly #container: HTMLElement;
  readonly #tiles = new Map<string, Tile>();
  readonly #strings: Strings;
  /** Called when the browser refuses to play sound without a user gesture. */
  readonly #onSoundBlocked: () => void;
  #sinkId = '';

  constructor(container: HTMLElement, strings: Strings, onSoundBlocked: () => void) {
    this.#container = container;
    this.#strings = strings;
    this.#onSoundBlocked = onSoundBlocked;
  }

  /** `label`: what to show instead of the member name (its `metadata.displayName`). */
  add(peer: string, label?: string): void {
    if (this.#tiles.has(peer)) return;
    const s = this.#strings;
    const root = document.createElement('figure');
    root.className = 'tile';
    root.dataset['peer'] = peer;
    root.dataset['connection'] = 'new';
    root.tabIndex = 0;
    root.title = s.tileHint;
    const video = document.createElement('video');
    video.autoplay = true;
    video.playsInline = true;
    const caption = document.createElement('figcaption');
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = label ?? peer; // textContent: names are any Unicode, never markup
    const muted = document.createElement('span');
    muted.className = 'muted-mark';
    muted.textContent = s.mutedMark;
    const state = document.createElement('span');
    state.className = 'state';
    state.textContent = stateLabel(s, 'new');
    const quality = document.createElement('span');
    quality.className = 'quality';
    quality.setAttribute('role', 'img');
    quality.hidden = true;
    caption.append(quality, name, ' ', muted, ' ', state);
    root.append(video, caption);
    this.#container.append(root);
    this.#tiles.set(peer, { root, video, state, quality, label: '' });
    this.#count();
    if (this.#sinkId !== '') void this.#applySink(video);
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
    if (tile.root.dataset['connection'] === state) return;
    tile.root.dataset['connection'] = state;
    tile.state.textContent = stateLabel(this.#strings, state);
    if (state !== 'connected') {
      // A quality reading of a connection that is gone would mislead.
      delete tile.root.dataset['quality'];
      delete tile.root.dataset['speaking'];
      tile.quality.hidden = true;
      tile.label = '';
    }
  }

  /**
   * Quality badge (numbers in its tooltip) and speaking highlight, from CallStats. Only what
   * changed is written: every write to a data- attribute makes the browser match styles again.
   */
  setStats(sample: PeerStatsEvent): void {
    const tile = this.#tiles.get(sample.peer);
    if (tile === undefined || tile.root.dataset['connection'] !== 'connected') return;
    const s = this.#strings;
    const data = tile.root.dataset;
    if (data['quality'] !== sample.quality) data['quality'] = sample.quality;
    const speaking = String(sample.speaking && data['muted'] !== 'true');
    if (data['speaking'] !== speaking) data['speaking'] = speaking;
    const rtt = sample.rttMs === null ? s.unknownRtt : `${sample.rttMs} ms`;
    const label = `${qualityLabel(s, sample.quality)}. ${s.qualityDetails(rtt, `${sample.lossPercent} %`)}`;
    if (tile.label === label) return;
    if (tile.label === '') tile.quality.hidden = false;
    tile.label = label;
    tile.quality.title = label;
    tile.quality.setAttribute('aria-label', label);
  }

  /** What the peer says about its media: a muted mark, and a screen is shown whole, not cropped. */
  setMedia(peer: string, media: { audio: boolean; video: boolean; screen: boolean }): void {
    this.add(peer);
    const tile = this.#tiles.get(peer);
    if (tile === undefined) return;
    tile.root.dataset['muted'] = String(!media.audio);
    tile.root.dataset['screen'] = String(media.screen);
    if (!media.audio) tile.root.dataset['speaking'] = 'false';
  }

  remove(peer: string): void {
    const tile = this.#tiles.get(peer);
    if (tile === undefined) return;
    this.#tiles.delete(peer);
    tile.video.srcObject = null;
    tile.root.remove();
    this.#count();
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

  /** Plays every peer on this speaker (setSinkId; callers check it exists). */
  async setSpeaker(sinkId: string): Promise<void> {
    this.#sinkId = sinkId;
    await Promise.all([...this.#tiles.values()].map(({ video }) => this.#applySink(video)));
  }

  async #applySink(video: HTMLVideoElement): Promise<void> {
    const media = video as HTMLVideoElement & { setSinkId?: (id: string) => Promise<void> };
    await media.setSinkId?.(this.#sinkId).catch(() => undefined);
  }

  #count(): void {
    this.#container.dataset['count'] = String(this.#tiles.size);
  }

  #play(video: HTMLVideoElement): void {
    video.play().catch((error: unknown) => {
      // AbortError only means a newer srcObject replaced this one.
      if (!(error instanceof DOMException) || error.name !== 'NotAllowedError') return;
      // Autoplay with sound refused (no gesture yet): play muted, offer a button.
      video.muted = true;
      void video.play().catch(() => undefined);
      this.#onSoundBlocked();
    });
  }
}
