/**
 * The video chat page: the only code that touches the DOM. It wires the pre-join screen,
 * the call view and the controls to a SignalingClient and a MeshCall.
 */
import {
  CallStats,
  Chat,
  HEAVY_ROOM_SIZE,
  LevelMeter,
  MeshCall,
  ScreenShare,
  SignalingClient,
  SignalingError,
  type SignalingState,
  type TrackKind,
  type DeviceChoice,
  canShareScreen,
  loadChoice,
  newRoomName,
  saveChoice,
} from "../src/index.ts";
import { CallDevices } from "./call-devices.ts";
import { ChatPanel } from "./chat-panel.ts";
import { CallProblems, describeIceFailure } from "./call-problems.ts";
import { canChooseSpeaker, type DeviceSelects } from "./device-pickers.ts";
import { applyStatic, LANGUAGES, pickLanguage } from "./i18n/index.ts";
import { inviteLink, readInvite, signalingUrl } from "./invite.ts";
import { TileLayout } from "./layout.ts";
import { openLocalMedia } from "./media.ts";
import { PreJoin } from "./prejoin.ts";
import { TileGrid } from "./tiles.ts";

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`page is missing #${id}`);
  return element as T;
}

const invite = readInvite(location);
const lang = pickLanguage(invite.lang, navigator.languages ?? [navigator.language]);
const S = LANGUAGES[lang];

const app = byId("app");
const form = byId<HTMLFormElement>("join-form");
const roomInput = byId<HTMLInputElement>("room-input");
const nameInput = byId<HTMLInputElement>("name-input");
const roomNote = byId("room-note");
const joinError = byId("join-error");
const callView = byId("call");
const notice = byId("call-notice");
const heavyNotice = byId("heavy-notice");
const announcer = byId("announcer");
const signalingLabel = byId("signaling-label");
const tilesElement = byId("tiles");
const localTile = byId("local-tile");
const localVideo = byId<HTMLVideoElement>("local-video");
const localName = byId("local-name");
const localState = byId("local-state");
const unmuteButton = byId<HTMLButtonElement>("unmute-remote");
const micButton = byId<HTMLButtonElement>("mic");
const cameraButton = byId<HTMLButtonElement>("camera");
const shareButton = byId<HTMLButtonElement>("share");
const devicesButton = byId<HTMLButtonElement>("devices");
const devicesPanel = byId("call-devices");
const inviteButton = byId<HTMLButtonElement>("invite");
const leaveButton = byId<HTMLButtonElement>("leave");
const inviteFallback = byId("invite-fallback");
const inviteFallbackInput = inviteFallback.querySelector("input") as HTMLInputElement;

document.documentElement.lang = lang;
app.dataset["lang"] = lang;
document.title = S.title;
const missing = applyStatic(document, S);
if (missing.length > 0) console.error(`strings missing for ${lang}: ${missing.join(", ")}`);

const storage = ((): Storage | undefined => {
  try {
    return localStorage;
  } catch {
    return undefined; // storage blocked (some private modes): nothing is remembered
  }
})();
let saved = loadChoice(storage);
function remember(choice: Partial<DeviceChoice>): void {
  saved = { ...saved, ...choice };
  saveChoice(storage, saved);
}

const tiles = new TileGrid(tilesElement, S, () => (unmuteButton.hidden = false));
const layout = new TileLayout(tilesElement);
const problems = new CallProblems(byId("call-problems"));
const selects = (prefix: string): DeviceSelects => ({
  camera: byId<HTMLSelectElement>(`${prefix}camera-select`),
  mic: byId<HTMLSelectElement>(`${prefix}mic-select`),
  speaker: byId<HTMLSelectElement>(`${prefix}speaker-select`),
  speakerField: byId(prefix === "" ? "speaker-field" : "call-speaker-field"),
});
const chatPanel = new ChatPanel(
  {
    panel: byId("chat"),
    log: byId("chat-log"),
    form: byId<HTMLFormElement>("chat-form"),
    input: byId<HTMLInputElement>("chat-input"),
    toggle: byId<HTMLButtonElement>("chat-toggle"),
    badge: byId("chat-unread"),
  },
  S,
  lang,
);
const preJoin = new PreJoin({ video: byId("preview-video"), videoOff: byId("preview-off"), meter: byId("mic-level"), selects: selects("") }, S);

