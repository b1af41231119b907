/**
 * Text chat over the room `broadcast` (docs/protocol.md, Room broadcast). Nothing is stored
 * on the server: a member who joins later sees only what is sent after it joined.
 *
 * Surviving the sender's reconnect: `broadcast()` drops a message while the socket is down,
 * and one written into a socket that was already dead is lost without a word. So every
 * message carries an id, messages that could not be sent wait in an outbox, and on every
 * re-join the outbox and the messages of the last `resendWindowMs` go out again; receivers
 * drop the ids they have seen. Wire (a contract between browsers):
 *
 *   { "chat": { "id": "<1..64 chars>", "text": "<1..2000 chars>", "at": <ms since epoch> } }
 */
import type { SignalingClientEvents } from './signaling-events.ts';
import { newSessionId } from './signal-data.ts';
import { TypedEmitter } from './typed-emitter.ts';

export const MAX_CHAT_LENGTH = 2000;

/** What Chat needs from its signaling link; {@link SignalingClient} provides it. */
export interface ChatSignaling {
  readonly name: string;
  broadcast(data: object): boolean;
  on<K extends keyof SignalingClientEvents>(event: K, listener: (payload: SignalingClientEvents[K]) => void): () => void;
}

export interface ChatMessage {
  id: string;
  from: string;
  text: string;
  /** The sender's clock, ms since the epoch. */
  at: number;
  /** Sent by us. */
  own: boolean;
}

export interface ChatEvents {
  message: ChatMessage;
}

export interface ChatOptions {
  /** Messages sent this recently are sent again after a re-join. Default 15 000 ms (a resume grace). */
  resendWindowMs?: number;
}

interface Sent {
  message: ChatMessage;
  sentAt: number;
  delivered: boolean;
}

/** Ids remembered per sender for de-duplication. */
const SEEN_PER_SENDER = 500;

export function parseChat(data: Record<string, unknown>): { id: string; text: string; at: number } | null {
  const chat = data['chat'];
  if (typeof chat !== 'object' || chat === null || Array.isArray(chat)) return null;
  const { id, text, at } = chat as Record<string, unknown>;
  if (typeof id !== 'string' || id.length === 0 || id.length > 64) return null;
  if (typeof text !== 'string' || text.trim() === '' || [...text].length > MAX_CHAT_LENGTH) return null;
  return { id, text, at: typeof at === 'number' && Number.isFinite(at) ? at : Date.now() };
}

export class Chat extends TypedEmitter<ChatEvents> {
  readonly #signaling: ChatSignaling;
  readonly #resendWindowMs: number;
  readonly #sent: Sent[] = [];
  readonly #seen = new Map<string, Set<string>>();
  readonly #unsubscribe: Array<() => void>;

  constructor(signaling: ChatSignaling, options: ChatOptions = {}) {
    super();
    this.#signaling = signaling;
    this.#resendWindowMs = options.resendWindowMs ?? 15_000;
    this.#unsubscribe = [
      signaling.on('broadcast', ({ from, data }) => this.#receive(from, data)),
      signaling.on('joined', ({ rejoin }) => {
        if (rejoin) this.#resend();
      }),
    ];
  }

  /** Sends `text` to the room; returns our copy (emitted as a `message` too), or null for empty or too long text. */
  send(text: string): ChatMessage | null {
    const trimmed = text.trim();
    if (trimmed === '' || [...trimmed].length > MAX_CHAT_LENGTH) return null;
    const message: ChatMessage = { id: newSessionId(), from: this.#signaling.name, text: trimmed, at: Date.now(), own: true };
    const entry: Sent = { message, sentAt: Date.now(), delivered: false };
    entry.delivered = this.#signaling.broadcast(this.#wire(message));
    this.#sent.push(entry);
    this.#prune();
    this.emit('message', message);
    return message;
  }

  close(): void {
    for (const off of this.#unsubscribe) off();
    this.removeAllListeners();
  }

  #wire(message: ChatMessage): object {
    return { chat: { id: message.id, text: message.text, at: message.at } };
  }

  #resend(): void {
    this.#prune();
    const since = Date.now() - this.#resendWindowMs;
    for (const entry of this.#sent) {
      if (entry.delivered && entry.sentAt < since) continue;
      entry.delivered = this.#signaling.broadcast(this.#wire(entry.message)) || entry.delivered;
    }
  }

  /** Keeps what a re-join may need: the undelivered, and the recent. */
  #prune(): void {
    const since = Date.now() - this.#resendWindowMs;
    for (let i = this.#sent.length - 1; i >= 0; i--) {
      const entry = this.#sent[i] as Sent;
      if (entry.delivered && entry.sentAt < since) this.#sent.splice(i, 1);
    }
  }

  #receive(from: string, data: Record<string, unknown>): void {
    const chat = parseChat(data);
    if (chat === null) return; // another use of broadcast, or malformed: not ours
    let seen = this.#seen.get(from);
    if (seen === undefined) {
      seen = new Set();
      this.#seen.set(from, seen);
    }
    if (seen.has(chat.id)) return;
    seen.add(chat.id);
    if (seen.size > SEEN_PER_SENDER) seen.delete(seen.values().next().value as string);
    this.emit('message', { id: chat.id, from, text: chat.text, at: chat.at, own: false });
  }
}
