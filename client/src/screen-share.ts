/**
 * Screen sharing over an existing call: the shared screen replaces the camera on every
 * link's video sender (replaceTrack, no renegotiation when a video sender exists), so the
 * others see it in our tile; stopping (our button, or the browser's own "stop sharing",
 * which ends the track) puts the camera back.
 */
import { TypedEmitter } from './typed-emitter.ts';
import type { TrackKind } from './peer-link.ts';

export interface ShareTarget {
  replaceTrack(kind: TrackKind, track: MediaStreamTrack | null): Promise<void>;
}

export interface ScreenShareEvents {
  /** Sharing started (`track` is the screen) or stopped (`track` null). */
  change: { track: MediaStreamTrack | null };
}

type DisplayMedia = { getDisplayMedia?: (options?: DisplayMediaStreamOptions) => Promise<MediaStream> };

/** False where the browser cannot share a screen at all (iOS, old browsers): hide the button. */
export function canShareScreen(): boolean {
  const devices = (globalThis.navigator as { mediaDevices?: DisplayMedia } | undefined)?.mediaDevices;
  return typeof devices?.getDisplayMedia === 'function';
}

export class ScreenShare extends TypedEmitter<ScreenShareEvents> {
  readonly #target: ShareTarget;
  /** The camera track to restore (it may change while sharing: a device switch). */
  #camera: () => MediaStreamTrack | null;
  #track: MediaStreamTrack | null = null;

  constructor(target: ShareTarget, camera: () => MediaStreamTrack | null) {
    super();
    this.#target = target;
    this.#camera = camera;
  }

  get sharing(): boolean {
    return this.#track !== null;
  }

  /** Asks the browser for a screen; throws its error (NotAllowedError: the user cancelled). */
  async start(): Promise<void> {
    if (this.#track !== null) return;
    const devices = navigator.mediaDevices as MediaDevices & DisplayMedia;
    if (devices.getDisplayMedia === undefined) throw new Error('getDisplayMedia is not available');
    const stream = await devices.getDisplayMedia({ video: { frameRate: 15 }, audio: false });
    const track = stream.getVideoTracks()[0];
    if (track === undefined) return;
    // Text on a shared screen matters more than motion.
    if ('contentHint' in track) track.contentHint = 'detail';
    this.#track = track;
    track.addEventListener('ended', this.#onEnded);
    await this.#target.replaceTrack('video', track);
    this.emit('change', { track });
  }

  /** The browser's own "stop sharing" ends the track. */
  readonly #onEnded = (): void => void this.stop();

  async stop(): Promise<void> {
    const track = this.#track;
    if (track === null) return;
    this.#track = null;
    track.removeEventListener('ended', this.#onEnded);
    track.stop();
    await this.#target.replaceTrack('video', this.#camera());
    this.emit('change', { track: null });
  }
}