interface Session {
  room: string;
  client: SignalingClient;
  call: MeshCall;
  media: MediaStream | null;
  stats: CallStats;
  chat: Chat;
  devices: CallDevices | undefined;
  share: ScreenShare;
  meter: LevelMeter | undefined;
  meterTimer: ReturnType<typeof setInterval> | undefined;
  /** The shared screen, while sharing. */
  shareTrack: MediaStreamTrack | undefined;
}
let session: Session | undefined;
/** Bumped by every join and end, so a join still waiting for the camera can tell it was cancelled. */
let generation = 0;

const STATE_TEXT: Record<SignalingState, (room: string) => string> = {
  connecting: () => S.stateConnecting,
  open: (room) => S.stateOpen(room),
  reconnecting: () => S.stateReconnecting,
  closed: () => S.stateClosed,
};

function showSignaling(state: SignalingState, room = ""): void {
  app.dataset["signaling"] = state;
  signalingLabel.textContent = STATE_TEXT[state](room);
}

function showView(view: "join" | "call"): void {
  app.dataset["view"] = view;
  form.hidden = view !== "join";
  callView.hidden = view !== "call";
}

function showJoinError(text: string | null): void {
  joinError.textContent = text ?? "";
  joinError.hidden = text === null;
}

function say(text: string): void {
  notice.textContent = text;
  notice.hidden = false;
}

/** For screen readers: joins and leaves. */
function announce(text: string): void {
  announcer.textContent = text;
}

/** Plain words for why the session ended. */
function describeEnd(error: SignalingError, room: string, name: string): string {
  if (error.reason === "server-error") {
    switch (error.code) {
      case "name-taken":
        return S.nameTaken(room, name);
      case "room-full":
        return S.roomFull(room);
      case "unauthorized":
        return S.unauthorized;
      case "bad-request":
        return S.badRequest;
    }
  }
  if (error.reason === "invalid-options") return S.invalidOptions;
  if (error.reason === "closed-by-server") return S.closedByServer(String(error.closeCode ?? "?"));
  if (error.reason === "reconnect-exhausted") return S.reconnectExhausted;
  return error.message;
}

const localTrack = (kind: TrackKind): MediaStreamTrack | undefined =>
  kind === "audio" ? session?.media?.getAudioTracks()[0] : session?.media?.getVideoTracks()[0];

function updateTrackButton(button: HTMLButtonElement, kind: TrackKind, onText: string, offText: string): void {
  const track = localTrack(kind);
  button.disabled = track === undefined;
  const off = track === undefined || !track.enabled;
  button.setAttribute("aria-pressed", String(off));
  button.textContent = off ? offText : onText;
}

function updateControls(): void {
  updateTrackButton(micButton, "audio", S.mute, S.unmute);
  updateTrackButton(cameraButton, "video", S.cameraOff, S.cameraOn);
  const sharing = session?.share.sharing ?? false;
  shareButton.textContent = sharing ? S.stopSharing : S.shareScreen;
  shareButton.setAttribute("aria-pressed", String(sharing));
  app.dataset["sharing"] = String(sharing);
  const audio = localTrack("audio");
  const video = localTrack("video");
  const facts = [audio === undefined ? S.ownNoMic : audio.enabled ? "" : S.ownMuted, video === undefined ? S.ownNoCamera : video.enabled ? "" : S.ownCameraOff];
  localState.textContent = facts.filter((f) => f !== "").join(" · ");
  localTile.dataset["muted"] = String(audio === undefined || !audio.enabled);
  localVideo.hidden = !sharing && (video === undefined || !video.enabled);
}

/** What the others' pages show about us (muted mark, a screen shown whole). */
function tellMediaState(): void {
  if (session === undefined) return;
  const audio = localTrack("audio");
  const video = localTrack("video");
  session.call.setMediaState({ audio: audio?.enabled ?? false, video: session.share.sharing || (video?.enabled ?? false), screen: session.share.sharing });
}

function toggle(kind: TrackKind): void {
  const track = localTrack(kind);
  if (session === undefined || track === undefined) return;
  if (kind === "video" && session.share.sharing) {
    track.enabled = !track.enabled; // the camera is not on the senders while sharing
  } else {
    session.call.setTrackEnabled(kind, !track.enabled);
  }
  tellMediaState();
  updateControls();
}

function updatePeople(): void {
  const people = (session?.call.peers.length ?? 0) + 1;
  heavyNotice.hidden = people <= HEAVY_ROOM_SIZE;
  heavyNotice.textContent = people > HEAVY_ROOM_SIZE ? S.heavyCall(people) : "";
  layout.refresh();
}

function showLocal(): void {
  const screen = session?.share.sharing === true ? session.shareTrack : undefined;
  localVideo.srcObject = screen !== undefined ? new MediaStream([screen]) : (session?.media ?? null);
  localTile.dataset["screen"] = String(screen !== undefined);
}

