/**
 * The camera, microphone and speaker <select>s (on the pre-join screen and in the call's
 * device panel): filled from enumerateDevices, labelled in the page's language.
 */
import type { DeviceKind } from '../src/index.ts';
import type { Strings } from './i18n/en.ts';

export interface DeviceSelects {
  camera: HTMLSelectElement;
  mic: HTMLSelectElement;
  speaker: HTMLSelectElement;
  /** Hidden where the browser cannot choose a speaker (no setSinkId). */
  speakerField: HTMLElement;
}

/** Whether media elements can be told which speaker to use. */
export const canChooseSpeaker = (): boolean => typeof (HTMLMediaElement.prototype as { setSinkId?: unknown }).setSinkId === 'function';

export async function listDevices(): Promise<MediaDeviceInfo[]> {
  try {
    return (await navigator.mediaDevices?.enumerateDevices()) ?? [];
  } catch {
    return [];
  }
}

/** A readable name: browsers hide labels until a permission was given. */
export function deviceLabel(device: MediaDeviceInfo, index: number, strings: Strings): string {
  if (device.label !== '') return device.label;
  if (device.deviceId === 'default') return strings.deviceDefault;
  const n = index + 1;
  return device.kind === 'videoinput'
    ? strings.unnamedCamera(n)
    : device.kind === 'audioinput'
      ? strings.unnamedMic(n)
      : strings.unnamedSpeaker(n);
}

function fill(
  select: HTMLSelectElement,
  devices: MediaDeviceInfo[],
  kind: DeviceKind,
  selected: string | undefined,
  strings: Strings,
): void {
  const mine = devices.filter((d) => d.kind === kind && d.deviceId !== '');
  const options = mine.map((d, i) => {
    const option = document.createElement('option');
    option.value = d.deviceId;
    option.textContent = deviceLabel(d, i, strings);
    return option;
  });
  if (options.length === 0) {
    const none = document.createElement('option');
    none.value = '';
    none.textContent = strings.noDevices;
    options.push(none);
  }
  select.replaceChildren(...options);
  select.disabled = mine.length === 0;
  if (selected !== undefined && mine.some((d) => d.deviceId === selected)) select.value = selected;
}

export function fillSelects(
  selects: DeviceSelects,
  devices: MediaDeviceInfo[],
  chosen: { camera?: string | undefined; mic?: string | undefined; speaker?: string | undefined },
  strings: Strings,
): void {
  fill(selects.camera, devices, 'videoinput', chosen.camera, strings);
  fill(selects.mic, devices, 'audioinput', chosen.mic, strings);
  fill(selects.speaker, devices, 'audiooutput', chosen.speaker, strings);
  selects.speakerField.hidden = !canChooseSpeaker() || devices.every((d) => d.kind !== 'audiooutput');
}

/** The device a live track comes from (what the select should show). */
export const trackDevice = (track: MediaStreamTrack | undefined): string | undefined => track?.getSettings().deviceId;
