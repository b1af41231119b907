/**
 * The page's language: `?lang=ja|en` forces one, else the first of navigator.languages we
 * have, else English. `applyStatic` fills the elements of index.html marked `data-i18n`
 * (text), `data-i18n-label` (aria-label), `data-i18n-title` (title) and `data-i18n-placeholder`
 * (an input's placeholder).
 */
import { en, type Strings } from './en.ts';
import { ja } from './ja.ts';

export type Language = 'en' | 'ja';
export const LANGUAGES: Record<Language, Strings> = { en, ja };

export function pickLanguage(forced: string | null, preferred: readonly string[]): Language {
  if (forced === 'en' || forced === 'ja') return forced;
  for (const tag of preferred) {
    const base = tag.toLowerCase().split('-')[0];
    if (base === 'ja' || base === 'en') return base;
  }
  return 'en';
}

function lookup(strings: Strings, key: string | undefined): string | undefined {
  if (key === undefined || !(key in strings)) return undefined;
  const value = strings[key as keyof Strings];
  return typeof value === 'string' ? value : undefined;
}

/** Fills the static strings; returns the keys index.html names that have no string (none, in a correct build). */
export function applyStatic(root: ParentNode, strings: Strings): string[] {
  const missing: string[] = [];
  const fill = (attribute: string, set: (element: HTMLElement, text: string) => void): void => {
    for (const element of root.querySelectorAll<HTMLElement>(`[${attribute}]`)) {
      const key = element.getAttribute(attribute) ?? '';
      const text = lookup(strings, key);
      if (text === undefined) missing.push(key);
      else set(element, text);
    }
  };
  fill('data-i18n', (element, text) => (element.textContent = text));
  fill('data-i18n-label', (element, text) => element.setAttribute('aria-label', text));
  fill('data-i18n-title', (element, text) => (element.title = text));
  fill('data-i18n-placeholder', (element, text) => element.setAttribute('placeholder', text));
  return missing;
}