async function join(room: string, name: string, media?: { stream: MediaStream | null; notice: string | null }): Promise<void> {
  if (session !== undefined) return;
  const mine = ++generation;
  showJoinError(null);
  let client: SignalingClient;
  try {
    client = new SignalingClient({ url: signalingUrl(location), room, name });
  } catch (error) {
    for (const track of media?.stream?.getTracks() ?? []) track.stop();
    showJoinError(error instanceof SignalingError ? describeEnd(error, room, name) : String(error));
    return;
  }
  // Drop our name from the address bar: a shared or reloaded URL must not reuse it.
  history.replaceState(null, "", inviteLink(location, room) + (invite.lang === null ? "" : `&lang=${lang}`));
  showView("call");
  showSignaling("connecting");
  localName.textContent = S.you(name);
  const { stream, notice: mediaNotice } = media ?? (await openLocalMedia(S, { cameraId: saved.cameraId, micId: saved.micId }));
  if (mine !== generation) {
    // Left (or joined again) while the browser was asking for the camera.
    for (const track of stream?.getTracks() ?? []) track.stop();
    return;
  }
  notice.textContent = mediaNotice ?? "";
  notice.hidden = mediaNotice === null;

  const rtcConfiguration: RTCConfiguration = invite.relayOnly ? { iceTransportPolicy: "relay" } : {};
  const call = new MeshCall({ signaling: client, localStream: stream, rtcConfiguration, adaptiveQuality: invite.adaptiveQuality });
  const share = new ScreenShare(call, () => stream?.getVideoTracks()[0] ?? null);
  const stats = new CallStats(call);
  const chat = new Chat(client);
  chat.on("message", (message) => chatPanel.show(message, displayName(client.metadataOf(message.from)) ?? message.from));
  chatPanel.connect((text) => void chat.send(text));
  const current: Session = { room, client, call, media: stream, stats, chat, share, devices: undefined, meter: undefined, meterTimer: undefined, shareTrack: undefined };
  session = current;
  if (stream !== null) {
    current.devices = new CallDevices({
      selects: selects("call-"),
      strings: S,
      call,
      stream,
      sharing: () => share.sharing,
      setSpeaker: (id) => tiles.setSpeaker(id),
      say,
      changed: () => {
        showLocal();
        startLocalMeter(current);
        updateControls();
      },
      remember,
    });
    startLocalMeter(current);
  }
  if (saved.speakerId !== undefined && canChooseSpeaker()) void tiles.setSpeaker(saved.speakerId);
  showLocal();
  share.on("change", ({ track }) => {
    current.shareTrack = track ?? undefined;
    showLocal();
    tellMediaState();
    updateControls();
  });
  stats.on("sample", (sample) => tiles.setStats(sample));
  call.on("peer-added", ({ peer }) => {
    tiles.add(peer, displayName(client.metadataOf(peer)));
    updatePeople();
  });
  call.on("peer-removed", ({ peer }) => {
    tiles.remove(peer);
    problems.clear(peer);
    updatePeople();
  });
  call.on("peer-media", ({ peer, ...state }) => tiles.setMedia(peer, state));
  call.on("stream", ({ peer, stream: remote }) => tiles.setStream(peer, remote));
  call.on("connection-state", ({ peer, state }) => {
    tiles.setState(peer, state);
    if (state === "connected") problems.clear(peer);
  });
  call.on("ice-failed", ({ peer, ...failure }) => problems.set(peer, describeIceFailure(S, peer, failure, invite.relayOnly)));
  call.on("error", ({ error }) => console.warn(error));
  client.on("peer-joined", ({ name: peer }) => announce(S.peerJoined(peer)));
  client.on("peer-left", ({ name: peer }) => announce(S.peerLeft(peer)));
  client.on("error", (error) => console.warn(error));
  client.on("state", ({ state, error }) => {
    showSignaling(state, room);
    if (state === "closed" && error !== undefined) end(describeEnd(error, room, name), true);
  });
  updateControls();
  tellMediaState();
  client.connect();
}

/** A peer's `metadata.displayName`, when its application set one (a non-empty string). */
function displayName(metadata: Record<string, unknown> | undefined): string | undefined {
  const value = metadata?.["displayName"];
  return typeof value === "string" && value.trim() !== "" ? value : undefined;
}

