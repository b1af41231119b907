/**
 * The chat panel: the message log (role="log", so screen readers hear new messages), the
 * input, and the unread badge on the chat button while the panel is closed.
 */
import type { ChatMessage } from '../src/index.ts';
import type { Strings } from './i18n/en.ts';

export interface ChatElements {
  panel: HTMLElement;
  log: HTMLElement;
  form: HTMLFormElement;
  input: HTMLInputElement;
  toggle: HTMLButtonElement;
  badge: HTMLElement;
}

/** Bound on messages shown: a long call must not grow the page without end. */
const MAX_SHOWN = 500;

export class ChatPanel {
  readonly #el: ChatElements;
  readonly #strings: Strings;
  readonly #lang: string;
  /** Made with the first message: creating a DateTimeFormat loads locale data, a cost a call that never chats should not pay while it sets up. */
  #time: Intl.DateTimeFormat | undefined;
  #unread = 0;
  #send: ((text: string) => void) | undefined;

  constructor(elements: ChatElements, strings: Strings, lang: string) {
    this.#el = elements;
    this.#strings = strings;
    this.#lang = lang;
    elements.toggle.addEventListener('click', () => this.setOpen(elements.panel.hidden === true));
    elements.form.addEventListener('submit', (event) => {
      event.preventDefault();
      const text = elements.input.value;
      if (text.trim() === '' || this.#send === undefined) return;
      this.#send(text);
      elements.input.value = '';
    });
  }

  /** Where the input's text goes (the call's Chat), or undefined outside a call. */
  connect(send: ((text: string) => void) | undefined): void {
    this.#send = send;
  }

  setOpen(open: boolean): void {
    this.#el.panel.hidden = !open;
    this.#el.toggle.setAttribute('aria-expanded', String(open));
    if (open) {
      this.#setUnread(0);
      this.#el.input.focus();
      this.#el.log.lastElementChild?.scrollIntoView({ block: 'end' });
    }
  }

  /** `label`: the sender's shown name (display name or member name). */
  show(message: ChatMessage, label: string): void {
    const item = document.createElement('div');
    item.className = 'chat-item';
    item.dataset['from'] = message.from;
    item.dataset['own'] = String(message.own);
    const who = document.createElement('span');
    who.className = 'chat-name';
    who.textContent = message.own ? this.#strings.youInChat : label; // textContent: never markup
    const time = document.createElement('time');
    time.dateTime = new Date(message.at).toISOString();
    this.#time ??= new Intl.DateTimeFormat(this.#lang, { hour: '2-digit', minute: '2-digit' });
    time.textContent = this.#time.format(message.at);
    const text = document.createElement('p');
    text.className = 'chat-text';
    text.textContent = message.text;
    item.append(who, ' ', time, text);
    this.#el.log.append(item);
    while (this.#el.log.childElementCount > MAX_SHOWN) this.#el.log.firstElementChild?.remove();
    if (this.#el.panel.hidden) {
      if (!message.own) this.#setUnread(this.#unread + 1);
    } else {
      item.scrollIntoView({ block: 'end' });
    }
  }

  clear(): void {
    this.#el.log.replaceChildren();
    this.#setUnread(0);
    this.setOpen(false);
    this.#send = undefined;
  }

  #setUnread(count: number): void {
    this.#unread = count;
    this.#el.badge.dataset['unread'] = String(count);
    this.#el.badge.textContent = String(count);
    this.#el.badge.setAttribute('aria-label', this.#strings.unread(count));
    this.#el.badge.hidden = count === 0;
  }
}
