/** Sentences for the status line and for why a call ended, in the page's language. */
import type { SignalingError, SignalingState } from '../src/index.ts';
import type { Strings } from './i18n/en.ts';

export function stateText(S: Strings, state: SignalingState, room: string): string {
  switch (state) {
    case 'connecting':
      return S.stateConnecting;
    case 'open':
      return S.stateOpen(room);
    case 'reconnecting':
      return S.stateReconnecting;
    case 'closed':
      return S.stateClosed;
    default: {
      const never: never = state;
      return never;
    }
  }
}

/** Plain words for why the session ended. */
export function describeEnd(S: Strings, error: SignalingError, room: string, name: string): string {
  if (error.reason === 'server-error') {
    switch (error.code) {
      case 'name-taken':
        return S.nameTaken(room, name);
      case 'room-full':
        return S.roomFull(room);
      case 'unauthorized':
        return S.unauthorized;
      case 'bad-request':
        return S.badRequest;
      default:
        // Any other code (or none) has no sentence of its own: the server's message says it.
        break;
    }
  }
  if (error.reason === 'invalid-options') return S.invalidOptions;
  if (error.reason === 'closed-by-server') return S.closedByServer(String(error.closeCode ?? '?'));
  if (error.reason === 'reconnect-exhausted' || error.reason === 'policy-failed') return S.reconnectExhausted;
  return error.message;
}
