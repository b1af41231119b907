/**
 * Every element of index.html the page code uses, looked up once. A missing id is a build
 * mistake: it fails at start with the id's name, not later with a null dereference.
 */
import type { ChatElements } from './chat-panel.ts';
import type { DeviceSelects } from './device-pickers.ts';
import type { PreJoinElements } from './prejoin.ts';

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`page is missing #${id}`);
  return element as T;
}

function selects(prefix: '' | 'call-'): DeviceSelects {
  return {
    camera: byId<HTMLSelectElement>(`${prefix}camera-select`),
    mic: byId<HTMLSelectElement>(`${prefix}mic-select`),
    speaker: byId<HTMLSelectElement>(`${prefix}speaker-select`),
    speakerField: byId(prefix === '' ? 'speaker-field' : 'call-speaker-field'),
  };
}

export type PageElements = ReturnType<typeof findElements>;

export function findElements() {
  const inviteFallback = byId('invite-fallback');
  const chat: ChatElements = {
    panel: byId('chat'),
    log: byId('chat-log'),
    form: byId<HTMLFormElement>('chat-form'),
    input: byId<HTMLInputElement>('chat-input'),
    toggle: byId<HTMLButtonElement>('chat-toggle'),
    badge: byId('chat-unread'),
  };
  const preJoin: PreJoinElements = {
    video: byId('preview-video'),
    videoOff: byId('preview-off'),
    meter: byId('mic-level'),
    selects: selects(''),
  };
  return {
    app: byId('app'),
    // Pre-join screen
    form: byId<HTMLFormElement>('join-form'),
    roomInput: byId<HTMLInputElement>('room-input'),
    nameInput: byId<HTMLInputElement>('name-input'),
    newRoom: byId<HTMLButtonElement>('new-room'),
    roomNote: byId('room-note'),
    joinError: byId('join-error'),
    preJoin,
    // Call view
    callView: byId('call'),
    notice: byId('call-notice'),
    heavyNotice: byId('heavy-notice'),
    problems: byId('call-problems'),
    announcer: byId('announcer'),
    signalingLabel: byId('signaling-label'),
    tiles: byId('tiles'),
    localTile: byId('local-tile'),
    localVideo: byId<HTMLVideoElement>('local-video'),
    localName: byId('local-name'),
    localState: byId('local-state'),
    unmuteButton: byId<HTMLButtonElement>('unmute-remote'),
    micButton: byId<HTMLButtonElement>('mic'),
    cameraButton: byId<HTMLButtonElement>('camera'),
    shareButton: byId<HTMLButtonElement>('share'),
    devicesButton: byId<HTMLButtonElement>('devices'),
    devicesPanel: byId('call-devices'),
    callSelects: selects('call-'),
    inviteButton: byId<HTMLButtonElement>('invite'),
    leaveButton: byId<HTMLButtonElement>('leave'),
    inviteFallback,
    inviteFallbackInput: inviteFallback.querySelector('input') as HTMLInputElement,
    chat,
  };
}
