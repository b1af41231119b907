/**
 * The pre-join screen: the camera preview, the microphone level meter and the device
 * choices. The stream it opens is handed to the call on Join (no second permission
 * prompt, and the devices sent are the ones shown).
 */
import { type DeviceChoice, LevelMeter } from '../src/index.ts';
import { type DeviceSelects, fillSelects, listDevices, trackDevice } from './device-pickers.ts';
import type { Strings } from './i18n/en.ts';
import { openLocalMedia } from './media.ts';
import { PREJOIN_METER_SCALE } from './page-constants.ts';

export interface PreJoinElements {
  video: HTMLVideoElement;
  videoOff: HTMLElement;
  meter: HTMLElement;
  selects: DeviceSelects;
}

export class PreJoin {
  readonly #el: PreJoinElements;
  readonly #strings: Strings;
  #stream: MediaStream | null = null;
  #notice: string | null = null;
  #meter: LevelMeter | undefined;
  #frame = 0;
  /** Bumped by every (re)open and by stop, so a slow getUserMedia that lost the race is dropped. */
  #generation = 0;
  #speaker: string | undefined;
  /** A preview is open (its stream, or what was missing, is there to hand over). */
  #open = false;

  constructor(elements: PreJoinElements, strings: Strings) {
    this.#el = elements;
    this.#strings = strings;
    const reopen = (): void => void this.open({ cameraId: elements.selects.camera.value, micId: elements.selects.mic.value });
    elements.selects.camera.addEventListener('change', reopen);
    elements.selects.mic.addEventListener('change', reopen);
    elements.selects.speaker.addEventListener('change', () => (this.#speaker = elements.selects.speaker.value));
  }

  /** The choices as shown now (what to remember). */
  get choice(): DeviceChoice {
    const choice: DeviceChoice = {};
    const camera = trackDevice(this.#stream?.getVideoTracks()[0]);
    const mic = trackDevice(this.#stream?.getAudioTracks()[0]);
    if (camera !== undefined) choice.cameraId = camera;
    if (mic !== undefined) choice.micId = mic;
    if (this.#speaker !== undefined && this.#speaker !== '') choice.speakerId = this.#speaker;
    return choice;
  }

  async open(choice: DeviceChoice): Promise<void> {
    const mine = ++this.#generation;
    this.#speaker ??= choice.speakerId;
    this.#release();
    const { stream, notice } = await openLocalMedia(this.#strings, { cameraId: choice.cameraId, micId: choice.micId });
    if (mine !== this.#generation) {
      for (const track of stream?.getTracks() ?? []) track.stop();
      return;
    }
    this.#stream = stream;
    this.#notice = notice;
    this.#open = true;
    const video = stream?.getVideoTracks()[0];
    this.#el.video.srcObject = video === undefined ? null : stream;
    this.#el.video.hidden = video === undefined;
    this.#el.videoOff.hidden = video !== undefined;
    const audio = stream?.getAudioTracks()[0];
    if (audio !== undefined) this.#startMeter(audio);
    // Labels are only readable once a permission was given: list after opening.
    fillSelects(
      this.#el.selects,
      await listDevices(),
      { camera: trackDevice(video), mic: trackDevice(audio), speaker: this.#speaker },
      this.#strings,
    );
  }

  /**
   * Gives the stream (and what was missing) to the call; the preview lets go of it.
   * Undefined when no preview is open (after a call ended): the call opens its own media.
   */
  take(): { stream: MediaStream | null; notice: string | null } | undefined {
    this.#generation++;
    if (!this.#open) return undefined;
    this.#open = false;
    const taken = { stream: this.#stream, notice: this.#notice };
    this.#stream = null;
    this.#stopMeter();
    this.#el.video.srcObject = null;
    return taken;
  }

  /** Leaves the screen without joining: camera and microphone off. */
  stop(): void {
    this.#generation++;
    this.#release();
  }

  #release(): void {
    this.#open = false;
    this.#stopMeter();
    for (const track of this.#stream?.getTracks() ?? []) track.stop();
    this.#stream = null;
    this.#el.video.srcObject = null;
  }

  #startMeter(track: MediaStreamTrack): void {
    try {
      this.#meter = new LevelMeter(track);
    } catch {
      return; // no Web Audio: no meter, the rest works
    }
    const tick = (): void => {
      const meter = this.#meter;
      if (meter === undefined) return;
      const percent = Math.min(100, Math.round(meter.level() * PREJOIN_METER_SCALE));
      this.#el.meter.dataset['level'] = String(percent);
      this.#el.meter.setAttribute('aria-valuenow', String(percent));
      this.#el.meter.style.setProperty('--level', `${percent}%`);
      this.#frame = requestAnimationFrame(tick);
    };
    tick();
  }

  #stopMeter(): void {
    cancelAnimationFrame(this.#frame);
    this.#meter?.close();
    this.#meter = undefined;
    this.#el.meter.dataset['level'] = '0';
    this.#el.meter.style.setProperty('--level', '0%');
  }
}
