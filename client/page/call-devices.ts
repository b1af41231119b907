/**
 * Devices during the call: the device panel's selects switch camera and microphone with
 * replaceTrack (MeshCall.replaceTrack: no renegotiation) and the speaker with setSinkId; a
 * device that disappears (its track ends, or it leaves the device list) is replaced by
 * another of its kind, and the page says so.
 */
import { type DeviceChoice, type MeshCall, fallbackDevice, trackConstraint } from '../src/index.ts';
import { type DeviceSelects, canChooseSpeaker, deviceLabel, fillSelects, listDevices, trackDevice } from './device-pickers.ts';
import type { Strings } from './i18n/en.ts';

type Kind = 'audio' | 'video';

export interface CallDevicesOptions {
  selects: DeviceSelects;
  strings: Strings;
  call: MeshCall;
  stream: MediaStream;
  /** While a screen is shared the camera is not on the senders: only remember it. */
  sharing: () => boolean;
  setSpeaker: (sinkId: string) => Promise<void>;
  /** A sentence for the user (a device fell back, a switch failed). */
  say: (text: string) => void;
  /** The local stream's tracks changed (re-render the preview and controls). */
  changed: () => void;
  /** What to remember for the next visit. */
  remember: (choice: Partial<DeviceChoice>) => void;
}

export class CallDevices {
  readonly #o: CallDevicesOptions;
  readonly #offDeviceChange: () => void;
  /** Our "ended" listener on each track we watch, removed on close. */
  readonly #watched = new Map<MediaStreamTrack, () => void>();
  #closed = false;

  constructor(options: CallDevicesOptions) {
    this.#o = options;
    const { selects } = options;
    selects.camera.addEventListener('change', this.#onCamera);
    selects.mic.addEventListener('change', this.#onMic);
    selects.speaker.addEventListener('change', this.#onSpeaker);
    const onDeviceChange = (): void => void this.#onDeviceChange();
    navigator.mediaDevices?.addEventListener('devicechange', onDeviceChange);
    this.#offDeviceChange = () => navigator.mediaDevices?.removeEventListener('devicechange', onDeviceChange);
    for (const track of options.stream.getTracks()) this.#watch(track);
    void this.refresh();
  }

  close(): void {
    this.#closed = true;
    const { selects } = this.#o;
    selects.camera.removeEventListener('change', this.#onCamera);
    selects.mic.removeEventListener('change', this.#onMic);
    selects.speaker.removeEventListener('change', this.#onSpeaker);
    this.#offDeviceChange();
    for (const [track, onEnded] of this.#watched) track.removeEventListener('ended', onEnded);
    this.#watched.clear();
  }

  async refresh(): Promise<void> {
    const { stream, selects, strings } = this.#o;
    fillSelects(
      selects,
      await listDevices(),
      { camera: trackDevice(stream.getVideoTracks()[0]), mic: trackDevice(stream.getAudioTracks()[0]), speaker: selects.speaker.value },
      strings,
    );
  }

  /** Switches `kind` to `deviceId`; returns false (and says so) when that device cannot be opened. */
  async switchTo(kind: Kind, deviceId: string): Promise<boolean> {
    const { stream, call, strings } = this.#o;
    const old = kind === 'audio' ? stream.getAudioTracks()[0] : stream.getVideoTracks()[0];
    if (old !== undefined && old.readyState === 'live' && trackDevice(old) === deviceId) return true;
    let fresh: MediaStreamTrack | undefined;
    try {
      // The old camera is let go first: many cannot be opened twice at once.
      if (kind === 'video') old?.stop();
      const got = await navigator.mediaDevices.getUserMedia(
        kind === 'audio' ? { audio: trackConstraint(deviceId) } : { video: trackConstraint(deviceId) },
      );
      fresh = kind === 'audio' ? got.getAudioTracks()[0] : got.getVideoTracks()[0];
    } catch {
      fresh = undefined;
    }
    if (this.#closed) {
      fresh?.stop();
      return false;
    }
    if (fresh === undefined) {
      this.#o.say(strings.switchFailed(kind === 'audio' ? strings.micWord : strings.cameraWord));
      return false;
    }
    if (old !== undefined) {
      fresh.enabled = old.enabled;
      stream.removeTrack(old);
      old.stop();
      this.#unwatch(old);
    }
    stream.addTrack(fresh);
    this.#watch(fresh);
    if (kind === 'audio' || !this.#o.sharing()) await call.replaceTrack(kind, fresh);
    this.#o.remember(kind === 'audio' ? { micId: deviceId } : { cameraId: deviceId });
    this.#o.changed();
    await this.refresh();
    return true;
  }

  readonly #onCamera = (): void => void this.switchTo('video', this.#o.selects.camera.value);
  readonly #onMic = (): void => void this.switchTo('audio', this.#o.selects.mic.value);
  readonly #onSpeaker = (): void => {
    const id = this.#o.selects.speaker.value;
    if (!canChooseSpeaker()) return;
    void this.#o.setSpeaker(id);
    this.#o.remember({ speakerId: id });
  };

  #unwatch(track: MediaStreamTrack): void {
    const onEnded = this.#watched.get(track);
    if (onEnded !== undefined) track.removeEventListener('ended', onEnded);
    this.#watched.delete(track);
  }

  /** An unplugged device ends its track. */
  #watch(track: MediaStreamTrack): void {
    const onEnded = (): void => {
      if (!this.#closed && this.#o.stream.getTracks().includes(track)) void this.#fallBack(track.kind as Kind, trackDevice(track));
    };
    track.addEventListener('ended', onEnded);
    this.#watched.set(track, onEnded);
  }

  async #onDeviceChange(): Promise<void> {
    if (this.#closed) return;
    const devices = await listDevices();
    for (const track of this.#o.stream.getTracks()) {
      const id = trackDevice(track);
      const kind = track.kind === 'audio' ? 'audioinput' : 'videoinput';
      // Only judge once labels are readable (a list without ids says nothing).
      if (id !== undefined && devices.some((d) => d.kind === kind && d.deviceId !== '') && !devices.some((d) => d.deviceId === id)) {
        await this.#fallBack(track.kind as Kind, id);
      }
    }
    await this.refresh();
  }

  async #fallBack(kind: Kind, goneId: string | undefined): Promise<void> {
    const { strings } = this.#o;
    const what = kind === 'audio' ? strings.micWord : strings.cameraWord;
    const devices = await listDevices();
    const deviceKind = kind === 'audio' ? 'audioinput' : 'videoinput';
    const next = fallbackDevice(devices, deviceKind, goneId);
    if (next === undefined || !(await this.switchTo(kind, next))) {
      this.#o.say(strings.deviceGoneNone(what));
      return;
    }
    const mine = devices.filter((d) => d.kind === deviceKind && d.deviceId !== '');
    const index = mine.findIndex((d) => d.deviceId === next);
    this.#o.say(strings.deviceFellBack(what, index < 0 ? next : deviceLabel(mine[index] as MediaDeviceInfo, index, strings)));
  }
}
