/**
 * One call, as one object (in the spirit of LiveKit's Room and its disconnect()): the
 * constructor builds the mesh, the devices, chat, statistics and every listener on the call
 * view around a SignalingClient, registering how to undo each in one list; `close()` runs
 * that list, so nothing the call built outlives it: no timer, listener, track or peer
 * connection. main.ts only routes between the pre-join screen and a CallSession.
 */
import {
  CallStats,
  Chat,
  HEAVY_ROOM_SIZE,
  LevelMeter,
  MeshCall,
  ScreenShare,
  type SignalingClient,
  type SignalingError,
  type TrackKind,
  type DeviceChoice,
  canShareScreen,
} from '../src/index.ts';
import { CallDevices } from './call-devices.ts';
import type { CallProblems } from './call-problems.ts';
import { describeIceFailure } from './call-problems.ts';
import type { ChatPanel } from './chat-panel.ts';
import { canChooseSpeaker } from './device-pickers.ts';
import type { PageElements } from './elements.ts';
import type { Strings } from './i18n/en.ts';
import { type InviteParams, inviteUrl } from './invite.ts';
import type { TileLayout } from './layout.ts';
import { LINK_COPIED_MS, LOCAL_METER_MS, LOCAL_SPEAKING_LEVEL, SPEAKING_HOLD_MS } from './page-constants.ts';
import type { TileGrid } from './tiles.ts';

/** What a call needs from the page around it (objects that live as long as the page). */
export interface CallSessionOptions {
  el: PageElements;
  strings: Strings;
  invite: InviteParams;
  client: SignalingClient;
  stream: MediaStream | null;
  tiles: TileGrid;
  layout: TileLayout;
  problems: CallProblems;
  chatPanel: ChatPanel;
  speakerId: string | undefined;
  remember: (choice: Partial<DeviceChoice>) => void;
  /** The signaling state changed (the status line). */
  onSignaling: (client: SignalingClient) => void;
  /** The server ended the session (name taken, removed...): the page goes back to the pre-join screen. */
  onEnded: (error: SignalingError) => void;
}

