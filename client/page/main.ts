/**
 * The video chat page: routing between the pre-join screen and a call (call-session.ts), the
 * page's language, and what is remembered between visits. Only the page code touches the DOM.
 */
import {
  type DeviceChoice,
  SignalingClient,
  SignalingError,
  type SignalingState,
  loadChoice,
  newRoomName,
  saveChoice,
} from '../src/index.ts';
import { describeEnd, stateText } from './status-text.ts';
import { CallProblems } from './call-problems.ts';
import { CallSession } from './call-session.ts';
import { ChatPanel } from './chat-panel.ts';
import { findElements } from './elements.ts';
import { applyStatic, LANGUAGES, pickLanguage } from './i18n/index.ts';
import { inviteUrl, readInvite, signalingUrl } from './invite.ts';
import { TileLayout } from './layout.ts';
import { openLocalMedia } from './media.ts';
import { PreJoin } from './prejoin.ts';
import { TileGrid } from './tiles.ts';

const invite = readInvite(location);
const lang = pickLanguage(invite.lang, navigator.languages ?? [navigator.language]);
const S = LANGUAGES[lang];
const el = findElements();

document.documentElement.lang = lang;
el.app.dataset['lang'] = lang;
document.title = S.title;
const missing = applyStatic(document, S);
if (missing.length > 0) console.error(`strings missing for ${lang}: ${missing.join(', ')}`);

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

// What lives as long as the page; a CallSession uses them while it lasts.
const tiles = new TileGrid(el.tiles, S, () => (el.unmuteButton.hidden = false));
const layout = new TileLayout(el.tiles);
const problems = new CallProblems(el.problems);
const chatPanel = new ChatPanel(el.chat, S, lang);
const preJoin = new PreJoin(el.preJoin, S);

let session: CallSession | undefined;
/** Bumped by every join and end, so a join still waiting for the camera can tell it was cancelled. */
let generation = 0;

function showSignaling(state: SignalingState, room = ''): void {
  el.app.dataset['signaling'] = state;
  el.signalingLabel.textContent = stateText(S, state, room);
}

function showView(view: 'join' | 'call'): void {
  el.app.dataset['view'] = view;
  el.form.hidden = view !== 'join';
  el.callView.hidden = view !== 'call';
}

function showJoinError(text: string | null): void {
  el.joinError.textContent = text ?? '';
  el.joinError.hidden = text === null;
}

/** The address bar shows the room's link (never our name), with the language if the link forced one. */
function showRoomInAddress(room: string): void {
  history.replaceState(null, '', inviteUrl(location, room, invite.lang === null ? null : lang));
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
    showJoinError(error instanceof SignalingError ? describeEnd(S, error, room, name) : String(error));
    return;
  }
  showRoomInAddress(room);
  showView('call');
  showSignaling('connecting');
  el.localName.textContent = S.you(name);
  const { stream, notice } = media ?? (await openLocalMedia(S, { cameraId: saved.cameraId, micId: saved.micId }));
  if (mine !== generation) {
    // Left (or joined again) while the browser was asking for the camera.
    for (const track of stream?.getTracks() ?? []) track.stop();
    return;
  }
  el.notice.textContent = notice ?? '';
  el.notice.hidden = notice === null;
  try {
    session = new CallSession({
      el,
      strings: S,
      invite,
      client,
      stream,
      tiles,
      layout,
      problems,
      chatPanel,
      speakerId: saved.speakerId,
      remember,
      onSignaling: ({ state }) => showSignaling(state, room),
      // Turned away (name taken, room full): the person will try again, so show the preview.
      onEnded: (error) => end(describeEnd(S, error, room, name), true),
    });
  } catch (error) {
    for (const track of stream?.getTracks() ?? []) track.stop();
    end(error instanceof SignalingError ? describeEnd(S, error, room, name) : String(error));
  }
}

/** Ends the call, if any, and goes back to the pre-join screen (with a reason, if any). */
function end(reason: string | null, preview = false): void {
  generation++;
  const current = session;
  session = undefined;
  current?.close();
  showSignaling('closed');
  showView('join');
  showJoinError(reason);
  if (preview) void preJoin.open(saved);
}

el.form.addEventListener('submit', (event) => {
  event.preventDefault();
  const room = el.roomInput.value.trim();
  const name = el.nameInput.value.trim();
  if (room === '' || name === '') {
    showJoinError(S.enterRoomAndName);
    return;
  }
  remember({ ...preJoin.choice, name });
  void join(room, name, preJoin.take());
});
el.newRoom.addEventListener('click', () => {
  el.roomInput.value = newRoomName();
  showRoomInAddress(el.roomInput.value);
  el.roomNote.hidden = false;
  el.nameInput.focus();
});
el.leaveButton.addEventListener('click', () => end(null));
el.unmuteButton.addEventListener('click', () => {
  tiles.unmuteAll();
  el.unmuteButton.hidden = true;
});
// Closing the tab: say goodbye so the others drop our tile at once, not after a timeout.
addEventListener('pagehide', () => session?.client.leave());
addEventListener('pageshow', (event) => {
  // Back from the back/forward cache: that call is over.
  if (event.persisted && session !== undefined) end(S.leftPage);
});

el.roomInput.value = invite.room;
el.nameInput.value = invite.name !== '' ? invite.name : (saved.name ?? '');
el.roomNote.hidden = invite.room === '';
showView('join');
showSignaling('closed');
// `/?room=R&name=N` joins at once (an automation contract); anything else shows the pre-join screen.
if (invite.room !== '' && invite.name !== '') void join(invite.room, invite.name);
else {
  void preJoin.open(saved);
  (invite.room === '' ? el.roomInput : el.nameInput).focus();
}
