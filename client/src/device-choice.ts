/**
 * Which camera, microphone and speaker to use, and the display name: chosen on the
 * pre-join screen, remembered for the next visit (localStorage, injected as a Storage-like
 * so this runs without a browser), and what to fall back to when a device disappears.
 */

export interface DeviceChoice {
  cameraId?: string;
  micId?: string;
  speakerId?: string;
  name?: string;
}

export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

const KEY = 'video-chat:choices';
const FIELDS = ['cameraId', 'micId', 'speakerId', 'name'] as const;

export function loadChoice(store: KeyValueStore | undefined): DeviceChoice {
  try {
    const raw: unknown = JSON.parse(store?.getItem(KEY) ?? '{}');
    if (typeof raw !== 'object' || raw === null) return {};
    const choice: DeviceChoice = {};
    for (const field of FIELDS) {
      const value = (raw as Record<string, unknown>)[field];
      if (typeof value === 'string' && value.length <= 256) choice[field] = value;
    }
    return choice;
  } catch {
    // Unreadable (private mode, or a value from another version): start afresh.
    return {};
  }
}

export function saveChoice(store: KeyValueStore | undefined, choice: DeviceChoice): void {
  try {
    store?.setItem(KEY, JSON.stringify(choice));
  } catch {
    // Storage full or refused: the choice only lasts this visit.
  }
}

export type DeviceKind = 'videoinput' | 'audioinput' | 'audiooutput';

/** getUserMedia constraints for a chosen device (any device of that kind when none is chosen). */
export function trackConstraint(deviceId: string | undefined): MediaTrackConstraints | true {
  return deviceId === undefined || deviceId === '' ? true : { deviceId: { exact: deviceId } };
}

/**
 * The device to use instead of `goneId` (unplugged): the system default when there is one,
 * else the first left of that kind; undefined when none is left.
 */
export function fallbackDevice(
  devices: readonly Pick<MediaDeviceInfo, 'deviceId' | 'kind'>[],
  kind: DeviceKind,
  goneId: string | undefined,
): string | undefined {
  const left = devices.filter((d) => d.kind === kind && d.deviceId !== '' && d.deviceId !== goneId);
  return (left.find((d) => d.deviceId === 'default') ?? left[0])?.deviceId;
}
