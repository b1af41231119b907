/**
 * Plain sentences for peers the page cannot connect to. Without them a failed call looks like
 * a peer that never turns their camera on: with a relay-only policy and bad TURN credentials
 * Chrome stays in "new" forever, so the tile alone would say "waiting" indefinitely.
 */
import type { IceFailure } from '../src/index.ts';
import type { Strings } from './i18n/en.ts';

/** The sentence shown for `peer`; the English relay wording is relied on by test/browser/turn-relay. */
export function describeIceFailure(strings: Strings, peer: string, failure: IceFailure, relayOnly: boolean): string {
  const refused = failure.candidateErrors.some((e) => e.errorCode === 401);
  const detail = refused ? strings.relayRefusedDetail : '';
  if (relayOnly) return strings.relayFailed(peer, detail);
  if (failure.reason === 'no-candidates') return strings.noCandidates(peer, detail);
  return strings.noPath(peer);
}

/** One line per peer in a `role="alert"` element; a line goes when its peer connects or leaves. */
export class CallProblems {
  readonly #element: HTMLElement;
  readonly #lines = new Map<string, string>();

  constructor(element: HTMLElement) {
    this.#element = element;
  }

  set(peer: string, text: string): void {
    if (this.#lines.get(peer) === text) return;
    this.#lines.set(peer, text);
    this.#render();
  }

  clear(peer?: string): void {
    if (peer === undefined) this.#lines.clear();
    else if (!this.#lines.delete(peer)) return;
    this.#render();
  }

  #render(): void {
    // textContent: peer names are any Unicode, never markup.
    this.#element.replaceChildren(
      ...[...this.#lines.values()].map((line) => Object.assign(document.createElement('p'), { textContent: line })),
    );
    this.#element.hidden = this.#lines.size === 0;
  }
}