/** A peer's `metadata.displayName`, when its application set one (a non-empty string). */
export function displayName(metadata: Record<string, unknown> | undefined): string | undefined {
  const value = metadata?.['displayName'];
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

export class CallSession {
  readonly room: string;
  readonly client: SignalingClient;
  readonly #o: CallSessionOptions;
  readonly #call: MeshCall;
  readonly #share: ScreenShare;
  readonly #devices: CallDevices | undefined;
  readonly #media: MediaStream | null;
  /** Everything to undo on close, in the order it was built; close() undoes it in reverse. */
  readonly #teardown: Array<() => void> = [];
  #shareTrack: MediaStreamTrack | undefined;
  #localFallback: (() => void) | undefined;
  #lastLoud = -Infinity;
  #closed = false;

  constructor(options: CallSessionOptions) {
    this.#o = options;
    const { el, strings: S, client, stream, tiles, problems, invite } = options;
    this.client = client;
    this.room = client.room;
    this.#media = stream;
    this.#defer(() => {
      for (const track of stream?.getTracks() ?? []) track.stop();
    });
    // Undone last but one: the call view as it was before the call.
    this.#defer(() => {
      tiles.clear();
      problems.clear();
      el.localVideo.srcObject = null;
      el.localTile.dataset['speaking'] = 'false';
      el.unmuteButton.hidden = true;
      el.inviteFallback.hidden = true;
      el.devicesPanel.hidden = true;
      el.devicesButton.setAttribute('aria-expanded', 'false');
      el.heavyNotice.hidden = true;
    });

    const call = new MeshCall({
      signaling: client,
      localStream: stream,
      rtcConfiguration: invite.relayOnly ? { iceTransportPolicy: 'relay' } : {},
      adaptiveQuality: invite.adaptiveQuality,
    });
    this.#call = call;
    this.#defer(() => {
      call.close();
      call.removeAllListeners();
    });
    const share = new ScreenShare(call, () => stream?.getVideoTracks()[0] ?? null);
    this.#share = share;
    this.#defer(() => {
      share.removeAllListeners();
      void share.stop().catch(() => undefined);
    });
    const stats = new CallStats(call, { holdMs: SPEAKING_HOLD_MS, speakingLevel: LOCAL_SPEAKING_LEVEL });
    this.#defer(() => stats.stop());
    const chat = new Chat(client);
    this.#defer(() => chat.close());
    chat.on('message', (message) => options.chatPanel.show(message, displayName(client.metadataOf(message.from)) ?? message.from));
    options.chatPanel.connect((text) => void chat.send(text));
    this.#defer(() => options.chatPanel.clear());

    if (stream !== null) {
      const devices = new CallDevices({
        selects: el.callSelects,
        strings: S,
        call,
        stream,
        sharing: () => share.sharing,
        setSpeaker: (id) => tiles.setSpeaker(id),
        say: (text) => this.#say(text),
        changed: () => {
          this.#stopMeter(); // on the old microphone: the next sample starts one on the new
          this.#showLocal();
          this.#updateControls();
        },
        remember: options.remember,
      });
      this.#devices = devices;
      this.#defer(() => devices.close());
    }
    this.#defer(() => this.#stopMeter());
    if (options.speakerId !== undefined && canChooseSpeaker()) void tiles.setSpeaker(options.speakerId);

    share.on('change', ({ track }) => {
      this.#shareTrack = track ?? undefined;
      this.#showLocal();
      this.#tellMediaState();
      this.#updateControls();
    });
    stats.on('sample', (sample) => tiles.setStats(sample));
    stats.on('local', ({ level, speaking }) => (level === null ? this.#fallBackToMeter() : this.#showLocalSpeaking(speaking)));
    call.on('peer-added', ({ peer }) => {
      tiles.add(peer, displayName(client.metadataOf(peer)));
      this.#updatePeople();
    });
    call.on('peer-removed', ({ peer }) => {
      tiles.remove(peer);
      problems.clear(peer);
      this.#updatePeople();
    });
    call.on('peer-media', ({ peer, ...state }) => tiles.setMedia(peer, state));
    call.on('stream', ({ peer, stream: remote }) => tiles.setStream(peer, remote));
    call.on('connection-state', ({ peer, state }) => {
      tiles.setState(peer, state);
      if (state === 'connected') problems.clear(peer);
    });
    call.on('ice-failed', ({ peer, ...failure }) => problems.set(peer, describeIceFailure(S, peer, failure, invite.relayOnly)));
    call.on('error', ({ error }) => console.warn(error));
    client.on('peer-joined', ({ name: peer }) => this.#announce(S.peerJoined(peer)));
    client.on('peer-left', ({ name: peer }) => this.#announce(S.peerLeft(peer)));
    client.on('error', (error) => console.warn(error));
    client.on('state', ({ state, error }) => {
      options.onSignaling(client);
      if (state === 'closed' && error !== undefined && !this.#closed) options.onEnded(error);
    });
    this.#defer(() => client.removeAllListeners());

    this.#listen(el.micButton, 'click', () => this.#toggle('audio'));
    this.#listen(el.cameraButton, 'click', () => this.#toggle('video'));
    el.shareButton.hidden = !canShareScreen();
    this.#listen(el.shareButton, 'click', () => void this.#toggleShare());
    this.#listen(el.devicesButton, 'click', () => {
      el.devicesPanel.hidden = !el.devicesPanel.hidden;
      el.devicesButton.setAttribute('aria-expanded', String(!el.devicesPanel.hidden));
      if (!el.devicesPanel.hidden) void this.#devices?.refresh();
    });
    this.#listen(el.inviteButton, 'click', () => void this.#copyInvite());
    // Nobody looks at a hidden page: no statistics sampling, no meter, until it is shown.
    const onVisibility = (): void => {
      const hidden = document.visibilityState === 'hidden';
      call.setStatsPaused(hidden);
      // The fallback meter too; the first sample after the page is shown again restarts it.
      if (hidden) this.#stopMeter();
    };
    this.#listen(document, 'visibilitychange', onVisibility);
    onVisibility();

    this.#showLocal();
    this.#updateControls();
    this.#tellMediaState();
    client.connect();
  }

  /** Leaves the room and undoes everything the call built. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Say goodbye first: closing the peer connections can block this thread for hundreds
    // of milliseconds, and the others should drop our tile without waiting for that.
    this.client.leave();
    for (const undo of this.#teardown.splice(0).reverse()) undo();
  }

  #defer(undo: () => void): void {
    this.#teardown.push(undo);
  }

  #listen(target: EventTarget, type: string, listener: (event: Event) => void): void {
    target.addEventListener(type, listener);
    this.#defer(() => target.removeEventListener(type, listener));
  }

  #say(text: string): void {
    this.#o.el.notice.textContent = text;
    this.#o.el.notice.hidden = false;
  }

  /** For screen readers: joins and leaves. */
  #announce(text: string): void {
    this.#o.el.announcer.textContent = text;
  }

  #localTrack(kind: TrackKind): MediaStreamTrack | undefined {
    return kind === 'audio' ? this.#media?.getAudioTracks()[0] : this.#media?.getVideoTracks()[0];
  }

  #updateTrackButton(button: HTMLButtonElement, kind: TrackKind, onText: string, offText: string): void {
    const track = this.#localTrack(kind);
    button.disabled = track === undefined;
    const off = track === undefined || !track.enabled;
    button.setAttribute('aria-pressed', String(off));
    button.textContent = off ? offText : onText;
  }

  #updateControls(): void {
    const { el, strings: S } = this.#o;
    this.#updateTrackButton(el.micButton, 'audio', S.mute, S.unmute);
    this.#updateTrackButton(el.cameraButton, 'video', S.cameraOff, S.cameraOn);
    const sharing = this.#share.sharing;
    el.shareButton.textContent = sharing ? S.stopSharing : S.shareScreen;
    el.shareButton.setAttribute('aria-pressed', String(sharing));
    el.app.dataset['sharing'] = String(sharing);
    const audio = this.#localTrack('audio');
    const video = this.#localTrack('video');
    const facts = [
      audio === undefined ? S.ownNoMic : audio.enabled ? '' : S.ownMuted,
      video === undefined ? S.ownNoCamera : video.enabled ? '' : S.ownCameraOff,
    ];
    el.localState.textContent = facts.filter((f) => f !== '').join(' · ');
    el.localTile.dataset['muted'] = String(audio === undefined || !audio.enabled);
    el.localVideo.hidden = !sharing && (video === undefined || !video.enabled);
  }

  /** What the others' pages show about us (muted mark, a screen shown whole). */
  #tellMediaState(): void {
    const audio = this.#localTrack('audio');
    const video = this.#localTrack('video');
    const sharing = this.#share.sharing;
    this.#call.setMediaState({ audio: audio?.enabled ?? false, video: sharing || (video?.enabled ?? false), screen: sharing });
  }

  #toggle(kind: TrackKind): void {
    const track = this.#localTrack(kind);
    if (track === undefined) return;
    if (kind === 'video' && this.#share.sharing) {
      track.enabled = !track.enabled; // the camera is not on the senders while sharing
    } else {
      this.#call.setTrackEnabled(kind, !track.enabled);
    }
    this.#tellMediaState();
    this.#updateControls();
  }

  #updatePeople(): void {
    const { el, strings: S } = this.#o;
    const people = this.#call.peers.length + 1;
    el.heavyNotice.hidden = people <= HEAVY_ROOM_SIZE;
    el.heavyNotice.textContent = people > HEAVY_ROOM_SIZE ? S.heavyCall(people) : '';
    this.#o.layout.refresh();
  }

  #showLocal(): void {
    const { el } = this.#o;
    const screen = this.#share.sharing ? this.#shareTrack : undefined;
    el.localVideo.srcObject = screen !== undefined ? new MediaStream([screen]) : this.#media;
    el.localTile.dataset['screen'] = String(screen !== undefined);
  }

  /** Our own tile lights up while we speak and the microphone is on. */
  #showLocalSpeaking(speaking: boolean): void {
    const value = String(speaking && this.#localTrack('audio')?.enabled === true);
    const tile = this.#o.el.localTile;
    if (tile.dataset['speaking'] !== value) tile.dataset['speaking'] = value;
  }

  /**
   * An engine whose statistics carry no microphone level (Firefox): a Web Audio meter on the
   * microphone instead, stopped while the page is hidden.
   */
  #fallBackToMeter(): void {
    const track = this.#localTrack('audio');
    if (this.#localFallback !== undefined || track === undefined) return;
    let meter: LevelMeter;
    try {
      meter = new LevelMeter(track);
    } catch {
      this.#localFallback = () => undefined; // no Web Audio: no highlight, the rest works
      return;
    }
    const timer = setInterval(() => {
      if (meter.level() > LOCAL_SPEAKING_LEVEL) this.#lastLoud = Date.now();
      this.#showLocalSpeaking(Date.now() - this.#lastLoud < SPEAKING_HOLD_MS);
    }, LOCAL_METER_MS);
    this.#localFallback = () => {
      clearInterval(timer);
      meter.close();
    };
  }

  #stopMeter(): void {
    this.#localFallback?.();
    this.#localFallback = undefined;
  }

  async #copyInvite(): Promise<void> {
    const { el, strings: S } = this.#o;
    const link = inviteUrl(location, this.room);
    try {
      await navigator.clipboard.writeText(link);
      if (this.#closed) return;
      el.inviteButton.textContent = S.linkCopied;
      const timer = setTimeout(() => (el.inviteButton.textContent = S.copyInvite), LINK_COPIED_MS);
      this.#defer(() => {
        clearTimeout(timer);
        el.inviteButton.textContent = S.copyInvite;
      });
    } catch {
      // No clipboard (plain http, or refused): show the link to copy by hand.
      el.inviteFallbackInput.value = link;
      el.inviteFallback.hidden = false;
      el.inviteFallbackInput.select();
    }
  }

  async #toggleShare(): Promise<void> {
    try {
      if (this.#share.sharing) await this.#share.stop();
      else await this.#share.start();
    } catch (error) {
      // The person cancelled the browser's picker: not worth a sentence.
      if (!(error instanceof DOMException && error.name === 'NotAllowedError')) this.#say(this.#o.strings.shareFailed);
    }
  }
}