/** Our own tile lights up while we speak (Web Audio: no round trip through getStats). */
function startLocalMeter(current: Session): void {
  current.meter?.close();
  clearInterval(current.meterTimer);
  const track = current.media?.getAudioTracks()[0];
  if (track === undefined) return;
  try {
    current.meter = new LevelMeter(track);
  } catch {
    return;
  }
  let lastLoud = 0;
  current.meterTimer = setInterval(() => {
    if ((current.meter?.level() ?? 0) > 0.02 && track.enabled) lastLoud = Date.now();
    localTile.dataset["speaking"] = String(Date.now() - lastLoud < 1200);
  }, 200);
}

/** Tears the call down and goes back to the pre-join screen (with a reason, if any). */
function end(reason: string | null, preview = false): void {
  generation++;
  const current = session;
  session = undefined;
  if (current !== undefined) {
    // Say goodbye first: closing the peer connections can block this thread for hundreds
    // of milliseconds, and the others should drop our tile without waiting for that.
    current.client.leave();
    current.call.close();
    current.client.removeAllListeners();
    current.stats.stop();
    current.chat.close();
    current.devices?.close();
    current.share.removeAllListeners();
    void current.share.stop().catch(() => undefined);
    current.meter?.close();
    clearInterval(current.meterTimer);
    for (const track of current.media?.getTracks() ?? []) track.stop();
  }
  tiles.clear();
  problems.clear();
  chatPanel.clear();
  localVideo.srcObject = null;
  unmuteButton.hidden = true;
  inviteFallback.hidden = true;
  devicesPanel.hidden = true;
  devicesButton.setAttribute("aria-expanded", "false");
  heavyNotice.hidden = true;
  showSignaling("closed");
  showView("join");
  showJoinError(reason);
  // Turned away (name taken, room full): the person will try again, so show the preview.
  if (preview) void preJoin.open(saved);
}

async function copyInvite(): Promise<void> {
  if (session === undefined) return;
  const link = inviteLink(location, session.room);
  try {
    await navigator.clipboard.writeText(link);
    inviteButton.textContent = S.linkCopied;
    setTimeout(() => (inviteButton.textContent = S.copyInvite), 2000);
  } catch {
    // No clipboard (plain http, or refused): show the link to copy by hand.
    inviteFallbackInput.value = link;
    inviteFallback.hidden = false;
    inviteFallbackInput.select();
  }
}

async function toggleShare(): Promise<void> {
  if (session === undefined) return;
  try {
    if (session.share.sharing) await session.share.stop();
    else await session.share.start();
  } catch (error) {
    // The person cancelled the browser's picker: not worth a sentence.
    if (!(error instanceof DOMException && error.name === "NotAllowedError")) say(S.shareFailed);
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const room = roomInput.value.trim();
  const name = nameInput.value.trim();
  if (room === "" || name === "") {
    showJoinError(S.enterRoomAndName);
    return;
  }
  remember({ ...preJoin.choice, name });
  void join(room, name, preJoin.take());
});
byId("new-room").addEventListener("click", () => {
  roomInput.value = newRoomName();
  history.replaceState(null, "", inviteLink(location, roomInput.value) + (invite.lang === null ? "" : `&lang=${lang}`));
  roomNote.hidden = false;
  nameInput.focus();
});
micButton.addEventListener("click", () => toggle("audio"));
cameraButton.addEventListener("click", () => toggle("video"));
shareButton.hidden = !canShareScreen();
shareButton.addEventListener("click", () => void toggleShare());
devicesButton.addEventListener("click", () => {
  devicesPanel.hidden = !devicesPanel.hidden;
  devicesButton.setAttribute("aria-expanded", String(!devicesPanel.hidden));
  if (!devicesPanel.hidden) void session?.devices?.refresh();
});
inviteButton.addEventListener("click", () => void copyInvite());
leaveButton.addEventListener("click", () => end(null));
unmuteButton.addEventListener("click", () => {
  tiles.unmuteAll();
  unmuteButton.hidden = true;
});
// Closing the tab: say goodbye so the others drop our tile at once, not after a timeout.
addEventListener("pagehide", () => session?.client.leave());
addEventListener("pageshow", (event) => {
  // Back from the back/forward cache: that call is over.
  if (event.persisted && session !== undefined) end(S.leftPage);
});

roomInput.value = invite.room;
nameInput.value = invite.name !== "" ? invite.name : (saved.name ?? "");
roomNote.hidden = invite.room === "";
showView("join");
showSignaling("closed");
// `/?room=R&name=N` joins at once (an automation contract); anything else shows the pre-join screen.
if (invite.room !== "" && invite.name !== "") void join(invite.room, invite.name);
else {
  void preJoin.open(saved);
  (invite.room === "" ? roomInput : nameInput).focus();
}
