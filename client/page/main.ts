/**
 * The video chat page: the only code that touches the DOM. It wires the join
 * form, the call view and the controls to a SignalingClient and a MeshCall.
 */
import { MeshCall, SignalingClient, SignalingError, type SignalingState, type TrackKind } from "../src/index.ts";
import { CallProblems, describeIceFailure } from "./call-problems.ts";
import { inviteLink, readInvite, signalingUrl } from "./invite.ts";
import { openLocalMedia } from "./media.ts";
import { TileGrid } from "./tiles.ts";

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`page is missing #${id}`);
  return element as T;
}

const app = byId("app");
const form = byId<HTMLFormElement>("join-form");
const roomInput = form.elements.namedItem("room") as HTMLInputElement;
const nameInput = form.elements.namedItem("name") as HTMLInputElement;
const joinError = byId("join-error");
const callView = byId("call");
const notice = byId("call-notice");
const signalingLabel = byId("signaling-label");
const localVideo = byId<HTMLVideoElement>("local-video");
const localName = byId("local-name");
const localState = byId("local-state");
const unmuteButton = byId<HTMLButtonElement>("unmute-remote");
const micButton = byId<HTMLButtonElement>("mic");
const cameraButton = byId<HTMLButtonElement>("camera");
const inviteButton = byId<HTMLButtonElement>("invite");
const leaveButton = byId<HTMLButtonElement>("leave");
const inviteFallback = byId("invite-fallback");
const inviteFallbackInput = inviteFallback.querySelector("input") as HTMLInputElement;

const tiles = new TileGrid(byId("tiles"), () => (unmuteButton.hidden = false));
const problems = new CallProblems(byId("call-problems"));
const invite = readInvite(location);

interface Session {
  room: string;
  client: SignalingClient;
  call: MeshCall;
  media: MediaStream | null;
}
let session: Session | undefined;
/** Bumped by every join and end, so a join still waiting for the camera can tell it was cancelled. */
let generation = 0;

