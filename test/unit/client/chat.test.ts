import { describe, expect, it } from 'vitest';
import { Chat, type ChatMessage, type ChatSignaling, parseChat } from '../../../client/src/chat.ts';
import type { SignalingClientEvents } from '../../../client/src/signaling-events.ts';

/** A signaling link whose `open` state and broadcasts the test controls. */
function fakeLink(name: string) {
  const listeners = new Map<string, Array<(p: unknown) => void>>();
  const link = {
    name,
    open: true,
    sent: [] as object[],
    broadcast(data: object): boolean {
      if (!link.open) return false;
      link.sent.push(data);
      return true;
    },
    on<K extends keyof SignalingClientEvents>(event: K, fn: (p: SignalingClientEvents[K]) => void): () => void {
      const list = listeners.get(event) ?? [];
      list.push(fn as (p: unknown) => void);
      listeners.set(event, list);
      return () => undefined;
    },
    fire<K extends keyof SignalingClientEvents>(event: K, payload: SignalingClientEvents[K]): void {
      for (const fn of listeners.get(event) ?? []) fn(payload);
    },
  };
  return link satisfies ChatSignaling;
}

describe('Chat over broadcast', () => {
  it('sends what could not go out, and the recent ones, again after a re-join; receivers drop repeats', () => {
    const link = fakeLink('ada');
    const chat = new Chat(link);
    chat.send('before');
    link.open = false;
    chat.send('during');
    expect(link.sent).toHaveLength(1);
    link.open = true;
    link.fire('joined', { rejoin: true } as SignalingClientEvents['joined']);
    expect(link.sent.map((d) => (d as { chat: { text: string } }).chat.text)).toEqual(['before', 'before', 'during']);

    const bob = fakeLink('bob');
    const received: ChatMessage[] = [];
    new Chat(bob).on('message', (m) => received.push(m));
    for (const data of link.sent) bob.fire('broadcast', { from: 'ada', data: data as Record<string, unknown> });
    expect(received.map((m) => [m.from, m.text, m.own])).toEqual([
      ['ada', 'before', false],
      ['ada', 'during', false],
    ]);
  });

  it('ignores other broadcasts and malformed chat, and refuses empty or oversized text', () => {
    expect(parseChat({ chat: { id: 'x', text: 'hi', at: 1 } })).toEqual({ id: 'x', text: 'hi', at: 1 });
    expect(parseChat({ chat: { id: '', text: 'hi' } })).toBeNull();
    expect(parseChat({ chat: { id: 'x', text: '  ' } })).toBeNull();
    expect(parseChat({ chat: { id: 'x', text: 'a'.repeat(2001) } })).toBeNull();
    expect(parseChat({ cursor: { x: 1 } })).toBeNull();
    const chat = new Chat(fakeLink('ada'));
    expect(chat.send('   ')).toBeNull();
    expect(chat.send('a'.repeat(2001))).toBeNull();
  });
});