const STATE_TEXT: Record<SignalingState, (room: string) => string> = {
  connecting: () => "Connecting…",
  open: (room) => `In room “${room}”`,
  reconnecting: () => "Connection lost, reconnecting…",
  closed: () => "Not connected",
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

/** Plain words for why the session ended. */
function describeEnd(error: SignalingError, room: string, name: string): string {
  if (error.reason === "server-error") {
    switch (error.code) {
      case "name-taken":
        return `Someone in room “${room}” is already called “${name}”. Pick another name.`;
      case "room-full":
        return `Room “${room}” is full.`;
      case "unauthorized":
        return "This room needs an invitation that this link does not carry.";
      case "bad-request":
        return "The server did not accept this room or name.";
    }
  }
  if (error.reason === "invalid-options") return "Room and name must be 1 to 64 characters, without control characters.";
  if (error.reason === "closed-by-server") return `The server ended the connection (code ${error.closeCode ?? "?"}).`;
  if (error.reason === "reconnect-exhausted") return "Lost the connection to the server.";
  return error.message;
}

function updateTrackButton(button: HTMLButtonElement, kind: TrackKind, onText: string, offText: string): void {
  const track = kind === "audio" ? session?.media?.getAudioTracks()[0] : session?.media?.getVideoTracks()[0];
  button.disabled = track === undefined;
  const off = track === undefined || !track.enabled;
  button.setAttribute("aria-pressed", String(off));
  button.textContent = off ? offText : onText;
}

function updateControls(): void {
  updateTrackButton(micButton, "audio", "Mute", "Unmute");
  updateTrackButton(cameraButton, "video", "Camera off", "Camera on");
  const audio = session?.media?.getAudioTracks()[0];
  const video = session?.media?.getVideoTracks()[0];
  const facts = [audio === undefined ? "no mic" : audio.enabled ? "" : "muted", video === undefined ? "no camera" : video.enabled ? "" : "camera off"];
  localState.textContent = facts.filter((f) => f !== "").join(" · ");
}

function toggle(kind: TrackKind): void {
  const track = kind === "audio" ? session?.media?.getAudioTracks()[0] : session?.media?.getVideoTracks()[0];
  if (session === undefined || track === undefined) return;
  session.call.setTrackEnabled(kind, !track.enabled);
  updateControls();
}

async function join(room: string, name: string): Promise<void> {
  if (session !== undefined) return;
  const mine = ++generation;
  showJoinError(null);
  let client: SignalingClient;
  try {
    client = new SignalingClient({ url: signalingUrl(location), room, name });
  } catch (error) {
    showJoinError(error instanceof SignalingError ? describeEnd(error, room, name) : String(error));
    return;
  }
  // Drop our name from the address bar: a shared or reloaded URL must not reuse it.
  history.replaceState(null, "", inviteLink(location, room));
  showView("call");
  showSignaling("connecting");
  localName.textContent = `${name} (you)`;
  const { stream, notice: mediaNotice } = await openLocalMedia();
  if (mine !== generation) {
    // Left (or joined again) while the browser was asking for the camera.
    for (const track of stream?.getTracks() ?? []) track.stop();
    return;
  }
  notice.textContent = mediaNotice ?? "";
  notice.hidden = mediaNotice === null;
  localVideo.srcObject = stream;
  localVideo.hidden = stream === null || stream.getVideoTracks().length === 0;

  const rtcConfiguration: RTCConfiguration = invite.relayOnly ? { iceTransportPolicy: "relay" } : {};
  const call = new MeshCall({ signaling: client, localStream: stream, rtcConfiguration });
  session = { room, client, call, media: stream };
  call.on("peer-added", ({ peer }) => tiles.add(peer, displayName(client.metadataOf(peer))));
  call.on("peer-removed", ({ peer }) => {
    tiles.remove(peer);
    problems.clear(peer);
  });
  call.on("stream", ({ peer, stream: remote }) => tiles.setStream(peer, remote));
  call.on("connection-state", ({ peer, state }) => {
    tiles.setState(peer, state);
    if (state === "connected") problems.clear(peer);
  });
  call.on("ice-failed", ({ peer, ...failure }) => problems.set(peer, describeIceFailure(peer, failure, invite.relayOnly)));
  call.on("error", ({ error }) => console.warn(error));
  client.on("error", (error) => console.warn(error));
  client.on("state", ({ state, error }) => {
    showSignaling(state, room);
    if (state === "closed" && error !== undefined) end(describeEnd(error, room, name));
  });
  updateControls();
  client.connect();
}

/** A peer's `metadata.displayName`, when its application set one (a non-empty string). */
function displayName(metadata: Record<string, unknown> | undefined): string | undefined {
  const value = metadata?.["displayName"];
  return typeof value === "string" && value.trim() !== "" ? value : undefined;
}

/** Tears the call down and goes back to the form (with a reason, if any). */
function end(reason: string | null): void {
  generation++;
  const current = session;
  session = undefined;
  if (current !== undefined) {
    // Say goodbye first: closing the peer connections can block this thread for hundreds
    // of milliseconds, and the others should drop our tile without waiting for that.
    current.client.leave();
    current.call.close();
    current.client.removeAllListeners();
    for (const track of current.media?.getTracks() ?? []) track.stop();
  }
  tiles.clear();
  problems.clear();
  localVideo.srcObject = null;
  unmuteButton.hidden = true;
  inviteFallback.hidden = true;
  showSignaling("closed");
  showView("join");
  showJoinError(reason);
}

async function copyInvite(): Promise<void> {
  if (session === undefined) return;
  const link = inviteLink(location, session.room);
  try {
    await navigator.clipboard.writeText(link);
    inviteButton.textContent = "Link copied";
    setTimeout(() => (inviteButton.textContent = "Copy invite link"), 2000);
  } catch {
    // No clipboard (plain http, or refused): show the link to copy by hand.
    inviteFallbackInput.value = link;
    inviteFallback.hidden = false;
    inviteFallbackInput.select();
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const room = roomInput.value.trim();
  const name = nameInput.value.trim();
  if (room === "" || name === "") {
    showJoinError("Enter a room and your name.");
    return;
  }
  void join(room, name);
});
micButton.addEventListener("click", () => toggle("audio"));
cameraButton.addEventListener("click", () => {
  toggle("video");
  const track = session?.media?.getVideoTracks()[0];
  localVideo.hidden = track === undefined || !track.enabled;
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
  if (event.persisted && session !== undefined) end("You left the call when you left the page.");
});

roomInput.value = invite.room;
nameInput.value = invite.name;
showView("join");
showSignaling("closed");
if (invite.room !== "" && invite.name !== "") void join(invite.room, invite.name);
else (invite.room === "" ? roomInput : nameInput).focus();
